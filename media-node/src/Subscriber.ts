/**
 * Forward path of one subscriber (per packet, no allocation), in this order:
 *  1. Encoding selection (simulcast): the publisher parsed the packet once into a shared
 *     `PacketLayers` (layers/PacketLayers.ts: encoding index, keyframe, VP8 TID/picture id).
 *     Packets of encodings other than the one being sent are skipped; a switch to the target
 *     encoding happens on its keyframe (requested at once) and starts a new seq/ts epoch.
 *  2. Temporal filter (VP8 TID > target temporal layer is dropped).
 *  3. `LayerFilter` hook (layers/LayerFilter.ts), e.g. SVC spatial/temporal dropping by VP9
 *     descriptor or Dependency Descriptor: `setLayerFilter(filter)`; accept() false = drop.
 *  Dropped packets (and padding-only ones) consume no outgoing sequence number
 *  (layers/SequenceMap.ts).
 *  4. Rewrite (SSRC, PT, seq, ts, ext ids; VP8 picture id / TL0PICIDX kept continuous), then
 *     the filter's optional rewrite() on the outgoing bytes, then encrypt and send.
 * The target layers come from setPreferredLayers() capped by the automatic selector
 * (layers/LayerSelector.ts) fed by the subscriber's REMB and receiver-report loss: it picks the
 * simulcast encoding, or on a single-SSRC SVC stream caps the spatial layer the filter forwards
 * (from each spatial layer's bitrate, layers/SpatialRates.ts).
 */
import { randomInt } from "node:crypto";
import { WeirError } from "./errors.ts";
import type { LayerFilter, LayerTarget } from "./layers/LayerFilter.ts";
import { LayerSelector, MAX_LAYER } from "./layers/LayerSelector.ts";
import { PacketLayers } from "./layers/PacketLayers.ts";
import { parseLayers } from "./layers/parseLayers.ts";
import { SequenceMap } from "./layers/SequenceMap.ts";
import { type SvcFilter, svcFilterFor } from "./layers/SvcFilter.ts";
import { Vp8PictureMap } from "./layers/Vp8PictureMap.ts";
import type { Publisher } from "./Publisher.ts";
import type { MediaKind } from "./PublisherTypes.ts";
import { RateMeter } from "./RateMeter.ts";
import { Vp8Descriptor } from "./rtp/codecs/index.ts";
import { buildSr } from "./rtp/rtcp/build.ts";
import { NTP_UNIX_OFFSET_S } from "./rtp/rtcp/common.ts";
import { createRewriteParams, parseRtp, RtpView, rewriteRtp } from "./rtp/rtpPacket.ts";
import type { LayerPreference, SubscriberEvents, SubscriberStats } from "./SubscriberTypes.ts";
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
const retransmitLayers = new PacketLayers();
const retransmitVp8 = new Vp8Descriptor();

export interface SubscriberInit {
  id: string;
  publisher: Publisher;
  ssrc: number;
  payloadType: number;
  extMap: Uint8Array;
  host: SubscriberHost;
  /** Resend a packet at most once per this many ms (default 100; a relay leg with ~0 RTT: less). */
  retransmitIntervalMs?: number;
}

