/**
 * Forward path of one subscriber (per packet, no allocation), in this order:
 *  1. Encoding selection (simulcast): the publisher parsed the packet once into a shared
 *     `PacketLayers` (layers/PacketLayers.ts: encoding index, keyframe, VP8 TID/picture id).
 *     Packets of encodings other than the one being sent are skipped; a switch to the target
 *     encoding happens on its keyframe (requested at once) and starts a new seq/ts epoch.
 *  2. Temporal filter (VP8 TID > target temporal layer is dropped).
 *  3. `LayerFilter` hook (layers/LayerFilter.ts), e.g. SVC spatial/temporal dropping by VP9
 *     descriptor or Dependency Descriptor: `setLayerFilter(filter)`; accept() false = drop.
 *  Dropped packets consume no outgoing sequence number (layers/SequenceMap.ts).
 *  4. Rewrite (SSRC, PT, seq, ts, ext ids; VP8 picture id / TL0PICIDX kept continuous), then
 *     the filter's optional rewrite() on the outgoing bytes, then encrypt and send.
 * The target layers come from setPreferredLayers() capped by the automatic selector
 * (layers/LayerSelector.ts) fed by the subscriber's REMB and receiver-report loss.
 */
import { randomInt } from "node:crypto";
import type { Publisher } from "./Publisher.ts";
import type { MediaKind } from "./PublisherTypes.ts";
import { RateMeter } from "./RateMeter.ts";
import { buildSr } from "./rtp/rtcp/build.ts";
import { NTP_UNIX_OFFSET_S } from "./rtp/rtcp/common.ts";
import { createRewriteParams, parseRtp, RtpView, rewriteRtp } from "./rtp/rtpPacket.ts";
import type { SubscriberEvents, SubscriberStats } from "./SubscriberTypes.ts";
import { TypedEmitter } from "./TypedEmitter.ts";

/** What a subscriber needs from its transport: an encrypted send. */
export interface SubscriberHost {
  /** True once packets can leave (ICE nominated, SRTP keys in hand). */
  readonly mediaReady: boolean;
  sendRtp(plain: Uint8Array, len: number, headerLen: number): boolean;
}

/** Rewritten packets are built here, then encrypted into a fresh buffer: safe to share. */
const scratch = Buffer.allocUnsafe(8192);
/** A packet is resent at most once per this many ms, however often it is NACKed. */
const RETRANSMIT_INTERVAL_MS = 100;
/** Slots of the resend history (a power of two, like the publisher's cache). */
const RESENT_SLOTS = 1024;
const retransmitView = new RtpView();

export interface SubscriberInit {
  id: string;
  publisher: Publisher;
  ssrc: number;
  payloadType: number;
  extMap: Uint8Array;
  host: SubscriberHost;
}

