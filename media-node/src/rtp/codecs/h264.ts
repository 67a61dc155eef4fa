/**
 * H.264 RTP payload (RFC 6184) inspection: single NAL unit packets (types 1-23), STAP-A
 * (24), STAP-B (25), FU-A (28) and FU-B (29). MTAP16/24 (26/27) are accepted but not
 * looked into.
 *
 * NAL unit header: |F|NRI|Type(5)|. FU header: |S|E|R|Type(5)|.
 */

export const H264_NAL_IDR = 5;
export const H264_NAL_SEI = 6;
export const H264_NAL_SPS = 7;
export const H264_NAL_PPS = 8;
export const H264_STAP_A = 24;
export const H264_STAP_B = 25;
export const H264_MTAP16 = 26;
export const H264_MTAP24 = 27;
export const H264_FU_A = 28;
export const H264_FU_B = 29;

/** What one H.264 RTP payload carries; construct once and reuse. */
export class H264Descriptor {
  /** Type of the RTP payload's NAL header (1-23 single, 24 STAP-A, 28 FU-A...). */
  packetType = 0;
  /**
   * Type of the (first) carried NAL unit: the unit itself for single NAL packets, the
   * first aggregated unit for STAP, the fragmented unit's type for FU.
   */
  nalType = 0;
  /** Number of NAL units aggregated (STAP) or 1. */
  nalCount = 0;
  /** FU: S bit (first fragment); true for non-fragmented packets. */
  startOfNal = false;
  /** FU: E bit (last fragment); true for non-fragmented packets. */
  endOfNal = false;
  hasIdr = false;
  hasSps = false;
  hasPps = false;
  /** IDR slice or SPS present (for FU, only on the start fragment). */
  isKeyframe = false;
}

function note(out: H264Descriptor, t: number): void {
  if (t === H264_NAL_IDR) out.hasIdr = true;
  else if (t === H264_NAL_SPS) out.hasSps = true;
  else if (t === H264_NAL_PPS) out.hasPps = true;
}

/**
 * Inspect the H.264 RTP payload at buf[offset..offset+length). Returns false if it is
 * empty, uses a reserved NAL type (0, 30, 31) or is truncated (an aggregation unit or a
 * FU header overrunning the payload, an empty aggregation unit).
 */
export function parseH264(
  buf: Uint8Array,
  offset: number,
  length: number,
  out: H264Descriptor,
): boolean {
  const end = offset + length;
  if (length < 1 || offset < 0 || end > buf.length) return false;
  const t = buf[offset] & 0x1f;
  out.packetType = t;
  out.nalType = 0;
  out.nalCount = 0;
  out.startOfNal = true;
  out.endOfNal = true;
  out.hasIdr = false;
  out.hasSps = false;
  out.hasPps = false;
  out.isKeyframe = false;
  if (t >= 1 && t <= 23) {
    out.nalType = t;
    out.nalCount = 1;
    note(out, t);
  } else if (t === H264_STAP_A || t === H264_STAP_B) {
    let p = offset + 1 + (t === H264_STAP_B ? 2 : 0);
    if (p + 2 > end) return false;
    while (p < end) {
      if (p + 2 > end) return false;
      const size = (buf[p] << 8) | buf[p + 1];
      p += 2;
      if (size === 0 || p + size > end) return false;
      const nt = buf[p] & 0x1f;
      if (out.nalCount === 0) out.nalType = nt;
      out.nalCount++;
      note(out, nt);
      p += size;
    }
  } else if (t === H264_FU_A || t === H264_FU_B) {
    const hdrLen = t === H264_FU_B ? 4 : 2;
    if (length < hdrLen + 1) return false;
    const fu = buf[offset + 1];
    const s = (fu & 0x80) !== 0;
    const e = (fu & 0x40) !== 0;
    if (s && e) return false; // RFC 6184 5.8: S and E MUST NOT both be set
    out.startOfNal = s;
    out.endOfNal = e;
    out.nalType = fu & 0x1f;
    out.nalCount = 1;
    if (s) note(out, out.nalType);
  } else if (t === H264_MTAP16 || t === H264_MTAP24) {
    out.nalCount = 0;
  } else {
    return false;
  }
  out.isKeyframe = out.hasIdr || out.hasSps;
  return true;
}

/** Key frame test without a descriptor object. */
export function h264IsKeyframe(buf: Uint8Array, offset: number, length: number): boolean {
  return parseH264(buf, offset, length, scratch) && scratch.isKeyframe;
}
const scratch = new H264Descriptor();
