import { WeirApiError } from "../../shared/errors.ts";
import type { ActiveRecording, RecordingInfo } from "../../shared/recording.ts";
import type { ParticipantInfo, RoomEvent, RoomInfo, SpeakerInfo } from "../../shared/room.ts";
import { NodeCommand, type NodeOp, NodeResult, type SessionCaller } from "../../shared/rpc.ts";
import {
  type LocalRoomSummary,
  REMOVED_REASON,
  ROOM_CLOSED_REASON,
} from "../../shared/serverApi.ts";
import type { Grant } from "../../shared/token.ts";
import type { ClientMessage, ServerMessage } from "../../shared/ws.ts";
import { missingGrant } from "../../shared/wsGrants.ts";
import type { CodecCapability } from "../src/codecs.ts";
import { IceSocketError } from "../src/errors.ts";
import { Router } from "../src/Router.ts";
import type { TransportOptions } from "../src/TransportTypes.ts";
import { toApiError } from "./apiError.ts";
import { newSessionId } from "./ids.ts";
import { LocalRoom, type RemoteRoom } from "./LocalRoom.ts";
import { errorFields, type Logger, silentLogger } from "./log.ts";
import { type RecordingPeers, Recordings, type RecordingsConfig } from "./Recordings.ts";
import { HttpSession } from "./sessions/HttpSession.ts";
import type { Session, SessionContext } from "./sessions/Session.ts";
import { WhepSession } from "./sessions/WhepSession.ts";
import { WhipSession } from "./sessions/WhipSession.ts";
import { WsSession } from "./sessions/WsSession.ts";

/** How a MediaNode talks to the world; all optional (a bare node just answers commands). */
export interface MediaNodeHooks {
  /** A message for a WebSocket session's client. */
  emit?(sessionId: string, message: ServerMessage): void;
  /** A room event raised on this node (to share with other nodes). */
  roomEvent?(room: string, event: RoomEvent): void;
  /** This node's speakers of a room changed or are due again (to share with other nodes). */
  speakers?(room: string, speakers: SpeakerInfo[]): void;
  /** The node now hosts the room (first session) / no longer does (last session left). */
  roomOpened?(room: string): RemoteRoom | undefined;
  roomClosed?(room: string): void;
  /** A session ended, for any reason. */
  sessionClosed?(sessionId: string): void;
  /** Before a subscribe: make a publisher of another node subscribable here (a relay). */
  resolvePublisher?(room: string, publisherId: string): Promise<void>;
  /** Recordings across nodes: the room's other nodes, relays, requests to other nodes. */
  recordingPeers?: RecordingPeers;
  /** A recording ended (stopped, its tracks left, or failed): for webhooks. */
  recordingFinished?(info: RecordingInfo): void;
}

export interface MediaNodeOptions {
  /** Sessions this node takes (default DEFAULT_MAX_SESSIONS); more are 503 node_full. */
  maxSessions?: number;
  /** Sessions one identity may hold in one room on this node; more are 429 too_many_sessions. */
  maxSessionsPerIdentity?: number;
  transport?: TransportOptions;
  codecs?: CodecCapability[];
  hooks?: MediaNodeHooks;
  log?: Logger;
  /** The node's id: recording ids carry it (default "node"). */
  nodeId?: string;
  /** Where recordings go (unset directory: recording is off). */
  recordings?: RecordingsConfig;
}

type Command<Op extends NodeOp> = Extract<NodeCommand, { op: Op }>;
export type HandleResult =
  | { ok: true; result: NodeResult<NodeOp> }
  | { ok: false; error: WeirApiError };

const sessionsOf = (sessions: number) => ({ sessions });

export const DEFAULT_MAX_SESSIONS = 500;
/**
 * A participant holds one session (a Room client's WebSocket) or a few (WHIP camera, WHIP screen,
 * WHEP), doubled for a moment while a client reconnects; 10 leaves room for that and stops one
 * token from filling a node.
 */
export const DEFAULT_MAX_SESSIONS_PER_IDENTITY = 10;

/**
 * The media node's signaling-agnostic core: the SDK behind the node command protocol. One
 * Router per room (made on demand, closed when its last session leaves); sessions by node-local
 * id. handle() never throws: every failure is a typed WeirApiError.
 */
