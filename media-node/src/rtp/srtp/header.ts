/**
 * Length of the RTP header (fixed header + CSRCs + header extension) of the packet in buf[0..len),
 * or -1 when the packet is too short or not RTP version 2. Works on SRTP packets too (the header is
 * never encrypted); the caller still has to leave room for the auth tag after it.
 */
export function rtpHeaderLength(buf: Uint8Array, len: number): number {
  if (!(len >= 12 && len <= buf.length)) return -1;
  const b0 = buf[0];
  if (b0 >>> 6 !== 2) return -1;
  let h = 12 + ((b0 & 0x0f) << 2);
  if (b0 & 0x10) {
    if (h + 4 > len) return -1;
    h += 4 + (((buf[h + 2] << 8) | buf[h + 3]) << 2);
  }
  return h <= len ? h : -1;
}
