import * as z from "zod/mini";
import { Name } from "./room.ts";
import { TokenClaims } from "./token.ts";

/**
 * The server API (HTTP under `/v1`, `admin` grant): what an application's backend sends to
 * manage rooms and participants, and the node commands (`admin.*` on `weir.node.<id>.rpc`) the
 * edge fans out to every node that hosts the room. Each node acts on its own sessions and
 * answers with what it did there; the edge adds the answers up (404 when no node had the room or
 * the participant). One schema per rule: identities and grants are the token's.
 */

/** A participant identity: the token's `sub` rule (1-128 characters, no control characters). */
export const Identity = TokenClaims.shape.sub;
/** Grants a participant holds: the token's `grants` rule. */
export const Grants = TokenClaims.shape.grants;
/** A track's publisher id, as rooms list it. */
export const PublisherId = z.string().check(z.minLength(1), z.maxLength(256));
/** Why the server did something, for the client (shown to people: keep it short). */
export const Reason = z.string().check(z.minLength(1), z.maxLength(256));

/** The largest `data` of one server data message (characters; base64 when `binary`). */
export const SERVER_DATA_MAX_CHARS = 48 * 1024;
/** The most identities one data message may name. */
export const SERVER_DATA_MAX_IDENTITIES = 256;
const Base64 = /^[A-Za-z0-9+/]*={0,2}$/;

/** `DELETE /v1/rooms/:room/participants/:identity` (the body is optional). */
export const RemoveParticipantBody = z.object({ reason: z.optional(Reason) });
export type RemoveParticipantBody = z.infer<typeof RemoveParticipantBody>;

/** `POST /v1/rooms/:room/participants/:identity/tracks/:publisherId/mute`. */
export const MuteTrackBody = z.object({ muted: z.boolean() });
export type MuteTrackBody = z.infer<typeof MuteTrackBody>;

/** `PATCH /v1/rooms/:room/participants/:identity`: the grants the participant holds from now on. */
export const UpdateParticipantBody = z.object({ grants: Grants });
export type UpdateParticipantBody = z.infer<typeof UpdateParticipantBody>;

/**
 * `POST /v1/rooms/:room/data`: a message for every participant of the room, or only for
 * `identities`. `data` is text, or base64 of bytes with `binary: true`; `topic` lets the app
 * tell its kinds of messages apart.
 */
export const SendDataBody = z
  .object({
    data: z.string().check(z.maxLength(SERVER_DATA_MAX_CHARS)),
    binary: z.optional(z.boolean()),
    topic: z.optional(z.string().check(z.minLength(1), z.maxLength(128))),
    identities: z.optional(
      z.array(Identity).check(z.minLength(1), z.maxLength(SERVER_DATA_MAX_IDENTITIES)),
    ),
  })
  .check(
    z.refine((b) => b.binary !== true || (b.data.length % 4 === 0 && Base64.test(b.data)), {
      message: "binary data must be base64",
    }),
  );
export type SendDataBody = z.infer<typeof SendDataBody>;

/** `DELETE /v1/rooms/:room` (the body is optional). */
export const CloseRoomBody = z.object({ reason: z.optional(Reason) });
export type CloseRoomBody = z.infer<typeof CloseRoomBody>;

/** One room in `GET /v1/rooms`: its participants counted across every node that hosts it. */
export const RoomSummary = z.object({
  room: z.string(),
  /** Distinct identities with a session in the room, on any node. */
  participants: z.number().check(z.int(), z.gte(0)),
  /** Published tracks, on any node. */
  tracks: z.number().check(z.int(), z.gte(0)),
  /** The media nodes that host it (more than one when it spans nodes). */
  nodes: z.array(z.string()),
  /** When the first of those nodes opened it (ms since the epoch). */
  startedAt: z.number(),
});
export type RoomSummary = z.infer<typeof RoomSummary>;

/** `GET /v1/rooms` */
export const RoomList = z.object({ rooms: z.array(RoomSummary) });
export type RoomList = z.infer<typeof RoomList>;

/** `DELETE /v1/rooms/:room/participants/:identity`, `PATCH` (grants), `DELETE /v1/rooms/:room`. */
export const SessionsResult = z.object({
  /** Sessions acted on, across nodes (a participant may hold a few: WebSocket, WHIP, WHEP). */
  sessions: z.number().check(z.int(), z.gte(0)),
});
export type SessionsResult = z.infer<typeof SessionsResult>;

/** `POST .../mute` */
export const MuteResult = z.object({ publisherId: z.string(), muted: z.boolean() });
export type MuteResult = z.infer<typeof MuteResult>;

/** `POST /v1/rooms/:room/data`: the identities it reached (WebSocket sessions only). */
export const SendDataResult = z.object({ recipients: z.array(z.string()) });
export type SendDataResult = z.infer<typeof SendDataResult>;

// --- edge -> node commands ----------------------------------------------------------------------

/** Node commands of the server API; each acts on the node's own sessions only. */
export const ADMIN_COMMAND_SCHEMAS = [
  /** This node's rooms. */
  z.object({ op: z.literal("admin.rooms") }),
  /** Ends every session of `identity` here; WebSocket clients get `removed` first. */
  z.object({
    op: z.literal("admin.remove"),
    room: Name,
    identity: Identity,
    reason: z.optional(Reason),
  }),
  /** Mutes a track published here by `identity` (`found: false` when it is not here). */
  z.object({
    op: z.literal("admin.mute"),
    room: Name,
    identity: Identity,
    publisherId: PublisherId,
    muted: z.boolean(),
  }),
  /** Sets the grants of `identity`'s WebSocket sessions here. */
  z.object({ op: z.literal("admin.grants"), room: Name, identity: Identity, grants: Grants }),
  /** Pushes a data message to this node's WebSocket sessions of the room (or of `identities`). */
  z.object({
    op: z.literal("admin.data"),
    room: Name,
    data: SendDataBody.shape.data,
    binary: z.optional(z.boolean()),
    topic: SendDataBody.shape.topic,
    identities: SendDataBody.shape.identities,
  }),
  /** Ends every session of the room here; WebSocket clients get `removed` first. */
  z.object({ op: z.literal("admin.close"), room: Name, reason: z.optional(Reason) }),
] as const;

/** A room as one node holds it (`admin.rooms`). */
export const LocalRoomSummary = z.object({
  room: z.string(),
  identities: z.array(z.string()),
  tracks: z.number().check(z.int(), z.gte(0)),
  openedAt: z.number(),
});
export type LocalRoomSummary = z.infer<typeof LocalRoomSummary>;

export const ADMIN_RESULTS = {
  "admin.rooms": z.object({ rooms: z.array(LocalRoomSummary) }),
  "admin.remove": SessionsResult,
  /** `found`: the track is published here by `identity`; `participant`: `identity` is here. */
  "admin.mute": z.object({ found: z.boolean(), participant: z.boolean() }),
  "admin.grants": SessionsResult,
  "admin.data": SendDataResult,
  "admin.close": SessionsResult,
} as const;

/** What a WebSocket client hears when the server ends its session (see `WS_CLOSE_REMOVED`). */
export const REMOVED_REASON = "removed by the server";
export const ROOM_CLOSED_REASON = "the room was closed by the server";
