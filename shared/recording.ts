import * as z from "zod/mini";

/**
 * Recordings controlled through the edge: what to record (HTTP body of
 * `POST /v1/rooms/:room/recordings`, WebSocket `startRecording`), what a recording looks like
 * (`GET` lists, replies) and the room events that tell every participant one started or stopped.
 * A recording runs on the media node that hosts its publishers; its id names that node.
 */

/** Not room.ts's (room.ts imports this file). */
const MediaKind = z.enum(["audio", "video"]);
const Identity = z.string().check(z.minLength(1), z.maxLength(128));
const PublisherId = z.string().check(z.minLength(1), z.maxLength(256));

/** "track": one file per track; "participant": one file per participant, audio + video in sync. */
export const RecordingLayout = z.enum(["track", "participant"]);
export type RecordingLayout = z.infer<typeof RecordingLayout>;

/** Tracks one request may name (a bound, far over what a participant publishes). */
export const MAX_RECORDED_TRACKS = 64;

/**
 * What to record: `trackIds` (publisher ids), or every track of `participant`, or (neither) every
 * track published in the room at the time of the request. `layout` defaults to "track".
 */
export const RecordingRequest = z.object({
  participant: z.optional(Identity),
  trackIds: z.optional(
    z.array(PublisherId).check(z.minLength(1), z.maxLength(MAX_RECORDED_TRACKS)),
  ),
  layout: z.optional(RecordingLayout),
});
export type RecordingRequest = z.infer<typeof RecordingRequest>;

/** `<nodeId>.<local id>`: the node part routes a stop to the node that records. */
export const RECORDING_ID_PATTERN = /^([A-Za-z0-9_-]{1,128})\.(rec_[A-Za-z0-9_-]{1,40})$/;
export const RecordingId = z.string().check(z.regex(RECORDING_ID_PATTERN));

/** The media node that runs recording `id`, or null when `id` is not a recording id. */
export function recordingNode(id: string): string | null {
  return RECORDING_ID_PATTERN.exec(id)?.[1] ?? null;
}

export const RecordingStatus = z.enum(["starting", "recording", "stopped", "failed"]);
export type RecordingStatus = z.infer<typeof RecordingStatus>;

/**
 * Why a recording ended: `stopped` (asked to), `unpublished` (every recorded track went away),
 * `write_failed` (a file could not be written: disk full, permissions), `node_stopped`.
 */
export const RecordingEndReason = z.enum([
  "stopped",
  "unpublished",
  "write_failed",
  "node_stopped",
]);
export type RecordingEndReason = z.infer<typeof RecordingEndReason>;

export const RecordedTrackInfo = z.object({
  publisherId: z.string(),
  identity: z.string(),
  kind: MediaKind,
  mimeType: z.string(),
});
export type RecordedTrackInfo = z.infer<typeof RecordedTrackInfo>;

export const RecordingFileInfo = z.object({
  /** The file on the recording node's disk (under its WEIR_RECORDINGS_DIR). */
  path: z.string(),
  publisherIds: z.array(z.string()),
  /** Bytes on disk now. */
  bytes: z.number().check(z.gte(0)),
  /** Media seconds written so far (the longest track). */
  durationS: z.number().check(z.gte(0)),
});
export type RecordingFileInfo = z.infer<typeof RecordingFileInfo>;

export const RecordingInfo = z.object({
  recordingId: RecordingId,
  room: z.string(),
  nodeId: z.string(),
  layout: RecordingLayout,
  status: RecordingStatus,
  tracks: z.array(RecordedTrackInfo),
  files: z.array(RecordingFileInfo),
  /** Who asked (the token's identity). */
  startedBy: z.string(),
  /** Unix ms. */
  startedAt: z.number(),
  stoppedAt: z.optional(z.number()),
  reason: z.optional(RecordingEndReason),
  /** What went wrong, for a failed recording. */
  error: z.optional(z.object({ code: z.string(), message: z.string() })),
});
export type RecordingInfo = z.infer<typeof RecordingInfo>;

/** Room events: every participant hears of a recording that starts or stops. */
export const RECORDING_EVENT_SCHEMAS = [
  z.object({
    type: z.literal("recording.started"),
    recordingId: z.string(),
    layout: RecordingLayout,
    /** The recorded participants and tracks. */
    participants: z.array(z.string()),
    publisherIds: z.array(z.string()),
  }),
  z.object({
    type: z.literal("recording.stopped"),
    recordingId: z.string(),
    reason: RecordingEndReason,
  }),
] as const;

/** A recording in progress as the room shows it (welcome, snapshots). */
export const ActiveRecording = RECORDING_EVENT_SCHEMAS[0];
export type ActiveRecording = z.infer<typeof ActiveRecording>;
