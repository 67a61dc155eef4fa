import type { Bus, BusSubscription, NodeRegistry } from "../../../shared/bus/bus.ts";
import { safeJson } from "../../../shared/nodeClient.ts";
import { callPeer, type PeerResult } from "../../../shared/peer.ts";
import type { ActiveRecording } from "../../../shared/recording.ts";
import { type ParticipantInfo, RoomBusMessage, type RoomEvent } from "../../../shared/room.ts";
import { subjects } from "../../../shared/subjects.ts";
import { newId } from "../../src/ids.ts";
import { TypedEmitter } from "../../src/TypedEmitter.ts";
import { errorFields, type Logger } from "../log.ts";
import type { RemoteKind, RoomDirectoryEvents } from "./RoomDirectoryTypes.ts";
import { RoomView } from "./RoomView.ts";

export interface RoomDirectoryOptions {
  nodeId: string;
  bus: Bus;
  registry: NodeRegistry;
  log: Logger;
  /** This node's own participants of a room (what other nodes get as a snapshot). */
  localParticipants(room: string): ParticipantInfo[];
  /** Recordings running on this node in a room (what other nodes get in a snapshot). */
  localRecordings?(room: string): ActiveRecording[];
  /** A room event from another node, for this node's sessions in the room. */
  deliver(room: string, event: RoomEvent): void;
}

interface RoomEntry {
  sub: BusSubscription;
  /** This node's life of the room and its event count (stamped on what it publishes). */
  epoch: string;
  seq: number;
  views: Map<string, RoomView>;
  /** Settles when the first snapshots are in. */
  ready: Promise<void>;
}

/**
 * The room-wide directory across nodes: for every room this node hosts, each other node's
 * participants, tracks and DataChannels (with the hosting node id), from room events on
 * `weir.room.<room>.events` (epoch + seq per node) and `room.snapshot` requests to the nodes
 * `weir-rooms` lists as members. A missed event (seq gap) or a new epoch triggers a snapshot;
 * differences are delivered as events, so sessions never see a stale room.
 */
export class RoomDirectory extends TypedEmitter<RoomDirectoryEvents> {
  readonly #o: RoomDirectoryOptions;
  readonly #rooms = new Map<string, RoomEntry>();

  constructor(options: RoomDirectoryOptions) {
    super();
    this.#o = options;
  }

  /** Starts mirroring `room` (this node now hosts it); the promise settles once it is known. */
  open(room: string): Promise<void> {
    const existing = this.#rooms.get(room);
    if (existing) return existing.ready;
    const sub = this.#o.bus.subscribe(subjects.roomEvents(room), (data) => this.#onBus(room, data));
    const entry: RoomEntry = { sub, epoch: newId("ep"), seq: 0, views: new Map(), ready: null! };
    this.#rooms.set(room, entry);
    entry.ready = this.#join(room);
    return entry.ready;
  }

  /** Stops mirroring `room` (its last session here left). */
  close(room: string): void {
    const entry = this.#rooms.get(room);
    if (!entry) return;
    this.#rooms.delete(room);
    entry.sub.unsubscribe();
    void this.#forget(room);
  }

