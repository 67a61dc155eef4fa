import { writeActiveDecodeTargets } from "../rtp/dependencyDescriptor/index.ts";
import { extDataOffset, findHeaderExtension, parseRtp, RtpView } from "../rtp/rtpPacket.ts";
import type { LayerFilter, LayerTarget } from "./LayerFilter.ts";
import type { PacketLayers } from "./PacketLayers.ts";
import { SvcDdSelector } from "./SvcDdSelector.ts";
import {
  type SvcFilterInit,
  type SvcFilterStats,
  type SvcPacketError,
  svcPacketError,
} from "./SvcFilterTypes.ts";
import { SVC_DD, SVC_NONE, type SvcStreamReader } from "./SvcStreamReader.ts";
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
  #codecSource = SVC_NONE;
  /** Per packet, for rewrite(): set the marker; the active bitmask to write (-1: none). */
  #marker = false;
  #ddMask = -1;
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
    this.#marker = false;
    this.#ddMask = -1;
    const info = this.#reader.read(buf, view);
    if (info.error !== null) {
      this.lastError = svcPacketError(info.error);
      this.#errors[info.error] = (this.#errors[info.error] ?? 0) + 1;
      if (info.error === "no_structure") this.#keyframe();
      return false;
    }
    this.#codecSource = info.source;
    if (info.source === SVC_NONE) return this.#count(true);
    let forward: boolean;
    if (info.source === SVC_DD) {
      const dd = this.#dd;
      forward = dd.select(info.dd, target);
      this.#marker = dd.marker && !view.marker;
      if (forward && info.dd.activeDecodeTargetsBitOffset >= 0) {
        this.#ddMask = (dd.forwardedMask & info.dd.activeDecodeTargetsBitmask) >>> 0;
      }
      if (dd.wantsKeyframe) this.#keyframe();
    } else {
      const vp9 = this.#vp9;
      forward = vp9.select(info.vp9, target);
      this.#marker = vp9.marker && !view.marker;
      if (vp9.wantsKeyframe) this.#keyframe();
    }
    return this.#count(forward);
  }

  rewrite(out: Uint8Array, len: number, _headerLen: number): number {
    if (this.#marker) out[1] |= 0x80;
    if (this.#ddMask >= 0) this.#writeActiveMask(out, len, this.#ddMask);
    return len;
  }

  getStats(): SvcFilterStats {
    const dd = this.#codecSource === SVC_DD;
    return {
      ...this.#stats,
      errors: { ...this.#errors },
      spatial: dd ? this.#dd.spatial : this.#vp9.spatial,
      temporal: dd ? this.#dd.temporal : this.#vp9.temporal,
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

  /** Narrows the active decode targets bitmask of the outgoing packet's descriptor in place. */
  #writeActiveMask(out: Uint8Array, len: number, mask: number): void {
    const id = this.#extMap[this.#reader.dependencyDescriptorId];
    if (id === 0 || !parseRtp(out, len, outView)) return;
    const ext = findHeaderExtension(out, outView, id);
    if (ext >= 0) writeActiveDecodeTargets(out, extDataOffset(ext), this.#reader.info.dd, mask);
  }
}
