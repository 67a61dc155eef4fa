import * as z from "zod/mini";
import { LIMITS, NAME_PATTERN } from "./limits.ts";
import { RECORDING_EVENT_SCHEMAS } from "./recording.ts";

export const Name = z.string().check(z.regex(NAME_PATTERN));
export const Sdp = z.string().check(z.minLength(1), z.maxLength(LIMITS.sdpBytes));
export const MediaKind = z.enum(["audio", "video"]);

/** A published track as the room shows it. */
export const TrackInfo = z.object({
  publisherId: z.string().check(z.minLength(1), z.maxLength(256)),
  kind: MediaKind,
  mimeType: z.string().check(z.maxLength(64)),
  /** Present (true) while the publisher has the track muted: the node does not forward it. */
  muted: z.optional(z.boolean()),
});
export type TrackInfo = z.infer<typeof TrackInfo>;

/** A published DataChannel as the room shows it (subscribe with `subscribeData`). */
export const DataChannelInfo = z.object({
  dataPublisherId: z.string().check(z.minLength(1), z.maxLength(64)),
  label: z.string().check(z.maxLength(1024)),
  ordered: z.boolean(),
  maxRetransmits: z.optional(z.number().check(z.int(), z.gte(0), z.lte(65535))),
  maxPacketLifeTime: z.optional(z.number().check(z.int(), z.gte(0), z.lte(65535))),
});
export type DataChannelInfo = z.infer<typeof DataChannelInfo>;

export const ParticipantInfo = z.object({
  identity: z.string().check(z.minLength(1), z.maxLength(128)),
  tracks: z.array(TrackInfo),
  /** Published DataChannels (absent when none). */
  data: z.optional(z.array(DataChannelInfo)),
});
export type ParticipantInfo = z.infer<typeof ParticipantInfo>;

/** `GET /v1/rooms/:room` */
export const RoomInfo = z.object({
  room: z.string(),
  participants: z.array(ParticipantInfo),
});
export type RoomInfo = z.infer<typeof RoomInfo>;

export const IceCandidate = z.object({
  candidate: z.string().check(z.maxLength(LIMITS.candidateBytes)),
  sdpMid: z.optional(z.nullable(z.string().check(z.maxLength(64)))),
  sdpMLineIndex: z.optional(z.nullable(z.number().check(z.int(), z.gte(0), z.lte(64)))),
  usernameFragment: z.optional(z.nullable(z.string().check(z.maxLength(256)))),
});
export type IceCandidate = z.infer<typeof IceCandidate>;

/** Room-wide events (`weir.room.<room>.events`), also sent to WebSocket clients as they are. */
export const ROOM_EVENT_SCHEMAS = [
  z.object({ type: z.literal("participant.joined"), identity: z.string() }),
  z.object({ type: z.literal("participant.left"), identity: z.string() }),
  z.object({
    type: z.literal("track.published"),
    identity: z.string(),
    publisherId: z.string(),
    kind: MediaKind,
    mimeType: z.string(),
  }),
  z.object({
    type: z.literal("track.unpublished"),
    identity: z.string(),
    publisherId: z.string(),
  }),
  /** The track's publisher muted it: the node stops forwarding it until `track.unmuted`. */
  z.object({ type: z.literal("track.muted"), identity: z.string(), publisherId: z.string() }),
  /** Forwarding resumes (video on a keyframe the node asks the publisher for). */
  z.object({ type: z.literal("track.unmuted"), identity: z.string(), publisherId: z.string() }),
  z.object({ type: z.literal("data.published"), identity: z.string(), ...DataChannelInfo.shape }),
  z.object({
    type: z.literal("data.unpublished"),
    identity: z.string(),
    dataPublisherId: z.string(),
  }),
  /** A recording of the room started / stopped (no `identity`: it is for everyone). */
  ...RECORDING_EVENT_SCHEMAS,
] as const;
export const RoomEvent = z.discriminatedUnion("type", ROOM_EVENT_SCHEMAS);
export type RoomEvent = z.infer<typeof RoomEvent>;

/**
 * What travels on `weir.room.<room>.events`: a room event and the node that raised it. `epoch`
 * names one life of the room on that node and `seq` counts its events from 1, so a node that
 * mirrors the room (media-node/service/cluster/RoomDirectory.ts) spots missed events and resyncs.
 */
export const RoomBusMessage = z.object({
  nodeId: z.string(),
  event: RoomEvent,
  epoch: z.optional(z.string().check(z.maxLength(64))),
  seq: z.optional(z.number().check(z.int(), z.gte(1))),
});
export type RoomBusMessage = z.infer<typeof RoomBusMessage>;

/**
 * A participant who is speaking: `level` is its smoothed audio level, 0..1 (linear amplitude of
 * the RFC 6464 levels its audio sends, over about 500 ms; 1 = full scale, 0.1 = -20 dBov).
 */
export const SpeakerInfo = z.object({
  identity: z.string().check(z.minLength(1), z.maxLength(128)),
  level: z.number().check(z.gte(0), z.lte(1)),
});
export type SpeakerInfo = z.infer<typeof SpeakerInfo>;

/** The most speakers a list carries (the loudest ones). */
export const MAX_SPEAKERS = 64;

/** Speakers, loudest first. */
export const SpeakerList = z.array(SpeakerInfo).check(z.maxLength(MAX_SPEAKERS));

/**
 * What travels on `weir.room.<room>.speakers`: one node's speaking participants (its own
 * sessions' audio only), loudest first. Sent every speaker interval while the list is not
 * empty, and once when it becomes empty; a list not refreshed for SPEAKERS_TTL_MS is dropped.
 */
export const RoomSpeakersMessage = z.object({
  nodeId: z.string().check(z.maxLength(128)),
  speakers: SpeakerList,
});
export type RoomSpeakersMessage = z.infer<typeof RoomSpeakersMessage>;

/** How long a node's speaker list counts without a refresh (a lost "nobody" message). */
export const SPEAKERS_TTL_MS = 1500;
