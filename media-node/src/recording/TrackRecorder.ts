/**
 * Records one publisher to one file: copies each packet of the recorded encoding off the
 * forward path (a tap), reorders it (JitterBuffer), and on the recorder's tick depacketizes and
 * writes frames. Video starts on a keyframe, asked for at start and after unrepaired loss.
 */
import type { PacketLayers } from "../layers/PacketLayers.ts";
import type { PacketTap, Publisher } from "../Publisher.ts";
import type { RtpView } from "../rtp/rtpPacket.ts";
import {
  type Depacketizer,
  type Frame,
  H264Depacketizer,
  OpusDepacketizer,
  Vp8Depacketizer,
  Vp9Depacketizer,
} from "./depacketize.ts";
import { JitterBuffer, type JitterSink, type RecPacket } from "./JitterBuffer.ts";
import type { TrackCodec } from "./MuxFile.ts";
import type { FileTrackStats } from "./outputs.ts";
import type { TrackRecordingStats } from "./RecorderTypes.ts";
import { SeqUnwrapper, TimestampUnwrapper } from "./unwrap.ts";

/** A keyframe still missing is asked for again after this long. */
const KEYFRAME_RETRY_MS = 1000;

export class TrackRecorder implements PacketTap, JitterSink {
  readonly publisher: Publisher;
  readonly codec: TrackCodec;
  /** The simulcast encoding recorded: the top one. */
  readonly encoding: number;
  readonly #out: (f: Frame) => void;
  readonly #jitter: JitterBuffer;
  readonly #depack: Depacketizer;
  readonly #seq = new SeqUnwrapper();
  readonly #ts = new TimestampUnwrapper();
  /** No more packets are taken (stopped, or the file failed). */
  #done = false;
  #stopped = false;
  #lastKeyframeRequest = Number.NEGATIVE_INFINITY;
  #packets = 0;
  #gaps = 0;
  #keyframeRequests = 0;

  /** Starts taking `publisher`'s packets; its frames go to `out` in order. */
  constructor(
    publisher: Publisher,
    codec: TrackCodec,
    repairWaitMs: number,
    out: (f: Frame) => void,
  ) {
    this.publisher = publisher;
    this.codec = codec;
    this.#out = out;
    this.encoding = publisher.encodings.length - 1;
    this.#jitter = new JitterBuffer(repairWaitMs);
    this.#depack = depacketizer(codec);
    publisher.addTap(this);
    this.#askKeyframe(performance.now());
  }

  /** Forward path: one copy of the payload, into the reorder buffer. */
  tap(buf: Buffer, view: RtpView, layers: PacketLayers, nowMs: number): void {
    if (this.#done || layers.encoding !== this.encoding || view.payloadLength === 0) return;
    this.#packets++;
    const start = view.payloadOffset;
    const p: RecPacket = {
      seq: this.#seq.unwrap(view.sequenceNumber),
      ts: this.#ts.unwrap(view.timestamp),
      marker: view.marker,
      payload: Buffer.from(buf.subarray(start, start + view.payloadLength)),
      arrivalMs: nowMs,
    };
    this.#jitter.push(p, this);
  }

  /** Recorder's tick: hands on what is in order and writes the frames it completes. */
  tick(nowMs: number): void {
    if (this.#done) return;
    this.#jitter.drain(nowMs, this);
    if (this.#depack.needsKeyframe && nowMs - this.#lastKeyframeRequest >= KEYFRAME_RETRY_MS) {
      this.#askKeyframe(nowMs);
    }
  }

  packet(p: RecPacket): void {
    const frame = this.#depack.packet(p);
    if (frame) this.#out(frame);
  }

  gap(): void {
    this.#gaps++;
    const wasWaiting = this.#depack.needsKeyframe;
    this.#depack.gap();
    if (!wasWaiting && this.#depack.needsKeyframe) this.#askKeyframe(performance.now());
  }

  /** Hands on what is held and takes no more packets. */
  stop(): void {
    if (this.#stopped) return;
    this.#stopped = true;
    if (!this.#done) this.#jitter.flush(this);
    this.detach();
  }

  getStats(f: FileTrackStats | null): TrackRecordingStats {
    return {
      publisherId: this.publisher.id,
      path: f ? f.path : null,
      packets: this.#packets,
      packetsLate: this.#jitter.late,
      packetsOverflow: this.#jitter.overflow,
      framesWritten: f ? f.frames : 0,
      framesDropped: this.#depack.dropped + (f ? f.dropped : 0),
      bytesWritten: f ? f.bytes : 0,
      durationS: f ? f.durationS : 0,
      gaps: this.#gaps,
      keyframeRequests: this.#keyframeRequests,
    };
  }

  /** Takes no more packets (stopped, or its file failed). */
  detach(): void {
    this.#done = true;
    this.publisher.removeTap(this);
  }

  #askKeyframe(nowMs: number): void {
    if (this.publisher.kind !== "video") return;
    this.#lastKeyframeRequest = nowMs;
    this.#keyframeRequests++;
    this.publisher.requestKeyframe(nowMs, this.encoding);
  }
}

function depacketizer(codec: TrackCodec): Depacketizer {
  if (codec === "vp8") return new Vp8Depacketizer();
  if (codec === "vp9") return new Vp9Depacketizer();
  if (codec === "h264") return new H264Depacketizer();
  return new OpusDepacketizer();
}