/** One forwarded copy of a publisher for one subscribe transport. */
export class Subscriber extends TypedEmitter<SubscriberEvents> {
  readonly id: string;
  readonly publisher: Publisher;
  readonly kind: MediaKind;
  readonly ssrc: number;
  readonly payloadType: number;
  readonly #host: SubscriberHost;
  readonly #params = createRewriteParams();
  readonly #rate = new RateMeter();
  readonly #clockRate: number;
  #started = false;
  #paused = false;
  #closed = false;
  #everSent = false;
  /** When each outgoing sequence number (by slot) was last resent: repeated NACKs are not a storm. */
  readonly #resentAt = new Float64Array(RESENT_SLOTS);
  readonly #resentSeq = new Int32Array(RESENT_SLOTS).fill(-1);
  #seqOffset = 0;
  #tsOffset = 0;
  #lastOutSeq = 0;
  #lastOutTs = 0;
  #lastOutAtMs = 0;
  /** First outgoing sequence number of the current source epoch (retransmissions stop there). */
  #epochStartSeq = 0;
  #stats = {
    packetsSent: 0,
    bytesSent: 0,
    packetsSkipped: 0,
    nacksReceived: 0,
    packetsRetransmitted: 0,
    keyframeRequestsReceived: 0,
    fractionLost: 0,
    remoteBitrateEstimate: 0,
  };

  constructor(init: SubscriberInit) {
    super();
    this.id = init.id;
    this.publisher = init.publisher;
    this.kind = init.publisher.kind;
    this.ssrc = init.ssrc;
    this.payloadType = init.payloadType;
    this.#host = init.host;
    this.#clockRate = init.publisher.codec.clockRate;
    this.#params.ssrc = init.ssrc;
    this.#params.payloadType = init.payloadType;
    this.#params.extMap.set(init.extMap);
  }

  get closed(): boolean {
    return this.#closed;
  }

  get paused(): boolean {
    return this.#paused;
  }

  /** Replaces the header-extension id map once the subscriber's answer is known. */
  setExtMap(extMap: Uint8Array): void {
    this.#params.extMap.set(extMap);
  }

  /** Pauses or resumes forwarding; a resumed video stream restarts on a keyframe. */
  setPaused(paused: boolean): void {
    if (this.#paused === paused) return;
    this.#paused = paused;
    if (!paused) {
      this.#started = false;
      this.publisher.requestKeyframe();
    }
  }

  /** Hot path: rewrite one packet of the publisher for this subscriber and send it. */
  forward(buf: Buffer, view: RtpView, keyframe: boolean, nowMs: number): void {
    if (this.#paused) return;
    if (!this.#started) {
      // Start only on a keyframe that can actually leave: one sent into a transport that is
      // not up yet is lost. Encoders ignore requests that come too close together, so keep
      // asking (throttled by the publisher) until one arrives.
      if (!this.#host.mediaReady) {
        this.#stats.packetsSkipped++;
        return;
      }
      if (this.kind === "video" && !keyframe) {
        this.#stats.packetsSkipped++;
        this.publisher.requestKeyframe(nowMs);
        return;
      }
      this.#rebase(view, nowMs);
    }
    const p = this.#params;
    p.sequenceNumber = (view.sequenceNumber + this.#seqOffset) & 0xffff;
    p.timestamp = (view.timestamp + this.#tsOffset) >>> 0;
    if (!this.#send(buf, view)) return;
    if (((p.sequenceNumber - this.#lastOutSeq) & 0xffff) < 0x8000) {
      this.#lastOutSeq = p.sequenceNumber;
      this.#lastOutTs = p.timestamp;
      this.#lastOutAtMs = nowMs;
    }
  }

  /** Answers a NACK for one outgoing sequence number from the publisher's cache. */
  retransmit(outSeq: number, nowMs = performance.now()): void {
    this.#stats.nacksReceived++;
    if (!this.#started) return;
    const slot = outSeq & (RESENT_SLOTS - 1);
    if (this.#resentSeq[slot] === outSeq && nowMs - this.#resentAt[slot] < RETRANSMIT_INTERVAL_MS) {
      return;
    }
    if (((outSeq - this.#epochStartSeq) & 0xffff) >= 0x8000) return;
    const srcSeq = (outSeq - this.#seqOffset) & 0xffff;
    const cached = this.publisher.cached(srcSeq);
    if (!cached) return;
    const view = retransmitView;
    if (!parseRtp(cached, this.publisher.cachedLength(srcSeq), view)) return;
    if (view.sequenceNumber !== srcSeq) return;
    const p = this.#params;
    p.sequenceNumber = outSeq;
    p.timestamp = (view.timestamp + this.#tsOffset) >>> 0;
    if (!this.#send(cached, view)) return;
    this.#stats.packetsRetransmitted++;
    this.#resentSeq[slot] = outSeq;
    this.#resentAt[slot] = nowMs;
  }

  /** The subscriber asked for a keyframe (PLI/FIR): pass it on, throttled by the publisher. */
  onKeyframeRequest(): void {
    this.#stats.keyframeRequestsReceived++;
    this.publisher.requestKeyframe();
  }

  onReceiverReport(fractionLost: number): void {
    this.#stats.fractionLost = fractionLost / 256;
  }

  onRemb(bitrate: number): void {
    this.#stats.remoteBitrateEstimate = bitrate;
  }

  /** A sender report for this outgoing stream, mapped from the publisher's, or null. */
  buildSenderReport(nowMs: number): Buffer | null {
    const sr = this.publisher.senderReport;
    if (!sr || !this.#started || this.#closed) return null;
    const elapsedMs = nowMs - sr.receivedAtMs;
    const srMs = (sr.ntpSec - NTP_UNIX_OFFSET_S) * 1000 + (sr.ntpFrac / 2 ** 32) * 1000;
    const ntpMs = srMs + elapsedMs;
    const rtp =
      (sr.rtpTimestamp + Math.round((elapsedMs * this.#clockRate) / 1000) + this.#tsOffset) >>> 0;
    const sec = Math.floor(ntpMs / 1000) + NTP_UNIX_OFFSET_S;
    const frac = Math.floor(((ntpMs % 1000) / 1000) * 2 ** 32);
    const ntp = (BigInt(sec) << 32n) | BigInt(frac >>> 0);
    return buildSr(this.ssrc, ntp, rtp, this.#stats.packetsSent >>> 0, this.#stats.bytesSent >>> 0);
  }

  getStats(nowMs = performance.now()): SubscriberStats {
    return {
      id: this.id,
      publisherId: this.publisher.id,
      kind: this.kind,
      ssrc: this.ssrc,
      payloadType: this.payloadType,
      ...this.#stats,
      bitrate: Math.round(this.#rate.bitrate(nowMs)),
    };
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.publisher.removeSubscriber(this);
    this.emit("closed");
    this.removeAllListeners();
  }

  #send(buf: Buffer, view: RtpView): boolean {
    const n = rewriteRtp(buf, view, scratch, 0, this.#params);
    if (n < 0) return false;
    const headerLen = n - view.payloadLength - view.paddingLength;
    if (!this.#host.sendRtp(scratch, n, headerLen)) return false;
    this.#stats.packetsSent++;
    this.#stats.bytesSent += n;
    this.#rate.add(n, this.#lastOutAtMs);
    return true;
  }

  /** Starts a new source epoch so the outgoing sequence and timestamps continue smoothly. */
  #rebase(view: RtpView, nowMs: number): void {
    if (!this.#everSent) {
      this.#everSent = true;
      this.#lastOutSeq = randomInt(0, 0x8000);
      this.#lastOutTs = randomInt(0, 0x7fffffff);
      this.#lastOutAtMs = nowMs;
    }
    const gap = Math.max(1, Math.round(((nowMs - this.#lastOutAtMs) * this.#clockRate) / 1000));
    const nextSeq = (this.#lastOutSeq + 1) & 0xffff;
    this.#seqOffset = (nextSeq - view.sequenceNumber) & 0xffff;
    this.#tsOffset = (this.#lastOutTs + gap - view.timestamp) >>> 0;
    this.#epochStartSeq = nextSeq;
    this.#lastOutSeq = (nextSeq - 1) & 0xffff;
    this.#started = true;
  }
}
