/**
 * RTCP packet builders. RTCP is low-rate, so these allocate and return Buffers. Invalid
 * arguments throw {@link RtcpBuildError}.
 */
import {
  PSFB_AFB,
  PSFB_FIR,
  PSFB_PLI,
  type ReportBlock,
  RTCP_BYE,
  RTCP_PSFB,
  RTCP_RR,
  RTCP_RTPFB,
  RTCP_SDES,
  RTCP_SR,
  RTPFB_NACK,
} from "./common.ts";

export class RtcpBuildError extends Error {
  override name = "RtcpBuildError";
}

function checkU32(name: string, v: number): void {
  if (!Number.isInteger(v) || v < 0 || v > 0xffffffff) {
    throw new RtcpBuildError(`${name} must be an unsigned 32-bit integer, got ${v}`);
  }
}

function header(buf: Buffer, countOrFmt: number, pt: number): void {
  buf[0] = 0x80 | countOrFmt;
  buf[1] = pt;
  buf.writeUInt16BE(buf.length / 4 - 1, 2);
}

function checkReports(reports: readonly ReportBlock[]): void {
  if (reports.length > 31) {
    throw new RtcpBuildError(`at most 31 report blocks per packet, got ${reports.length}`);
  }
}

function writeBlock(buf: Buffer, o: number, r: ReportBlock): void {
  checkU32("report ssrc", r.ssrc);
  if (!Number.isInteger(r.fractionLost) || r.fractionLost < 0 || r.fractionLost > 255) {
    throw new RtcpBuildError(`fractionLost must be 0..255, got ${r.fractionLost}`);
  }
  if (
    !Number.isInteger(r.cumulativeLost) ||
    r.cumulativeLost < -0x800000 ||
    r.cumulativeLost > 0x7fffff
  ) {
    throw new RtcpBuildError(`cumulativeLost must be signed 24-bit, got ${r.cumulativeLost}`);
  }
  checkU32("highestSeq", r.highestSeq);
  checkU32("jitter", r.jitter);
  checkU32("lsr", r.lsr);
  checkU32("dlsr", r.dlsr);
  buf.writeUInt32BE(r.ssrc, o);
  buf[o + 4] = r.fractionLost;
  const cl = r.cumulativeLost & 0xffffff;
  buf[o + 5] = cl >> 16;
  buf[o + 6] = (cl >> 8) & 0xff;
  buf[o + 7] = cl & 0xff;
  buf.writeUInt32BE(r.highestSeq, o + 8);
  buf.writeUInt32BE(r.jitter, o + 12);
  buf.writeUInt32BE(r.lsr, o + 16);
  buf.writeUInt32BE(r.dlsr, o + 20);
}

/** Sender Report (RFC 3550 6.4.1). `ntp` is the 64-bit NTP timestamp (see ntpFromMs). */
export function buildSr(
  ssrc: number,
  ntp: bigint,
  rtpTimestamp: number,
  packetCount: number,
  octetCount: number,
  reports: readonly ReportBlock[] = [],
): Buffer {
  checkU32("ssrc", ssrc);
  if (ntp < 0n || ntp > 0xffffffffffffffffn) {
    throw new RtcpBuildError("ntp must be an unsigned 64-bit value");
  }
  checkU32("rtpTimestamp", rtpTimestamp);
  checkU32("packetCount", packetCount);
  checkU32("octetCount", octetCount);
  checkReports(reports);
  const buf = Buffer.alloc(28 + reports.length * 24);
  header(buf, reports.length, RTCP_SR);
  buf.writeUInt32BE(ssrc, 4);
  buf.writeBigUInt64BE(ntp, 8);
  buf.writeUInt32BE(rtpTimestamp, 16);
  buf.writeUInt32BE(packetCount, 20);
  buf.writeUInt32BE(octetCount, 24);
  for (let i = 0; i < reports.length; i++) writeBlock(buf, 28 + i * 24, reports[i]);
  return buf;
}

/** Receiver Report (RFC 3550 6.4.2). */
export function buildRr(ssrc: number, reports: readonly ReportBlock[] = []): Buffer {
  checkU32("ssrc", ssrc);
  checkReports(reports);
  const buf = Buffer.alloc(8 + reports.length * 24);
  header(buf, reports.length, RTCP_RR);
  buf.writeUInt32BE(ssrc, 4);
  for (let i = 0; i < reports.length; i++) writeBlock(buf, 8 + i * 24, reports[i]);
  return buf;
}

function feedback(pt: number, fmt: number, senderSsrc: number, mediaSsrc: number, fci: number) {
  checkU32("senderSsrc", senderSsrc);
  checkU32("mediaSsrc", mediaSsrc);
  const buf = Buffer.alloc(12 + fci);
  header(buf, fmt, pt);
  buf.writeUInt32BE(senderSsrc, 4);
  buf.writeUInt32BE(mediaSsrc, 8);
  return buf;
}

/** Picture Loss Indication (RFC 4585 6.3.1). */
export function buildPli(senderSsrc: number, mediaSsrc: number): Buffer {
  return feedback(RTCP_PSFB, PSFB_PLI, senderSsrc, mediaSsrc, 0);
}

/**
 * Full Intra Request (RFC 5104 4.3.1) with one FCI entry. The common header's media source
 * SSRC is 0 (RFC 5104: "SHALL be set to 0"); the target goes in the FCI. `seq` is the
 * 8-bit command sequence number (incremented per new request, kept for repeats).
 */
