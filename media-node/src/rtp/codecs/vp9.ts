/**
 * VP9 RTP payload descriptor (RFC 9628 4.2) reader.
 *
 *        0 1 2 3 4 5 6 7
 *       +-+-+-+-+-+-+-+-+
 *       |I|P|L|F|B|E|V|Z|
 *  I:   |M| PICTURE ID  |  (+1 byte if M=1)
 *  L:   | TID |U| SID |D|
 *       |   TL0PICIDX   |  (only if F=0)
 *  P,F: | P_DIFF      |N|  (up to 3, while N=1)
 *  V:   scalability structure (SS):
 *       | N_S |Y|G|-|-|-|
 *  Y:   WIDTH (16) HEIGHT (16), N_S+1 times
 *  G:   N_G, then per picture |TID|U| R |-|-| and R P_DIFF bytes
 */

/** Parsed VP9 payload descriptor; construct once and reuse. Absent fields are -1. */
export class Vp9Descriptor {
  /** I: picture id present. */
  hasPictureId = false;
  /** P: inter-picture predicted. */
  interPicturePredicted = false;
  /** L: layer indices present. */
  hasLayerIndices = false;
  /** F: flexible mode. */
  flexibleMode = false;
  /** B: start of a frame. */
  startOfFrame = false;
  /** E: end of a frame. */
  endOfFrame = false;
  /** V: scalability structure present. */
  hasScalabilityStructure = false;
  /** Z: not used as reference by upper spatial layers. */
  notRefForUpperSpatial = false;
  pictureId = -1;
  pictureIdLong = false;
  pictureIdOffset = -1;
  /** TID, 0 when L=0. */
  tid = 0;
  /** U: switching up point. */
  switchingUp = false;
  /** SID, 0 when L=0. */
  sid = 0;
  /** D: inter-layer dependency. */
  interLayerDependency = false;
  /** TL0PICIDX (non-flexible mode with L=1), -1 if absent. */
  tl0PicIdx = -1;
  tl0PicIdxOffset = -1;
  /** P_DIFF values (flexible mode), pDiff[0..pDiffCount). */
  pDiffCount = 0;
  readonly pDiff = new Uint8Array(3);
  /** SS: number of spatial layers (N_S + 1), 0 if no SS. */
  ssSpatialLayers = 0;
  /** SS: resolutions present (Y); widths/heights[0..ssSpatialLayers). */
  ssHasResolution = false;
  readonly ssWidths = new Uint16Array(8);
  readonly ssHeights = new Uint16Array(8);
  /** SS: number of pictures in the picture group (N_G), 0 if G=0. */
  ssPictureGroupSize = 0;
  /** Bytes of the payload descriptor; the VP9 payload starts at offset + headerLength. */
  headerLength = 0;
  /** Start of an intra frame on the base spatial layer: P=0, B=1, SID=0. */
  isKeyframe = false;
}

/**
 * Read the VP9 payload descriptor at buf[offset..offset+length). Returns false if it is
 * truncated (the descriptor must be followed by at least one payload byte) or
 * inconsistent (more than 3 P_DIFFs).
 */
export function parseVp9(
  buf: Uint8Array,
  offset: number,
  length: number,
  out: Vp9Descriptor,
): boolean {
  const end = offset + length;
  if (length < 1 || offset < 0 || end > buf.length) return false;
  const b0 = buf[offset];
  let p = offset + 1;
  out.hasPictureId = (b0 & 0x80) !== 0;
  out.interPicturePredicted = (b0 & 0x40) !== 0;
  out.hasLayerIndices = (b0 & 0x20) !== 0;
  out.flexibleMode = (b0 & 0x10) !== 0;
  out.startOfFrame = (b0 & 0x08) !== 0;
  out.endOfFrame = (b0 & 0x04) !== 0;
  out.hasScalabilityStructure = (b0 & 0x02) !== 0;
  out.notRefForUpperSpatial = (b0 & 0x01) !== 0;
  out.pictureId = -1;
  out.pictureIdLong = false;
  out.pictureIdOffset = -1;
  out.tid = 0;
  out.switchingUp = false;
  out.sid = 0;
  out.interLayerDependency = false;
  out.tl0PicIdx = -1;
  out.tl0PicIdxOffset = -1;
  out.pDiffCount = 0;
  out.ssSpatialLayers = 0;
  out.ssHasResolution = false;
  out.ssPictureGroupSize = 0;
  out.isKeyframe = false;

  if (out.hasPictureId) {
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
  if (out.hasLayerIndices) {
    if (p >= end) return false;
    const l = buf[p++];
    out.tid = l >> 5;
    out.switchingUp = (l & 0x10) !== 0;
    out.sid = (l >> 1) & 0x07;
    out.interLayerDependency = (l & 0x01) !== 0;
    if (!out.flexibleMode) {
      if (p >= end) return false;
      out.tl0PicIdxOffset = p;
      out.tl0PicIdx = buf[p++];
    }
  }
  if (out.flexibleMode && out.interPicturePredicted) {
    for (;;) {
      if (p >= end || out.pDiffCount >= 3) return false;
      const d = buf[p++];
      out.pDiff[out.pDiffCount++] = d >> 1;
      if ((d & 0x01) === 0) break;
    }
  }
  if (out.hasScalabilityStructure) {
    if (p >= end) return false;
    const ss = buf[p++];
    const ns = (ss >> 5) + 1;
    out.ssSpatialLayers = ns;
    out.ssHasResolution = (ss & 0x10) !== 0;
    if (out.ssHasResolution) {
      if (p + ns * 4 > end) return false;
      for (let i = 0; i < ns; i++) {
        out.ssWidths[i] = (buf[p] << 8) | buf[p + 1];
        out.ssHeights[i] = (buf[p + 2] << 8) | buf[p + 3];
        p += 4;
      }
    }
    if ((ss & 0x08) !== 0) {
      if (p >= end) return false;
      const ng = buf[p++];
      out.ssPictureGroupSize = ng;
      for (let i = 0; i < ng; i++) {
        if (p >= end) return false;
        const r = (buf[p++] >> 2) & 0x03;
        p += r;
      }
    }
  }
  if (p >= end) return false;
  out.headerLength = p - offset;
  out.isKeyframe = !out.interPicturePredicted && out.startOfFrame && out.sid === 0;
  return true;
}

/** Key frame test without a descriptor object. */
export function vp9IsKeyframe(buf: Uint8Array, offset: number, length: number): boolean {
  return parseVp9(buf, offset, length, scratch) && scratch.isKeyframe;
}
const scratch = new Vp9Descriptor();

/**
 * The spatial layer id of a packet that ends its layer frame (E=1), read from the descriptor's
 * first bytes at buf[offset..offset+length); -1 when E=0 or the bytes are too short. SID is 0
 * without layer indices.
 */
export function vp9EndOfFrameSid(buf: Uint8Array, offset: number, length: number): number {
  const end = offset + length;
  if (length < 1 || offset < 0 || end > buf.length) return -1;
  const b0 = buf[offset];
  if ((b0 & 0x04) === 0) return -1;
  if ((b0 & 0x20) === 0) return 0;
  let p = offset + 1;
  if ((b0 & 0x80) !== 0) p += p < end && (buf[p] & 0x80) !== 0 ? 2 : 1;
  return p < end ? (buf[p] >> 1) & 0x07 : -1;
}
