/**
 * Dependency Descriptor reader (AV1 RTP spec Appendix A.8 syntax):
 *
 *   dependency_descriptor(sz):
 *     start_of_frame f(1), end_of_frame f(1), frame_dependency_template_id f(6),
 *     frame_number f(16)
 *     if (sz > 3) extended_descriptor_fields():
 *       template_dependency_structure_present_flag f(1), active_decode_targets_present_flag f(1),
 *       custom_dtis_flag f(1), custom_fdiffs_flag f(1), custom_chains_flag f(1)
 *       [template_dependency_structure()]  [active_decode_targets_bitmask f(DtCnt)]
 *     frame_dependency_definition()
 *     zero padding
 *
 * The structure is stateful: packets without one resolve through the last one received.
 */
import {
  allDecodeTargetsMask,
  DD_MAX_CHAINS,
  DD_MAX_DECODE_TARGETS,
  DD_MAX_FDIFFS,
  DD_MAX_SPATIAL_IDS,
  DD_MAX_TEMPLATES,
  DD_MAX_TEMPORAL_IDS,
  type DependencyDescriptor,
  DependencyDescriptorError,
  type DependencyDescriptorErrorCode,
  DependencyStructure,
} from "./types.ts";

const EMPTY = new Uint8Array(0);

export interface DependencyDescriptorReaderOptions {
  /** Reject structures with more decode targets than this (1..32, default 32). */
  maxDecodeTargets?: number;
}

/**
 * Reads dependency descriptors of one RTP stream and keeps its latest template structure.
 * Allocates nothing per packet; a structure that differs from the stored one costs one
 * DependencyStructure allocation (a repeated identical structure costs none and keeps
 * `structure`'s identity).
 */
export class DependencyDescriptorReader {
  /** The latest structure received in a successfully parsed packet, or null. */
  structure: DependencyStructure | null = null;
  /** Active decode targets bitmask in force (all targets of the structure by default). */
  activeDecodeTargetsBitmask = 0;
  /** Times a new (different) structure was stored. */
  structureChanges = 0;
  /** Error code of the last failed parse(), null after a successful one. */
  lastError: DependencyDescriptorErrorCode | null = null;

  private readonly maxDecodeTargets: number;
  /** Scratch structure that an incoming structure is read into before it is committed. */
  private scratch: DependencyStructure | null = null;
  // Bit reader state (absolute bit positions in buf), valid only during parse().
  private buf: Uint8Array = EMPTY;
  private pos = 0;
  private end = 0;
  private overrun = false;

  constructor(options: DependencyDescriptorReaderOptions = {}) {
    const m = options.maxDecodeTargets ?? DD_MAX_DECODE_TARGETS;
    this.maxDecodeTargets = Math.max(1, Math.min(DD_MAX_DECODE_TARGETS, m | 0));
  }

  /** Forget the structure (e.g. on SSRC change). */
  reset(): void {
    this.structure = null;
    this.activeDecodeTargetsBitmask = 0;
    this.lastError = null;
  }

  /**
   * Parse the extension payload buf[offset..offset+length) into `out`. Never throws; on
   * failure returns false and sets lastError. The stored structure and active bitmask change
   * only when the whole packet parses.
   */
  parse(buf: Uint8Array, offset: number, length: number, out: DependencyDescriptor): boolean {
    const code = this.read(buf, offset, length, out);
    this.buf = EMPTY;
    this.lastError = code;
    return code === null;
  }

  /** parse(), throwing DependencyDescriptorError on failure (for use outside the packet loop). */
  parseOrThrow(buf: Uint8Array, offset: number, length: number, out: DependencyDescriptor): void {
    if (!this.parse(buf, offset, length, out)) {
      throw new DependencyDescriptorError(this.lastError ?? "truncated");
    }
  }

  private bits(n: number): number {
    const pos = this.pos;
    if (pos + n > this.end) {
      this.overrun = true;
      this.pos = this.end;
      return 0;
    }
    const buf = this.buf;
    let v = 0;
    for (let p = pos; p < pos + n; p++) {
      v = v * 2 + ((buf[p >>> 3] >>> (7 - (p & 7))) & 1);
    }
    this.pos = pos + n;
    return v;
  }

  /** ns(n): non-symmetric unsigned value in [0, n), n >= 1. */
  private ns(n: number): number {
    let w = 0;
    for (let x = n; x !== 0; x >>>= 1) w++;
    const m = (1 << w) - n;
    const v = this.bits(w - 1);
    if (v < m) return v;
    return (v << 1) - m + this.bits(1);
  }

