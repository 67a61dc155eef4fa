import * as z from "zod/mini";
import { ErrorInfo } from "./errors.ts";
import { LIMITS } from "./limits.ts";
import { Name, RoomInfo, Sdp } from "./room.ts";
import { GRANTS } from "./token.ts";
import { ClientMessage, ServerMessage } from "./ws.ts";

/** Node-local session id (the edge wraps it in a signed id carrying the node id). */
const LocalId = z.string().check(z.regex(/^[A-Za-z0-9_-]{1,64}$/));
const Identity = z.string().check(z.minLength(1), z.maxLength(128));

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
    sessionId: LocalId,
    sdpfrag: z.string().check(z.maxLength(LIMITS.sdpFragBytes)),
    /** The request's If-Match value, if any ("*" or an entity-tag); a mismatch is 412. */
    ifMatch: z.optional(z.string().check(z.maxLength(256))),
    /** The caller's token room; the node refuses a session of another room (absent: any room). */
    room: z.optional(Name),
  }),
  z.object({ op: z.literal("session.delete"), sessionId: LocalId, room: z.optional(Name) }),
  z.object({ op: z.literal("room.get"), room: Name }),
  z.object({
    op: z.literal("ws.open"),
    room: Name,
    identity: Identity,
    grants: z.array(z.enum(GRANTS)),
  }),
  z.object({ op: z.literal("ws.message"), sessionId: LocalId, message: ClientMessage }),
  z.object({ op: z.literal("ws.close"), sessionId: LocalId }),
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
} as const;
export type NodeResult<Op extends NodeOp> = z.infer<(typeof NodeResult)[Op]>;

/** Every reply on the wire: `{ ok: true, result }` or `{ ok: false, error }`. */
export const NodeReply = z.discriminatedUnion("ok", [
  z.object({ ok: z.literal(true), result: z.unknown() }),
  z.object({ ok: z.literal(false), error: ErrorInfo }),
]);
export type NodeReply = z.infer<typeof NodeReply>;
