import { vp9EndOfFrameSid } from "../rtp/codecs/vp9.ts";
import { writeActiveDecodeTargets } from "../rtp/dependencyDescriptor/index.ts";
import {
  extDataLength,
  extDataOffset,
  findHeaderExtension,
  parseRtp,
  RtpView,
} from "../rtp/rtpPacket.ts";
import type { LayerFilter, LayerTarget } from "./LayerFilter.ts";
import type { PacketLayers } from "./PacketLayers.ts";
import { SvcDdSelector } from "./SvcDdSelector.ts";
import {
  type SvcFilterInit,
  type SvcFilterStats,
  type SvcPacketError,
  svcPacketError,
} from "./SvcFilterTypes.ts";
import {
  SVC_DD,
  SVC_NONE,
  SVC_VP9,
  type SvcStreamReader,
  type SvcStreamSource,
  svcStreamReaderFor,
} from "./SvcStreamReader.ts";
import { SvcVp9Selector } from "./SvcVp9Selector.ts";

/** The outgoing packet, parsed again only to find its Dependency Descriptor. */
const outView = new RtpView();

/**
 * Per-subscriber SVC layer filter on a single-SSRC stream (VP9 by payload descriptor, AV1/H.264
 * by Dependency Descriptor), plugged into the Subscriber's LayerFilter hook. Never throws:
 * unreadable descriptors are counted by reason and their packets dropped. On the way out it
 * sets the marker bit at the end of the top forwarded layer (receivers render a picture at its
 * marker) and narrows a carried active decode targets bitmask to what is forwarded.
 */
export class SvcFilter implements LayerFilter {
  readonly #reader: SvcStreamReader;
  readonly #extMap: Uint8Array;
  readonly #requestKeyframe: () => void;
  readonly #vp9 = new SvcVp9Selector();
  readonly #dd = new SvcDdSelector();
  /** How the last accepted packet's layers were read (SVC_NONE, SVC_VP9, SVC_DD). */
  #source = SVC_NONE;
  /** From accept() to rewrite() of one packet: the active bitmask to write (-1: none). */
  #pendingMask = -1;
  #pendingFrame = -1;
  /** The last unreadable packet's error, null if none yet. */
  lastError: SvcPacketError | null = null;
  readonly #stats = { forwarded: 0, dropped: 0, keyframeRequests: 0 };
  readonly #errors: SvcFilterStats["errors"] = {};

  constructor(init: SvcFilterInit) {
    this.#reader = init.reader;
    this.#extMap = init.extMap;
    this.#requestKeyframe = init.requestKeyframe;
  }

  accept(
    buf: Buffer,
    view: RtpView,
    _layers: PacketLayers,
    target: Readonly<LayerTarget>,
  ): boolean {
    this.#pendingMask = -1;
    const info = this.#reader.read(buf, view);
    if (info.error !== null) {
      this.lastError = svcPacketError(info.error);
      this.#errors[info.error] = (this.#errors[info.error] ?? 0) + 1;
      if (info.error === "no_structure") this.#keyframe();
      return false;
    }
    this.#source = info.source;
    if (info.source === SVC_NONE) return this.#count(true);
    let forward: boolean;
    if (info.source === SVC_DD) {
      const dd = this.#dd;
      forward = dd.select(info.dd, target);
      if (forward && info.dd.activeDecodeTargetsBitOffset >= 0) {
        this.#pendingMask = (dd.forwardedMask & info.dd.activeDecodeTargetsBitmask) >>> 0;
        this.#pendingFrame = info.dd.frameNumber;
      }
      if (dd.wantsKeyframe) this.#keyframe();
    } else {
      forward = this.#vp9.select(info.vp9, target);
      if (this.#vp9.wantsKeyframe) this.#keyframe();
    }
    return this.#count(forward);
  }

  /**
   * Marks the end of the top forwarded layer from the outgoing bytes themselves, so a
   * retransmission (which skips accept()) is marked like the original.
   */
  rewrite(out: Uint8Array, len: number, headerLen: number): number {
    const mask = this.#pendingMask;
    this.#pendingMask = -1;
    if (this.#source === SVC_VP9) {
      const sid = vp9EndOfFrameSid(out, headerLen, len - headerLen);
      if (sid >= 0 && sid === this.#vp9.spatial) out[1] |= 0x80;
    } else if (this.#source === SVC_DD) {
      this.#rewriteDd(out, len, mask);
    }
    return len;
  }

  /** The spatial and temporal layer forwarded now (-1 before the first switch point). */
  get spatial(): number {
    return this.#source === SVC_DD ? this.#dd.spatial : this.#vp9.spatial;
  }

  get temporal(): number {
    return this.#source === SVC_DD ? this.#dd.temporal : this.#vp9.temporal;
  }

  /** What forwarding up to each spatial layer costs (see SpatialRates.bitrates). */
  spatialBitrates(nowMs: number): Float64Array {
    return this.#reader.rates.bitrates(nowMs);
  }

  getStats(): SvcFilterStats {
    return {
      ...this.#stats,
      errors: { ...this.#errors },
      spatial: this.spatial,
      temporal: this.temporal,
    };
  }

  #count(forward: boolean): boolean {
    if (forward) this.#stats.forwarded++;
    else this.#stats.dropped++;
    return forward;
  }

  #keyframe(): void {
    this.#stats.keyframeRequests++;
    this.#requestKeyframe();
  }

  /** Marker from the outgoing descriptor; a carried active bitmask narrowed to `mask` (>= 0). */
  #rewriteDd(out: Uint8Array, len: number, mask: number): void {
    const id = this.#extMap[this.#reader.dependencyDescriptorId];
    if (id === 0 || !parseRtp(out, len, outView)) return;
    const ext = findHeaderExtension(out, outView, id);
    if (ext < 0 || extDataLength(ext) < 3) return;
    const off = extDataOffset(ext);
    if (this.#dd.endsTopLayer(out[off])) out[1] |= 0x80;
    const frame = (out[off + 1] << 8) | out[off + 2];
    if (mask >= 0 && frame === this.#pendingFrame) {
      writeActiveDecodeTargets(out, off, this.#reader.info.dd, mask);
    }
  }
}

/** What svcFilterFor needs from a publisher. */
export interface SvcPublisher extends SvcStreamSource {
  readonly kind: string;
  readonly simulcast: boolean;
  requestKeyframe(): void;
}

/**
 * The SVC filter for one subscriber of `publisher`, or null where there are no layers to read:
 * audio, simulcast, and AV1/H.264 without the Dependency Descriptor negotiated.
 */
export function svcFilterFor(publisher: SvcPublisher, extMap: Uint8Array): SvcFilter | null {
  if (publisher.kind !== "video" || publisher.simulcast) return null;
  const codec = publisher.codecName;
  if (codec !== "vp9" && codec !== "av1" && codec !== "h264") return null;
  const reader = svcStreamReaderFor(publisher);
  if (codec !== "vp9" && reader.dependencyDescriptorId === 0) return null;
  return new SvcFilter({ reader, extMap, requestKeyframe: () => publisher.requestKeyframe() });
}
