import type { ActiveRecording } from "../../shared/recording.ts";
import type {
  DataChannelInfo,
  ParticipantInfo,
  RoomEvent,
  SpeakerInfo,
  TrackInfo,
} from "../../shared/room.ts";
import type { DataPublisher } from "../src/DataPublisher.ts";
import type { Publisher } from "../src/Publisher.ts";
import type { Router } from "../src/Router.ts";
import { RoomSpeakers } from "./cluster/RoomSpeakers.ts";
import { withMuted } from "./cluster/RoomView.ts";
import type { Session } from "./sessions/Session.ts";

interface Participant {
  identity: string;
  sessions: Set<Session>;
  /** Published tracks in publish order. */
  tracks: Map<string, TrackInfo>;
  /** Published DataChannels in publish order. */
  data: Map<string, DataChannelInfo>;
}

/** The room beyond this node (NodeService's CrossNode); absent on a lone node. */
export interface RemoteRoom {
  /** Settles once the room's state on other nodes is known (a welcome waits for it). */
  readonly ready: Promise<void>;
  /** Participants on other nodes with their tracks and DataChannels. */
  participants(): ParticipantInfo[];
  /** Recordings running on other nodes. */
  recordings?(): ActiveRecording[];
}

/** Room events that reach the participant they are about as well (its own track's mute). */
const TO_OWNER: ReadonlySet<RoomEvent["type"]> = new Set(["track.muted", "track.unmuted"]);

/**
 * One room on this node: its Router, its sessions, and who is in it with which tracks. Raises
 * the room's events (participant joined/left, track published/unpublished/muted/unmuted)
 * through `onEvent`, and pushes who is speaking (`speakers`) to its sessions.
 */
export class LocalRoom {
  readonly name: string;
  readonly router: Router;
  /** Who is speaking in the room, across nodes. */
  readonly speakers: RoomSpeakers;
  readonly #participants = new Map<string, Participant>();
  readonly #onEvent: (room: LocalRoom, event: RoomEvent) => void;
  /** Set by the node when the room can span nodes. */
  remote: RemoteRoom | null = null;
  /** When this node opened the room (ms since the epoch). */
  readonly openedAt = Date.now();

  /** `shareSpeakers` sends this node's speakers to the room's other nodes. */
  constructor(
    name: string,
    router: Router,
    onEvent: (room: LocalRoom, event: RoomEvent) => void,
    shareSpeakers?: (speakers: SpeakerInfo[]) => void,
  ) {
    this.name = name;
    this.router = router;
    this.#onEvent = onEvent;
    this.speakers = new RoomSpeakers({
      ownerOf: (publisherId) => this.#ownerOf(publisherId),
      share: shareSpeakers,
      deliver: (list) => {
        for (const s of this.sessions) s.speakersChanged(list);
      },
    });
    router.on("audiolevels", (levels) => this.speakers.onLevels(levels));
  }

  /** The room closed on this node. */
  close(): void {
    this.speakers.close();
  }
  get empty(): boolean {
    return this.#participants.size === 0;
  }

