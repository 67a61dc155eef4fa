/**
 * Where a recorder's frames go: one file per track (timeline from each track's RTP clock), or
 * one file per participant with every track in it, put on one timeline from each stream's RTCP
 * sender report (RTP time to NTP wall clock, RFC 3550 6.4.1), not from arrival times.
 */
import { join } from "node:path";
import type { Publisher } from "../Publisher.ts";
import type { Frame } from "./depacketize.ts";
import { containerOf, MuxFile, type MuxTrack, type TrackCodec } from "./MuxFile.ts";
import type { RecordingFile } from "./RecorderTypes.ts";

export interface OutputTrack {
  publisher: Publisher;
  codec: TrackCodec;
  /** The encoding recorded (its sender reports give the clock). */
  encoding: number;
}

export interface OutputHost {
  filecreated(file: RecordingFile): void;
  /** The file of tracks `tracks` (indexes) failed. */
  error(path: string, e: Error, tracks: number[]): void;
}

export interface FileTrackStats {
  path: string;
  frames: number;
  bytes: number;
  dropped: number;
  /** File time of the track's latest frame (seconds). */
  durationS: number;
}

export interface RecordingOutput {
  /** A decodable frame of track `i` (a video track's first one is a keyframe). */
  frame(i: number, f: Frame): void;
  trackStats(i: number): FileTrackStats | null;
  close(): Promise<void>;
}

/** Frames held while a participant file waits for every track's first frame and report. */
const MAX_PENDING = 2000;
const TWO_POW_32 = 0x1_0000_0000;

function safe(s: string): string {
  return s.replace(/[^A-Za-z0-9_-]/g, "_");
}

/** The track's format, or null while a video track has no keyframe to read its size from. */
function muxTrack(t: OutputTrack, f: Frame): MuxTrack | null {
  if (t.codec === "opus") return { codec: "opus", width: 0, height: 0 };
  if (!f.keyframe || !f.width || !f.height) return null;
  if (t.codec === "h264" && !f.description) return null;
  const mt: MuxTrack = { codec: t.codec, width: f.width, height: f.height };
  if (f.description) mt.description = f.description;
  if (f.codecString) mt.codecString = f.codecString;
  return mt;
}

function describe(path: string, tracks: readonly OutputTrack[]): RecordingFile {
  return {
    path,
    tracks: tracks.map(({ publisher: p }) => ({
      publisherId: p.id,
      kind: p.kind,
      mimeType: p.codec.mimeType,
    })),
  };
}

/** Opens a MuxFile, reporting a failure (ENOSPC, EACCES) to the host instead of throwing. */
function open(path: string, tracks: MuxTrack[], host: OutputHost, idx: number[]): MuxFile | null {
  try {
    return new MuxFile(path, tracks, (e) => host.error(path, e, idx));
  } catch (e) {
    host.error(path, e as Error, idx);
    return null;
  }
}

/** One file per track: `<dir>/<recorder>-<publisher>.webm`. */
export class PerTrackOutput implements RecordingOutput {
  readonly #tracks: readonly OutputTrack[];
  readonly #paths: string[];
  readonly #host: OutputHost;
  readonly #files: (MuxFile | null)[];
  readonly #firstTs: number[];
  readonly #failed: boolean[];

