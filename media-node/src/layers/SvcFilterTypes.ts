import { WeirError } from "../errors.ts";
import type { DependencyDescriptorErrorCode } from "../rtp/dependencyDescriptor/index.ts";
import type { SvcStreamReader } from "./SvcStreamReader.ts";

/**
 * Why an SVC packet could not be read (and was dropped): a Dependency Descriptor error code,
 * or "vp9_malformed" for a truncated or inconsistent VP9 payload descriptor.
 */
export type SvcErrorCode = DependencyDescriptorErrorCode | "vp9_malformed";

/**
 * A layered packet that cannot be read. The packet loop never throws it: the filter counts it
 * by `reason` and drops the packet; `svcPacketError()` hands out one shared instance per reason
 * so a flood of bad packets costs no allocation.
 */
export class SvcPacketError extends WeirError {
  readonly reason: SvcErrorCode;
  constructor(reason: SvcErrorCode) {
    super("invalid_argument", `unreadable SVC packet: ${reason}`);
    this.name = "SvcPacketError";
    this.reason = reason;
  }
}

const shared = new Map<SvcErrorCode, SvcPacketError>();

/** The shared SvcPacketError for `reason`. */
export function svcPacketError(reason: SvcErrorCode): SvcPacketError {
  let e = shared.get(reason);
  if (!e) {
    e = new SvcPacketError(reason);
    shared.set(reason, e);
  }
  return e;
}

export interface SvcFilterStats {
  /** Packets passed on to the subscriber. */
  forwarded: number;
  /** Packets of layers above the target (or before a usable switch point). */
  dropped: number;
  /** Packets dropped because their descriptor was unreadable, by reason. */
  errors: Partial<Record<SvcErrorCode, number>>;
  /** Keyframe requests the filter made to reach a higher spatial layer or to start. */
  keyframeRequests: number;
  /** Spatial and temporal layer being forwarded now (-1 before the first switch point). */
  spatial: number;
  temporal: number;
}

export interface SvcFilterInit {
  /** The publisher's stream reader (shared by its subscribers, see svcStreamReaderFor). */
  reader: SvcStreamReader;
  /** The subscriber's header-extension id map (source id -> outgoing id), read when rewriting. */
  extMap: Uint8Array;
  /** Asks the publisher for a keyframe (the publisher throttles). */
  requestKeyframe: () => void;
}
