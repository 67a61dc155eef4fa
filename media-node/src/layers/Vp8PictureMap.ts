import { writeVp8PictureId, writeVp8Tl0PicIdx } from "../rtp/codecs/vp8.ts";
import type { PacketLayers } from "./PacketLayers.ts";

/**
 * Keeps one subscriber's VP8 picture ids and TL0PICIDX continuous (RFC 7741): across simulcast
 * switches (each encoding numbers its own pictures) and across pictures dropped by temporal
 * filtering (a gap would read as loss). Pictures lost upstream keep their gap.
 */
export class Vp8PictureMap {
  #picDelta = 0;
  #tl0Delta = 0;
  #lastOutPic = -1;
  #lastOutTl0 = -1;
  #lastSrcPic = -1;
  #resync = true;

  /** The next forwarded picture continues from the last one sent (a new source epoch). */
  resync(): void {
    this.#resync = true;
  }

  /** A packet that is not forwarded: its picture consumes no outgoing picture id. */
  drop(layers: PacketLayers): void {
    const pic = layers.pictureId;
    if (pic < 0 || this.#resync || this.#lastSrcPic < 0) return;
    const mask = layers.pictureIdLong ? 0x7fff : 0x7f;
    const d = (pic - this.#lastSrcPic) & mask;
    if (d === 0 || d > mask >> 1) return;
    this.#lastSrcPic = pic;
    this.#picDelta += d;
  }

  /** Rewrites the descriptor at `out[payloadOffset]` of an outgoing packet. */
  rewrite(out: Uint8Array, payloadOffset: number, layers: PacketLayers): void {
    const pic = layers.pictureId;
    const tl0 = layers.tl0PicIdx;
    if (this.#resync) {
      this.#resync = false;
      this.#picDelta = pic < 0 || this.#lastOutPic < 0 ? 0 : pic - this.#lastOutPic - 1;
      this.#tl0Delta = tl0 < 0 || this.#lastOutTl0 < 0 ? 0 : tl0 - this.#lastOutTl0 - 1;
      this.#lastSrcPic = pic;
    }
    if (pic >= 0) {
      const mask = layers.pictureIdLong ? 0x7fff : 0x7f;
      const outPic = (pic - this.#picDelta) & mask;
      writeVp8PictureId(out, payloadOffset, outPic);
      if (((pic - this.#lastSrcPic) & mask) <= mask >> 1) this.#lastSrcPic = pic;
      if (this.#lastOutPic < 0 || ((outPic - this.#lastOutPic) & mask) <= mask >> 1) {
        this.#lastOutPic = outPic;
      }
    }
    if (tl0 >= 0) {
      const outTl0 = (tl0 - this.#tl0Delta) & 0xff;
      writeVp8Tl0PicIdx(out, payloadOffset, outTl0);
      if (this.#lastOutTl0 < 0 || ((outTl0 - this.#lastOutTl0) & 0xff) <= 0x7f) {
        this.#lastOutTl0 = outTl0;
      }
    }
  }
}