  constructor(dir: string, id: string, tracks: readonly OutputTrack[], host: OutputHost) {
    this.#tracks = tracks;
    this.#host = host;
    this.#paths = tracks.map((t) =>
      join(dir, `${safe(id)}-${safe(t.publisher.id)}.${containerOf([t.codec])}`),
    );
    this.#files = tracks.map(() => null);
    this.#firstTs = tracks.map(() => 0);
    this.#failed = tracks.map(() => false);
  }

  frame(i: number, f: Frame): void {
    let file = this.#files[i];
    if (!file) {
      const t = this.#tracks[i];
      const mt = this.#failed[i] ? null : muxTrack(t, f);
      if (!mt) return;
      file = open(this.#paths[i], [mt], this.#host, [i]);
      if (!file) {
        this.#failed[i] = true;
        return;
      }
      this.#files[i] = file;
      this.#firstTs[i] = f.ts;
      this.#host.filecreated(describe(this.#paths[i], [t]));
    }
    file.write(0, f, (f.ts - this.#firstTs[i]) / this.#tracks[i].publisher.codec.clockRate);
  }

  trackStats(i: number): FileTrackStats | null {
    const file = this.#files[i];
    return file ? { path: file.path, ...file.trackStats(0) } : null;
  }

  async close(): Promise<void> {
    await Promise.all(this.#files.map((f) => f?.close().catch(() => undefined)));
  }
}

/**
 * All tracks in one file: `<dir>/<recorder>.webm`. Opens once every track has a first frame
 * (video: a keyframe) and a sender report; the file starts at the first video keyframe's
 * wall-clock time (earlier audio is left out) or, audio-only, at the first audio frame.
 */
export class ParticipantOutput implements RecordingOutput {
  readonly #tracks: readonly OutputTrack[];
  readonly #path: string;
  readonly #host: OutputHost;
  readonly #formats: (MuxTrack | null)[];
  readonly #first: (Frame | null)[];
  #pending: { i: number; f: Frame }[] = [];
  #file: MuxFile | null = null;
  #failed = false;
  #t0 = 0;
  readonly #dropped: number[];

  constructor(dir: string, id: string, tracks: readonly OutputTrack[], host: OutputHost) {
    this.#tracks = tracks;
    this.#host = host;
    this.#path = join(dir, `${safe(id)}.${containerOf(tracks.map((t) => t.codec))}`);
    this.#formats = tracks.map(() => null);
    this.#first = tracks.map(() => null);
    this.#dropped = tracks.map(() => 0);
  }

  frame(i: number, f: Frame): void {
    if (this.#failed) return;
    if (this.#file) {
      this.#write(i, f);
      return;
    }
    if (!this.#formats[i]) {
      this.#formats[i] = muxTrack(this.#tracks[i], f);
      if (!this.#formats[i]) return;
      this.#first[i] = f;
    }
    if (this.#pending.length >= MAX_PENDING) this.#dropped[this.#pending.shift()?.i ?? 0]++;
    this.#pending.push({ i, f });
    this.#tryOpen();
  }

  trackStats(i: number): FileTrackStats | null {
    const file = this.#file;
    if (!file) return null;
    const s = file.trackStats(i);
    return { path: file.path, ...s, dropped: s.dropped + this.#dropped[i] };
  }

  async close(): Promise<void> {
    await this.#file?.close().catch(() => undefined);
  }

  /** Wall-clock seconds (NTP) of RTP timestamp `ts` of track `i`, NaN without a report. */
  #wallClock(i: number, ts: number): number {
    const t = this.#tracks[i];
    const sr = t.publisher.encodings[t.encoding].senderReport;
    if (!sr) return Number.NaN;
    const delta = (((ts % TWO_POW_32) - sr.rtpTimestamp) | 0) / t.publisher.codec.clockRate;
    return sr.ntpSec + sr.ntpFrac / TWO_POW_32 + delta;
  }

  #tryOpen(): void {
    const starts = this.#first.map((f, i) => (f ? this.#wallClock(i, f.ts) : Number.NaN));
    if (starts.some(Number.isNaN)) return;
    const video = this.#tracks.findIndex((t) => t.publisher.kind === "video");
    this.#t0 = video >= 0 ? starts[video] : Math.min(...starts);
    const formats = this.#formats.filter((x): x is MuxTrack => x !== null);
    this.#file = open(
      this.#path,
      formats,
      this.#host,
      this.#tracks.map((_, i) => i),
    );
    if (!this.#file) {
      this.#failed = true;
      this.#pending = [];
      return;
    }
    this.#host.filecreated(describe(this.#path, this.#tracks));
    const pending = this.#pending;
    this.#pending = [];
    for (const { i, f } of pending) this.#write(i, f);
  }

  #write(i: number, f: Frame): void {
    const s = this.#wallClock(i, f.ts) - this.#t0;
    if (s < 0) this.#dropped[i]++;
    else this.#file?.write(i, f, s);
  }
}
