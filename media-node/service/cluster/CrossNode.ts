import type { Bus, BusSubscription, NodeRegistry } from "../../../shared/bus/bus.ts";
import { WeirApiError } from "../../../shared/errors.ts";
import { safeJson } from "../../../shared/nodeClient.ts";
import { type PeerOp, PeerRequest, type PeerResult } from "../../../shared/peer.ts";
import { type RoomEvent, RoomSpeakersMessage, type SpeakerInfo } from "../../../shared/room.ts";
import type { NodeReply } from "../../../shared/rpc.ts";
import { subjects } from "../../../shared/subjects.ts";
import { toApiError } from "../apiError.ts";
import type { RemoteRoom } from "../LocalRoom.ts";
import { errorFields, type Logger } from "../log.ts";
import type { MediaNode } from "../MediaNode.ts";
import { DataBridge } from "./DataBridge.ts";
import { NodeWatcher } from "./NodeWatcher.ts";
import { RoomDirectory } from "./RoomDirectory.ts";

/**
 * Opens a relay for another node's track so it can be subscribed here: resolves once a Publisher
 * with that id is in this node's Router for `room`. Set by the relay side (RelayManager);
 * `origin` is the hosting node when the directory knows it.
 */
export type RemoteMediaHook = (room: string, publisherId: string, origin?: string) => Promise<void>;

export interface CrossNodeOptions {
  nodeId: string;
  bus: Bus;
  registry: NodeRegistry;
  node: MediaNode;
  log: Logger;
  watchIntervalMs?: number;
}

/**
 * What lets a room span media nodes: the room directory (who publishes what on which node), the
 * DataChannel bridge over NATS, the node watcher (death of other nodes) and the node-to-node
 * requests on `weir.node.<id>.peer` that serve them.
 *
 * For the relay side: `directory.hostOf(room, id)` says which node hosts a publisher;
 * `remoteMedia` is called when a subscriber here wants a track of another node;
 * `watcher.on("nodedied", ...)` and `directory.on("removed", ...)` say when to tear down.
 */
export class CrossNode {
  readonly directory: RoomDirectory;
  readonly data: DataBridge;
  readonly watcher: NodeWatcher;
  remoteMedia: RemoteMediaHook | null = null;
  readonly #o: CrossNodeOptions;
  #sub: BusSubscription | null = null;
  /** Per room: the other nodes' speaker lists (`weir.room.<room>.speakers`). */
  readonly #speakerSubs = new Map<string, BusSubscription>();

  constructor(o: CrossNodeOptions) {
    this.#o = o;
    this.directory = new RoomDirectory({
      ...o,
      localParticipants: (room) => o.node.localParticipants(room),
      localRecordings: (room) => o.node.recordings.active(room),
      deliver: (room, event) => o.node.deliverRemoteRoomEvent(room, event),
    });
    this.data = new DataBridge({ ...o, router: (room) => o.node.router(room) });
    this.watcher = new NodeWatcher({
      ...o,
      intervalMs: o.watchIntervalMs,
      peers: () => this.directory.peers(),
    });
    this.directory.on("removed", (room, id) => this.data.removed(room, id));
    this.watcher.on("nodedied", (id) => {
      this.directory.nodeDied(id);
      this.data.nodeDied(id);
      o.node.remoteSpeakersGone(id);
    });
  }

  start(): void {
    this.#sub = this.#o.bus.subscribe(subjects.nodePeer(this.#o.nodeId), (data, respond) => {
      void this.#handle(data).then((reply) => {
        try {
          respond?.(JSON.stringify(reply));
        } catch (err) {
          this.#o.log.warn("peer reply failed", errorFields(err));
        }
      });
    });
    this.watcher.start();
  }

  stop(): void {
    this.watcher.stop();
    this.#sub?.unsubscribe();
    this.#sub = null;
    for (const sub of this.#speakerSubs.values()) sub.unsubscribe();
    this.#speakerSubs.clear();
  }

  /** The room opened here: mirror it (MediaNode waits for `ready` before welcoming). */
  openRoom(room: string): RemoteRoom {
    const ready = this.directory.open(room);
    if (!this.#speakerSubs.has(room)) {
      const sub = this.#o.bus.subscribe(subjects.roomSpeakers(room), (data) => {
        const m = RoomSpeakersMessage.safeParse(safeJson(data));
        if (!m.success || m.data.nodeId === this.#o.nodeId) return;
        this.#o.node.deliverRemoteSpeakers(room, m.data.nodeId, m.data.speakers);
      });
      this.#speakerSubs.set(room, sub);
    }
    return {
      ready,
      participants: () => this.directory.participants(room),
      recordings: () => this.directory.recordings(room),
    };
  }

  closeRoom(room: string): void {
    this.#speakerSubs.get(room)?.unsubscribe();
    this.#speakerSubs.delete(room);
    this.data.closeRoom(room);
    this.directory.close(room);
  }

  publish(room: string, event: RoomEvent): void {
    this.directory.publish(room, event);
  }

  /** Shares this node's speakers of `room` with the room's other nodes. */
  publishSpeakers(room: string, speakers: SpeakerInfo[]): void {
    const msg: RoomSpeakersMessage = { nodeId: this.#o.nodeId, speakers };
    try {
      this.#o.bus.publish(subjects.roomSpeakers(room), JSON.stringify(msg));
    } catch (err) {
      this.#o.log.warn("speakers publish failed", { room, ...errorFields(err) });
    }
  }

  /**
   * Before a subscribe: makes another node's publisher subscribable here (a data bridge, or a
   * relay through `remoteMedia`). Resolves at once for local publishers.
   */
  async bringLocal(room: string, publisherId: string): Promise<void> {
    const router = this.#o.node.router(room);
    if (!router || router.getPublisher(publisherId)) return;
    const host = this.directory.hostOf(room, publisherId);
    if (host?.kind === "data") {
      if (!router.getDataPublisher(publisherId))
        await this.data.bring(room, publisherId, host.nodeId);
      return;
    }
    if (router.getDataPublisher(publisherId)) return;
    await this.remoteMedia?.(room, publisherId, host?.nodeId);
  }

  async #handle(data: string): Promise<NodeReply> {
    const req = PeerRequest.safeParse(safeJson(data));
    if (!req.success) return { ok: false, error: { code: "bad_request", message: "bad request" } };
    try {
      return { ok: true, result: await this.#dispatch(req.data) };
    } catch (err) {
      const { error, expected } = toApiError(err);
      if (!expected) this.#o.log.error("peer request failed", { ...errorFields(err) });
      return { ok: false, error: error.toJSON() };
    }
  }

  async #dispatch(r: PeerRequest): Promise<PeerResult<PeerOp>> {
    const recordings = this.#o.node.recordings;
    switch (r.op) {
      case "recording.start":
        return recordings.startHere(r.room, r.startedBy, r.layout, r.publisherIds);
      case "recording.stop":
        return recordings.stop(r.recordingId, r.room);
      case "recording.list":
        return { recordings: recordings.listHere(r.room) };
      case "room.snapshot":
        return this.directory.snapshot(r.room);
      case "data.want":
        return this.data.want(r.room, r.dataPublisherId, r.nodeId);
      case "data.unwant":
        this.data.unwant(r.room, r.dataPublisherId, r.nodeId);
        return {};
      case "ping":
        return {};
      default:
        throw new WeirApiError("bad_request", "unknown peer request");
    }
  }
}
