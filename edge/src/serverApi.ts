/**
 * The server API's one implementation: every call goes over the bus to the media nodes that host
 * the room (a room may span nodes), and their answers are added up. The edge's `/v1` routes call
 * it, and so can an application that embeds a media node (`NodeService.serverApi`): no HTTP, the
 * same path.
 */
import type { Bus, NodeInfo, NodeRegistry } from "../../shared/bus/bus.ts";
import { WeirApiError } from "../../shared/errors.ts";
import { callNode, NODE_RPC_TIMEOUT_MS } from "../../shared/nodeClient.ts";
import type { RoomInfo } from "../../shared/room.ts";
import type { NodeCommand, NodeOp, NodeResult } from "../../shared/rpc.ts";
import type {
  MuteResult,
  RoomList,
  RoomSummary,
  SendDataBody,
  SendDataResult,
  SessionsResult,
} from "../../shared/serverApi.ts";
import type { Grant } from "../../shared/token.ts";
import { isFresh, roomNode } from "./placement.ts";

export interface ServerApiOptions {
  bus: Bus;
  registry: NodeRegistry;
  /** Clock in ms (tests). */
  now?: () => number;
  /** How long each node may take to answer. */
  timeoutMs?: number;
}

type Command<Op extends NodeOp> = Extract<NodeCommand, { op: Op }>;

export class ServerApi {
  readonly #o: ServerApiOptions;

  constructor(options: ServerApiOptions) {
    this.#o = options;
  }

  /** Every room on every live node (draining ones too), its participants counted once. */
  async listRooms(): Promise<RoomList> {
    const nodes = await this.#freshNodes();
    const answers = await Promise.allSettled(
      nodes.map((n) => this.#call(n.nodeId, { op: "admin.rooms" })),
    );
    const rooms = new Map<string, RoomSummary & { ids: Set<string> }>();
    answers.forEach((a, i) => {
      // a node that died since its last heartbeat holds nothing any more
      if (a.status !== "fulfilled") return;
      for (const r of a.value.rooms) {
        let s = rooms.get(r.room);
        if (!s) {
          s = {
            room: r.room,
            participants: 0,
            tracks: 0,
            nodes: [],
            startedAt: r.openedAt,
            ids: new Set(),
          };
          rooms.set(r.room, s);
        }
        for (const id of r.identities) s.ids.add(id);
        s.tracks += r.tracks;
        s.nodes.push(nodes[i].nodeId);
        s.startedAt = Math.min(s.startedAt, r.openedAt);
      }
    });
    const list = [...rooms.values()].map(({ ids, ...s }) => ({
      ...s,
      participants: ids.size,
      nodes: s.nodes.sort(),
    }));
    list.sort((a, b) => (a.room < b.room ? -1 : a.room > b.room ? 1 : 0));
    return { rooms: list };
  }

  /**
   * The room's participants and tracks, from one node that hosts it (each node's directory
   * mirrors the others'); a room nobody is in has no participants.
   */
  async getRoom(room: string): Promise<RoomInfo> {
    const nodeId = await roomNode(this.#o.registry, room, this.#now());
    if (nodeId === null) return { room, participants: [] };
    try {
      return await this.#call(nodeId, { op: "room.get", room });
    } catch (err) {
      if (err instanceof WeirApiError && err.code === "room_not_found")
        return { room, participants: [] };
      throw err;
    }
  }

  /** Ends the participant's sessions on every node; 404 when it has none. */
  async removeParticipant(
    room: string,
    identity: string,
    reason?: string,
  ): Promise<SessionsResult> {
    const cmd: Command<"admin.remove"> = { op: "admin.remove", room, identity };
    if (reason !== undefined) cmd.reason = reason;
    const results = await this.#fanOut(room, cmd);
    const sessions = sum(results.map((r) => r.sessions));
    if (sessions === 0) throw notInRoom(identity, room);
    return { sessions };
  }

  /** Mutes or unmutes a track the participant publishes (on whichever node it is published). */
  async muteTrack(
    room: string,
    identity: string,
    publisherId: string,
    muted: boolean,
  ): Promise<MuteResult> {
    const results = await this.#fanOut(room, {
      op: "admin.mute",
      room,
      identity,
      publisherId,
      muted,
    });
    if (results.some((r) => r.found)) return { publisherId, muted };
    if (!results.some((r) => r.participant)) throw notInRoom(identity, room);
    throw new WeirApiError("track_not_found", `${identity} publishes no track ${publisherId}`);
  }

