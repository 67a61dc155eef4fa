/**
 * One WebM file written with mediabunny (the muxer compared in issue 15). Frames are queued and
 * written in order; each write goes straight to the file (clusters of about a second), so a
 * killed process leaves a file that plays up to its last cluster; close() writes the duration
 * and cues. A frame is held until the next one gives its duration.
 */
import { closeSync, openSync, writeSync } from "node:fs";
import {
  EncodedAudioPacketSource,
  EncodedPacket,
  EncodedVideoPacketSource,
  Output,
  StreamTarget,
  type StreamTargetChunk,
  WebMOutputFormat,
} from "mediabunny";
import { CrashSafeHeader } from "./crashSafe.ts";
import type { Frame } from "./depacketize.ts";

export type TrackCodec = "vp8" | "opus";

/** Frames queued behind a slow disk before new ones are dropped. */
const MAX_QUEUED = 512;
/** Duration given to the last frame (no next one to measure it by). */
const LAST_FRAME_MS = 20;

/** The 19-byte OpusHead (RFC 7845 5.1) WebM carries as CodecPrivate: stereo, 48 kHz. */
function opusHead(channels: number): Uint8Array {
  const b = Buffer.alloc(19);
  b.write("OpusHead", 0, "latin1");
  b[8] = 1;
  b[9] = channels;
  b.writeUInt32LE(48000, 12);
  return b;
}

export interface TrackFileInit {
  path: string;
  codec: TrackCodec;
  clockRate: number;
  /** Video size (from the first keyframe). */
  width: number;
  height: number;
  /** Called once when a write fails; the file takes no more frames. */
  onError: (e: Error) => void;
}

export class TrackFile {
  readonly path: string;
  readonly #fd: number;
  readonly #output: Output;
  readonly #source: EncodedVideoPacketSource | EncodedAudioPacketSource;
  readonly #clockRate: number;
  readonly #firstTs: number;
  readonly #meta: object;
  readonly #onError: (e: Error) => void;
  #held: Frame | null = null;
  #chain: Promise<void>;
  #queued = 0;
  #first = true;
  #failed: Error | null = null;
  bytes = 0;
  frames = 0;
  dropped = 0;

  /** Opens `init.path` (truncating it); `first` is the first frame (a keyframe for video). */
  constructor(init: TrackFileInit, first: Frame) {
    const { path, codec } = init;
    this.path = path;
    this.#clockRate = init.clockRate;
    this.#firstTs = first.ts;
    this.#onError = init.onError;
    this.#fd = openSync(path, "w");
    const fd = this.#fd;
    const header = new CrashSafeHeader();
    const sink = new WritableStream<StreamTargetChunk>({
      write: (c) => {
        header.patch(c.data, c.position);
        writeSync(fd, c.data, 0, c.data.length, c.position);
      },
    });
    this.#output = new Output({
      format: new WebMOutputFormat({ minimumClusterDuration: 1 }),
      target: new StreamTarget(sink),
    });
    if (codec === "vp8") {
      this.#source = new EncodedVideoPacketSource("vp8");
      this.#output.addVideoTrack(this.#source);
    } else {
      this.#source = new EncodedAudioPacketSource("opus");
      this.#output.addAudioTrack(this.#source);
    }
    const meta =
      codec === "vp8"
        ? { decoderConfig: { codec: "vp8", codedWidth: init.width, codedHeight: init.height } }
        : {
            decoderConfig: {
              codec: "opus",
              numberOfChannels: 2,
              sampleRate: 48000,
              description: opusHead(2),
            },
          };
    this.#chain = this.#output.start();
    this.#meta = meta;
    this.write(first);
  }

  /** The write error that ended this file, if any. */
  get failed(): Error | null {
    return this.#failed;
  }

  write(frame: Frame): void {
    const prev = this.#held;
    this.#held = frame;
    if (prev) this.#enqueue(prev, frame.ts - prev.ts);
  }

  /** Writes the held frame, the duration and the cues, and closes the file. */
  async close(): Promise<void> {
    const last = this.#held;
    this.#held = null;
    if (last) this.#enqueue(last, (LAST_FRAME_MS * this.#clockRate) / 1000);
    this.#chain = this.#chain.then(async () => {
      if (!this.#failed) await this.#output.finalize();
    });
    await this.#chain.catch((e: Error) => this.#fail(e));
    closeSync(this.#fd);
    if (this.#failed) throw this.#failed;
  }

  #enqueue(frame: Frame, durationTicks: number): void {
    if (this.#failed) return;
    if (this.#queued >= MAX_QUEUED) {
      this.dropped++;
      return;
    }
    this.#queued++;
    const meta = this.#first ? this.#meta : undefined;
    this.#first = false;
    const packet = new EncodedPacket(
      frame.data,
      frame.keyframe ? "key" : "delta",
      (frame.ts - this.#firstTs) / this.#clockRate,
      Math.max(durationTicks, 0) / this.#clockRate,
    );
    this.#chain = this.#chain
      .then(() => this.#source.add(packet, meta as never))
      .then(
        () => {
          this.#queued--;
          this.frames++;
          this.bytes += frame.data.length;
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
