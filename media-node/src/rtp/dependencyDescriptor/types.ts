/**
 * Dependency Descriptor (DD) RTP header extension: data model.
 * AV1 RTP payload specification, Appendix A (https://aomediacodec.github.io/av1-rtp-spec/),
 * also used by Chromium for VP9 and H.264 SVC.
 *
 * Everything here is preallocated at the limits below so that parsing allocates nothing.
 */

/** Templates per structure (frame_dependency_template_id is 6 bits). */
export const DD_MAX_TEMPLATES = 64;
/** Decode targets per structure (dt_cnt_minus_one is 5 bits). */
export const DD_MAX_DECODE_TARGETS = 32;
/** Chains per structure: chain_cnt = ns(DtCnt + 1) <= DtCnt. */
export const DD_MAX_CHAINS = 32;
/** Spatial layers accepted (as libwebrtc: spatial ids 0..3). */
export const DD_MAX_SPATIAL_IDS = 4;
/** Temporal layers accepted (as libwebrtc: temporal ids 0..7). */
export const DD_MAX_TEMPORAL_IDS = 8;
/**
 * Frame diffs stored, summed over all templates of a structure, and per frame. A header
 * extension is at most 255 bytes, which bounds both below this (a template fdiff costs 5
 * bits, a frame fdiff at least 6).
 */
export const DD_MAX_FDIFFS = 512;

/** Decode target indication values (Table A.1). */
export const DTI_NOT_PRESENT = 0;
export const DTI_DISCARDABLE = 1;
export const DTI_SWITCH = 2;
export const DTI_REQUIRED = 3;

export type DependencyDescriptorErrorCode =
  /** Fewer bytes than the syntax needs (or offset/length outside the buffer). */
  | "truncated"
  /** The packet needs a template structure and none was received yet. */
  | "no_structure"
  /** frame_dependency_template_id outside [template_id_offset, + template count) mod 64. */
  | "bad_template_id"
  /** More decode targets than the reader accepts (its maxDecodeTargets option). */
  | "too_many_decode_targets"
  /** More than 64 templates. */
  | "too_many_templates"
  /** More than DD_MAX_SPATIAL_IDS spatial layers. */
  | "too_many_spatial_layers"
  /** More than DD_MAX_TEMPORAL_IDS temporal layers. */
  | "too_many_temporal_layers"
  /** More than DD_MAX_FDIFFS frame diffs. */
  | "too_many_fdiffs";

/** Thrown by the non-packet-loop entry points (e.g. DependencyDescriptorReader.parseOrThrow). */
export class DependencyDescriptorError extends Error {
  readonly code: DependencyDescriptorErrorCode;
  constructor(code: DependencyDescriptorErrorCode, message?: string) {
    super(message ?? `dependency descriptor: ${code}`);
    this.name = "DependencyDescriptorError";
    this.code = code;
  }
}

/** Bitmask with the low n bits set (n in 0..32), as an unsigned 32-bit number. */
export function allDecodeTargetsMask(n: number): number {
  return n >= 32 ? 0xffffffff : 2 ** n - 1;
}

/**
 * template_dependency_structure(): the templates and decode targets a stream announces
 * (on key frames). Arrays are preallocated; only [0..count) entries are meaningful.
 */
export class DependencyStructure {
  /** template_id_offset. */
  templateIdOffset = 0;
  /** DtCnt (dt_cnt_minus_one + 1). */
  decodeTargetCount = 0;
  /** TemplateCnt. */
  templateCount = 0;
  /** MaxSpatialId + 1. */
  spatialLayerCount = 0;
  /** MaxTemporalId + 1. */
  temporalLayerCount = 0;
  /** TemplateSpatialId[t]. */
  readonly templateSpatialId = new Uint8Array(DD_MAX_TEMPLATES);
  /** TemplateTemporalId[t]. */
  readonly templateTemporalId = new Uint8Array(DD_MAX_TEMPLATES);
  /** template_dti[t][dt] at [t * DD_MAX_DECODE_TARGETS + dt]; use templateDti(). */
  readonly templateDtis = new Uint8Array(DD_MAX_TEMPLATES * DD_MAX_DECODE_TARGETS);
  /** Template t's fdiffs are templateFdiffs[templateFdiffStart[t]..templateFdiffStart[t + 1]). */
  readonly templateFdiffStart = new Uint16Array(DD_MAX_TEMPLATES + 1);
  readonly templateFdiffs = new Uint8Array(DD_MAX_FDIFFS);
  /** chain_cnt (0: no chains). */
  chainCount = 0;
  /** decode_target_protected_by[dt] (meaningful only when chainCount > 0). */
  readonly decodeTargetProtectedBy = new Uint8Array(DD_MAX_DECODE_TARGETS);
  /** template_chain_fdiff[t][c] at [t * DD_MAX_CHAINS + c]; use templateChainFdiff(). */
  readonly templateChainFdiffs = new Uint8Array(DD_MAX_TEMPLATES * DD_MAX_CHAINS);
  /** DecodeTargetSpatialId[dt] / DecodeTargetTemporalId[dt] (decode_target_layers()). */
  readonly decodeTargetSpatialId = new Uint8Array(DD_MAX_DECODE_TARGETS);
  readonly decodeTargetTemporalId = new Uint8Array(DD_MAX_DECODE_TARGETS);
  /** resolutions_present_flag; renderWidth/Height[spatialId] = max_render_*_minus_1 + 1. */
  resolutionsPresent = false;
  readonly renderWidth = new Uint32Array(DD_MAX_SPATIAL_IDS);
  readonly renderHeight = new Uint32Array(DD_MAX_SPATIAL_IDS);