export function buildFir(senderSsrc: number, mediaSsrc: number, seq: number): Buffer {
  checkU32("mediaSsrc", mediaSsrc);
  if (!Number.isInteger(seq) || seq < 0 || seq > 255) {
    throw new RtcpBuildError(`FIR seq must be 0..255, got ${seq}`);
  }
  const buf = feedback(RTCP_PSFB, PSFB_FIR, senderSsrc, 0, 8);
  buf.writeUInt32BE(mediaSsrc, 12);
  buf[16] = seq;
  return buf;
}

/**
 * Generic NACK (RFC 4585 6.2.1). Packs the lost sequence numbers into PID+BLP pairs.
 * Order is taken relative to the first entry modulo 2^16, so a list that wraps
 * (65534, 65535, 0, 1) packs into one pair; duplicates are ignored.
 */
export function buildNack(senderSsrc: number, mediaSsrc: number, lostSeqs: readonly number[]) {
  if (lostSeqs.length === 0) throw new RtcpBuildError("NACK needs at least one sequence number");
  for (const s of lostSeqs) {
    if (!Number.isInteger(s) || s < 0 || s > 0xffff) {
      throw new RtcpBuildError(`sequence numbers must be 0..65535, got ${s}`);
    }
  }
  const ref = lostSeqs[0];
  const rel = lostSeqs.map((s) => (s - ref) & 0xffff).sort((a, b) => a - b);
  const pairs: number[] = [];
  let pid = -1;
  let blp = 0;
  for (const r of rel) {
    if (pid >= 0 && r === pid) continue;
    if (pid >= 0 && r - pid <= 16) {
      blp |= 1 << (r - pid - 1);
      continue;
    }
    if (pid >= 0) pairs.push((pid + ref) & 0xffff, blp);
    pid = r;
    blp = 0;
  }
  pairs.push((pid + ref) & 0xffff, blp);
  const buf = feedback(RTCP_RTPFB, RTPFB_NACK, senderSsrc, mediaSsrc, pairs.length * 2);
  for (let i = 0; i < pairs.length; i += 2) {
    buf.writeUInt16BE(pairs[i], 12 + i * 2);
    buf.writeUInt16BE(pairs[i + 1], 14 + i * 2);
  }
  return buf;
}

/**
 * REMB (draft-alvestrand-rmcat-remb-03): bitrate as 6-bit exponent and 18-bit mantissa
 * (rounded down to what the encoding can represent), media source SSRC 0.
 */
export function buildRemb(senderSsrc: number, bitrateBps: number, ssrcs: readonly number[]) {
  if (!Number.isFinite(bitrateBps) || bitrateBps < 0) {
    throw new RtcpBuildError(`bitrate must be a finite non-negative number, got ${bitrateBps}`);
  }
  if (ssrcs.length > 255) throw new RtcpBuildError("REMB carries at most 255 SSRCs");
  let exp = 0;
  let mantissa = Math.floor(bitrateBps);
  while (mantissa >= 0x40000) {
    exp++;
    mantissa = Math.floor(bitrateBps / 2 ** exp);
  }
  if (exp > 63) throw new RtcpBuildError(`bitrate ${bitrateBps} too large for REMB`);
  const buf = feedback(RTCP_PSFB, PSFB_AFB, senderSsrc, 0, 8 + ssrcs.length * 4);
  buf.write("REMB", 12, "latin1");
  buf[16] = ssrcs.length;
  buf[17] = (exp << 2) | (mantissa >> 16);
  buf[18] = (mantissa >> 8) & 0xff;
  buf[19] = mantissa & 0xff;
  for (let i = 0; i < ssrcs.length; i++) {
    checkU32("ssrc", ssrcs[i]);
    buf.writeUInt32BE(ssrcs[i], 20 + i * 4);
  }
  return buf;
}

/** Goodbye (RFC 3550 6.6), optional reason (UTF-8, at most 255 bytes). */
export function buildBye(ssrcs: readonly number[], reason?: string): Buffer {
  if (ssrcs.length > 31) throw new RtcpBuildError("BYE carries at most 31 SSRCs");
  const r = reason === undefined ? undefined : Buffer.from(reason, "utf8");
  if (r !== undefined && r.length > 255) throw new RtcpBuildError("BYE reason over 255 bytes");
  const body = 4 + ssrcs.length * 4 + (r === undefined ? 0 : 1 + r.length);
  const buf = Buffer.alloc((body + 3) & ~3);
  header(buf, ssrcs.length, RTCP_BYE);
  for (let i = 0; i < ssrcs.length; i++) {
    checkU32("ssrc", ssrcs[i]);
    buf.writeUInt32BE(ssrcs[i], 4 + i * 4);
  }
  if (r !== undefined) {
    const o = 4 + ssrcs.length * 4;
    buf[o] = r.length;
    r.copy(buf, o + 1);
  }
  return buf;
}

/** SDES with one chunk carrying a CNAME item (RFC 3550 6.5), for compound SR/RR packets. */
export function buildSdesCname(ssrc: number, cname: string): Buffer {
  checkU32("ssrc", ssrc);
  const text = Buffer.from(cname, "utf8");
  if (text.length > 255) throw new RtcpBuildError("CNAME over 255 bytes");
  // chunk: SSRC, item (type 1, length, text), at least one null octet, pad to 32 bits.
  const chunk = (4 + 2 + text.length + 1 + 3) & ~3;
  const buf = Buffer.alloc(4 + chunk);
  header(buf, 1, RTCP_SDES);
  buf.writeUInt32BE(ssrc, 4);
  buf[8] = 1;
  buf[9] = text.length;
  text.copy(buf, 10);
  return buf;
}

/** Concatenate RTCP packets into one compound packet. */
export function buildCompound(packets: readonly Uint8Array[]): Buffer {
  return Buffer.concat(packets);
}
