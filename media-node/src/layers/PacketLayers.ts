/**
 * What the publisher learned about one video packet: parsed once on receive and shared by every
 * subscriber of the publisher (one reused object per publisher, overwritten by the next packet).
 */
export class PacketLayers {
  /** Index of the simulcast encoding (0 = lowest resolution); 0 without simulcast. */
  encoding = 0;
  /** Start of an independently decodable frame. */
  keyframe = false;
  /** Temporal layer id from the codec's payload descriptor (VP8 TID), -1 if it has none. */
  temporal = -1;
  /** A temporal switching point: later frames of this layer need no earlier frame of it (VP8 Y). */
  layerSync = false;
  /** First packet of a picture (VP8: S=1 and partition 0). */
  pictureStart = false;
  /** VP8 picture id, -1 if absent. */
  pictureId = -1;
  /** The picture id is 15 bits wide (else 7). */
  pictureIdLong = false;
  /** VP8 TL0PICIDX, -1 if absent. */
  tl0PicIdx = -1;

  reset(encoding: number): void {
    this.encoding = encoding;
    this.keyframe = false;
    this.temporal = -1;
    this.layerSync = false;
    this.pictureStart = false;
    this.pictureId = -1;
    this.pictureIdLong = false;
    this.tl0PicIdx = -1;
  }
}
