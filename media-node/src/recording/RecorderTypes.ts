import type { WeirError } from "../errors.ts";
import type { Publisher } from "../Publisher.ts";
import type { MediaKind } from "../PublisherTypes.ts";

export interface RecorderOptions {
  /** Publishers to record (VP8, VP9 or Opus for now). */
  publishers: readonly Publisher[];
  /**
   * "track" (default): one WebM per publisher, `<dir>/<id>-<publisherId>.webm`; "participant":
   * all of them in one WebM, `<dir>/<id>.webm`, in sync from their RTCP sender reports.
   */
  layout?: "track" | "participant";
  /** Directory the files go to (made if missing). */
  directory: string;
  /** Id used in file names; a new one by default. */
  id?: string;
  /** How long a hole in the sequence waits for NACK repair before it counts as lost (ms). */
  repairWaitMs?: number;
}

/** One file a recorder writes. */
export interface RecordingFile {
  path: string;
  tracks: RecordedTrack[];
}

export interface RecordedTrack {
  publisherId: string;
  kind: MediaKind;
  /** e.g. "video/VP8". */
  mimeType: string;
}

export interface TrackRecordingStats {
  publisherId: string;
  path: string | null;
  /** Packets handed to the recorder (of the recorded encoding). */
  packets: number;
  /** Packets that came after their place was written or given up (duplicates, too late). */
  packetsLate: number;
  /** Sequence places given up early because the reorder buffer was full. */
  packetsOverflow: number;
  framesWritten: number;
  /** Frames not written: incomplete, or after a loss until the next keyframe. */
  framesDropped: number;
  bytesWritten: number;
  /** File time of the latest frame written (seconds). */
  durationS: number;
  /** Holes in the sequence that NACK repair did not fill in time. */
  gaps: number;
  keyframeRequests: number;
  /** The simulcast encoding recorded now (0 = lowest), and how often it changed. */
  encoding: number;
  encodingSwitches: number;
}

export interface RecorderStats {
  id: string;
  state: "recording" | "stopping" | "closed";
  tracks: TrackRecordingStats[];
}

export interface RecorderEvents {
  /** A track's file was opened (on its first decodable frame). */
  filecreated: [RecordingFile];
  /** A file could not be opened or written (code write_failed); the other files go on. */
  error: [WeirError];
  closed: [];
}
