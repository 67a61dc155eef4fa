/** RTCP constants, shared types, NTP time and report-block loss arithmetic. */

export const RTCP_SR = 200;
export const RTCP_RR = 201;
export const RTCP_SDES = 202;
export const RTCP_BYE = 203;
export const RTCP_APP = 204;
/** Transport-layer feedback (RFC 4585): fmt 1 = Generic NACK, 15 = transport-cc. */
export const RTCP_RTPFB = 205;
/** Payload-specific feedback (RFC 4585): fmt 1 = PLI, 4 = FIR, 15 = AFB (REMB). */
export const RTCP_PSFB = 206;
/** RFC 3611 extended reports. */
export const RTCP_XR = 207;

export const RTPFB_NACK = 1;
export const PSFB_PLI = 1;
export const PSFB_SLI = 2;
export const PSFB_FIR = 4;
export const PSFB_AFB = 15;

/** One RTCP report block (RFC 3550 6.4.1). */
export type ReportBlock = {
  ssrc: number;
  /** Fraction lost since the previous report, 0..255 (fixed point /256). */
  fractionLost: number;
  /** Cumulative packets lost, signed 24-bit. */
  cumulativeLost: number;
  /** Extended highest sequence number received (cycles << 16 | seq). */
  highestSeq: number;
  jitter: number;
  /** Middle 32 bits of the last SR's NTP timestamp, 0 if none. */
  lsr: number;
  /** Delay since last SR in 1/65536 s. */
  dlsr: number;
};

export function createReportBlock(): ReportBlock {
  return { ssrc: 0, fractionLost: 0, cumulativeLost: 0, highestSeq: 0, jitter: 0, lsr: 0, dlsr: 0 };
}

/** Seconds between the NTP epoch (1900) and the Unix epoch (1970). */
export const NTP_UNIX_OFFSET_S = 2208988800;

/** 64-bit NTP timestamp (32.32 fixed point seconds since 1900) from Unix milliseconds. */
export function ntpFromMs(ms: number): bigint {
  const totalMs = ms + NTP_UNIX_OFFSET_S * 1000;
  const sec = Math.floor(totalMs / 1000);
  const remMs = totalMs - sec * 1000;
  const frac = Math.floor((remMs / 1000) * 0x100000000);
  return (BigInt(sec) << 32n) | BigInt(frac >>> 0);
}

/** Unix milliseconds from a 64-bit NTP timestamp. */
export function ntpToMs(ntp: bigint): number {
  const sec = Number(ntp >> 32n);
  const frac = Number(ntp & 0xffffffffn);
  return (sec - NTP_UNIX_OFFSET_S) * 1000 + (frac / 0x100000000) * 1000;
}

/** The middle 32 bits of an NTP timestamp (the LSR value of RFC 3550 6.4.1). */
export function ntpMiddle32(ntp: bigint): number {
  return Number((ntp >> 16n) & 0xffffffffn);
}

/** Middle 32 bits from separate NTP seconds and fraction words (no bigint). */
export function ntpMiddle32FromParts(ntpSec: number, ntpFrac: number): number {
  return (((ntpSec & 0xffff) << 16) | (ntpFrac >>> 16)) >>> 0;
}

/**
 * Fraction lost (RFC 3550 A.3): 8-bit fixed point of the packets lost in the interval
 * divided by the packets expected in the interval; 0 when none lost (or duplicates make
 * the received count exceed the expected count).
 */
export function fractionLost(expectedInterval: number, receivedInterval: number): number {
  const lost = expectedInterval - receivedInterval;
  if (expectedInterval <= 0 || lost <= 0) return 0;
  const f = Math.floor((lost * 256) / expectedInterval);
  return Math.min(f, 255);
}

/**
 * Cumulative number of packets lost (RFC 3550 A.3): expected - received, clamped to the
 * signed 24-bit range of the report block field (negative with duplicates).
 */
export function cumulativeLost(expected: number, received: number): number {
  const lost = expected - received;
  if (lost > 0x7fffff) return 0x7fffff;
  if (lost < -0x800000) return -0x800000;
  return lost;
}

/**
 * Expand one Generic NACK FCI (RFC 4585 6.2.1) into lost sequence numbers, written to
 * out[0..]; returns the count (1..17). `out` needs room for 17 entries.
 */
export function expandNack(pid: number, blp: number, out: Uint16Array | number[]): number {
  out[0] = pid & 0xffff;
  let n = 1;
  for (let i = 0; i < 16; i++) {
    if ((blp & (1 << i)) !== 0) out[n++] = (pid + i + 1) & 0xffff;
  }
  return n;
}
