import * as z from "zod/mini";
import { ErrorInfo } from "./errors.ts";
import { LIMITS } from "./limits.ts";
import { RecordingId, RecordingInfo, RecordingRequest } from "./recording.ts";
import { Name, RoomInfo, Sdp } from "./room.ts";
import { ADMIN_COMMAND_SCHEMAS, ADMIN_RESULTS } from "./serverApi.ts";
import { GRANTS } from "./token.ts";
import { ClientMessage, ServerMessage } from "./ws.ts";

/** Node-local session id (the edge wraps it in a signed id carrying the node id). */
const LocalId = z.string().check(z.regex(/^[A-Za-z0-9_-]{1,64}$/));
const Identity = z.string().check(z.minLength(1), z.maxLength(128));

/**
 * Who asks to PATCH or DELETE a WHIP/WHEP session, from their token. The node allows the
 * session's own identity, or `admin`; a token for another room sees no session (404).
 */
const SessionCaller = z.object({
  sessionId: LocalId,
  identity: Identity,
  /** The token carries the `admin` grant. */
  admin: z.optional(z.boolean()),
  /** The caller's token room (absent: a `*` token, any room). */
  room: z.optional(Name),
});
export type SessionCaller = z.infer<typeof SessionCaller>;

/** Commands on `weir.node.<nodeId>.rpc`. Every one is validated by the node before use. */
export const NodeCommand = z.discriminatedUnion("op", [
  z.object({ op: z.literal("whip.create"), room: Name, identity: Identity, sdp: Sdp }),
  z.object({
    op: z.literal("whep.create"),
    room: Name,
    identity: Identity,
    sdp: Sdp,
    participant: z.optional(Identity),
  }),
  z.object({
    op: z.literal("session.patch"),
    ...SessionCaller.shape,
    sdpfrag: z.string().check(z.maxLength(LIMITS.sdpFragBytes)),
    /** The request's If-Match value, if any ("*" or an entity-tag); a mismatch is 412. */
    ifMatch: z.optional(z.string().check(z.maxLength(256))),
  }),
  z.object({ op: z.literal("session.delete"), ...SessionCaller.shape }),
  z.object({ op: z.literal("room.get"), room: Name }),
  z.object({
    op: z.literal("ws.open"),
    room: Name,
    identity: Identity,
    grants: z.array(z.enum(GRANTS)),
  }),
  z.object({ op: z.literal("ws.message"), sessionId: LocalId, message: ClientMessage }),
  z.object({ op: z.literal("ws.close"), sessionId: LocalId }),
  /**
   * Recordings (grant record or admin, checked by the edge). `recording.start` goes to the room's
   * node, which starts it on the node hosting the tracks; `recording.stop` to the node the id
   * names; `recording.list` to every node (each lists its own). `room` is the token's room on a
   * stop (absent: a `*` token): a recording of another room is not found.
   */
  z.object({
    op: z.literal("recording.start"),
    room: Name,
    identity: Identity,
    request: RecordingRequest,
  }),
  z.object({ op: z.literal("recording.stop"), recordingId: RecordingId, room: z.optional(Name) }),
  z.object({ op: z.literal("recording.list"), room: Name }),
  ...ADMIN_COMMAND_SCHEMAS,
]);
export type NodeCommand = z.infer<typeof NodeCommand>;
export type NodeOp = NodeCommand["op"];

/** Successful replies, by command. */
export const NodeResult = {
  "whip.create": z.object({ sessionId: LocalId, sdp: z.string(), etag: z.string() }),
  "whep.create": z.object({ sessionId: LocalId, sdp: z.string(), etag: z.string() }),
  "session.patch": z.object({ sdpfrag: z.optional(z.string()), etag: z.string() }),
  "session.delete": z.object({}),
  "room.get": RoomInfo,
  "ws.open": z.object({ sessionId: LocalId, welcome: ServerMessage }),
  "ws.message": z.object({ reply: z.optional(ServerMessage) }),
  "ws.close": z.object({}),
  "recording.start": RecordingInfo,
  "recording.stop": RecordingInfo,
  "recording.list": z.object({ recordings: z.array(RecordingInfo) }),
  ...ADMIN_RESULTS,
} as const;
export type NodeResult<Op extends NodeOp> = z.infer<(typeof NodeResult)[Op]>;