  /** Leaves the room in `weir-rooms`, and clears its placement if it named this node. */
  async #forget(room: string): Promise<void> {
    const { registry, nodeId, log } = this.#o;
    try {
      await registry.removeRoomMember(room, nodeId);
      // a room reopened here meanwhile keeps its placement
      if (this.#rooms.has(room) || (await registry.getRoomNode(room)) !== nodeId) return;
      if (!this.#rooms.has(room)) await registry.clearRoom(room);
    } catch (err) {
      log.warn("room member remove failed", { room, ...errorFields(err) });
    }
  }

  /** Shares an event raised on this node with the other nodes in the room. */
  publish(room: string, event: RoomEvent): void {
    const entry = this.#rooms.get(room);
    const msg: RoomBusMessage = { nodeId: this.#o.nodeId, event };
    if (entry) {
      msg.epoch = entry.epoch;
      msg.seq = ++entry.seq;
    }
    try {
      this.#o.bus.publish(subjects.roomEvents(room), JSON.stringify(msg));
    } catch (err) {
      this.#o.log.warn("room event publish failed", { room, ...errorFields(err) });
    }
  }

  /** This node's part of `room`, for a `room.snapshot` request. */
  snapshot(room: string): PeerResult<"room.snapshot"> {
    const entry = this.#rooms.get(room);
    if (!entry) return { epoch: "", seq: 0, participants: [] };
    const recordings = this.#o.localRecordings?.(room) ?? [];
    return {
      epoch: entry.epoch,
      seq: entry.seq,
      participants: this.#o.localParticipants(room),
      ...(recordings.length > 0 ? { recordings } : {}),
    };
  }

  /** The room's participants on other nodes (one entry per node an identity is on). */
  participants(room: string): ParticipantInfo[] {
    const entry = this.#rooms.get(room);
    if (!entry) return [];
    return [...entry.views.values()].flatMap((v) => v.participants());
  }

  /** Recordings running on other nodes in `room`. */
  recordings(room: string): ActiveRecording[] {
    const entry = this.#rooms.get(room);
    if (!entry) return [];
    return [...entry.views.values()].flatMap((v) => v.recordings());
  }

  /** Each other node's participants of `room`, by node id. */
  participantsByNode(room: string): Map<string, ParticipantInfo[]> {
    const out = new Map<string, ParticipantInfo[]>();
    for (const [nodeId, v] of this.#rooms.get(room)?.views ?? []) out.set(nodeId, v.participants());
    return out;
  }

  /** Which node hosts publisher (track or DataChannel) `publisherId` of `room`, and its kind. */
  hostOf(room: string, publisherId: string): { nodeId: string; kind: RemoteKind } | undefined {
    for (const [nodeId, view] of this.#rooms.get(room)?.views ?? []) {
      const kind = view.kindOf(publisherId);
      if (kind) return { nodeId, kind };
    }
    return undefined;
  }

  /** The other nodes this node shares rooms with. */
  peers(): Set<string> {
    const out = new Set<string>();
    for (const entry of this.#rooms.values()) for (const id of entry.views.keys()) out.add(id);
    return out;
  }

  /** Node `nodeId` died: its participants leave every room here (events delivered). */
  nodeDied(nodeId: string): void {
    for (const [room, entry] of this.#rooms) {
      const view = entry.views.get(nodeId);
      if (!view) continue;
      entry.views.delete(nodeId);
      this.#deliver(room, nodeId, view.replace([]));
      this.#o.registry.removeRoomMember(room, nodeId).catch(() => {});
    }
  }

  async #join(room: string): Promise<void> {
    const { registry, nodeId, log } = this.#o;
    try {
      await registry.addRoomMember(room, nodeId);
      const members = await registry.roomMembers(room);
      await Promise.all(members.filter((n) => n !== nodeId).map((n) => this.#resync(room, n)));
    } catch (err) {
      log.warn("room directory sync failed", { room, ...errorFields(err) });
    }
  }

  #onBus(room: string, data: string): void {
    const parsed = RoomBusMessage.safeParse(safeJson(data));
    if (!parsed.success) return;
    const { nodeId, event, epoch, seq } = parsed.data;
    const entry = this.#rooms.get(room);
    if (!entry || nodeId === this.#o.nodeId) return;
    let view = entry.views.get(nodeId);
    if (epoch === undefined || seq === undefined) {
      // a node without seq: apply as it comes
      view ??= this.#view(entry, nodeId, "", true);
      if (view.apply(event)) this.#deliver(room, nodeId, [event]);
      return;
    }
    if (view && view.epoch !== epoch && view.synced) {
      // the room restarted on that node: forget its old life
      entry.views.delete(nodeId);
      this.#deliver(room, nodeId, view.replace([]));
      view = undefined;
    }
    if (!view) {
      view = this.#view(entry, nodeId, epoch, seq === 1);
      if (!view.synced) void this.#resync(room, nodeId);
    }
    this.#step(room, entry, nodeId, view, seq, event);
  }

  /** One sequenced event for a view: in order it applies; after a gap it waits for a snapshot. */
  #step(
    room: string,
    entry: RoomEntry,
    nodeId: string,
    view: RoomView,
    seq: number,
    event: RoomEvent,
  ): void {
    if (!view.synced) {
      view.pending.push({ seq, event });
      return;
    }
    if (seq <= view.seq) return;
    if (seq > view.seq + 1) {
      this.#o.log.warn("room events missed; resyncing", { room, node: nodeId, seq, had: view.seq });
      view.synced = false;
      view.pending.push({ seq, event });
      void this.#resync(room, nodeId);
      return;
    }
    view.seq = seq;
    if (view.apply(event)) this.#deliver(room, nodeId, [event]);
    if (view.empty && entry.views.get(nodeId) === view) entry.views.delete(nodeId);
  }

  /** Asks `nodeId` for its part of the room and replaces the view with it. */
  async #resync(room: string, nodeId: string): Promise<void> {
    let entry = this.#rooms.get(room);
    if (!entry) return;
    const view0 = entry.views.get(nodeId) ?? this.#view(entry, nodeId, "", false);
    view0.synced = false;
    let snap: PeerResult<"room.snapshot">;
    try {
      snap = await callPeer(this.#o.bus, nodeId, { op: "room.snapshot", room });
    } catch (err) {
      this.#o.log.warn("room snapshot failed", { room, node: nodeId, ...errorFields(err) });
      snap = {
        epoch: view0.epoch,
        seq: view0.seq,
        participants: view0.participants(),
        recordings: view0.recordings(),
      };
    }
    entry = this.#rooms.get(room);
    const view = entry?.views.get(nodeId);
    if (!entry || !view || view.synced) return;
    const events = view.replace(snap.participants, snap.recordings);
    const pending = view.pending
      .filter((p) => p.seq > snap.seq && snap.epoch !== "")
      .sort((a, b) => a.seq - b.seq);
    view.pending = [];
    view.epoch = snap.epoch;
    view.seq = snap.seq;
    view.synced = true;
    this.#deliver(room, nodeId, events);
    for (const p of pending) this.#step(room, entry, nodeId, view, p.seq, p.event);
    if (view.empty && entry.views.get(nodeId) === view) entry.views.delete(nodeId);
  }

  #view(entry: RoomEntry, nodeId: string, epoch: string, synced: boolean): RoomView {
    const view = new RoomView(epoch, synced);
    entry.views.set(nodeId, view);
    return view;
  }

  #deliver(room: string, nodeId: string, events: RoomEvent[]): void {
    for (const e of events) {
      this.#o.deliver(room, e);
      this.emit("event", room, nodeId, e);
      if (e.type === "track.unpublished") this.emit("removed", room, e.publisherId, nodeId);
      if (e.type === "data.unpublished") this.emit("removed", room, e.dataPublisherId, nodeId);
    }
  }
}
