import * as z from "zod/mini";
import { ErrorInfo } from "./errors.ts";
import { ActiveRecording, RecordingId, RecordingInfo, RecordingRequest } from "./recording.ts";
import {
  DataChannelInfo,
  IceCandidate,
  ParticipantInfo,
  ROOM_EVENT_SCHEMAS,
  Sdp,
  SpeakerList,
  TrackInfo,
} from "./room.ts";
import { SendDataBody } from "./serverApi.ts";
import { GRANTS } from "./token.ts";

/**
 * The WebSocket protocol between the client SDK and the edge (`GET /v1/rooms/:room/ws`).
 * Every client request carries an `id`; the reply carries the same `id`. JSON text frames.
 */
const RequestId = z.string().check(z.minLength(1), z.maxLength(64));
const Target = z.enum(["publish", "subscribe"]);
const DataId = z.string().check(z.minLength(1), z.maxLength(64));
const Layer = z.number().check(z.int(), z.gte(0), z.lte(15));

export const ClientMessage = z.discriminatedUnion("type", [
  /** An offer from the client's publish transport; publishes the listed tracks. */
  z.object({
    type: z.literal("publish"),
    id: RequestId,
    offer: Sdp,
    trackIds: z.array(z.string().check(z.maxLength(256))).check(z.maxLength(16)),
  }),
  /** A renegotiation offer after removing a track's sender. */
  z.object({
    type: z.literal("unpublish"),
    id: RequestId,
    offer: Sdp,
    trackId: z.string().check(z.maxLength(256)),
  }),
  z.object({
    type: z.literal("subscribe"),
    id: RequestId,
    publisherId: z.string().check(z.maxLength(256)),
  }),
  z.object({
    type: z.literal("unsubscribe"),
    id: RequestId,
    subscriberId: z.string().check(z.maxLength(64)),
  }),
  /** The answer to the node's latest subscribe-transport offer. */
  z.object({ type: z.literal("answer"), id: RequestId, answer: Sdp }),
  z.object({ type: z.literal("ice"), target: Target, candidate: z.nullable(IceCandidate) }),
  z.object({ type: z.literal("ping"), id: RequestId }),
  /**
   * A fresh token for the same identity, room and grants: the socket then lives until its
   * `exp` instead of the first token's (it is closed with WS_CLOSE_TOKEN_EXPIRED at expiry).
   */
  z.object({ type: z.literal("token"), id: RequestId, token: z.string().check(z.maxLength(8192)) }),
  /**
   * Publishes a DataChannel the client opened on its publish transport (grant data). The first
   * channel needs its m=application negotiated first: a `publish` with no trackIds.
   */
  z.object({
    type: z.literal("publishData"),
    id: RequestId,
    label: DataChannelInfo.shape.label,
  }),
  z.object({ type: z.literal("unpublishData"), id: RequestId, dataPublisherId: DataId }),
  /** Opens the data publisher's channel toward the client's subscribe transport (grant data). */
  z.object({ type: z.literal("subscribeData"), id: RequestId, dataPublisherId: DataId }),
  z.object({ type: z.literal("unsubscribeData"), id: RequestId, dataSubscriberId: DataId }),
  /**
   * The highest layers a subscription may receive: spatial = simulcast encoding (0 = lowest) or
   * SVC spatial layer, temporal = temporal layer; an omitted one = as high as sent. Gets `ok`.
   */
  z.object({
    type: z.literal("layers"),
    id: RequestId,
    subscriberId: z.string().check(z.maxLength(64)),
    spatial: z.optional(Layer),
    temporal: z.optional(Layer),
  }),
  /**
   * Recordings (grant record or admin), as over HTTP: `startRecording` gets `recording` (its
   * status "starting"), `stopRecording` gets `recording` (stopped), `listRecordings` gets
   * `recordings` (this room's, on every node).
   */
  z.object({ type: z.literal("startRecording"), id: RequestId, ...RecordingRequest.shape }),
  z.object({ type: z.literal("stopRecording"), id: RequestId, recordingId: RecordingId }),
  z.object({ type: z.literal("listRecordings"), id: RequestId }),
  /**
   * Mutes or unmutes one of the session's published tracks (grant publish); gets `ok`. The node
   * stops forwarding a muted track and tells the room (`track.muted` / `track.unmuted`).
   */
  z.object({
    type: z.literal("mute"),
    id: RequestId,
    publisherId: z.string().check(z.maxLength(256)),
    muted: z.boolean(),
  }),
]);
export type ClientMessage = z.infer<typeof ClientMessage>;

/**
 * A STUN/TURN server for the client's RTCPeerConnections (the RTCIceServer dictionary). TURN
 * entries carry the edge's time-limited credentials (TURN REST API: `username` is
 * `<expiry unix seconds>:<identity>`, `credential` the base64 HMAC-SHA1 of it with the secret the
 * TURN server shares with the edge).
 */
export const IceServer = z.object({
  urls: z.array(z.string().check(z.minLength(1), z.maxLength(512))).check(z.maxLength(16)),
  username: z.optional(z.string().check(z.maxLength(512))),
  credential: z.optional(z.string().check(z.maxLength(512))),
});
export type IceServer = z.infer<typeof IceServer>;

