/**
 * VP8 RTP payload descriptor (RFC 7741 4.2) reader and in-place rewriters.
 *
 *      0 1 2 3 4 5 6 7
 *     +-+-+-+-+-+-+-+-+
 *     |X|R|N|S|R| PID |
 *  X: |I|L|T|K| RSV   |
 *  I: |M| PictureID   |
 *     |   PictureID   |  (M=1: 15-bit picture id)
 *  L: |   TL0PICIDX   |
 *  T/K: |TID|Y| KEYIDX|
 *
 * The VP8 payload header (RFC 7741 4.3) follows at the start of partition 0:
 * |Size0|H| VER |P|, P=0 means key frame.
 */

/** Parsed VP8 payload descriptor; construct once and reuse. Absent fields are -1. */
export class Vp8Descriptor {
  nonReference = false;
  startOfPartition = false;
  partitionId = 0;
  /** 7- or 15-bit picture id, -1 if absent. */
  pictureId = -1;
  /** True when the picture id uses the 15-bit form (M=1). */
  pictureIdLong = false;
  /** Offset in the buffer of the first picture id byte (the M byte), -1 if absent. */
  pictureIdOffset = -1;
  tl0PicIdx = -1;
  /** Offset in the buffer of TL0PICIDX, -1 if absent. */
  tl0PicIdxOffset = -1;
  /** Temporal layer index (T=1), -1 if absent. */
  tid = -1;
  /** Layer sync bit Y (meaningful when T=1). */
  layerSync = false;
  /** KEYIDX (K=1), -1 if absent. */
  keyIdx = -1;
  /** Bytes of the payload descriptor; the VP8 payload starts at offset + headerLength. */
  headerLength = 0;
  /** Start of partition 0 of a key frame (S=1, PID=0, payload header P=0). */
  isKeyframe = false;
}

/**
 * Read the VP8 payload descriptor at buf[offset..offset+length). Returns false if it is
 * truncated (the descriptor must be followed by at least one payload byte).
 */
export function parseVp8(
  buf: Uint8Array,
  offset: number,
  length: number,
  out: Vp8Descriptor,
): boolean {
  const end = offset + length;
  if (length < 1 || offset < 0 || end > buf.length) return false;
  const b0 = buf[offset];
  let p = offset + 1;
  out.nonReference = (b0 & 0x20) !== 0;
  out.startOfPartition = (b0 & 0x10) !== 0;
  out.partitionId = b0 & 0x07;
  out.pictureId = -1;
  out.pictureIdLong = false;
  out.pictureIdOffset = -1;
  out.tl0PicIdx = -1;
  out.tl0PicIdxOffset = -1;
  out.tid = -1;
  out.layerSync = false;
  out.keyIdx = -1;
  out.isKeyframe = false;
  if ((b0 & 0x80) !== 0) {
    if (p >= end) return false;
    const x = buf[p++];
    if ((x & 0x80) !== 0) {
      if (p >= end) return false;
      out.pictureIdOffset = p;
      const m = buf[p];
      if ((m & 0x80) !== 0) {
        if (p + 1 >= end) return false;
        out.pictureIdLong = true;
        out.pictureId = ((m & 0x7f) << 8) | buf[p + 1];
        p += 2;
      } else {
        out.pictureId = m;
        p += 1;
      }
    }
    if ((x & 0x40) !== 0) {
      if (p >= end) return false;
      out.tl0PicIdxOffset = p;
      out.tl0PicIdx = buf[p++];
    }
    if ((x & 0x30) !== 0) {
      if (p >= end) return false;
      const tk = buf[p++];
      if ((x & 0x20) !== 0) {
        out.tid = tk >> 6;
        out.layerSync = (tk & 0x20) !== 0;
      }
      if ((x & 0x10) !== 0) out.keyIdx = tk & 0x1f;
    }
  }
  if (p >= end) return false;
  out.headerLength = p - offset;
  out.isKeyframe = out.startOfPartition && out.partitionId === 0 && (buf[p] & 0x01) === 0;
  return true;
}

/** Key frame test without a descriptor object. */
export function vp8IsKeyframe(buf: Uint8Array, offset: number, length: number): boolean {
  return parseVp8(buf, offset, length, scratch) && scratch.isKeyframe;
}
const scratch = new Vp8Descriptor();

/** Offset of the picture id (M byte) of the descriptor at `offset`, or -1. */
function pictureIdAt(buf: Uint8Array, offset: number): number {
  if (offset < 0 || offset + 2 >= buf.length) return -1;
  if ((buf[offset] & 0x80) === 0 || (buf[offset + 1] & 0x80) === 0) return -1;
  return offset + 2;
}

/**
 * Overwrite the picture id of the VP8 descriptor starting at `offset`, keeping its width
 * (7 bits if M=0, 15 bits if M=1; `id` is reduced modulo that width). Returns false if the
 * descriptor has no picture id or is truncated.
 */
export function writeVp8PictureId(buf: Uint8Array, offset: number, id: number): boolean {
  const p = pictureIdAt(buf, offset);
  if (p < 0) return false;
  if ((buf[p] & 0x80) !== 0) {
    if (p + 1 >= buf.length) return false;
    buf[p] = 0x80 | ((id >> 8) & 0x7f);
    buf[p + 1] = id & 0xff;
  } else {
    buf[p] = id & 0x7f;
  }
  return true;
}

/**
 * Overwrite TL0PICIDX of the VP8 descriptor starting at `offset`. Returns false if the
 * descriptor has no TL0PICIDX (L=0) or is truncated.
 */
export function writeVp8Tl0PicIdx(buf: Uint8Array, offset: number, idx: number): boolean {
  if (offset < 0 || offset + 1 >= buf.length) return false;
  if ((buf[offset] & 0x80) === 0) return false;
  const x = buf[offset + 1];
  if ((x & 0x40) === 0) return false;
  let p = offset + 2;
  if ((x & 0x80) !== 0) {
    if (p >= buf.length) return false;
    p += (buf[p] & 0x80) !== 0 ? 2 : 1;
  }
  if (p >= buf.length) return false;
  buf[p] = idx & 0xff;
  return true;
}