/** One forwarded copy of a publisher for one subscribe transport. */
export class Subscriber extends TypedEmitter<SubscriberEvents> {
  readonly id: string;
  readonly publisher: Publisher;
  readonly kind: MediaKind;
  readonly ssrc: number;
  readonly payloadType: number;
  readonly #host: SubscriberHost;
  readonly #retransmitIntervalMs: number;
  readonly #params = createRewriteParams();
  readonly #rate = new RateMeter();
  readonly #clockRate: number;
  readonly #selector = new LayerSelector();
  readonly #seq = new SequenceMap();
  readonly #pictures = new Vp8PictureMap();
  /** What is sent now: encoding (-1 = nothing yet: waiting for a keyframe) and temporal layer. */
  readonly #sending: LayerTarget = { spatial: -1, temporal: MAX_LAYER };
  /** The encoding to send (switched to on its next keyframe), -1 = none is sending. */
  #target = -1;
  #filter: LayerFilter | null = null;
  /** What the layer filter forwards on a single-SSRC stream: preference capped by feedback. */
  readonly #filterTarget: LayerTarget = { spatial: MAX_LAYER, temporal: MAX_LAYER };
  /** The SVC layers last reported by layerschange, and what currentLayers hands out. */
  readonly #svcSent: LayerTarget = { spatial: -1, temporal: -1 };
  readonly #svcNow: LayerTarget = { spatial: -1, temporal: -1 };
  /** The SVC filter (VP9, or AV1/H.264 with the Dependency Descriptor), null otherwise. */
  readonly #svc: SvcFilter | null;
  #paused = false;
  #closed = false;
  #everSent = false;
  /** When each outgoing sequence number (by slot) was last resent: repeated NACKs are not a storm. */
  readonly #resentAt = new Float64Array(RESENT_SLOTS);
  readonly #resentSeq = new Int32Array(RESENT_SLOTS).fill(-1);
  /** Source seq of each outgoing seq (by slot) of the current epoch, for NACKs. */
  readonly #sentOut = new Int32Array(RESENT_SLOTS).fill(-1);
  readonly #sentSrc = new Uint16Array(RESENT_SLOTS);
  #tsOffset = 0;
  #lastOutTs = 0;
  #lastOutAtMs = 0;
  /** First outgoing sequence number of the current source epoch (retransmissions stop there). */
  #epochStartSeq = 0;
  #stats = {
    packetsSent: 0,
    bytesSent: 0,
    packetsSkipped: 0,
    packetsFiltered: 0,
    layerSwitches: 0,
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
    this.#retransmitIntervalMs = init.retransmitIntervalMs ?? RETRANSMIT_INTERVAL_MS;
    this.#clockRate = init.publisher.codec.clockRate;
    this.#params.ssrc = init.ssrc;
    this.#params.payloadType = init.payloadType;
    this.#params.extMap.set(init.extMap);
    if (!init.publisher.simulcast) this.#target = 0;
    this.#svc = svcFilterFor(init.publisher, this.#params.extMap);
    this.#filter = this.#svc;
  }

  get closed(): boolean {
    return this.#closed;
  }

  get paused(): boolean {
    return this.#paused;
  }

  /** The layers being sent now (spatial -1: none yet); on an SVC stream, the forwarded ones. */
  get currentLayers(): Readonly<LayerTarget> {
    const svc = this.#svc;
    if (svc === null) return this.#sending;
    this.#svcNow.spatial = svc.spatial;
    this.#svcNow.temporal = svc.temporal;
    return this.#svcNow;
  }

  /** The layers asked for with setPreferredLayers (MAX_LAYER = as high as sent). */
  get preferredLayers(): Readonly<LayerTarget> {
    return this.#selector.preferred;
  }

  /** Highest simulcast encoding this subscriber's feedback allows (MAX_LAYER: no limit). */
  get layerLimit(): number {
    return this.#selector.limit;
  }

  /** Replaces the header-extension id map once the subscriber's answer is known. */
  setExtMap(extMap: Uint8Array): void {
    this.#params.extMap.set(extMap);
  }

  /**
   * The highest layers this subscriber may receive: spatial = simulcast encoding (0 = lowest)
   * or SVC spatial layer, temporal = temporal layer. Omitted = as high as the publisher sends.
   * The node goes lower on its own when the subscriber's feedback says its link is short;
   * switches happen on a keyframe of the new layer, requested at once.
   */
  setPreferredLayers(layers: LayerPreference): void {
    const spatial = checkLayer(layers.spatial, "spatial");
    const temporal = checkLayer(layers.temporal, "temporal");
    this.#selector.setPreferred(spatial, temporal);
    this.#capFilterTarget();
    const now = performance.now();
    if (this.publisher.simulcast || this.#svc !== null) this.publisher.tickLayers(this, now);
    this.emit("layerschange", { ...this.currentLayers });
  }

  /** Sets (or clears) the per-packet layer filter run after encoding and temporal selection. */
  setLayerFilter(filter: LayerFilter | null): void {
    this.#filter = filter;
  }

  /**
   * Re-picks the encoding from feedback and each encoding's bitrate (0 = not sending); on an
   * SVC stream, the spatial cap from feedback and each spatial layer's bitrate.
   */
  updateLayers(bitrates: Float64Array, nowMs: number): void {
    if (this.#svc !== null) {
      this.#updateSvcLayers(this.#svc, nowMs);
      return;
    }
    if (!this.publisher.simulcast) return;
    const target = this.#selector.choose(bitrates, nowMs);
    if (target === this.#target) {
      if (target >= 0 && target !== this.#sending.spatial) {
        this.publisher.requestKeyframe(nowMs, target);
      }
      return;
    }
    this.#target = target;
    if (target >= 0 && target !== this.#sending.spatial) {
      this.publisher.requestKeyframe(nowMs, target);
    }
  }

  #updateSvcLayers(svc: SvcFilter, nowMs: number): void {
    this.#selector.choose(svc.spatialBitrates(nowMs), nowMs);
    this.#capFilterTarget();
    const sent = this.#svcSent;
    if (svc.spatial === sent.spatial && svc.temporal === sent.temporal) return;
    sent.spatial = svc.spatial;
    sent.temporal = svc.temporal;
    if (sent.spatial >= 0) this.emit("layerschange", { ...sent });
  }

  /** The single-SSRC filter's target: the preference, spatial capped by the feedback limit. */
  #capFilterTarget(): void {
    const preferred = this.#selector.preferred;
    this.#filterTarget.spatial = Math.min(preferred.spatial, this.#selector.limit);
    this.#filterTarget.temporal = preferred.temporal;
  }

  /** Pauses or resumes forwarding; a resumed video stream restarts on a keyframe. */
  setPaused(paused: boolean): void {
    if (this.#paused === paused) return;
    this.#paused = paused;
    if (!paused) this.restart();
  }

  /**
   * Forwarding starts again from the next keyframe of the target layer (requested now), in a
   * new source epoch: the outgoing sequence numbers go on without a gap, the timestamps by the
   * time that passed. For a stream that was not forwarded for a while (paused, a muted track).
   */
  restart(): void {
    if (this.#closed) return;
    this.#sending.spatial = -1;
    this.publisher.requestKeyframe(performance.now(), this.#target);
  }

  /** Hot path: rewrite one packet of the publisher for this subscriber and send it. */
  forward(buf: Buffer, view: RtpView, layers: PacketLayers, nowMs: number): void {
    if (this.#paused) return;
    const sending = this.#sending;
    if (layers.encoding !== sending.spatial && !this.#switchTo(view, layers, nowMs)) return;
    // Padding-only packets probe the publisher's uplink; they carry nothing for the subscriber.
    if (view.payloadLength === 0 || !this.#accept(buf, view, layers)) {
      this.#stats.packetsFiltered++;
      this.#seq.drop(view.sequenceNumber);
      this.#pictures.drop(layers);
      return;
    }
    const out = this.#seq.forward(view.sequenceNumber);
    if (out < 0) return;
    const p = this.#params;
    p.sequenceNumber = out;
    p.timestamp = (view.timestamp + this.#tsOffset) >>> 0;
    if (!this.#send(buf, view, layers)) return;
    const slot = out & (RESENT_SLOTS - 1);
    this.#sentOut[slot] = out;
    this.#sentSrc[slot] = view.sequenceNumber;
    if (out === this.#seq.lastOut) {
      this.#lastOutTs = p.timestamp;
      this.#lastOutAtMs = nowMs;
    }
  }

  /** Answers a NACK for one outgoing sequence number from the publisher's cache. */
  retransmit(outSeq: number, nowMs = performance.now()): void {
    this.#stats.nacksReceived++;
    const encoding = this.publisher.encodings[this.#sending.spatial];
    if (encoding === undefined) return;
    const slot = outSeq & (RESENT_SLOTS - 1);
    if (
      this.#resentSeq[slot] === outSeq &&
      nowMs - this.#resentAt[slot] < this.#retransmitIntervalMs
    ) {
      return;
    }
    if (((outSeq - this.#epochStartSeq) & 0xffff) >= 0x8000) return;
    if (this.#sentOut[slot] !== outSeq) return;
    const srcSeq = this.#sentSrc[slot];
    const cached = encoding.cached(srcSeq);
    if (!cached) return;
    const view = retransmitView;
    if (!parseRtp(cached, encoding.cachedLength(srcSeq), view)) return;
    if (view.sequenceNumber !== srcSeq) return;
    const layers = retransmitLayers;
    layers.reset(encoding.index);
    if (this.kind === "video") {
      parseLayers(this.publisher.codecName, cached, view, layers, retransmitVp8);
    }
    const p = this.#params;
    p.sequenceNumber = outSeq;
    p.timestamp = (view.timestamp + this.#tsOffset) >>> 0;
    if (!this.#send(cached, view, layers)) return;
    this.#stats.packetsRetransmitted++;
    this.#resentSeq[slot] = outSeq;
    this.#resentAt[slot] = nowMs;
  }

  /** The subscriber asked for a keyframe (PLI/FIR): pass it on, throttled by the publisher. */
  onKeyframeRequest(): void {
    this.#stats.keyframeRequestsReceived++;
    const s = this.#sending.spatial;
    this.publisher.requestKeyframe(performance.now(), s >= 0 ? s : this.#target);
  }

  onReceiverReport(fractionLost: number, nowMs = performance.now()): void {
    this.#stats.fractionLost = fractionLost / 256;
    this.#selector.onLoss(fractionLost / 256, nowMs);
  }

  onRemb(bitrate: number): void {
    this.#stats.remoteBitrateEstimate = bitrate;
    this.#selector.onRemb(bitrate);
  }

  /** A sender report for this outgoing stream, mapped from the publisher's, or null. */
  buildSenderReport(nowMs: number): Buffer | null {
    const sr = this.publisher.encodings[this.#sending.spatial]?.senderReport;
    if (!sr || this.#closed) return null;
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
      layers: {
        current: { ...this.currentLayers },
        target: this.publisher.simulcast
          ? { spatial: this.#target, temporal: this.#selector.preferred.temporal }
          : { ...this.#filterTarget },
        preferred: { ...this.#selector.preferred },
      },
      ...(this.#svc ? { svc: this.#svc.getStats() } : {}),
    };
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.publisher.removeSubscriber(this);
    this.emit("closed");
    this.removeAllListeners();
  }

  /**
   * A packet of an encoding other than the one being sent: switches when it is a keyframe of
   * the target encoding that can actually leave (one sent before the transport is up is lost).
   * Encoders ignore requests that come too close together, so keep asking (throttled).
   */
  #switchTo(view: RtpView, layers: PacketLayers, nowMs: number): boolean {
    const waiting = this.#sending.spatial < 0;
    if (layers.encoding !== this.#target) return false;
    if (!this.#host.mediaReady || !layers.keyframe) {
      if (waiting) this.#stats.packetsSkipped++;
      if (this.#host.mediaReady) this.publisher.requestKeyframe(nowMs, this.#target);
      return false;
    }
    this.#rebase(view, nowMs);
    this.#pictures.resync();
    this.#sending.spatial = layers.encoding;
    this.#sending.temporal = this.#selector.preferred.temporal;
    if (!waiting) this.#stats.layerSwitches++;
    if (this.publisher.simulcast) this.emit("layerschange", { ...this.#sending });
    return true;
  }

  /** Temporal filtering (VP8 TID) and the layer filter hook; false = drop. */
  #accept(buf: Buffer, view: RtpView, layers: PacketLayers): boolean {
    const tid = layers.temporal;
    if (tid >= 0) {
      const sending = this.#sending;
      const wanted = this.#selector.preferred.temporal;
      // Down at once (at a picture start); up where the new layers need nothing missed.
      if (wanted !== sending.temporal && layers.pictureStart) {
        if (wanted < sending.temporal || tid === 0 || (layers.layerSync && tid <= wanted)) {
          sending.temporal = wanted;
        }
      }
      if (tid > sending.temporal) return false;
    }
    const filter = this.#filter;
    // Single-SSRC SVC: the filter picks spatial and temporal layers toward the capped preference.
    const target = this.publisher.simulcast ? this.#sending : this.#filterTarget;
    return filter === null || filter.accept(buf, view, layers, target);
  }

  #send(buf: Buffer, view: RtpView, layers: PacketLayers): boolean {
    let n = rewriteRtp(buf, view, scratch, 0, this.#params);
    if (n < 0) return false;
    const headerLen = n - view.payloadLength - view.paddingLength;
    if (layers.pictureId >= 0 || layers.tl0PicIdx >= 0) {
      this.#pictures.rewrite(scratch, headerLen, layers);
    }
    const rewrite = this.#filter?.rewrite;
    if (rewrite) n = rewrite.call(this.#filter, scratch, n, headerLen);
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
      this.#seq.reset(0, randomInt(0, 0x8000));
      this.#lastOutTs = randomInt(0, 0x7fffffff);
      this.#lastOutAtMs = nowMs;
    }
    const gap = Math.max(1, Math.round(((nowMs - this.#lastOutAtMs) * this.#clockRate) / 1000));
    const nextSeq = (this.#seq.lastOut + 1) & 0xffff;
    this.#seq.reset(view.sequenceNumber, nextSeq);
    this.#tsOffset = (this.#lastOutTs + gap - view.timestamp) >>> 0;
    this.#epochStartSeq = nextSeq;
  }
}

function checkLayer(value: number | undefined, name: string): number {
  if (value === undefined) return MAX_LAYER;
  if (!Number.isInteger(value) || value < 0 || value > MAX_LAYER) {
    throw new WeirError(
      "invalid_argument",
      `${name} layer must be an integer from 0 to ${MAX_LAYER}`,
    );
  }
  return value;
}
