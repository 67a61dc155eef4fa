import { EXT_URI } from "../headerExtensions.ts";
import { parseVp9, Vp9Descriptor } from "../rtp/codecs/vp9.ts";
import {
  DependencyDescriptor,
  DependencyDescriptorReader,
} from "../rtp/dependencyDescriptor/index.ts";
import {
  extDataLength,
  extDataOffset,
  findHeaderExtension,
  type RtpView,
} from "../rtp/rtpPacket.ts";
import { SpatialRates } from "./SpatialRates.ts";
import type { SvcErrorCode } from "./SvcFilterTypes.ts";

/** How a packet's layers are known. */
export const SVC_NONE = 0;
/** From the VP9 payload descriptor (`vp9`). */
export const SVC_VP9 = 1;
/** From the Dependency Descriptor header extension (`dd`). */
export const SVC_DD = 2;

/** The layer information of one packet. Reused: valid until the next read(). */
export class SvcPacketInfo {
  /** SVC_NONE (nothing to filter by: forward), SVC_VP9 or SVC_DD. */
  source = SVC_NONE;
  /** Why the descriptor could not be read (the packet must be dropped), or null. */
  error: SvcErrorCode | null = null;
  readonly vp9 = new Vp9Descriptor();
  readonly dd = new DependencyDescriptor();
}

/** What the reader needs from a publisher. */
export interface SvcStreamSource {
  readonly codecName: string;
  readonly headerExtensions: readonly { id: number; uri: string }[];
}

/**
 * Reads the layers of one publisher's packets: VP9 from its payload descriptor, AV1 and H.264
 * from the Dependency Descriptor (whose template structure is per stream state). Shared by the
 * publisher's subscribers, so each packet is parsed once however many subscribers filter it.
 */
export class SvcStreamReader {
  readonly info = new SvcPacketInfo();
  /** Bitrate per spatial layer of what was read (each packet counted once). */
  readonly rates = new SpatialRates();
  readonly #vp9: boolean;
  /** The publisher's Dependency Descriptor extension id, 0 if not negotiated. */
  readonly #ddId: number;
  readonly #dd = new DependencyDescriptorReader();
  #lastBuf: Uint8Array | null = null;
  #lastSeq = -1;
  #lastTs = -1;

  constructor(source: SvcStreamSource) {
    this.#vp9 = source.codecName === "vp9";
    this.#ddId =
      source.headerExtensions.find((e) => e.uri === EXT_URI.dependencyDescriptor)?.id ?? 0;
  }

  /** The publisher's Dependency Descriptor extension id, 0 if not negotiated. */
  get dependencyDescriptorId(): number {
    return this.#ddId;
  }

  /** The layers of this packet (parsed once: the same packet read again returns the same info). */
  read(buf: Uint8Array, view: RtpView): SvcPacketInfo {
    if (buf === this.#lastBuf && view.sequenceNumber === this.#lastSeq) {
      if (view.timestamp === this.#lastTs) return this.info;
    }
    this.#lastBuf = buf;
    this.#lastSeq = view.sequenceNumber;
    this.#lastTs = view.timestamp;
    const info = this.info;
    info.error = null;
    if (this.#vp9) {
      info.source = SVC_VP9;
      if (!parseVp9(buf, view.payloadOffset, view.payloadLength, info.vp9)) {
        info.error = "vp9_malformed";
      } else this.rates.add(info.vp9.sid, view.payloadLength);
      return info;
    }
    const ext = this.#ddId === 0 ? -1 : findHeaderExtension(buf, view, this.#ddId);
    if (ext < 0) {
      info.source = SVC_NONE;
      return info;
    }
    info.source = SVC_DD;
    if (!this.#dd.parse(buf, extDataOffset(ext), extDataLength(ext), info.dd)) {
      info.error = this.#dd.lastError;
    } else this.rates.add(info.dd.spatialId, view.payloadLength);
    return info;
  }
}

const readers = new WeakMap<SvcStreamSource, SvcStreamReader>();

/** The one reader of a publisher, shared by all its subscribers' filters. */
export function svcStreamReaderFor(source: SvcStreamSource): SvcStreamReader {
  let r = readers.get(source);
  if (!r) {
    r = new SvcStreamReader(source);
    readers.set(source, r);
  }
  return r;
}
