import {
  ReceiveStream,
  type ReceiveStreamHost,
  type SenderReportInfo,
} from "./buffer/ReceiveStream.ts";
import type { CodecCapability, CodecName } from "./codecs.ts";
import { codecName } from "./codecs.ts";
import { EXT_URI } from "./headerExtensions.ts";
import { PacketLayers } from "./layers/PacketLayers.ts";
import { parseLayers } from "./layers/parseLayers.ts";
import type { MediaKind, PublisherEvents, PublisherStats, ReceiveStats } from "./PublisherTypes.ts";
import { readAudioLevel } from "./rtp/audioLevel.ts";
import { Vp8Descriptor } from "./rtp/codecs/index.ts";
import type { ReportBlock } from "./rtp/rtcp/common.ts";
import type { RtpView } from "./rtp/rtpPacket.ts";
import type { Subscriber } from "./Subscriber.ts";
import type { AudioLevelMeter } from "./speakers/AudioLevelMeter.ts";
import { TypedEmitter } from "./TypedEmitter.ts";

export type { SenderReportInfo } from "./buffer/ReceiveStream.ts";
/** What a publisher needs from the transport it arrived on. */
export type PublisherHost = ReceiveStreamHost;

/** How often subscribers re-pick their layers from feedback and layer activity. */
const LAYER_TICK_MS = 200;
/**
 * Periodic work runs from the packets themselves at most this often (NACK retries are due after
 * 40 ms). A timer per transport at this rate woke an idle process 50 times a second; the host's
 * timer is now only the fallback for a publisher that went quiet (see PublishTransport).
 */
const TICK_MS = 20;

/**
 * Sees each received packet after the subscribers have sent it (a recorder). It must only copy
 * what it needs and return: the packet buffer is reused, and the forward path waits for it.
 */
export interface PacketTap {
  /** The simulcast encodings it takes (a relay brings them over); absent: the top one. */
  readonly wantedEncodings?: readonly number[];
  tap(buf: Buffer, view: RtpView, layers: PacketLayers, nowMs: number): void;
}

export interface PublisherInit {
  id: string;
  kind: MediaKind;
  mid: string;
  /** The router's codec (its payload type is what subscribers see). */
  codec: CodecCapability;
  /** Payload type the publisher uses for it on its own transport. */
  sourcePayloadType: number;
  /** Header extensions negotiated with the publisher (ids in its packets). */
  headerExtensions: readonly { id: number; uri: string }[];
  /** Simulcast rids, lowest resolution first; none (one encoding) without simulcast. */
  rids?: readonly string[];
  host: PublisherHost;
}

/** One published track: receives its RTP once and fans it out to its subscribers. */
export class Publisher extends TypedEmitter<PublisherEvents> {
  readonly id: string;
  readonly kind: MediaKind;
  readonly mid: string;
  readonly codec: CodecCapability;
  readonly codecName: CodecName;
  readonly sourcePayloadType: number;
  readonly headerExtensions: readonly { id: number; uri: string }[];
  /** The RTP streams: one, or one per simulcast layer (index 0 = lowest resolution). */
  readonly encodings: readonly ReceiveStream[];
  readonly #layers = new PacketLayers();
  readonly #vp8 = new Vp8Descriptor();
  /** Each encoding's bitrate at the last layer tick (what subscribers choose from). */
  readonly #bitrates: Float64Array;
  #subscribers: Subscriber[] = [];
  #taps: PacketTap[] = [];
  #lastLayerTick = 0;
  #lastTick = -Infinity;
  #closed = false;
  #muted = false;
  /** Id of the RFC 6464 audio level extension in this publisher's packets, 0 = not negotiated. */
  readonly #audioLevelExtId: number;
  #meter: AudioLevelMeter | null = null;