  private read(
    buf: Uint8Array,
    offset: number,
    length: number,
    out: DependencyDescriptor,
  ): DependencyDescriptorErrorCode | null {
    out.startOfFrame = false;
    out.endOfFrame = false;
    out.templateId = 0;
    out.frameNumber = 0;
    out.hasExtendedFields = false;
    out.structurePresent = false;
    out.activeDecodeTargetsPresent = false;
    out.customDtis = false;
    out.customFdiffs = false;
    out.customChains = false;
    out.activeDecodeTargetsBitmask = this.activeDecodeTargetsBitmask;
    out.activeDecodeTargetsBitOffset = -1;
    out.structure = this.structure;
    out.templateIndex = -1;
    out.spatialId = 0;
    out.temporalId = 0;
    out.decodeTargetCount = 0;
    out.fdiffCount = 0;
    out.chainCount = 0;
    out.width = 0;
    out.height = 0;
    out.bitLength = 0;
    if (!(offset >= 0 && length >= 3 && offset + length <= buf.length)) return "truncated";

    // mandatory_descriptor_fields()
    const b0 = buf[offset];
    out.startOfFrame = (b0 & 0x80) !== 0;
    out.endOfFrame = (b0 & 0x40) !== 0;
    const templateId = b0 & 0x3f;
    out.templateId = templateId;
    out.frameNumber = (buf[offset + 1] << 8) | buf[offset + 2];
    this.buf = buf;
    this.pos = (offset + 3) * 8;
    this.end = (offset + length) * 8;
    this.overrun = false;

    let structure = this.structure;
    let newStructure = false;
    let mask = this.activeDecodeTargetsBitmask;
    if (length > 3) {
      // extended_descriptor_fields()
      out.hasExtendedFields = true;
      const flags = this.bits(5);
      newStructure = (flags & 0x10) !== 0;
      out.structurePresent = newStructure;
      out.activeDecodeTargetsPresent = (flags & 0x08) !== 0;
      out.customDtis = (flags & 0x04) !== 0;
      out.customFdiffs = (flags & 0x02) !== 0;
      out.customChains = (flags & 0x01) !== 0;
      if (newStructure) {
        if (this.scratch === null) this.scratch = new DependencyStructure();
        structure = this.scratch;
        const code = this.readStructure(structure);
        if (code !== null) return code;
        mask = allDecodeTargetsMask(structure.decodeTargetCount);
      }
      if (out.activeDecodeTargetsPresent) {
        if (structure === null) return "no_structure";
        out.activeDecodeTargetsBitOffset = this.pos - offset * 8;
        mask = this.bits(structure.decodeTargetCount);
      }
    }
    if (structure === null) return "no_structure";
    if (this.overrun) return "truncated";

    // frame_dependency_definition()
    const templateIndex = (templateId + 64 - structure.templateIdOffset) % 64;
    if (templateIndex >= structure.templateCount) return "bad_template_id";
    out.templateIndex = templateIndex;
    const spatialId = structure.templateSpatialId[templateIndex];
    out.spatialId = spatialId;
    out.temporalId = structure.templateTemporalId[templateIndex];

    const dtCount = structure.decodeTargetCount;
    out.decodeTargetCount = dtCount;
    const dtis = out.dtis;
    if (out.customDtis) {
      for (let i = 0; i < dtCount; i++) dtis[i] = this.bits(2);
    } else {
      const base = templateIndex * DD_MAX_DECODE_TARGETS;
      for (let i = 0; i < dtCount; i++) dtis[i] = structure.templateDtis[base + i];
    }

    const fdiffs = out.fdiffs;
    let fdiffCount = 0;
    if (out.customFdiffs) {
      for (let size = this.bits(2); size !== 0; size = this.bits(2)) {
        if (fdiffCount >= DD_MAX_FDIFFS) return "too_many_fdiffs";
        fdiffs[fdiffCount++] = this.bits(4 * size) + 1;
      }
    } else {
      const start = structure.templateFdiffStart[templateIndex];
      const stop = structure.templateFdiffStart[templateIndex + 1];
      for (let i = start; i < stop; i++) fdiffs[fdiffCount++] = structure.templateFdiffs[i];
    }
    out.fdiffCount = fdiffCount;

    const chainCount = structure.chainCount;
    out.chainCount = chainCount;
    const chainFdiffs = out.chainFdiffs;
    if (out.customChains) {
      for (let i = 0; i < chainCount; i++) chainFdiffs[i] = this.bits(8);
    } else {
      const base = templateIndex * DD_MAX_CHAINS;
      for (let i = 0; i < chainCount; i++) chainFdiffs[i] = structure.templateChainFdiffs[base + i];
    }

    if (structure.resolutionsPresent) {
      out.width = structure.renderWidth[spatialId];
      out.height = structure.renderHeight[spatialId];
    }
    if (this.overrun) return "truncated";
    out.bitLength = this.pos - offset * 8;

    // The whole packet parsed: commit the structure and the active decode targets.
    if (newStructure && structure !== this.structure) {
      const current = this.structure;
      if (current?.equals(structure)) {
        structure = current;
      } else {
        this.structure = structure;
        this.scratch = null;
        this.structureChanges++;
      }
    }
    this.activeDecodeTargetsBitmask = mask;
    out.activeDecodeTargetsBitmask = mask;
    out.structure = structure;
    return null;
  }

