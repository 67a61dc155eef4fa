/**
 * Compound RTCP parsing (RFC 3550, RFC 4585, RFC 5104, draft-alvestrand-rmcat-remb).
 *
 * A compound packet is validated as a whole first; only if every sub-packet is well formed
 * are the visitor's methods called (so a malformed compound has no partial effects). The
 * objects passed to the visitor (sender info, report block, REMB) are scratch objects owned
 * by the parser and overwritten by the next call: copy the fields you need.
 * Nothing throws on garbage; nothing is allocated per call.
 */
import {
  createReportBlock,
  PSFB_AFB,
  PSFB_FIR,
  PSFB_PLI,
  type ReportBlock,
  RTCP_BYE,
  RTCP_PSFB,
  RTCP_RR,
  RTCP_RTPFB,
  RTCP_SR,
  RTPFB_NACK,
} from "./common.ts";

/** SR sender info (RFC 3550 6.4.1). */
export class RtcpSenderInfo {
  ssrc = 0;
  /** NTP timestamp, most significant word (seconds since 1900). */
  ntpSec = 0;
  /** NTP timestamp, least significant word (fraction of a second / 2^32). */
  ntpFrac = 0;
  rtpTimestamp = 0;
  packetCount = 0;
  octetCount = 0;
}

/** A REMB message (draft-alvestrand-rmcat-remb-03). `ssrcs[0..ssrcCount)` are valid. */
export class RtcpRemb {
  senderSsrc = 0;
  mediaSsrc = 0;
  /** Bitrate in bits per second (mantissa * 2^exponent). */
  bitrate = 0;
  ssrcCount = 0;
  readonly ssrcs = new Uint32Array(255);
}

/**
 * Callbacks for {@link parseRtcp}. All optional. Implement as a long-lived object (a class
 * instance), not a fresh object literal per packet.
 */
export interface RtcpVisitor {
  /** SR sender info; its report blocks follow as reportBlock calls. */
  senderReport?(info: RtcpSenderInfo): void;
  /** An RR header (its report blocks follow as reportBlock calls). */
  receiverReport?(senderSsrc: number, blockCount: number): void;
  /** One report block of an SR or RR; `block` is reused. */
  reportBlock?(senderSsrc: number, block: ReportBlock): void;
  /** Picture Loss Indication (PSFB fmt 1). */
  pli?(senderSsrc: number, mediaSsrc: number): void;
  /** One FIR FCI entry (PSFB fmt 4): mediaSsrc is the FCI's SSRC, seqNr its 8-bit seq. */
  fir?(senderSsrc: number, mediaSsrc: number, seqNr: number): void;
  /** One lost sequence number from a Generic NACK (RTPFB fmt 1), PID+BLP expanded. */
  nack?(senderSsrc: number, mediaSsrc: number, lostSeq: number): void;
  /** A REMB message (PSFB fmt 15 with 'REMB'); `remb` is reused. */
  remb?(remb: RtcpRemb): void;
  /** One SSRC leaving (BYE). */
  bye?(ssrc: number): void;
  /**
   * Any other packet (SDES, APP, XR, transport-cc, SLI, non-REMB AFB...): `offset` is the
   * packet's first byte, `length` its size without padding.
   */
  other?(packetType: number, fmt: number, buf: Uint8Array, offset: number, length: number): void;
}

function u32(b: Uint8Array, o: number): number {
  return ((b[o] << 24) | (b[o + 1] << 16) | (b[o + 2] << 8) | b[o + 3]) >>> 0;
}

const REMB_ID = 0x52454d42; // 'REMB'

function isRemb(buf: Uint8Array, off: number, size: number): boolean {
  return size >= 20 && u32(buf, off + 12) === REMB_ID;
}

/**
 * Validate a compound RTCP packet buf[0..len). Returns the number of RTCP packets in it,
 * or -1 if it is empty, not version 2, has a sub-packet overrunning the buffer, a bad
 * padding count, or a known packet type too short for its declared contents.
 */
export function validateRtcp(buf: Uint8Array, len: number): number {
  if (len < 4 || len > buf.length) return -1;
  let off = 0;
  let count = 0;
  while (off < len) {
    if (off + 4 > len) return -1;
    const b0 = buf[off];
    if (b0 >> 6 !== 2) return -1;
    const total = (((buf[off + 2] << 8) | buf[off + 3]) + 1) * 4;
    if (off + total > len) return -1;
    let size = total;
    if ((b0 & 0x20) !== 0) {
      const pad = buf[off + total - 1];
      if (pad === 0 || pad > total - 4) return -1;
      size = total - pad;
    }
    const rc = b0 & 0x1f;
    const pt = buf[off + 1];
    switch (pt) {
      case RTCP_SR:
        if (size < 28 + rc * 24) return -1;
        break;
      case RTCP_RR:
        if (size < 8 + rc * 24) return -1;
        break;
      case RTCP_BYE:
        if (size < 4 + rc * 4) return -1;
        break;
      case RTCP_RTPFB:
        if (size < 12) return -1;
        break;
      case RTCP_PSFB:
        if (size < 12) return -1;
        if (rc === PSFB_FIR && (size - 12) % 8 !== 0) return -1;
        if (rc === PSFB_AFB && isRemb(buf, off, size)) {
          if (size < 20 + buf[off + 16] * 4) return -1;
        }
        break;
      default:
        break;
    }
    off += total;
    count++;
  }
  return count;
}