  constructor(init: PublisherInit) {
    super();
    this.id = init.id;
    this.kind = init.kind;
    this.mid = init.mid;
    this.codec = init.codec;
    this.codecName = codecName(init.codec.mimeType);
    this.sourcePayloadType = init.sourcePayloadType;
    this.headerExtensions = init.headerExtensions;
    const rids = init.rids && init.rids.length > 0 ? init.rids : [""];
    const video = init.kind === "video";
    this.encodings = rids.map(
      (rid, i) => new ReceiveStream(i, rid, video, init.codec.clockRate, init.host),
    );
    this.#bitrates = new Float64Array(this.encodings.length);
    const levelExt = init.headerExtensions.find((e) => e.uri === EXT_URI.audioLevel);
    this.#audioLevelExtId = init.kind === "audio" && levelExt ? levelExt.id : 0;
  }

  /**
   * Whether the track is muted: its packets are still received (statistics, NACKs, taps such as
   * a recorder) but not forwarded to any subscriber, relays included. See setMuted().
   */
  get muted(): boolean {
    return this.#muted;
  }

  /**
   * Mutes or unmutes the track; returns whether the state changed (and `mutechange` fired).
   * While muted nothing is sent to subscribers; on unmute each subscriber starts again on a
   * keyframe, which is requested from the publisher at once (PLI, or FIR where only FIR was
   * negotiated). Audio resumes on its next packet.
   */
  setMuted(muted: boolean): boolean {
    if (this.#closed || this.#muted === muted) return false;
    this.#muted = muted;
    if (!muted) {
      for (const s of this.#subscribers) s.restart();
      this.requestKeyframe();
    }
    this.emit("mutechange", muted);
    return true;
  }

  /**
   * Starts metering RFC 6464 audio levels into `meter` (the router's speaker detection does
   * this); false when this is not an audio publisher with the extension negotiated.
   */
  meterAudioLevels(meter: AudioLevelMeter): boolean {
    if (this.#audioLevelExtId === 0) return false;
    this.#meter = meter;
    return true;
  }

  get audioLevelMeter(): AudioLevelMeter | null {
    return this.#meter;
  }

  /** Smoothed audio level (0..1 linear) at the last speaker interval; 0 when not metered. */
  get audioLevel(): number {
    return this.#meter?.level ?? 0;
  }

  /** Whether the last speaker interval judged this publisher speaking. */
  get speaking(): boolean {
    return this.#meter?.speaking ?? false;
  }

  get closed(): boolean {
    return this.#closed;
  }

  get simulcast(): boolean {
    return this.encodings.length > 1;
  }

  /** SSRC of the first encoding (the only one without simulcast), null until a packet came. */
  get ssrc(): number | null {
    return this.encodings[0].ssrc;
  }

  /** Sender report of the first encoding (set by transports without simulcast). */
  get senderReport(): SenderReportInfo | null {
    return this.encodings[0].senderReport;
  }

  set senderReport(sr: SenderReportInfo | null) {
    this.encodings[0].senderReport = sr;
  }

  get subscribers(): readonly Subscriber[] {
    return this.#subscribers;
  }

  /** Packet taps (recorders); the list is replaced, never changed in place, on add and remove. */
  get taps(): readonly PacketTap[] {
    return this.#taps;
  }

  /** Hot path: one received, decrypted, parsed packet of one of this publisher's encodings. */
  receive(buf: Buffer, view: RtpView, nowMs: number, encodingIndex = 0): void {
    const encoding = this.encodings[encodingIndex];
    if (encoding.ssrc === null) {
      encoding.ssrc = view.ssrc;
      if (encodingIndex === 0) this.emit("ssrc", view.ssrc);
    }
    const layers = this.#layers;
    layers.reset(encodingIndex);
    if (this.kind === "video") parseLayers(this.codecName, buf, view, layers, this.#vp8);
    else layers.keyframe = true;
    const resumed = encoding.receive(buf, view, layers.keyframe, nowMs);
    // A layer that starts (again) is picked before this packet is forwarded: a subscriber
    // waiting for it must not miss its first keyframe (e.g. one resumed across a relay).
    if (resumed && this.simulcast) this.#tickAll(nowMs);
    const meter = this.#meter;
    if (meter !== null) {
      const level = readAudioLevel(buf, view, this.#audioLevelExtId);
      if (level >= 0) meter.add(level);
    }
    if (!this.#muted) {
      const subs = this.#subscribers;
      for (let i = 0; i < subs.length; i++) subs[i].forward(buf, view, layers, nowMs);
    }
    const taps = this.#taps;
    for (let i = 0; i < taps.length; i++) taps[i].tap(buf, view, layers, nowMs);
    if (this.due(nowMs)) this.tick(nowMs);
  }

  /** Whether periodic work is due (none ran for TICK_MS). */
  due(nowMs: number): boolean {
    return nowMs - this.#lastTick >= TICK_MS;
  }

  /** Asks for a keyframe on one encoding, or on every encoding (-1); throttled per encoding. */
  requestKeyframe(nowMs = performance.now(), encodingIndex = -1): void {
    if (this.kind !== "video" || this.#closed) return;
    if (encodingIndex >= 0) this.encodings[encodingIndex]?.requestKeyframe(nowMs);
    else for (const e of this.encodings) e.requestKeyframe(nowMs);
  }

  addSubscriber(sub: Subscriber): void {
    this.#subscribers = [...this.#subscribers, sub];
    const now = performance.now();
    sub.updateLayers(this.#measure(now), now);
    this.requestKeyframe(now);
  }

  addTap(tap: PacketTap): void {
    this.#taps = [...this.#taps, tap];
  }

  removeTap(tap: PacketTap): void {
    this.#taps = this.#taps.filter((t) => t !== tap);
  }

  /** One subscriber re-picks its layers now (its preference changed). */
  tickLayers(sub: Subscriber, nowMs: number): void {
    sub.updateLayers(this.#measure(nowMs), nowMs);
  }

  #measure(nowMs: number): Float64Array {
    const bitrates = this.#bitrates;
    for (let i = 0; i < bitrates.length; i++) bitrates[i] = this.encodings[i].activeBitrate(nowMs);
    return bitrates;
  }

  removeSubscriber(sub: Subscriber): void {
    this.#subscribers = this.#subscribers.filter((s) => s !== sub);
  }

  /** Periodic work (every few tens of ms): NACK retries, subscribers' layer choice. */
  tick(nowMs: number): void {
    this.#lastTick = nowMs;
    for (const e of this.encodings) e.tick(nowMs);
    if (this.kind !== "video" || nowMs - this.#lastLayerTick < LAYER_TICK_MS) return;
    this.#lastLayerTick = nowMs;
    this.#tickAll(nowMs);
  }

  #tickAll(nowMs: number): void {
    const bitrates = this.#measure(nowMs);
    for (const s of this.#subscribers) s.updateLayers(bitrates, nowMs);
  }

  /** Report block of the first encoding for an RR toward the publisher (RFC 3550 A.3). */
  fillReportBlock(block: ReportBlock, nowMs: number): boolean {
    return this.encodings[0].fillReportBlock(block, nowMs);
  }

  getStats(nowMs = performance.now()): PublisherStats {
    const encodings = this.encodings.map((e) => e.getStats(nowMs));
    const { rid: _rid, ssrc: _ssrc, ...sum } = encodings[0];
    for (const e of encodings.slice(1)) {
      for (const k of Object.keys(sum) as (keyof ReceiveStats)[]) sum[k] += e[k];
    }
    return {
      id: this.id,
      kind: this.kind,
      mimeType: this.codec.mimeType,
      ssrc: this.ssrc,
      ...sum,
      subscribers: this.#subscribers.length,
      muted: this.#muted,
      ...(this.#meter ? { audioLevel: this.#meter.level, speaking: this.#meter.speaking } : {}),
      encodings,
    };
  }

  /** Closes the publisher and every subscriber of it. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const sub of this.#subscribers) sub.close();
    this.#subscribers = [];
    this.#taps = [];
    this.#meter = null;
    for (const e of this.encodings) e.clear();
    this.emit("closed");
    this.removeAllListeners();
  }
}
