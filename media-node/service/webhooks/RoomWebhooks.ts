import { randomBytes } from "node:crypto";
import { NODE_STALE_MS, type NodeRegistry } from "../../../shared/bus/bus.ts";
import type { RoomEvent, TrackInfo } from "../../../shared/room.ts";
import type { WebhookEvent, WebhookEventName, WebhookRecording } from "../../../shared/webhooks.ts";
import { errorFields, type Logger, silentLogger } from "../log.ts";
import type { WebhookSender } from "./WebhookSender.ts";

export interface RoomWebhooksOptions {
  nodeId: string;
  registry: NodeRegistry;
  sender: WebhookSender;
  log?: Logger;
}

interface RoomState {
  /** The last seq handed out (events of the room from this node count from 1). */
  seq: number;
  /** "closing": the room closed here and whether it finished is being decided. */
  life: "open" | "closing";
  /** Published tracks, so track.unpublished can say what it was. */
  tracks: Map<string, TrackInfo>;
}

/**
 * Turns what happens on this node into webhook events. Participant and track events are this
 * node's own sessions'. A room spanning nodes is one room: `room.started` is sent by the node that
 * opens it while no other live node hosts it, `room.finished` by the node whose last session in
 * it leaves while no other live node hosts it (the nodes listed in `weir-rooms`).
 */
export class RoomWebhooks {
  readonly #o: RoomWebhooksOptions;
  readonly #log: Logger;
  readonly #rooms = new Map<string, RoomState>();

  constructor(options: RoomWebhooksOptions) {
    this.#o = options;
    this.#log = options.log ?? silentLogger;
  }

  /** The room opened on this node (its first session). */
  opened(room: string): void {
    const st = this.#rooms.get(room);
    if (st?.life === "closing") {
      st.life = "open"; // it came back before its finish was decided: the same life goes on
      return;
    }
    if (st) return;
    const fresh: RoomState = { seq: 0, life: "open", tracks: new Map() };
    this.#rooms.set(room, fresh);
    const seq = ++fresh.seq;
    const at = Date.now();
    this.#o.sender.enqueue(
      room,
      this.#othersHost(room).then((others) =>
        others ? null : this.#make(room, "room.started", seq, at),
      ),
    );
  }

  /** The room closed on this node (its last session left). */
  closed(room: string): void {
    const st = this.#rooms.get(room);
    if (!st) return;
    st.life = "closing";
    const seq = ++st.seq;
    const at = Date.now();
    this.#o.sender.enqueue(
      room,
      this.#othersHost(room).then((others) => {
        if (st.life === "open") return null; // reopened here meanwhile
        if (this.#rooms.get(room) === st) this.#rooms.delete(room);
        return others ? null : this.#make(room, "room.finished", seq, at);
      }),
    );
  }

  /** A room event raised on this node. */
  event(room: string, e: RoomEvent): void {
    const st = this.#rooms.get(room);
    if (!st) return;
    switch (e.type) {
      case "participant.joined":
      case "participant.left":
        this.#send(room, st, e.type, { participant: { identity: e.identity } });
        return;
      case "track.published": {
        const { publisherId, kind, mimeType } = e;
        st.tracks.set(publisherId, { publisherId, kind, mimeType });
        this.#send(room, st, e.type, {
          participant: { identity: e.identity },
          track: { publisherId, kind, mimeType },
        });
        return;
      }
      case "track.unpublished": {
        const t = st.tracks.get(e.publisherId) ?? { publisherId: e.publisherId };
        st.tracks.delete(e.publisherId);
        this.#send(room, st, e.type, { participant: { identity: e.identity }, track: t });
        return;
      }
      default:
        return;
    }
  }

  /** A recording of `room` finished on this node (for the recording control to call). */
  recordingFinished(room: string, recording: WebhookRecording): void {
    const st = this.#rooms.get(room) ?? { seq: 0, life: "open" as const, tracks: new Map() };
    this.#send(room, st, "recording.finished", { recording });
  }

  #send(
    room: string,
    st: RoomState,
    name: WebhookEventName,
    fields: Pick<WebhookEvent, "participant" | "track" | "recording">,
  ): void {
    this.#o.sender.enqueue(room, { ...this.#make(room, name, ++st.seq, Date.now()), ...fields });
  }

  #make(room: string, event: WebhookEventName, seq: number, createdAt: number): WebhookEvent {
    return {
      id: `wh_${randomBytes(12).toString("base64url")}`,
      event,
      room,
      nodeId: this.#o.nodeId,
      seq,
      createdAt,
    };
  }

  /** Whether a live node other than this one lists itself as hosting `room`. */
  async #othersHost(room: string): Promise<boolean> {
    const { registry, nodeId } = this.#o;
    try {
      const [members, nodes] = await Promise.all([registry.roomMembers(room), registry.list()]);
      const now = Date.now();
      return nodes.some(
        (n) =>
          n.nodeId !== nodeId && members.includes(n.nodeId) && now - n.heartbeatAt <= NODE_STALE_MS,
      );
    } catch (err) {
      // unknown: say nothing rather than something wrong
      this.#log.warn("webhook: room membership unknown", { room, ...errorFields(err) });
      return true;
    }
  }
}