/** Holds the scratch objects handed to visitors. One per thread of control. */
export class RtcpParser {
  readonly senderInfo = new RtcpSenderInfo();
  readonly block: ReportBlock = createReportBlock();
  readonly rembInfo = new RtcpRemb();

  /**
   * Validate then visit a compound RTCP packet. Returns the number of RTCP packets
   * visited, or -1 (and no visitor call) if the compound is malformed.
   */
  parse(buf: Uint8Array, len: number, v: RtcpVisitor): number {
    const count = validateRtcp(buf, len);
    if (count < 0) return -1;
    let off = 0;
    while (off < len) {
      const b0 = buf[off];
      const total = (((buf[off + 2] << 8) | buf[off + 3]) + 1) * 4;
      const size = (b0 & 0x20) !== 0 ? total - buf[off + total - 1] : total;
      const rc = b0 & 0x1f;
      const pt = buf[off + 1];
      switch (pt) {
        case RTCP_SR: {
          const si = this.senderInfo;
          si.ssrc = u32(buf, off + 4);
          si.ntpSec = u32(buf, off + 8);
          si.ntpFrac = u32(buf, off + 12);
          si.rtpTimestamp = u32(buf, off + 16);
          si.packetCount = u32(buf, off + 20);
          si.octetCount = u32(buf, off + 24);
          v.senderReport?.(si);
          if (v.reportBlock !== undefined) this.blocks(buf, off + 28, rc, si.ssrc, v);
          break;
        }
        case RTCP_RR: {
          const sender = u32(buf, off + 4);
          v.receiverReport?.(sender, rc);
          if (v.reportBlock !== undefined) this.blocks(buf, off + 8, rc, sender, v);
          break;
        }
        case RTCP_BYE:
          if (v.bye !== undefined) {
            for (let i = 0; i < rc; i++) v.bye(u32(buf, off + 4 + i * 4));
          }
          break;
        case RTCP_RTPFB:
          if (rc === RTPFB_NACK) {
            if (v.nack !== undefined) {
              const sender = u32(buf, off + 4);
              const media = u32(buf, off + 8);
              for (let f = off + 12; f + 4 <= off + size; f += 4) {
                const pid = (buf[f] << 8) | buf[f + 1];
                const blp = (buf[f + 2] << 8) | buf[f + 3];
                v.nack(sender, media, pid);
                for (let i = 0; i < 16; i++) {
                  if ((blp & (1 << i)) !== 0) v.nack(sender, media, (pid + i + 1) & 0xffff);
                }
              }
            }
          } else {
            v.other?.(pt, rc, buf, off, size);
          }
          break;
        case RTCP_PSFB:
          if (rc === PSFB_PLI) {
            v.pli?.(u32(buf, off + 4), u32(buf, off + 8));
          } else if (rc === PSFB_FIR) {
            if (v.fir !== undefined) {
              const sender = u32(buf, off + 4);
              for (let f = off + 12; f + 8 <= off + size; f += 8) {
                v.fir(sender, u32(buf, f), buf[f + 4]);
              }
            }
          } else if (rc === PSFB_AFB && isRemb(buf, off, size)) {
            if (v.remb !== undefined) {
              const r = this.rembInfo;
              r.senderSsrc = u32(buf, off + 4);
              r.mediaSsrc = u32(buf, off + 8);
              const n = buf[off + 16];
              const exp = buf[off + 17] >> 2;
              const mantissa =
                ((buf[off + 17] & 0x03) << 16) | (buf[off + 18] << 8) | buf[off + 19];
              r.bitrate = mantissa * 2 ** exp;
              r.ssrcCount = n;
              for (let i = 0; i < n; i++) r.ssrcs[i] = u32(buf, off + 20 + i * 4);
              v.remb(r);
            }
          } else {
            v.other?.(pt, rc, buf, off, size);
          }
          break;
        default:
          v.other?.(pt, rc, buf, off, size);
          break;
      }
      off += total;
    }
    return count;
  }

  private blocks(buf: Uint8Array, at: number, n: number, sender: number, v: RtcpVisitor): void {
    const b = this.block;
    for (let i = 0; i < n; i++) {
      const o = at + i * 24;
      b.ssrc = u32(buf, o);
      b.fractionLost = buf[o + 4];
      b.cumulativeLost = ((buf[o + 5] << 24) | (buf[o + 6] << 16) | (buf[o + 7] << 8)) >> 8;
      b.highestSeq = u32(buf, o + 8);
      b.jitter = u32(buf, o + 12);
      b.lsr = u32(buf, o + 16);
      b.dlsr = u32(buf, o + 20);
      v.reportBlock?.(sender, b);
    }
  }
}

const defaultParser = new RtcpParser();

/**
 * Validate then visit a compound RTCP packet with a module-level parser (not re-entrant:
 * do not call it from inside a visitor; use your own RtcpParser for that).
 * Returns the number of RTCP packets visited, or -1 if malformed (nothing visited).
 */
export function parseRtcp(buf: Uint8Array, len: number, visitor: RtcpVisitor): number {
  return defaultParser.parse(buf, len, visitor);
}

/** Sender SSRC of the first packet of a compound (bytes 4..7), or -1 if too short. */
export function rtcpFirstSenderSsrc(buf: Uint8Array, len: number): number {
  if (len < 8 || len > buf.length) return -1;
  return u32(buf, 4);
}
