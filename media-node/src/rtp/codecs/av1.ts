/**
 * AV1 RTP payload (AV1 RTP specification, AOMedia, section 4.4) inspection.
 *
 * Aggregation header: |Z|Y| W |N|-|-|-|
 *   Z: the first OBU element continues an OBU fragment from the previous packet
 *   Y: the last OBU element continues in the next packet
 *   W: number of OBU elements (0: every element has a LEB128 length; 1-3: all but the last
 *      element have a LEB128 length)
 *   N: first packet of a coded video sequence
 * OBU header: |F|type(4)|X|S|R|, type 1 = OBU_SEQUENCE_HEADER.
 */

export const AV1_OBU_SEQUENCE_HEADER = 1;
export const AV1_OBU_TEMPORAL_DELIMITER = 2;
export const AV1_OBU_FRAME_HEADER = 3;
export const AV1_OBU_TILE_GROUP = 4;
export const AV1_OBU_METADATA = 5;
export const AV1_OBU_FRAME = 6;

/** What one AV1 RTP payload carries; construct once and reuse. */
export class Av1Descriptor {
  z = false;
  y = false;
  w = 0;
  n = false;
  /** Number of OBU elements in the packet. */
  obuCount = 0;
  /** OBU type of the first element if it starts an OBU (Z=0), else -1. */
  firstObuType = -1;
  /** Offset of the first OBU element's data (its OBU header when Z=0). */
  firstObuOffset = -1;
  /** N=1, or the first element (Z=0) is a sequence header. */
  isKeyframe = false;
}

/**
 * Inspect the AV1 RTP payload at buf[offset..offset+length). Walks every OBU element;
 * returns false if the aggregation header is missing, a LEB128 length is malformed or
 * overruns the payload, W promises more elements than present, or the first OBU header
 * has its forbidden bit set.
 */
export function parseAv1(
  buf: Uint8Array,
  offset: number,
  length: number,
  out: Av1Descriptor,
): boolean {
  const end = offset + length;
  if (length < 2 || offset < 0 || end > buf.length) return false;
  const h = buf[offset];
  out.z = (h & 0x80) !== 0;
  out.y = (h & 0x40) !== 0;
  out.w = (h >> 4) & 0x03;
  out.n = (h & 0x08) !== 0;
  out.obuCount = 0;
  out.firstObuType = -1;
  out.firstObuOffset = -1;
  out.isKeyframe = false;
  const w = out.w;
  let p = offset + 1;
  while (p < end) {
    let size: number;
    if (w !== 0 && out.obuCount === w - 1) {
      size = end - p;
    } else {
      // LEB128, at most 8 bytes (AV1 spec 4.10.5), value kept below 2^53.
      size = 0;
      let shift = 1;
      let i = 0;
      for (;;) {
        if (p >= end || i === 8) return false;
        const b = buf[p++];
        size += (b & 0x7f) * shift;
        shift *= 128;
        i++;
        if ((b & 0x80) === 0) break;
      }
      if (p + size > end) return false;
    }
    if (out.obuCount === 0) {
      out.firstObuOffset = p;
      if (!out.z && size > 0) {
        const oh = buf[p];
        if ((oh & 0x80) !== 0) return false;
        out.firstObuType = (oh >> 3) & 0x0f;
      }
    }
    out.obuCount++;
    p += size;
    if (w !== 0 && out.obuCount === w) break;
  }
  if (w !== 0 && out.obuCount !== w) return false;
  if (p !== end) return false;
  out.isKeyframe = out.n || out.firstObuType === AV1_OBU_SEQUENCE_HEADER;
  return true;
}

/** Key frame test without a descriptor object. */
export function av1IsKeyframe(buf: Uint8Array, offset: number, length: number): boolean {
  return parseAv1(buf, offset, length, scratch) && scratch.isKeyframe;
}
const scratch = new Av1Descriptor();