  templateDti(template: number, decodeTarget: number): number {
    return this.templateDtis[template * DD_MAX_DECODE_TARGETS + decodeTarget];
  }

  templateChainFdiff(template: number, chain: number): number {
    return this.templateChainFdiffs[template * DD_MAX_CHAINS + chain];
  }

  templateFdiffCount(template: number): number {
    return this.templateFdiffStart[template + 1] - this.templateFdiffStart[template];
  }

  templateFdiff(template: number, i: number): number {
    return this.templateFdiffs[this.templateFdiffStart[template] + i];
  }

  /** Same structure (the meaningful entries only). */
  equals(o: DependencyStructure): boolean {
    const tc = this.templateCount;
    const dc = this.decodeTargetCount;
    const cc = this.chainCount;
    if (
      this.templateIdOffset !== o.templateIdOffset ||
      dc !== o.decodeTargetCount ||
      tc !== o.templateCount ||
      this.spatialLayerCount !== o.spatialLayerCount ||
      this.temporalLayerCount !== o.temporalLayerCount ||
      cc !== o.chainCount ||
      this.resolutionsPresent !== o.resolutionsPresent
    ) {
      return false;
    }
    for (let t = 0; t < tc; t++) {
      if (
        this.templateSpatialId[t] !== o.templateSpatialId[t] ||
        this.templateTemporalId[t] !== o.templateTemporalId[t]
      ) {
        return false;
      }
      const d = t * DD_MAX_DECODE_TARGETS;
      for (let i = 0; i < dc; i++) {
        if (this.templateDtis[d + i] !== o.templateDtis[d + i]) return false;
      }
      const c = t * DD_MAX_CHAINS;
      for (let i = 0; i < cc; i++) {
        if (this.templateChainFdiffs[c + i] !== o.templateChainFdiffs[c + i]) return false;
      }
    }
    for (let t = 0; t <= tc; t++) {
      if (this.templateFdiffStart[t] !== o.templateFdiffStart[t]) return false;
    }
    const fc = this.templateFdiffStart[tc];
    for (let i = 0; i < fc; i++) {
      if (this.templateFdiffs[i] !== o.templateFdiffs[i]) return false;
    }
    if (cc > 0) {
      for (let i = 0; i < dc; i++) {
        if (this.decodeTargetProtectedBy[i] !== o.decodeTargetProtectedBy[i]) return false;
      }
    }
    if (this.resolutionsPresent) {
      for (let s = 0; s < this.spatialLayerCount; s++) {
        if (
          this.renderWidth[s] !== o.renderWidth[s] ||
          this.renderHeight[s] !== o.renderHeight[s]
        ) {
          return false;
        }
      }
    }
    return true;
  }
}

/**
 * One packet's dependency descriptor, with the frame_dependency_definition() resolved
 * through the template structure. Construct once and reuse; arrays are filled up to the
 * counts. When a parse fails with "no_structure" or "bad_template_id", the mandatory fields
 * (startOfFrame, endOfFrame, templateId, frameNumber) are still valid.
 */
export class DependencyDescriptor {
  startOfFrame = false;
  endOfFrame = false;
  /** frame_dependency_template_id. */
  templateId = 0;
  /** frame_number (16 bits, wraps). */
  frameNumber = 0;
  /** The extension is longer than 3 bytes: extended_descriptor_fields() present. */
  hasExtendedFields = false;
  /** template_dependency_structure_present_flag: this packet carried a structure. */
  structurePresent = false;
  /** active_decode_targets_present_flag. */
  activeDecodeTargetsPresent = false;
  customDtis = false;
  customFdiffs = false;
  customChains = false;
  /**
   * Active decode targets after this packet (bit i: decode target i), unsigned. All targets
   * when a structure arrives; a packet without the bitmask keeps the reader's last value.
   */
  activeDecodeTargetsBitmask = 0;
  /** Bit position of active_decode_targets_bitmask from the descriptor's first byte, or -1. */
  activeDecodeTargetsBitOffset = -1;
  /** The structure this packet resolved through (the reader's current one), or null. */
  structure: DependencyStructure | null = null;
  /** Index of the frame's template in the structure, -1 if unresolved. */
  templateIndex = -1;
  spatialId = 0;
  temporalId = 0;
  /** DtCnt of the structure; dtis[0..decodeTargetCount). */
  decodeTargetCount = 0;
  /** Decode target indications of this frame (DTI_* values). */
  readonly dtis = new Uint8Array(DD_MAX_DECODE_TARGETS);
  /** Frame diffs (frame number differences of the references), fdiffs[0..fdiffCount). */
  fdiffCount = 0;
  readonly fdiffs = new Uint16Array(DD_MAX_FDIFFS);
  /** Chain fdiffs, chainFdiffs[0..chainCount). */
  chainCount = 0;
  readonly chainFdiffs = new Uint8Array(DD_MAX_CHAINS);
  /** Max render resolution of the frame's spatial layer, 0 when the structure has none. */
  width = 0;
  height = 0;
  /** Bits read (before zero padding). */
  bitLength = 0;
}
