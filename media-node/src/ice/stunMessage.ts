// The few STUN facts the mux reads before it knows whose a datagram is (RFC 8489), as pure
// functions over the bytes: no message object per datagram.

const MAGIC_COOKIE = 0x2112a442;
const HEADER_BYTES = 20;
const BINDING_REQUEST = 0x0001;
const ATTR_USERNAME = 0x0006;

/** RFC 7983: the first byte says what a datagram on a WebRTC port is. */
export type DatagramClass = "stun" | "dtls" | "rtp" | "other";

export function classify(b0: number): DatagramClass {
  if (b0 < 4) return "stun";
  if (b0 >= 20 && b0 <= 63) return "dtls";
  if (b0 >= 128 && b0 <= 191) return "rtp";
  return "other";
}

/** A well-formed STUN Binding request header (type, length, cookie). */
export function isBindingRequest(data: Buffer): boolean {
  return (
    data.length >= HEADER_BYTES &&
    data.readUInt16BE(0) === BINDING_REQUEST &&
    data.readUInt32BE(4) === MAGIC_COOKIE &&
    data.readUInt16BE(2) + HEADER_BYTES === data.length
  );
}

/**
 * The local ufrag a Binding request names: the USERNAME attribute is "<our ufrag>:<theirs>"
 * (RFC 8445 section 7.2.2). Null when there is none or the attributes are malformed.
 */
export function requestedUfrag(data: Buffer): string | null {
  let off = HEADER_BYTES;
  while (off + 4 <= data.length) {
    const type = data.readUInt16BE(off);
    const len = data.readUInt16BE(off + 2);
    const end = off + 4 + len;
    if (end > data.length) return null;
    if (type === ATTR_USERNAME) {
      const colon = data.indexOf(0x3a, off + 4);
      return colon < 0 || colon >= end ? null : data.toString("utf8", off + 4, colon);
    }
    off = end + ((4 - (len % 4)) % 4);
  }
  return null;
}
