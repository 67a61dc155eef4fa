import { MAX_SPEAKERS, SPEAKERS_TTL_MS, type SpeakerInfo } from "../../../shared/room.ts";
import type { AudioLevelInfo } from "../../src/speakers/ActiveSpeakerDetector.ts";
import { rankByLevel } from "../../src/speakers/ActiveSpeakerDetector.ts";

export interface RoomSpeakersOptions {
  /** The identity that publishes `publisherId` from a session on this node, else undefined. */
  ownerOf(publisherId: string): string | undefined;
  /** Shares this node's speakers with the room's other nodes (absent on a lone node). */
  share?(speakers: SpeakerInfo[]): void;
  /** The room's speakers changed: push them to this node's sessions. */
  deliver(speakers: SpeakerInfo[]): void;
  /** Clock (tests), ms. */
  now?(): number;
}

/**
 * Who is speaking in one room, across nodes. Each node judges only the audio its own sessions
 * publish (the Router's detector, every 250 ms) and shares that list, by identity, on
 * `weir.room.<room>.speakers` every interval while it is not empty and once when it empties;
 * every node merges its own list with the others' (fresh ones: a list older than
 * SPEAKERS_TTL_MS is dropped, as after a lost "nobody" message or a dead node) and pushes the
 * room's list to its sessions when the order of identities changes.
 *
 * Not the relay: a track reaches another node only while someone there subscribes to it, and
 * its relayed copy would be judged twice; a node's own publishers are known to it alone.
 */
export class RoomSpeakers {
  readonly #o: RoomSpeakersOptions;
  #local: SpeakerInfo[] = [];
  readonly #remote = new Map<string, { speakers: SpeakerInfo[]; at: number }>();
  #current: SpeakerInfo[] = [];
  #key = "";
  #sweep: NodeJS.Timeout | undefined;
  #closed = false;

  constructor(options: RoomSpeakersOptions) {
    this.#o = options;
  }

  /** The room's speakers now, loudest first. */
  get current(): SpeakerInfo[] {
    return this.#current;
  }

  /** A report of this node's Router: the levels of the audio published here. */
  onLevels(levels: readonly AudioLevelInfo[]): void {
    if (this.#closed) return;
    const byIdentity = new Map<string, number>();
    for (const l of levels) {
      if (!l.speaking) continue;
      const identity = this.#o.ownerOf(l.publisherId);
      if (identity === undefined) continue; // a relayed copy of another node's track
      byIdentity.set(identity, Math.max(byIdentity.get(identity) ?? 0, l.level));
    }
    const local = rank([...byIdentity].map(([identity, level]) => ({ identity, level })));
    const wasEmpty = this.#local.length === 0;
    this.#local = local;
    if (local.length > 0 || !wasEmpty) this.#o.share?.(local);
    this.#update();
  }

  /** Another node's list (it judged its own sessions' audio). */
  onRemote(nodeId: string, speakers: SpeakerInfo[]): void {
    if (this.#closed) return;
    if (speakers.length === 0) this.#remote.delete(nodeId);
    else this.#remote.set(nodeId, { speakers, at: this.#now() });
    this.#sweepWhileRemote();
    this.#update();
  }

  /** Another node died: its speakers are gone at once. */
  nodeGone(nodeId: string): void {
    if (!this.#remote.delete(nodeId)) return;
    this.#sweepWhileRemote();
    this.#update();
  }

  /** Drops stale remote lists (the sweep timer calls it; tests call it with their clock). */
  expire(): void {
    const now = this.#now();
    let dropped = false;
    for (const [nodeId, r] of this.#remote) {
      if (now - r.at <= SPEAKERS_TTL_MS) continue;
      this.#remote.delete(nodeId);
      dropped = true;
    }
    this.#sweepWhileRemote();
    if (dropped) this.#update();
  }

  close(): void {
    this.#closed = true;
    clearInterval(this.#sweep);
    this.#sweep = undefined;
    this.#remote.clear();
  }

  #update(): void {
    const byIdentity = new Map<string, number>();
    const lists = [this.#local, ...[...this.#remote.values()].map((r) => r.speakers)];
    for (const list of lists)
      for (const s of list)
        byIdentity.set(s.identity, Math.max(byIdentity.get(s.identity) ?? 0, s.level));
    const merged = rank([...byIdentity].map(([identity, level]) => ({ identity, level })));
    const key = merged.map((s) => s.identity).join("\n");
    if (key === this.#key) return;
    this.#key = key;
    this.#current = merged;
    this.#o.deliver(merged);
  }

  #sweepWhileRemote(): void {
    if (this.#remote.size === 0) {
      clearInterval(this.#sweep);
      this.#sweep = undefined;
    } else if (this.#sweep === undefined && !this.#closed) {
      this.#sweep = setInterval(() => this.expire(), SPEAKERS_TTL_MS / 3);
      this.#sweep.unref();
    }
  }

  #now(): number {
    return this.#o.now?.() ?? performance.now();
  }
}

/** Loudest first, at most MAX_SPEAKERS, levels rounded to 4 decimals for the wire. */
function rank(list: SpeakerInfo[]): SpeakerInfo[] {
  list.sort((a, b) => rankByLevel(a.level, a.identity, b.level, b.identity));
  return list
    .slice(0, MAX_SPEAKERS)
    .map((s) => ({ identity: s.identity, level: Math.min(1, Math.round(s.level * 1e4) / 1e4) }));
}
