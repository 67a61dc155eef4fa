/**
 * One WebM file of one or more tracks, written with mediabunny (the muxer compared in issue 15).
 * Frames are queued and written in order; each write goes straight to the file (clusters of
 * about a second, header made crash-safe), so a killed process leaves a file that plays up to
 * its last cluster; close() writes the duration and cues. Each track's frame is held until its
 * next one gives its duration.
 */
import { closeSync, openSync, writeSync } from "node:fs";
import {
  EncodedAudioPacketSource,
  EncodedPacket,
  EncodedVideoPacketSource,
  MkvOutputFormat,
  Output,
  StreamTarget,
  type StreamTargetChunk,
  WebMOutputFormat,
} from "mediabunny";
import { CrashSafeHeader } from "./crashSafe.ts";
import type { Frame } from "./depacketize.ts";

export type TrackCodec = "vp8" | "vp9" | "av1" | "h264" | "opus";

export interface MuxTrack {
  codec: TrackCodec;
  /** Video size (from the first keyframe); 0 for audio. */
  width: number;
  height: number;
  /** H.264: the avcC record of the first keyframe; H.264 and AV1: its codec string. */
  description?: Uint8Array;
  codecString?: string;
}

/** WebM takes VP8, VP9 and Opus; a file with H.264 is Matroska. */
export function containerOf(codecs: readonly TrackCodec[]): "webm" | "mkv" {
  return codecs.includes("h264") ? "mkv" : "webm";
}

/** Frames queued behind a slow disk before new ones are dropped. */
const MAX_QUEUED = 512;
/** Duration given to a track's last frame (no next one to measure it by). */
const LAST_FRAME_S = 0.02;

/** The 19-byte OpusHead (RFC 7845 5.1) WebM carries as CodecPrivate: stereo, 48 kHz. */
function opusHead(channels: number): Uint8Array {
  const b = Buffer.alloc(19);
  b.write("OpusHead", 0, "latin1");
  b[8] = 1;
  b[9] = channels;
  b.writeUInt32LE(48000, 12);
  return b;
}

function decoderConfig(t: MuxTrack): object {
  if (t.codec === "vp8") return { codec: "vp8", codedWidth: t.width, codedHeight: t.height };
  // profile 0, level 1 (a placeholder: WebM keeps no level), 8 bits
  if (t.codec === "vp9") {
    return { codec: "vp09.00.10.08", codedWidth: t.width, codedHeight: t.height };
  }
  if (t.codec === "av1") {
    return { codec: t.codecString ?? "av01.0.08M.08", codedWidth: t.width, codedHeight: t.height };
  }
  if (t.codec === "h264") {
    return {
      codec: t.codecString ?? "avc1.42e01f",
      codedWidth: t.width,
      codedHeight: t.height,
      description: t.description,
    };
  }
  return { codec: "opus", numberOfChannels: 2, sampleRate: 48000, description: opusHead(2) };
}

interface TrackState {
  source: EncodedVideoPacketSource | EncodedAudioPacketSource;
  meta: object | undefined;
  held: { frame: Frame; seconds: number } | null;
  lastSeconds: number;
  frames: number;
  bytes: number;
  dropped: number;
}

/** WebM's timecode unit (its default TimecodeScale). */
const TIMECODE_S = 0.001;

export class MuxFile {
  readonly path: string;
  readonly #fd: number;
  readonly #output: Output;
  readonly #tracks: TrackState[];
  readonly #onError: (e: Error) => void;
  #chain: Promise<void>;
  #queued = 0;
  #failed: Error | null = null;