  /** Sets the grants of the participant's WebSocket sessions on every node. */
  async updateParticipant(
    room: string,
    identity: string,
    grants: readonly Grant[],
  ): Promise<SessionsResult> {
    const results = await this.#fanOut(room, {
      op: "admin.grants",
      room,
      identity,
      grants: [...grants],
    });
    const sessions = sum(results.map((r) => r.sessions));
    if (sessions === 0) throw notInRoom(identity, room, "WebSocket session");
    return { sessions };
  }

  /** A data message for the room's WebSocket clients (or some identities); 404 if none is there. */
  async sendData(room: string, body: SendDataBody): Promise<SendDataResult> {
    const cmd: Command<"admin.data"> = { op: "admin.data", room, data: body.data };
    if (body.binary) cmd.binary = true;
    if (body.topic !== undefined) cmd.topic = body.topic;
    if (body.identities !== undefined) cmd.identities = body.identities;
    const results = await this.#fanOut(room, cmd);
    const recipients = [...new Set(results.flatMap((r) => r.recipients))];
    if (body.identities !== undefined && recipients.length === 0)
      throw new WeirApiError(
        "participant_not_found",
        `none of the identities has a WebSocket session in room ${room}`,
      );
    return { recipients };
  }

  /** Ends every session of the room on every node. */
  async closeRoom(room: string, reason?: string): Promise<SessionsResult> {
    const cmd: Command<"admin.close"> = { op: "admin.close", room };
    if (reason !== undefined) cmd.reason = reason;
    const results = await this.#fanOut(room, cmd);
    const sessions = sum(results.map((r) => r.sessions));
    if (sessions === 0) throw roomNotFound(room);
    return { sessions };
  }

  /**
   * Sends `command` to every live node that hosts `room` (404 when none does) and returns their
   * answers; one that fails fails the call (503), since what it holds is then unknown.
   */
  async #fanOut<Op extends NodeOp>(room: string, command: Command<Op>): Promise<NodeResult<Op>[]> {
    const { registry } = this.#o;
    const [members, nodes] = await Promise.all([registry.roomMembers(room), this.#freshNodes()]);
    const hosts = nodes.filter((n) => members.includes(n.nodeId));
    if (hosts.length === 0) throw roomNotFound(room);
    const answers = await Promise.allSettled(hosts.map((n) => this.#call(n.nodeId, command)));
    const failed = answers.find((a) => a.status === "rejected");
    if (failed) throw (failed as PromiseRejectedResult).reason;
    return answers.map((a) => (a as PromiseFulfilledResult<NodeResult<Op>>).value);
  }

  #call<Op extends NodeOp>(nodeId: string, command: Command<Op>): Promise<NodeResult<Op>> {
    return callNode(this.#o.bus, nodeId, command, this.#o.timeoutMs ?? NODE_RPC_TIMEOUT_MS);
  }

  async #freshNodes(): Promise<NodeInfo[]> {
    const now = this.#now();
    return (await this.#o.registry.list()).filter((n) => isFresh(n, now));
  }

  #now(): number {
    return (this.#o.now ?? Date.now)();
  }
}

function sum(xs: number[]): number {
  return xs.reduce((a, b) => a + b, 0);
}

function roomNotFound(room: string): WeirApiError {
  return new WeirApiError("room_not_found", `no media node hosts room ${room}`);
}

function notInRoom(identity: string, room: string, what = "session"): WeirApiError {
  return new WeirApiError("participant_not_found", `${identity} has no ${what} in room ${room}`);
}