export class MediaNode {
  readonly maxSessions: number;
  readonly maxSessionsPerIdentity: number;
  readonly #options: MediaNodeOptions;
  readonly #hooks: MediaNodeHooks;
  readonly #log: Logger;
  readonly #rooms = new Map<string, LocalRoom>();
  readonly #sessions = new Map<string, Session>();
  /** This node's recordings (SDK Recorders behind the recording.* commands). */
  readonly recordings: Recordings;
  #draining = false;
  #closed = false;

  constructor(options: MediaNodeOptions = {}) {
    this.#options = options;
    this.#hooks = options.hooks ?? {};
    this.#log = options.log ?? silentLogger;
    const hooks = this.#hooks;
    this.recordings = new Recordings(options.recordings ?? {}, {
      nodeId: options.nodeId ?? "node",
      log: this.#log.child({ part: "recording" }),
      room: (name) => this.#rooms.get(name),
      roomEvent: (room, event) => this.#raise(room, event),
      finished: (info) => hooks.recordingFinished?.(info),
      get peers() {
        return hooks.recordingPeers;
      },
    });
    this.maxSessions = options.maxSessions ?? DEFAULT_MAX_SESSIONS;
    this.maxSessionsPerIdentity =
      options.maxSessionsPerIdentity ?? DEFAULT_MAX_SESSIONS_PER_IDENTITY;
  }

  get sessionCount(): number {
    return this.#sessions.size;
  }

  get roomNames(): string[] {
    return [...this.#rooms.keys()];
  }

  get draining(): boolean {
    return this.#draining;
  }

  /** Validates and runs one command; failures come back as { ok: false, error }. */
  async handle(command: unknown): Promise<HandleResult> {
    const parsed = NodeCommand.safeParse(command);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      const where = issue?.path.length ? ` at ${issue.path.join(".")}` : "";
      const message = `invalid command${where}: ${issue?.message ?? "malformed"}`;
      return { ok: false, error: new WeirApiError("bad_request", message) };
    }
    const cmd = parsed.data;
    try {
      return await this.#checked(cmd.op, await this.#dispatch(cmd));
    } catch (err) {
      const { error, expected } = toApiError(err);
      if (!expected) this.#log.error("command failed", { op: cmd.op, ...errorFields(err) });
      // the node is out of descriptors or ports: the operator must hear of it
      else if (err instanceof IceSocketError) {
        this.#log.warn("no ICE socket for a new session", { op: cmd.op, ...errorFields(err) });
      }
      return { ok: false, error };
    }
  }

