import type { EncodingStats } from "../PublisherTypes.ts";
import { RateMeter } from "../RateMeter.ts";
import { buildFir, buildNack, buildPli } from "../rtp/rtcp/build.ts";
import type { ReportBlock } from "../rtp/rtcp/common.ts";
import { type RtpView, seqDiff } from "../rtp/rtpPacket.ts";

/** Packets kept per video encoding for answering subscribers' NACKs (a power of two). */
const CACHE_SIZE = 1024;
/** At most one keyframe request per encoding in this many ms. */
const KEYFRAME_THROTTLE_MS = 500;
const NACK_RETRY_MS = 40;
const NACK_MAX_TRIES = 3;
const NACK_MAX_GAP = 200;
/** A stream that sent nothing for this long is not sending (a paused simulcast layer). */
const INACTIVE_MS = 1000;

/** What a receive stream needs from the transport it arrives on. */
export interface ReceiveStreamHost {
  readonly rtcpSsrc: number;
  readonly firNegotiated: boolean;
  sendRtcp(packet: Uint8Array): void;
}

/** The last sender report of the stream, for lip sync on the subscriber side. */
export interface SenderReportInfo {
  ntpSec: number;
  ntpFrac: number;
  rtpTimestamp: number;
  receivedAtMs: number;
}

/**
 * The receive side of one RTP stream of a publisher: the only one without simulcast, or one
 * simulcast layer (rid).
 * Owns what is per SSRC: retransmission cache, receive statistics, NACKs and keyframe requests
 * toward the publisher (so every simulcast layer is repaired on its own SSRC).
 */
export class ReceiveStream {
  readonly index: number;
  /** The rid (RFC 8851) of a simulcast layer, "" without simulcast. */
  readonly rid: string;
  readonly #video: boolean;
  readonly #clockRate: number;
  readonly #host: ReceiveStreamHost;
  ssrc: number | null = null;
  senderReport: SenderReportInfo | null = null;
  readonly #cache: (Buffer | undefined)[];
  readonly #cacheSeq = new Int32Array(CACHE_SIZE).fill(-1);
  readonly #cacheLen = new Uint16Array(CACHE_SIZE);
  readonly #rate = new RateMeter();
  readonly #pendingNacks = new Map<number, number>();
  readonly #nackTries = new Map<number, number>();
  #lastKeyframeRequest = -Infinity;
  #lastPacketAtMs = -Infinity;
  #firSeq = 0;
  // receive statistics (RFC 3550 A.3 / A.8)
  #highestSeq = -1;
  #cycles = 0;
  #baseSeq = 0;
  #received = 0;
  #expectedPrior = 0;
  #receivedPrior = 0;
  #jitter = 0;
  #lastTransit = 0;
  readonly stats = {
    bytesReceived: 0,
    packetsLost: 0,
    packetsRepaired: 0,
    nacksSent: 0,
    keyframesRequested: 0,
    keyframesReceived: 0,
  };

  constructor(
    index: number,
    rid: string,
    video: boolean,
    clockRate: number,
    host: ReceiveStreamHost,
  ) {
    this.index = index;
    this.rid = rid;
    this.#video = video;
    this.#clockRate = clockRate;
    this.#host = host;
    this.#cache = new Array(video ? CACHE_SIZE : 0);
  }

  get packetsReceived(): number {
    return this.#received;
  }