/** Every reply on the wire: `{ ok: true, result }` or `{ ok: false, error }`. */
export const NodeReply = z.discriminatedUnion("ok", [
  z.object({ ok: z.literal(true), result: z.unknown() }),
  z.object({ ok: z.literal(false), error: ErrorInfo }),
]);
export type NodeReply = z.infer<typeof NodeReply>;

/** A relay port address (node to node, never from clients). */
const RelayAddress = z.object({
  ip: z.string().check(z.minLength(2), z.maxLength(64)),
  port: z.number().check(z.int(), z.gte(1), z.lte(65535)),
});
/** One relay direction's SRTP master key (16 bytes) and salt (14 bytes), base64. */
const RelayKey = z.object({
  key: z.string().check(z.length(24)),
  salt: z.string().check(z.length(20)),
});
const Ssrc = z.number().check(z.int(), z.gte(1), z.lte(0xffffffff));
const PublisherId = z.string().check(z.minLength(1), z.maxLength(256));
const Layer = z.number().check(z.int(), z.gte(0), z.lte(15));
/** Encodings (SSRCs, rids) a relay command may list: a bound, not what nodes use. */
const MAX_ENCODINGS = 16;

/**
 * Relay commands between media nodes, on the origin's `weir.node.<nodeId>.rpc` (same envelope as
 * NodeCommand). The downstream node `nodeId` asks for publisher `publisherId` of `room`.
 */
export const RelayCommand = z.discriminatedUnion("op", [
  z.object({
    op: z.literal("relay.open"),
    room: Name,
    nodeId: Name,
    publisherId: PublisherId,
    /** Where to send RTP, the SSRCs to send it with (one per encoding), that direction's key. */
    address: RelayAddress,
    ssrcs: z.array(Ssrc).check(z.minLength(1), z.maxLength(MAX_ENCODINGS)),
    key: RelayKey,
  }),
  z.object({
    op: z.literal("relay.close"),
    room: Name,
    nodeId: Name,
    publisherId: PublisherId,
  }),
  /**
   * What the downstream node's subscribers want: the highest layers (SVC), and the simulcast
   * encodings to relay (each on its own SSRC; the others stop).
   */
  z.object({
    op: z.literal("relay.layers"),
    room: Name,
    nodeId: Name,
    publisherId: PublisherId,
    spatial: Layer,
    temporal: Layer,
    encodings: z.array(Layer).check(z.maxLength(MAX_ENCODINGS)),
  }),
]);
export type RelayCommand = z.infer<typeof RelayCommand>;
export type RelayOp = RelayCommand["op"];

export const RelayResult = {
  "relay.open": z.object({
    /** Where to send RTCP, the SSRC to send it with, and the key of that direction. */
    address: RelayAddress,
    ssrc: Ssrc,
    key: RelayKey,
    kind: z.enum(["audio", "video"]),
    codec: z.object({
      mimeType: z.string().check(z.maxLength(64)),
      clockRate: z.number().check(z.int(), z.gte(1)),
      channels: z.optional(z.number().check(z.int(), z.gte(1), z.lte(8))),
      parameters: z.optional(z.string().check(z.maxLength(1024))),
      payloadType: z.number().check(z.int(), z.gte(0), z.lte(127)),
    }),
    /** The publisher's simulcast rids, lowest first (empty without simulcast). */
    rids: z.array(z.string().check(z.maxLength(32))).check(z.maxLength(MAX_ENCODINGS)),
  }),
  "relay.close": z.object({}),
  "relay.layers": z.object({}),
} as const;
export type RelayResult<Op extends RelayOp> = z.infer<(typeof RelayResult)[Op]>;
