import type { Bus, BusSubscription } from "../../../shared/bus/bus.ts";
import { WeirApiError } from "../../../shared/errors.ts";
import { callPeer, type PeerResult } from "../../../shared/peer.ts";
import { subjects } from "../../../shared/subjects.ts";
import { DataPublisher } from "../../src/DataPublisher.ts";
import type { Router } from "../../src/Router.ts";
import { errorFields, type Logger } from "../log.ts";
import type { DataBridgeStats } from "./DataBridgeTypes.ts";
import { encodeEnd, encodeMessage, Reassembler } from "./dataFrames.ts";

export interface DataBridgeOptions {
  nodeId: string;
  bus: Bus;
  log: Logger;
  /** The room's Router on this node, if it hosts the room. */
  router(room: string): Router | undefined;
  /** How long a bridged publisher waits for its first local subscriber (default 10 s). */
  idleMs?: number;
}

/** Origin side: a local DataPublisher whose messages other nodes asked for. */
interface Tap {
  dp: DataPublisher;
  subject: string;
  nodes: Set<string>;
  seq: number;
  stop(): void;
}

/** Receiving side: a DataPublisher in this node's Router fed from another node's messages. */
interface Bridge {
  room: string;
  origin: string;
  ready: Promise<void>;
  dp?: DataPublisher;
  sub?: BusSubscription;
}

/**
 * DataChannels across media nodes over NATS. A node with subscribers for another node's
 * DataPublisher asks the origin (`data.want`); from then on the origin publishes each message on
 * `weir.data.<room>.<id>` (dataFrames.ts: text frames, sliced below max_payload, seq per
 * message) and the asking node feeds a DataPublisher of the same id in its own Router, so its
 * local DataSubscribers work unchanged (own queues, backpressure, overflow).
 *
 * Reliability: NATS core over TCP keeps one publisher's messages in order and loses them only
 * when the server cuts a slow consumer or a connection drops. Such a gap shows in the seq: it is
 * counted and logged; a reliable channel (ordered, no retransmit limit) cannot skip a message, so
 * its bridged publisher then closes (subscribers see their channel end, as on overflow) and a
 * client resubscribes. JetStream would persist every message for at most a replay nobody needs
 * on a healthy link: not worth its cost here.
 */
export class DataBridge {
  readonly #o: DataBridgeOptions;
  readonly #taps = new Map<string, Tap>();
  readonly #bridges = new Map<string, Bridge>();
  readonly #stats = { framesOut: 0, messagesIn: 0, gaps: 0, lostMessages: 0, malformed: 0 };

  constructor(options: DataBridgeOptions) {
    this.#o = options;
  }

  // --- origin side ------------------------------------------------------------------------------

  /** `data.want` from node `nodeId`: start (or keep) publishing the DataPublisher's messages. */
  want(room: string, dataPublisherId: string, nodeId: string): PeerResult<"data.want"> {
    const key = `${room}/${dataPublisherId}`;
    let tap = this.#taps.get(key);
    if (!tap) {
      const dp = this.#o.router(room)?.getDataPublisher(dataPublisherId);
      if (!dp || dp.closed || this.#bridges.has(key)) {
        throw new WeirApiError("not_found", `no data publisher ${dataPublisherId} on this node`);
      }
      tap = this.#tap(key, room, dp);
    }
    tap.nodes.add(nodeId);
    return { ...tap.dp.options, seq: tap.seq };
  }

  /** `data.unwant` (or the node died): stop publishing when no node wants the messages. */
  unwant(room: string, dataPublisherId: string, nodeId: string): void {
    const key = `${room}/${dataPublisherId}`;
    const tap = this.#taps.get(key);
    if (!tap?.nodes.delete(nodeId) || tap.nodes.size > 0) return;
    tap.stop();
  }

  #tap(key: string, room: string, dp: DataPublisher): Tap {
    const subject = subjects.dataMessages(room, dp.id);
    const onMessage = (data: string | Buffer) => {
      tap.seq++;
      for (const f of encodeMessage(tap.seq, data)) this.#send(subject, f);
    };
    const onClosed = () => {
      this.#send(subject, encodeEnd(++tap.seq));
      tap.stop();
    };
    const tap: Tap = {
      dp,
      subject,
      nodes: new Set(),
      seq: 0,
      stop: () => {
        dp.off("message", onMessage);
        dp.off("closed", onClosed);
        if (this.#taps.get(key) === tap) this.#taps.delete(key);
      },
    };
    dp.on("message", onMessage);
    dp.once("closed", onClosed);
    this.#taps.set(key, tap);
    return tap;
  }