  /**
   * Hot path: accounts and caches one packet of this stream. True when it is the first packet
   * after the stream was not sending (a resumed simulcast layer), so layers can be re-picked.
   */
  receive(buf: Buffer, view: RtpView, keyframe: boolean, nowMs: number): boolean {
    this.#track(view, nowMs);
    this.stats.bytesReceived += view.length;
    this.#rate.add(view.length, nowMs);
    const resumed = nowMs - this.#lastPacketAtMs > INACTIVE_MS;
    this.#lastPacketAtMs = nowMs;
    if (!this.#video) return resumed;
    if (keyframe) this.stats.keyframesReceived++;
    const slot = view.sequenceNumber & (CACHE_SIZE - 1);
    this.#cache[slot] = buf;
    this.#cacheSeq[slot] = view.sequenceNumber;
    this.#cacheLen[slot] = view.length;
    return resumed;
  }

  /** Bits/s over the last second; 0 when the stream is not sending, at least 1 when it is. */
  activeBitrate(nowMs: number): number {
    if (nowMs - this.#lastPacketAtMs > INACTIVE_MS) return 0;
    return Math.max(1, this.#rate.bitrate(nowMs));
  }

  /** A cached packet by its source sequence number, or undefined. Length via cachedLength. */
  cached(seq: number): Buffer | undefined {
    const slot = seq & (CACHE_SIZE - 1);
    return this.#cacheSeq[slot] === seq ? this.#cache[slot] : undefined;
  }

  cachedLength(seq: number): number {
    return this.#cacheLen[seq & (CACHE_SIZE - 1)];
  }

  /** Asks for a keyframe on this stream (PLI, or FIR where PLI was not negotiated), throttled. */
  requestKeyframe(nowMs: number): void {
    if (!this.#video || this.ssrc === null) return;
    if (nowMs - this.#lastKeyframeRequest < KEYFRAME_THROTTLE_MS) return;
    this.#lastKeyframeRequest = nowMs;
    this.stats.keyframesRequested++;
    const host = this.#host;
    this.#firSeq = (this.#firSeq + 1) & 0xff;
    host.sendRtcp(
      host.firNegotiated
        ? buildFir(host.rtcpSsrc, this.ssrc, this.#firSeq)
        : buildPli(host.rtcpSsrc, this.ssrc),
    );
  }

  /** Periodic work (every few tens of ms): NACK retries toward the publisher. */
  tick(nowMs: number): void {
    if (this.#pendingNacks.size === 0 || this.ssrc === null) return;
    const due: number[] = [];
    for (const [seq, sentAt] of this.#pendingNacks) {
      if (nowMs - sentAt < NACK_RETRY_MS) continue;
      const tries = (this.#nackTries.get(seq) ?? 1) + 1;
      if (tries > NACK_MAX_TRIES) {
        this.#pendingNacks.delete(seq);
        this.#nackTries.delete(seq);
        continue;
      }
      this.#nackTries.set(seq, tries);
      this.#pendingNacks.set(seq, nowMs);
      due.push(seq);
    }
    if (due.length > 0) this.#sendNack(due);
  }

  /** Report block for our RR toward the publisher (RFC 3550 A.3). */
  fillReportBlock(block: ReportBlock, nowMs: number): boolean {
    if (this.ssrc === null || this.#highestSeq < 0) return false;
    const extMax = this.#cycles + this.#highestSeq;
    const expected = extMax - this.#baseSeq + 1;
    const expectedInterval = expected - this.#expectedPrior;
    const receivedInterval = this.#received - this.#receivedPrior;
    this.#expectedPrior = expected;
    this.#receivedPrior = this.#received;
    const lostInterval = expectedInterval - receivedInterval;
    block.ssrc = this.ssrc;
    block.fractionLost =
      expectedInterval <= 0 || lostInterval <= 0
        ? 0
        : Math.min(255, Math.floor((lostInterval << 8) / expectedInterval));
    block.cumulativeLost = Math.max(-0x800000, Math.min(0x7fffff, expected - this.#received));
    block.highestSeq = extMax >>> 0;
    block.jitter = Math.floor(this.#jitter) >>> 0;
    const sr = this.senderReport;
    if (sr) {
      block.lsr = (((sr.ntpSec & 0xffff) << 16) | (sr.ntpFrac >>> 16)) >>> 0;
      block.dlsr = Math.floor(((nowMs - sr.receivedAtMs) * 65536) / 1000) >>> 0;
    } else {
      block.lsr = 0;
      block.dlsr = 0;
    }
    return true;
  }

  getStats(nowMs: number): EncodingStats {
    return {
      rid: this.rid,
      ssrc: this.ssrc,
      packetsReceived: this.#received,
      ...this.stats,
      bitrate: Math.round(this.#rate.bitrate(nowMs)),
    };
  }

  clear(): void {
    this.#cache.fill(undefined);
  }

  #track(view: RtpView, nowMs: number): void {
    const seq = view.sequenceNumber;
    this.#received++;
    // interarrival jitter in timestamp units
    const transit = (nowMs * this.#clockRate) / 1000 - view.timestamp;
    if (this.#received > 1) {
      const d = Math.abs(transit - this.#lastTransit);
      this.#jitter += (d - this.#jitter) / 16;
    }
    this.#lastTransit = transit;
    if (this.#highestSeq < 0) {
      this.#highestSeq = seq;
      this.#baseSeq = seq;
      return;
    }
    const diff = seqDiff(this.#highestSeq, seq);
    if (diff > 0) {
      if (seq < this.#highestSeq) this.#cycles += 0x10000;
      if (diff > 1) this.#onGap(this.#highestSeq, diff - 1, nowMs);
      this.#highestSeq = seq;
    } else if (this.#pendingNacks.delete(seq)) {
      this.#nackTries.delete(seq);
      this.stats.packetsRepaired++;
    }
  }

  #onGap(fromSeq: number, missing: number, nowMs: number): void {
    this.stats.packetsLost += missing;
    if (!this.#video || missing > NACK_MAX_GAP) return;
    const lost: number[] = [];
    for (let i = 1; i <= missing; i++) {
      const s = (fromSeq + i) & 0xffff;
      lost.push(s);
      this.#pendingNacks.set(s, nowMs);
    }
    this.#sendNack(lost);
  }

  #sendNack(seqs: number[]): void {
    if (this.ssrc === null) return;
    this.stats.nacksSent++;
    this.#host.sendRtcp(buildNack(this.#host.rtcpSsrc, this.ssrc, seqs));
  }
}