  /** Opens `path` (truncating it); `onError` is called once if a write fails. */
  constructor(path: string, tracks: readonly MuxTrack[], onError: (e: Error) => void) {
    this.path = path;
    this.#onError = onError;
    const fd = openSync(path, "w");
    this.#fd = fd;
    const header = new CrashSafeHeader();
    const sink = new WritableStream<StreamTargetChunk>({
      write: (c) => {
        header.patch(c.data, c.position);
        // a nearly full disk takes part of a write: the rest goes on (or throws ENOSPC)
        for (let at = 0; at < c.data.length; ) {
          at += writeSync(fd, c.data, at, c.data.length - at, c.position + at);
        }
      },
    });
    const format =
      containerOf(tracks.map((t) => t.codec)) === "mkv" ? MkvOutputFormat : WebMOutputFormat;
    this.#output = new Output({
      format: new format({ minimumClusterDuration: 1 }),
      target: new StreamTarget(sink),
    });
    this.#tracks = tracks.map((t) => this.#addTrack(t));
    this.#chain = this.#output.start();
  }

  /** The write error that ended this file, if any. */
  get failed(): Error | null {
    return this.#failed;
  }

  /**
   * Per track: frames and bytes written, frames dropped (queue full, or out of order), and the
   * file time of its latest frame (seconds).
   */
  trackStats(i: number): { frames: number; bytes: number; dropped: number; durationS: number } {
    const { frames, bytes, dropped, lastSeconds } = this.#tracks[i];
    return { frames, bytes, dropped, durationS: frames > 0 ? lastSeconds : 0 };
  }

  /** A frame of track `i` at `seconds` on the file's timeline. */
  write(i: number, frame: Frame, at: number): void {
    const t = this.#tracks[i];
    if (at < t.lastSeconds) {
      t.dropped++;
      return;
    }
    // WebM timecodes are whole milliseconds: two frames captured within one (an encoder catching
    // up after a stall) would share a timecode, which players reject; the later goes 1 ms on.
    const seconds =
      t.held !== null && at < t.lastSeconds + TIMECODE_S ? t.lastSeconds + TIMECODE_S : at;
    t.lastSeconds = seconds;
    const prev = t.held;
    t.held = { frame, seconds };
    if (prev) this.#enqueue(t, prev.frame, prev.seconds, seconds - prev.seconds);
  }

  /** Writes the held frames, the duration and the cues, and closes the file. */
  async close(): Promise<void> {
    for (const t of this.#tracks) {
      if (t.held) this.#enqueue(t, t.held.frame, t.held.seconds, LAST_FRAME_S);
      t.held = null;
    }
    this.#chain = this.#chain.then(async () => {
      if (!this.#failed) await this.#output.finalize();
    });
    await this.#chain.catch((e: Error) => this.#fail(e));
    closeSync(this.#fd);
    if (this.#failed) throw this.#failed;
  }

  #addTrack(t: MuxTrack): TrackState {
    const meta = { decoderConfig: decoderConfig(t) };
    if (t.codec !== "opus") {
      const source = new EncodedVideoPacketSource(t.codec === "h264" ? "avc" : t.codec);
      this.#output.addVideoTrack(source);
      return { source, meta, held: null, lastSeconds: 0, frames: 0, bytes: 0, dropped: 0 };
    }
    const source = new EncodedAudioPacketSource("opus");
    this.#output.addAudioTrack(source);
    return { source, meta, held: null, lastSeconds: 0, frames: 0, bytes: 0, dropped: 0 };
  }

  #enqueue(t: TrackState, frame: Frame, seconds: number, duration: number): void {
    if (this.#failed) return;
    if (this.#queued >= MAX_QUEUED) {
      t.dropped++;
      return;
    }
    this.#queued++;
    const meta = t.meta;
    t.meta = undefined;
    const type = frame.keyframe ? "key" : "delta";
    const packet = new EncodedPacket(frame.data, type, seconds, Math.max(duration, 0));
    this.#chain = this.#chain
      .then(() => t.source.add(packet, meta as never))
      .then(
        () => {
          this.#queued--;
          t.frames++;
          t.bytes += frame.data.length;
        },
        (e: Error) => {
          this.#queued--;
          this.#fail(e);
        },
      );
  }

  #fail(e: Error): void {
    if (this.#failed) return;
    this.#failed = e;
    this.#onError(e);
  }
}