  get sessions(): Session[] {
    return [...this.#participants.values()].flatMap((p) => [...p.sessions]);
  }

  /** This node's participants' identities, in join order. */
  get identities(): string[] {
    return [...this.#participants.keys()];
  }

  /** The sessions `identity` holds in this room on this node. */
  sessionsOf(identity: string): Session[] {
    return [...(this.#participants.get(identity)?.sessions ?? [])];
  }

  /** How many tracks this node's participants publish. */
  get trackCount(): number {
    let n = 0;
    for (const p of this.#participants.values()) n += p.tracks.size;
    return n;
  }

  /** How many sessions `identity` holds in this room on this node. */
  sessionCount(identity: string): number {
    return this.#participants.get(identity)?.sessions.size ?? 0;
  }

  join(session: Session): void {
    let p = this.#participants.get(session.identity);
    const first = !p;
    if (!p) {
      p = { identity: session.identity, sessions: new Set(), tracks: new Map(), data: new Map() };
      this.#participants.set(session.identity, p);
    }
    p.sessions.add(session);
    if (first) this.#onEvent(this, { type: "participant.joined", identity: session.identity });
  }

  leave(session: Session): void {
    const p = this.#participants.get(session.identity);
    if (!p?.sessions.delete(session)) return;
    if (p.sessions.size > 0) return;
    this.#participants.delete(session.identity);
    this.#onEvent(this, { type: "participant.left", identity: session.identity });
  }

  /**
   * Records a track a session published; it is unpublished when the publisher closes, and its
   * mute state (Publisher.setMuted, from any caller) becomes `track.muted` / `track.unmuted`.
   */
  trackPublished(identity: string, publisher: Publisher): TrackInfo {
    const info: TrackInfo = withMuted(
      { publisherId: publisher.id, kind: publisher.kind, mimeType: publisher.codec.mimeType },
      publisher.muted,
    );
    const p = this.#participants.get(identity);
    if (!p) return info;
    p.tracks.set(publisher.id, info);
    publisher.once("closed", () => {
      if (!p.tracks.delete(publisher.id)) return;
      this.#onEvent(this, { type: "track.unpublished", identity, publisherId: publisher.id });
    });
    publisher.on("mutechange", (muted) => {
      const t = p.tracks.get(publisher.id);
      if (!t) return;
      p.tracks.set(publisher.id, withMuted(t, muted));
      const type = muted ? "track.muted" : "track.unmuted";
      this.#onEvent(this, { type, identity, publisherId: publisher.id });
    });
    this.#onEvent(this, { type: "track.published", identity, ...info });
    return info;
  }

  /** Records a DataChannel a session published; it is unpublished when the publisher closes. */
  dataPublished(identity: string, dp: DataPublisher): DataChannelInfo {
    const o = dp.options;
    const info: DataChannelInfo = { dataPublisherId: dp.id, label: o.label, ordered: o.ordered };
    if (o.maxRetransmits !== undefined) info.maxRetransmits = o.maxRetransmits;
    if (o.maxPacketLifeTime !== undefined) info.maxPacketLifeTime = o.maxPacketLifeTime;
    const p = this.#participants.get(identity);
    if (!p) return info;
    p.data.set(dp.id, info);
    dp.once("closed", () => {
      if (!p.data.delete(dp.id)) return;
      this.#onEvent(this, { type: "data.unpublished", identity, dataPublisherId: dp.id });
    });
    this.#onEvent(this, { type: "data.published", identity, ...info });
    return info;
  }

  /** Everyone in the room: this node's participants, then other nodes'. */
  allParticipants(): ParticipantInfo[] {
    const local = this.participants();
    return this.remote ? [...local, ...this.remote.participants()] : local;
  }

  /** This node's participants. */
  participants(): ParticipantInfo[] {
    return [...this.#participants.values()].map((p) => {
      const info: ParticipantInfo = { identity: p.identity, tracks: [...p.tracks.values()] };
      if (p.data.size > 0) info.data = [...p.data.values()];
      return info;
    });
  }

  /** Publisher ids in join order, each participant's tracks in publish order. */
  publisherIds(identity?: string): string[] {
    const list = identity
      ? [this.#participants.get(identity)].filter((p) => p !== undefined)
      : [...this.#participants.values()];
    return list.flatMap((p) => [...p.tracks.keys()]);
  }

  /**
   * Hands a room event to every session here except the participant's own (a mute event
   * reaches its owner too: the app learns of a mute it did not make, from the server); an
   * event of no participant (a recording started or stopped) goes to everyone.
   */
  deliver(event: RoomEvent): void {
    const own = "identity" in event && !TO_OWNER.has(event.type) ? event.identity : undefined;
    for (const p of this.#participants.values()) {
      if (p.identity === own) continue;
      for (const s of p.sessions) s.deliver(event);
    }
  }

  /** The local participant publishing `publisherId`, if any (relayed copies have none). */
  #ownerOf(publisherId: string): string | undefined {
    for (const p of this.#participants.values()) if (p.tracks.has(publisherId)) return p.identity;
    return undefined;
  }

  /**
   * Mutes or unmutes a track published on this node; false when no local participant publishes
   * `publisherId` (or, with `identity`, not that participant). The room hears of it through the
   * publisher's `mutechange`.
   */
  setMuted(publisherId: string, muted: boolean, identity?: string): boolean {
    const owner = this.#ownerOf(publisherId);
    if (owner === undefined || (identity !== undefined && owner !== identity)) return false;
    this.router.getPublisher(publisherId)?.setMuted(muted);
    return true;
  }
}