  /**
   * A reply the edge would refuse is never sent: the node checks it against the same schema, and
   * a session the command opened is closed rather than left behind as a ghost participant.
   */
  async #checked(op: NodeOp, result: NodeResult<NodeOp>): Promise<HandleResult> {
    const check = NodeResult[op].safeParse(result);
    if (check.success) return { ok: true, result };
    const issue = check.error.issues[0];
    this.#log.error("invalid reply", { op, path: issue?.path.join("."), issue: issue?.message });
    await this.discard(result);
    return {
      ok: false,
      error: new WeirApiError("internal", `the node built an invalid ${op} reply`),
    };
  }

  /** A reply that never reached its caller, or was unusable: ends the session it opened, if any. */
  async discard(result: NodeResult<NodeOp>): Promise<void> {
    const id = (result as { sessionId?: unknown }).sessionId;
    const session = typeof id === "string" ? this.#sessions.get(id) : undefined;
    if (session) await this.#end(session);
  }

  /** Like handle(), but returns the result or throws the WeirApiError. */
  async run<Op extends NodeOp>(command: Command<Op>): Promise<NodeResult<Op>> {
    const r = await this.handle(command);
    if (!r.ok) throw r.error;
    return r.result as NodeResult<Op>;
  }

  /** The room's Router on this node, if it hosts the room (stats, tests, tools). */
  router(room: string): Router | undefined {
    return this.#rooms.get(room)?.router;
  }

  /** This node's own participants of a room (not those of other nodes). */
  localParticipants(room: string): ParticipantInfo[] {
    return this.#rooms.get(room)?.participants() ?? [];
  }

  /** A room event from another node: hand it to this node's sessions in the room. */
  deliverRemoteRoomEvent(room: string, event: RoomEvent): void {
    const local = this.#rooms.get(room);
    if (!local) return;
    // the identity just joined on another node: that socket is the newer one
    if (event.type === "participant.joined") this.#replaceSockets(local, event.identity);
    local.deliver(event);
  }

  /**
   * One participant per identity: a newer socket (a reload, a second tab, here or on another
   * node) replaces the older ones instead of merging into a participant neither client sees whole.
   */
  #replaceSockets(room: LocalRoom, identity: string, newer?: Session): void {
    for (const older of room.sessions) {
      if (older instanceof WsSession && older !== newer && older.identity === identity) {
        older.replaced();
        void this.#end(older);
      }
    }
  }

  /** Another node's speakers of a room (its own sessions' audio). */
  deliverRemoteSpeakers(room: string, nodeId: string, speakers: SpeakerInfo[]): void {
    this.#rooms.get(room)?.speakers.onRemote(nodeId, speakers);
  }

  /** Another node died: its speakers leave every room here. */
  remoteSpeakersGone(nodeId: string): void {
    for (const room of this.#rooms.values()) room.speakers.nodeGone(nodeId);
  }

  // --- the server API on this node's sessions (the edge sends it to every node of the room) ---

  /** This node's rooms: who is in each (identities), how many tracks, since when. */
  listRooms(): LocalRoomSummary[] {
    return [...this.#rooms.values()].map((r) => ({
      room: r.name,
      identities: r.identities,
      tracks: r.trackCount,
      openedAt: r.openedAt,
    }));
  }

  /**
   * Ends every session `identity` holds in `room` on this node (WebSocket, WHIP, WHEP). WebSocket
   * clients first get `removed` with the reason, and the edge closes their socket with
   * WS_CLOSE_REMOVED (the client SDK does not reconnect). Returns how many sessions ended.
   */
  async removeParticipant(
    room: string,
    identity: string,
    reason = REMOVED_REASON,
  ): Promise<number> {
    const sessions = this.#rooms.get(room)?.sessionsOf(identity) ?? [];
    for (const s of sessions) if (s instanceof WsSession) s.removed("removed", reason);
    await Promise.all(sessions.map((s) => this.#end(s)));
    return sessions.length;
  }

  /**
   * Mutes or unmutes a track published on this node (a server-side mute); false when this node
   * hosts no such track in the room (of `identity`, when given). Its room hears `track.muted` /
   * `track.unmuted`; a muted track is not forwarded.
   */
  setTrackMuted(room: string, publisherId: string, muted: boolean, identity?: string): boolean {
    return this.#rooms.get(room)?.setMuted(publisherId, muted, identity) ?? false;
  }

  /**
   * Sets the grants of `identity`'s WebSocket sessions in `room` on this node (a viewer becomes a
   * publisher without reconnecting). Returns how many sessions changed; WHIP/WHEP sessions have
   * no grants to change.
   */
  updateParticipant(room: string, identity: string, grants: readonly Grant[]): number {
    const sessions = this.#rooms.get(room)?.sessionsOf(identity) ?? [];
    let n = 0;
    for (const s of sessions) {
      if (!(s instanceof WsSession)) continue;
      s.setGrants(grants);
      n++;
    }
    return n;
  }

  /**
   * Pushes a data message (text, or base64 with `binary`) to this node's WebSocket sessions of
   * `room`, or only to those of `identities`. Returns the identities it reached.
   */
  sendData(
    room: string,
    message: { data: string; binary?: boolean; topic?: string },
    identities?: readonly string[],
  ): string[] {
    const r = this.#rooms.get(room);
    if (!r) return [];
    const wanted = identities ? new Set(identities) : null;
    const reached = new Set<string>();
    for (const s of r.sessions) {
      if (!(s instanceof WsSession) || (wanted && !wanted.has(s.identity))) continue;
      s.pushData(message.data, message.binary === true, message.topic);
      reached.add(s.identity);
    }
    return [...reached];
  }

  /**
   * Ends every session of `room` on this node; WebSocket clients first get `removed` (cause
   * `room_closed`). Returns how many sessions ended.
   */
  async closeRoom(room: string, reason = ROOM_CLOSED_REASON): Promise<number> {
    const sessions = this.#rooms.get(room)?.sessions ?? [];
    for (const s of sessions) if (s instanceof WsSession) s.removed("room_closed", reason);
    await Promise.all(sessions.map((s) => this.#end(s)));
    return sessions.length;
  }

  /** Refuse new sessions from now on ("draining"). */
  startDraining(): void {
    this.#draining = true;
  }

  /** Tells every WebSocket session to reconnect elsewhere. */
  goaway(reason: string): void {
    for (const s of this.#sessions.values()) if (s instanceof WsSession) s.goaway(reason);
  }

  /** Finishes every recording, ends every session and closes every router. */
  async close(): Promise<void> {
    this.#closed = true;
    this.#draining = true;
    await this.recordings.close();
    await Promise.all([...this.#sessions.values()].map((s) => this.#end(s)));
  }

  #dispatch(cmd: NodeCommand): Promise<NodeResult<NodeOp>> {
    switch (cmd.op) {
      case "whip.create":
        return this.#whip(cmd);
      case "whep.create":
        return this.#whep(cmd);
      case "session.patch":
        return this.#patch(cmd);
      case "session.delete":
        return this.#delete(this.#owned(cmd));
      case "room.get":
        return Promise.resolve(this.#roomInfo(cmd.room));
      case "ws.open":
        return this.#wsOpen(cmd);
      case "ws.message":
        return this.#wsMessage(cmd.sessionId, cmd.message);
      case "ws.close":
        return this.#delete(this.#session(cmd.sessionId));
      case "recording.start":
        return this.recordings.start(cmd.room, cmd.identity, cmd.request);
      case "recording.stop":
        return this.recordings.stop(cmd.recordingId, cmd.room);
      case "recording.list":
        return this.recordings.list(cmd.room).then((recordings) => ({ recordings }));
      case "admin.rooms":
        return Promise.resolve({ rooms: this.listRooms() });
      case "admin.remove":
        return this.removeParticipant(cmd.room, cmd.identity, cmd.reason).then(sessionsOf);
      case "admin.mute":
        return Promise.resolve({
          found: this.setTrackMuted(cmd.room, cmd.publisherId, cmd.muted, cmd.identity),
          participant: (this.#rooms.get(cmd.room)?.sessionCount(cmd.identity) ?? 0) > 0,
        });
      case "admin.grants":
        return Promise.resolve(
          sessionsOf(this.updateParticipant(cmd.room, cmd.identity, cmd.grants)),
        );
      case "admin.data":
        return Promise.resolve({ recipients: this.sendData(cmd.room, cmd, cmd.identities) });
      case "admin.close":
        return this.closeRoom(cmd.room, cmd.reason).then(sessionsOf);
    }
  }

  /** Recordings of the room in progress, on this node and the others (for a welcome). */
  activeRecordings(room: string): ActiveRecording[] {
    const remote = this.#rooms.get(room)?.remote?.recordings?.() ?? [];
    return [...this.recordings.active(room), ...remote];
  }

  /** Recording messages of a WebSocket session (grant record or admin). */
  async #wsRecording(session: WsSession, m: ClientMessage): Promise<ServerMessage | undefined> {
    const missing = missingGrant(m, session.grants);
    if (missing !== null) throw new WeirApiError("forbidden", missing);
    const room = session.room.name;
    switch (m.type) {
      case "startRecording": {
        const { type: _t, id, ...request } = m;
        const recording = await this.recordings.start(room, session.identity, request);
        return { type: "recording", id, recording };
      }
      case "stopRecording":
        return {
          type: "recording",
          id: m.id,
          recording: await this.recordings.stop(m.recordingId, room),
        };
      case "listRecordings":
        return { type: "recordings", id: m.id, recordings: await this.recordings.list(room) };
      default:
        return undefined;
    }
  }

  async #whip(cmd: Command<"whip.create">): Promise<NodeResult<"whip.create">> {
    const session = this.#open(cmd.room, cmd.identity, (ctx) => new WhipSession(ctx));
    try {
      const sdp = await session.start(cmd.sdp);
      return { sessionId: session.id, sdp, etag: session.etag };
    } catch (err) {
      await this.#end(session);
      throw err;
    }
  }

  async #whep(cmd: Command<"whep.create">): Promise<NodeResult<"whep.create">> {
    const publisherIds = this.#rooms.get(cmd.room)?.publisherIds(cmd.participant) ?? [];
    if (publisherIds.length === 0) {
      const whose = cmd.participant ? `${cmd.participant} publishes` : "is published";
      throw new WeirApiError("not_found", `nothing ${whose} in room ${cmd.room} on this node`);
    }
    const session = this.#open(cmd.room, cmd.identity, (ctx) => new WhepSession(ctx));
    try {
      const sdp = await session.start(cmd.sdp, publisherIds);
      return { sessionId: session.id, sdp, etag: session.etag };
    } catch (err) {
      await this.#end(session);
      throw err;
    }
  }

  async #patch(cmd: Command<"session.patch">): Promise<NodeResult<"session.patch">> {
    const session = this.#owned(cmd);
    if (!(session instanceof HttpSession)) {
      throw new WeirApiError("conflict", "PATCH applies to WHIP and WHEP sessions only");
    }
    return session.patch(cmd.sdpfrag, cmd.ifMatch);
  }

  async #delete(session: Session): Promise<Record<string, never>> {
    await this.#end(session);
    return {};
  }

  #roomInfo(room: string): RoomInfo {
    return { room, participants: this.#rooms.get(room)?.allParticipants() ?? [] };
  }

  async #wsOpen(cmd: Command<"ws.open">): Promise<NodeResult<"ws.open">> {
    this.#admit(cmd.room, cmd.identity); // before the room is made for a refused session
    // the welcome lists the whole room: wait until other nodes' part of it is known
    const room = this.#room(cmd.room);
    await room.remote?.ready;
    let session: WsSession;
    try {
      session = this.#open(cmd.room, cmd.identity, (ctx) => new WsSession(ctx, cmd.grants));
    } catch (err) {
      if (room.empty) void this.#closeRoom(room); // others were admitted during the wait
      throw err;
    }
    this.#replaceSockets(room, cmd.identity, session);
    const speakers = session.room.speakers.current;
    return {
      sessionId: session.id,
      welcome: {
        type: "welcome",
        sessionId: session.id,
        room: cmd.room,
        identity: cmd.identity,
        participants: session.room.allParticipants(),
        ...recordingsField(this.activeRecordings(cmd.room)),
        ...(speakers.length > 0 ? { speakers } : {}),
      },
    };
  }

  async #wsMessage(sessionId: string, message: ClientMessage): Promise<NodeResult<"ws.message">> {
    const session = this.#session(sessionId);
    if (!(session instanceof WsSession)) {
      throw new WeirApiError("conflict", "not a WebSocket session");
    }
    try {
      if (
        message.type === "startRecording" ||
        message.type === "stopRecording" ||
        message.type === "listRecordings"
      ) {
        return { reply: await this.#wsRecording(session, message) };
      }
      if (message.type === "subscribe") {
        await this.#hooks.resolvePublisher?.(session.room.name, message.publisherId);
      } else if (message.type === "subscribeData") {
        await this.#hooks.resolvePublisher?.(session.room.name, message.dataPublisherId);
      }
      return { reply: await session.handle(message) };
    } catch (err) {
      const { error, expected } = toApiError(err);
      if (!expected) {
        this.#log.error("ws message failed", { type: message.type, ...errorFields(err) });
      }
      const id = "id" in message ? message.id : undefined;
      return { reply: { type: "error", id, error: error.toJSON() } };
    }
  }

  /** Refuses a new session of `identity` in `room` when the node or the identity is at its limit. */
  #admit(room: string, identity: string): void {
    if (this.#draining || this.#closed) {
      throw new WeirApiError("draining", "this media node is draining");
    }
    if (this.#sessions.size >= this.maxSessions) {
      throw new WeirApiError(
        "node_full",
        `this media node is at its limit of ${this.maxSessions} sessions`,
      );
    }
    const held = this.#rooms.get(room)?.sessionCount(identity) ?? 0;
    if (held >= this.maxSessionsPerIdentity) {
      throw new WeirApiError(
        "too_many_sessions",
        `${identity} already has ${held} sessions in room ${room}; the limit is ${this.maxSessionsPerIdentity}`,
      );
    }
  }

  /** A session by id; with `room`, only a session of that room (a token for another room sees none). */
  #session(id: string, room?: string): Session {
    const s = this.#sessions.get(id);
    if (!s || (room !== undefined && s.room.name !== room)) {
      throw new WeirApiError("session_not_found", `no session ${id} on this node`);
    }
    return s;
  }

  /**
   * A session its caller may change (PATCH, DELETE): its own identity's, or any with `admin`.
   * The one place this rule lives; the edge passes the token's identity and grant.
   */
  #owned(caller: SessionCaller): Session {
    const s = this.#session(caller.sessionId, caller.room);
    if (caller.admin !== true && s.identity !== caller.identity) {
      throw new WeirApiError("forbidden", "the session belongs to another identity");
    }
    return s;
  }

  /** Makes a session in a room (the room's router is made on demand) and joins it. */
  #open<S extends Session>(
    roomName: string,
    identity: string,
    make: (ctx: SessionContext) => S,
  ): S {
    this.#admit(roomName, identity); // no room is made for a refused session
    const room = this.#room(roomName);
    const id = newSessionId();
    const log = this.#log.child({ session: id, room: roomName });
    let session: S | undefined;
    try {
      session = make({
        id,
        identity,
        room,
        log,
        end: () => {
          if (session) void this.#end(session);
        },
        emit: (message) => this.#hooks.emit?.(id, message),
      });
    } catch (err) {
      if (room.empty) void this.#closeRoom(room);
      throw err;
    }
    this.#sessions.set(id, session);
    room.join(session);
    log.debug("session opened", { kind: session.kind, identity });
    return session;
  }

  #room(name: string): LocalRoom {
    let room = this.#rooms.get(name);
    if (room) return room;
    const router = new Router({
      id: name,
      codecs: this.#options.codecs,
      transport: this.#options.transport,
    });
    room = new LocalRoom(
      name,
      router,
      (r, event) => this.#roomEvent(r, event),
      (speakers) => this.#hooks.speakers?.(name, speakers),
    );
    this.#rooms.set(name, room);
    room.remote = this.#hooks.roomOpened?.(name) ?? null;
    return room;
  }

  #roomEvent(room: LocalRoom, event: RoomEvent): void {
    room.deliver(event);
    this.#hooks.roomEvent?.(room.name, event);
  }

  /** A room event of this node for a room that may have closed here (a recording's end). */
  #raise(roomName: string, event: RoomEvent): void {
    const room = this.#rooms.get(roomName);
    if (room) this.#roomEvent(room, event);
    else this.#hooks.roomEvent?.(roomName, event);
  }

  /** Ends a session (idempotent); the room closes with its last session. */
  async #end(session: Session): Promise<void> {
    if (this.#sessions.get(session.id) !== session) return;
    this.#sessions.delete(session.id);
    try {
      await session.close();
    } catch (err) {
      this.#log.warn("session close failed", { session: session.id, ...errorFields(err) });
    }
    session.room.leave(session);
    this.#log.debug("session closed", { session: session.id, kind: session.kind });
    this.#hooks.sessionClosed?.(session.id);
    if (session.room.empty) await this.#closeRoom(session.room);
  }

  async #closeRoom(room: LocalRoom): Promise<void> {
    if (this.#rooms.get(room.name) !== room) return;
    this.#rooms.delete(room.name);
    room.close();
    this.#hooks.roomClosed?.(room.name);
    await room.router.close().catch((err) => {
      this.#log.warn("router close failed", { room: room.name, ...errorFields(err) });
    });
  }
}

function recordingsField(list: ActiveRecording[]): { recordings?: ActiveRecording[] } {
  return list.length > 0 ? { recordings: list } : {};
}
