import {
  DD_MAX_DECODE_TARGETS,
  type DependencyDescriptor,
  type DependencyStructure,
  DTI_NOT_PRESENT,
  decodeTargetFor,
  isSwitchPointFor,
} from "../rtp/dependencyDescriptor/index.ts";
import type { LayerTarget } from "./LayerFilter.ts";

/**
 * Decode-target selection of one subscriber on a stream with the Dependency Descriptor (AV1,
 * H.264, or any codec Chromium sends it for). A frame is forwarded when its DTI for the chosen
 * decode target is not "not present"; the decision is made once per frame (frame number).
 * Switching:
 *  - to a decode target whose frames the current one already carries (by the templates): at
 *    the next frame start;
 *  - to another one of the same spatial layer at a frame whose DTI for it is "switch";
 *  - to anything else at a keyframe (an S0 frame with no references), which is requested.
 */
export class SvcDdSelector {
  /** Decode target forwarded now, -1 until the first switch point. */
  decodeTarget = -1;
  /** Set by select(): the wanted decode target needs a keyframe. */
  wantsKeyframe = false;
  #structure: DependencyStructure | null = null;
  /** subsets[dt]: bitmask of the decode targets whose every template decode target dt carries. */
  readonly #subsets = new Uint32Array(DD_MAX_DECODE_TARGETS);
  #frameNumber = -1;
  #frameForward = false;

  /** Decode targets the receiver can decode from what is forwarded (for the active bitmask). */
  get forwardedMask(): number {
    return this.decodeTarget < 0 ? 0 : this.#subsets[this.decodeTarget];
  }

  /** The forwarded target's spatial layer, -1 before the first switch point. */
  get spatial(): number {
    const s = this.#structure;
    return s && this.decodeTarget >= 0 ? s.decodeTargetSpatialId[this.decodeTarget] : -1;
  }

  /** The forwarded target's temporal layer, -1 before the first switch point. */
  get temporal(): number {
    const s = this.#structure;
    return s && this.decodeTarget >= 0 ? s.decodeTargetTemporalId[this.decodeTarget] : -1;
  }

  /**
   * True when a descriptor whose first byte is `b0` ends a frame of the forwarded target's top
   * spatial layer (mandatory fields only, so it also serves retransmissions).
   */
  endsTopLayer(b0: number): boolean {
    const st = this.#structure;
    if (st === null || this.decodeTarget < 0 || (b0 & 0x40) === 0) return false;
    const t = ((b0 & 0x3f) + 64 - st.templateIdOffset) % 64;
    return (
      t < st.templateCount &&
      st.templateSpatialId[t] === st.decodeTargetSpatialId[this.decodeTarget]
    );
  }

  /** True to forward the packet whose (successfully parsed) descriptor is `dd`. */
  select(dd: DependencyDescriptor, target: Readonly<LayerTarget>): boolean {
    this.wantsKeyframe = false;
    const st = dd.structure;
    if (st === null) return false;
    if (st !== this.#structure) this.#useStructure(st);
    if (dd.frameNumber !== this.#frameNumber) {
      this.#frameNumber = dd.frameNumber;
      this.#switch(dd, st, target);
      const dt = this.decodeTarget;
      this.#frameForward = dt >= 0 && dd.dtis[dt] !== DTI_NOT_PRESENT;
    }
    return this.#frameForward;
  }

  #switch(dd: DependencyDescriptor, st: DependencyStructure, target: Readonly<LayerTarget>): void {
    const want = decodeTargetFor(
      st,
      target.spatial,
      target.temporal,
      dd.activeDecodeTargetsBitmask,
    );
    const cur = this.decodeTarget;
    if (want < 0 || want === cur) return;
    const keyframe = dd.spatialId === 0 && dd.fdiffCount === 0 && isSwitchPointFor(dd, want);
    const sameSpatial =
      cur >= 0 && st.decodeTargetSpatialId[want] === st.decodeTargetSpatialId[cur];
    const carried = cur >= 0 && ((this.#subsets[cur] >>> want) & 1) === 1;
    if (keyframe || carried || (sameSpatial && isSwitchPointFor(dd, want))) {
      this.decodeTarget = want;
    } else if (!sameSpatial) {
      this.wantsKeyframe = true;
    }
  }

  /** A new structure (it comes with a keyframe): decode target ids may mean other layers now. */
  #useStructure(st: DependencyStructure): void {
    this.#structure = st;
    this.decodeTarget = -1;
    this.#frameNumber = -1;
    const n = st.decodeTargetCount;
    for (let a = 0; a < n; a++) {
      let mask = 0;
      for (let b = 0; b < n; b++) {
        let subset = true;
        for (let t = 0; t < st.templateCount && subset; t++) {
          if (
            st.templateDti(t, b) !== DTI_NOT_PRESENT &&
            st.templateDti(t, a) === DTI_NOT_PRESENT
          ) {
            subset = false;
          }
        }
        if (subset) mask |= 1 << b;
      }
      this.#subsets[a] = mask >>> 0;
    }
  }
}