  /** template_dependency_structure() into s. */
  private readStructure(s: DependencyStructure): DependencyDescriptorErrorCode | null {
    s.templateIdOffset = this.bits(6);
    const dtCount = this.bits(5) + 1;
    if (this.overrun) return "truncated";
    if (dtCount > this.maxDecodeTargets) return "too_many_decode_targets";
    s.decodeTargetCount = dtCount;

    // template_layers()
    let templateCount = 0;
    let spatialId = 0;
    let temporalId = 0;
    let maxTemporalId = 0;
    let nextLayerIdc = 0;
    do {
      if (templateCount >= DD_MAX_TEMPLATES) return "too_many_templates";
      s.templateSpatialId[templateCount] = spatialId;
      s.templateTemporalId[templateCount] = temporalId;
      templateCount++;
      nextLayerIdc = this.bits(2);
      if (this.overrun) return "truncated";
      if (nextLayerIdc === 1) {
        temporalId++;
        if (temporalId >= DD_MAX_TEMPORAL_IDS) return "too_many_temporal_layers";
        if (temporalId > maxTemporalId) maxTemporalId = temporalId;
      } else if (nextLayerIdc === 2) {
        temporalId = 0;
        spatialId++;
        if (spatialId >= DD_MAX_SPATIAL_IDS) return "too_many_spatial_layers";
      }
    } while (nextLayerIdc !== 3);
    s.templateCount = templateCount;
    s.spatialLayerCount = spatialId + 1;
    s.temporalLayerCount = maxTemporalId + 1;

    // template_dtis()
    for (let t = 0; t < templateCount; t++) {
      const base = t * DD_MAX_DECODE_TARGETS;
      for (let i = 0; i < dtCount; i++) s.templateDtis[base + i] = this.bits(2);
    }

    // template_fdiffs()
    let fdiffCount = 0;
    for (let t = 0; t < templateCount; t++) {
      s.templateFdiffStart[t] = fdiffCount;
      while (this.bits(1) === 1) {
        if (fdiffCount >= DD_MAX_FDIFFS) return "too_many_fdiffs";
        s.templateFdiffs[fdiffCount++] = this.bits(4) + 1;
      }
    }
    s.templateFdiffStart[templateCount] = fdiffCount;
    if (this.overrun) return "truncated";

    // template_chains()
    const chainCount = this.ns(dtCount + 1);
    s.chainCount = chainCount;
    if (chainCount > 0) {
      for (let i = 0; i < dtCount; i++) s.decodeTargetProtectedBy[i] = this.ns(chainCount);
      for (let t = 0; t < templateCount; t++) {
        const base = t * DD_MAX_CHAINS;
        for (let c = 0; c < chainCount; c++) s.templateChainFdiffs[base + c] = this.bits(4);
      }
    }

    // decode_target_layers()
    for (let i = 0; i < dtCount; i++) {
      let sid = 0;
      let tid = 0;
      for (let t = 0; t < templateCount; t++) {
        if (s.templateDtis[t * DD_MAX_DECODE_TARGETS + i] !== 0) {
          if (s.templateSpatialId[t] > sid) sid = s.templateSpatialId[t];
          if (s.templateTemporalId[t] > tid) tid = s.templateTemporalId[t];
        }
      }
      s.decodeTargetSpatialId[i] = sid;
      s.decodeTargetTemporalId[i] = tid;
    }

    // resolutions_present_flag, render_resolutions()
    s.resolutionsPresent = this.bits(1) === 1;
    if (s.resolutionsPresent) {
      for (let sid = 0; sid <= spatialId; sid++) {
        s.renderWidth[sid] = this.bits(16) + 1;
        s.renderHeight[sid] = this.bits(16) + 1;
      }
    }
    return this.overrun ? "truncated" : null;
  }
}
