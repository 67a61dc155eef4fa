import type { Vp9Descriptor } from "../rtp/codecs/vp9.ts";
import type { LayerTarget } from "./LayerFilter.ts";

/**
 * Spatial/temporal layer selection of one subscriber on a VP9 SVC stream (RFC 9628), from the
 * payload descriptor alone. Pictures are superframes: a picture starts at SID 0 with B=1.
 *  - Up in space only where the new layer needs no earlier picture: a key picture (P=0 on
 *    SID 0), or a layer frame with P=0 (the encoder's layer sync) right above the current one.
 *  - Up in time at a switching-up point (U=1) of a layer not above the target.
 *  - Down at the next picture start (lower layers never depend on upper ones).
 */
export class SvcVp9Selector {
  /** Spatial layer forwarded now, -1 until the first key picture. */
  spatial = -1;
  /** Temporal layer forwarded now, -1 until the first key picture. */
  temporal = -1;
  /** Set by select(): a higher spatial layer is wanted and needs a keyframe. */
  wantsKeyframe = false;
  /** Spatial layers the stream announces in its scalability structure (0: not seen yet). */
  #layers = 0;

  /** True to forward the packet described by `d` toward `target`. */
  select(d: Vp9Descriptor, target: Readonly<LayerTarget>): boolean {
    this.wantsKeyframe = false;
    if (d.ssSpatialLayers > 0) this.#layers = d.ssSpatialLayers;
    if (d.startOfFrame && d.sid === 0) this.#pictureStart(d, target);
    else if (
      d.startOfFrame &&
      !d.interPicturePredicted &&
      d.sid === this.spatial + 1 &&
      d.sid <= target.spatial &&
      this.spatial >= 0
    ) {
      this.spatial = d.sid;
    }
    return this.spatial >= 0 && d.sid <= this.spatial && d.tid <= this.temporal;
  }

  #pictureStart(d: Vp9Descriptor, target: Readonly<LayerTarget>): void {
    if (!d.interPicturePredicted) {
      // Key picture: every layer restarts here.
      this.spatial = this.#layers > 0 ? Math.min(target.spatial, this.#layers - 1) : target.spatial;
      this.temporal = target.temporal;
      return;
    }
    if (this.spatial < 0) {
      this.wantsKeyframe = true;
      return;
    }
    // A layer the stream does not have is not worth a keyframe.
    const top = this.#layers > 0 ? Math.min(target.spatial, this.#layers - 1) : target.spatial;
    if (target.spatial < this.spatial) this.spatial = target.spatial;
    else if (top > this.spatial) this.wantsKeyframe = true;
    if (target.temporal < this.temporal) this.temporal = target.temporal;
    else if (d.switchingUp && d.tid > this.temporal && d.tid <= target.temporal) {
      this.temporal = d.tid;
    }
  }
}