export const ServerMessage = z.discriminatedUnion("type", [
  z.object({
    type: z.literal("welcome"),
    sessionId: z.string(),
    room: z.string(),
    identity: z.string(),
    participants: z.array(ParticipantInfo),
    /** STUN/TURN servers for this session's transports (absent when the edge has none). */
    iceServers: z.optional(z.array(IceServer).check(z.maxLength(8))),
    /** Recordings of the room in progress (absent: none). */
    recordings: z.optional(z.array(ActiveRecording)),
    /** Who is speaking as the session joins, loudest first (absent when nobody is). */
    speakers: z.optional(SpeakerList),
  }),
  z.object({
    type: z.literal("published"),
    id: RequestId,
    answer: z.string(),
    tracks: z.array(z.object({ trackId: z.string(), ...TrackInfo.shape })),
  }),
  z.object({ type: z.literal("answer"), id: RequestId, answer: z.string() }),
  z.object({
    type: z.literal("subscribed"),
    id: RequestId,
    subscriberId: z.string(),
    publisherId: z.string(),
    offer: z.string(),
  }),
  z.object({ type: z.literal("unsubscribed"), id: RequestId, offer: z.string() }),
  /** A server-initiated renegotiation of the subscribe transport; reply with `answer`. */
  z.object({ type: z.literal("offer"), offer: z.string() }),
  z.object({ type: z.literal("ice"), target: Target, candidate: z.nullable(IceCandidate) }),
  z.object({ type: z.literal("ok"), id: RequestId }),
  z.object({ type: z.literal("pong"), id: RequestId }),
  z.object({ type: z.literal("error"), id: z.optional(RequestId), error: ErrorInfo }),
  z.object({ type: z.literal("dataPublished"), id: RequestId, ...DataChannelInfo.shape }),
  /**
   * The channel arrives on the subscribe transport with this label and the data publisher id as
   * its `protocol`. With `offer` (the session's first channel adds m=application), reply `answer`.
   */
  z.object({
    type: z.literal("dataSubscribed"),
    id: RequestId,
    dataSubscriberId: z.string(),
    dataPublisherId: z.string(),
    label: z.string(),
    offer: z.optional(z.string()),
  }),
  /** To a data publisher's client: who is subscribed now (identities, one per subscription). */
  z.object({
    type: z.literal("data.subscribers"),
    dataPublisherId: z.string(),
    subscribers: z.array(z.string()),
  }),
  /** To a data subscriber's client: the subscription ended (its channel is closed). */
  z.object({
    type: z.literal("data.ended"),
    dataSubscriberId: z.string(),
    dataPublisherId: z.string(),
    reason: z.enum(["overflow", "unpublished", "closed"]),
  }),
  /** The reply to `startRecording` and `stopRecording`. */
  z.object({ type: z.literal("recording"), id: RequestId, recording: RecordingInfo }),
  /** The reply to `listRecordings`. */
  z.object({ type: z.literal("recordings"), id: RequestId, recordings: z.array(RecordingInfo) }),
  /**
   * Who is speaking in the room, loudest first, pushed whenever that order of identities
   * changes (an empty list: nobody any more). Levels are 0..1, as at that change.
   */
  z.object({ type: z.literal("speakers"), speakers: SpeakerList }),
  /** The node is going away (drain); reconnect to get a new session. */
  z.object({ type: z.literal("goaway"), reason: z.string() }),
  /**
   * A newer session of the same identity joined the room: this one ends (the edge then closes
   * the socket with WS_CLOSE_REPLACED). Do not reconnect: that would replace the newer one.
   */
  z.object({ type: z.literal("replaced"), reason: z.string() }),
  /**
   * The server removed this participant (`cause: "removed"`) or closed the room
   * (`"room_closed"`), through the server API: the session ends and the edge closes the socket
   * with WS_CLOSE_REMOVED. Do not reconnect.
   */
  z.object({
    type: z.literal("removed"),
    cause: z.enum(["removed", "room_closed"]),
    reason: z.string(),
  }),
  /**
   * The server changed this session's grants (server API): every later message is checked
   * against these, at the edge and on the node. Revoking `publish` unpublishes the session's
   * tracks; revoking `subscribe` ends its subscriptions (an `offer` follows).
   */
  z.object({ type: z.literal("grants"), grants: z.array(z.enum(GRANTS)) }),
  /** A data message from the server API: text, or base64 of bytes when `binary`. */
  z.object({
    type: z.literal("data"),
    data: SendDataBody.shape.data,
    binary: z.optional(z.boolean()),
    topic: z.optional(z.string()),
  }),
  ...ROOM_EVENT_SCHEMAS,
]);
export type ServerMessage = z.infer<typeof ServerMessage>;

/** Close code of a WebSocket whose token expired (no fresh `token` message came in time). */
export const WS_CLOSE_TOKEN_EXPIRED = 4401;

/** Close code of a WebSocket whose session was replaced by a newer one of the same identity. */
export const WS_CLOSE_REPLACED = 4409;

/**
 * Close code of a WebSocket whose participant the server removed, or whose room it closed
 * (server API); the reason says which. Clients must not reconnect.
 */
export const WS_CLOSE_REMOVED = 4410;