  #send(subject: string, frame: string): void {
    try {
      this.#o.bus.publish(subject, frame);
      this.#stats.framesOut++;
    } catch (err) {
      this.#o.log.warn("data frame publish failed", { subject, ...errorFields(err) });
    }
  }

  // --- receiving side ---------------------------------------------------------------------------

  /**
   * Makes `origin`'s DataPublisher available in this node's Router for `room` (resolves once it
   * is there). The bridge closes when its last local subscriber leaves, when the origin closes
   * the publisher, when the origin dies (nodeDied) or when the room closes here.
   */
  bring(room: string, dataPublisherId: string, origin: string): Promise<void> {
    const key = `${room}/${dataPublisherId}`;
    const existing = this.#bridges.get(key);
    if (existing) return existing.ready;
    const bridge: Bridge = { room, origin, ready: Promise.resolve() };
    this.#bridges.set(key, bridge);
    bridge.ready = this.#open(key, bridge, dataPublisherId).catch((err) => {
      this.#closeBridge(key, bridge);
      throw err;
    });
    return bridge.ready;
  }

  async #open(key: string, bridge: Bridge, id: string): Promise<void> {
    const { room, origin } = bridge;
    let early: string[] | null = [];
    let r: Reassembler | null = null;
    // Subscribed before asking: every message published after the origin's reply reaches us.
    bridge.sub = this.#o.bus.subscribe(subjects.dataMessages(room, id), (text) => {
      if (early) early.push(text);
      else if (r) this.#frame(key, bridge, r, text);
    });
    const want = await callPeer(this.#o.bus, origin, {
      op: "data.want",
      room,
      dataPublisherId: id,
      nodeId: this.#o.nodeId,
    });
    const router = this.#o.router(room);
    if (this.#bridges.get(key) !== bridge || !router || router.closed) {
      throw new WeirApiError("not_found", `room ${room} closed while bridging ${id}`);
    }
    const { seq, ...options } = want;
    const dp = new DataPublisher({ id, options });
    bridge.dp = dp;
    router.addDataPublisher(dp);
    dp.on("subscriberremoved", () => {
      if (dp.subscribers.length === 0) this.#closeBridge(key, bridge);
    });
    dp.once("closed", () => this.#closeBridge(key, bridge));
    const idle = setTimeout(() => {
      if (dp.subscribers.length === 0) this.#closeBridge(key, bridge);
    }, this.#o.idleMs ?? 10_000);
    idle.unref();
    r = new Reassembler(seq + 1);
    const queued = early;
    early = null;
    for (const text of queued) this.#frame(key, bridge, r, text);
  }

  #frame(key: string, bridge: Bridge, r: Reassembler, text: string): void {
    const gaps = r.gaps;
    const lost = r.lost;
    const out = r.push(text);
    if (r.gaps > gaps) {
      this.#stats.gaps++;
      this.#stats.lostMessages += r.lost - lost;
      const o = bridge.dp?.options;
      const reliable =
        o?.ordered && o.maxRetransmits === undefined && o.maxPacketLifeTime === undefined;
      this.#o.log.warn("data messages lost between nodes", { key, lost: r.lost - lost, reliable });
      if (reliable) {
        this.#closeBridge(key, bridge);
        return;
      }
    }
    if (out === null) return;
    if (out.kind === "malformed") this.#stats.malformed++;
    else if (out.kind === "end") this.#closeBridge(key, bridge);
    else {
      this.#stats.messagesIn++;
      bridge.dp?.receive(out.data);
    }
  }

  #closeBridge(key: string, bridge: Bridge): void {
    if (this.#bridges.get(key) !== bridge) return;
    this.#bridges.delete(key);
    bridge.sub?.unsubscribe();
    bridge.dp?.close();
    const [room, id] = [bridge.room, key.slice(bridge.room.length + 1)];
    if (!bridge.dp) return;
    callPeer(this.#o.bus, bridge.origin, {
      op: "data.unwant",
      room,
      dataPublisherId: id,
      nodeId: this.#o.nodeId,
    }).catch(() => {}); // the origin may be gone; it forgets us when it sees us die
  }

  // --- both -------------------------------------------------------------------------------------

  /** A publisher of another node left the room: its bridge here closes. */
  removed(room: string, dataPublisherId: string): void {
    const key = `${room}/${dataPublisherId}`;
    const bridge = this.#bridges.get(key);
    if (bridge) this.#closeBridge(key, bridge);
  }

  /** Node `nodeId` died: bridges from it close, taps for it stop. */
  nodeDied(nodeId: string): void {
    for (const [key, b] of this.#bridges) if (b.origin === nodeId) this.#closeBridge(key, b);
    for (const tap of [...this.#taps.values()]) {
      if (tap.nodes.delete(nodeId) && tap.nodes.size === 0) tap.stop();
    }
  }

  /** The room closed here: its bridges close (its taps end with their publishers). */
  closeRoom(room: string): void {
    for (const [key, b] of this.#bridges) if (b.room === room) this.#closeBridge(key, b);
  }

  getStats(): DataBridgeStats {
    return { ...this.#stats, taps: this.#taps.size, bridges: this.#bridges.size };
  }
}
