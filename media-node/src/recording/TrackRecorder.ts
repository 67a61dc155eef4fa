/**
 * Records one publisher to one file: copies each packet of the recorded encoding off the
 * forward path (a tap), reorders it (JitterBuffer), and on the recorder's tick depacketizes and
 * writes frames. Video starts on a keyframe, asked for at start and after unrepaired loss.
 */
import type { PacketLayers } from "../layers/PacketLayers.ts";
import type { PacketTap, Publisher } from "../Publisher.ts";
import type { RtpView } from "../rtp/rtpPacket.ts";
import {
  Av1Depacketizer,
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
/** How often a simulcast recording checks which encoding to record. */
const LAYER_CHECK_MS = 500;
const TWO_POW_32 = 0x1_0000_0000;

export class TrackRecorder implements PacketTap, JitterSink {
  readonly publisher: Publisher;
  readonly codec: TrackCodec;
  /**
   * The simulcast encoding whose timeline the file uses (the first one recorded: the top). A
   * simulcast recording follows the highest encoding that is sending, switching only at a
   * keyframe of the new one; its timestamps are moved onto this one's clock.
   */
  readonly baseEncoding: number;
  readonly #out: (f: Frame) => void;
  readonly #repairWaitMs: number;
  #current: number;
  /** The encoding switched to at its next keyframe (-1: none). */
  #pending = -1;
  #lastLayerCheck = 0;
  #jitter: JitterBuffer;
  #depack: Depacketizer;
  #seq = new SeqUnwrapper();
  #ts = new TimestampUnwrapper();
  /** Added to the current encoding's extended timestamps (0 for the base encoding). */
  #tsOffset = 0;
  /** The latest timestamp handed on (base timeline), -1 before the first. */
  #lastTs = -1;
  #switches = 0;
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
    this.#repairWaitMs = repairWaitMs;
    this.baseEncoding = publisher.encodings.length - 1;
    this.#current = this.baseEncoding;
    this.#jitter = new JitterBuffer(repairWaitMs);
    this.#depack = depacketizer(codec);
    publisher.addTap(this);
    this.#askKeyframe(performance.now());
  }

  /** The encoding recorded now (a relay brings it, and the top one, over). */
  get encoding(): number {
    return this.#current;
  }

  /** Encodings a relay should bring for this recorder: the current, the one switched to, the top. */
  get wantedEncodings(): number[] {
    const out = [this.#current, this.baseEncoding];
    if (this.#pending >= 0) out.push(this.#pending);
    return out;
  }

  /** Forward path: one copy of the payload, into the reorder buffer. */
  tap(buf: Buffer, view: RtpView, layers: PacketLayers, nowMs: number): void {
    if (this.#done || view.payloadLength === 0) return;
    if (layers.encoding !== this.#current) {
      // a simulcast switch happens at the new encoding's keyframe
      if (layers.encoding !== this.#pending || !layers.keyframe) return;
      if (this.codec === "vp8" && !layers.pictureStart) return; // VP8: the keyframe's first packet
      this.#switchTo(this.#pending, view.timestamp);
    }
    this.#packets++;
    const start = view.payloadOffset;
    const ts = this.#ts.unwrap(view.timestamp) + this.#tsOffset;
    if (ts > this.#lastTs) this.#lastTs = ts;
    const p: RecPacket = {
      seq: this.#seq.unwrap(view.sequenceNumber),
      ts,
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
    if (this.publisher.simulcast && nowMs - this.#lastLayerCheck >= LAYER_CHECK_MS) {
      this.#lastLayerCheck = nowMs;
      this.#chooseEncoding(nowMs);
    }
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
      encoding: this.#current,
      encodingSwitches: this.#switches,
    };
  }

  /** Takes no more packets (stopped, or its file failed). */
  detach(): void {
    this.#done = true;
    this.publisher.removeTap(this);
  }

  #askKeyframe(nowMs: number, encoding = this.#current): void {
    if (this.publisher.kind !== "video") return;
    this.#lastKeyframeRequest = nowMs;
    this.#keyframeRequests++;
    this.publisher.requestKeyframe(nowMs, encoding);
  }

  /**
   * The highest encoding up to the top that is sending; a change waits for its keyframe (asked
   * for now) while the current one goes on being recorded.
   */
  #chooseEncoding(nowMs: number): void {
    const encodings = this.publisher.encodings;
    let best = -1;
    for (let i = this.baseEncoding; i >= 0; i--) {
      if (encodings[i].activeBitrate(nowMs) > 0) {
        best = i;
        break;
      }
    }
    if (best < 0 || best === this.#current) {
      this.#pending = -1;
      return;
    }
    if (best !== this.#pending) {
      this.#pending = best;
      this.#askKeyframe(nowMs, best);
    } else if (nowMs - this.#lastKeyframeRequest >= KEYFRAME_RETRY_MS) {
      this.#askKeyframe(nowMs, best);
    }
  }

  /**
   * Records encoding `next` from the packet with RTP timestamp `ts32` (a keyframe's) on: what
   * the old one holds is written, then a fresh reorder buffer and depacketizer take the new
   * stream, its timestamps moved onto the base encoding's clock (by their sender reports, or
   * one frame after the last when a report is missing).
   */
  #switchTo(next: number, ts32: number): void {
    this.#jitter.flush(this);
    const encodings = this.publisher.encodings;
    const clock = this.publisher.codec.clockRate;
    const base = encodings[this.baseEncoding].senderReport;
    const sr = encodings[next].senderReport;
    let target = this.#lastTs + Math.round(clock / 30);
    if (base && sr && this.#lastTs >= 0) {
      const wall = sr.ntpSec + sr.ntpFrac / TWO_POW_32 + ((ts32 - sr.rtpTimestamp) | 0) / clock;
      const baseWall = base.ntpSec + base.ntpFrac / TWO_POW_32;
      const onBase = Math.round(base.rtpTimestamp + (wall - baseWall) * clock);
      // nearest to the last timestamp, in the extended domain
      const delta = (((onBase % TWO_POW_32) - (this.#lastTs % TWO_POW_32)) | 0) as number;
      if (delta > 0) target = this.#lastTs + delta;
    }
    if (this.#lastTs < 0) target = 0;
    this.#current = next;
    this.#pending = -1;
    this.#switches++;
    this.#jitter = new JitterBuffer(this.#repairWaitMs);
    this.#depack = depacketizer(this.codec);
    this.#seq = new SeqUnwrapper();
    this.#ts = new TimestampUnwrapper();
    this.#tsOffset = target - this.#ts.unwrap(ts32); // the tap unwraps ts32 again: the same value
  }
}

function depacketizer(codec: TrackCodec): Depacketizer {
  if (codec === "vp8") return new Vp8Depacketizer();
  if (codec === "vp9") return new Vp9Depacketizer();
  if (codec === "h264") return new H264Depacketizer();
  if (codec === "av1") return new Av1Depacketizer();
  return new OpusDepacketizer();
}
