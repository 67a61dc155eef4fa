/**
 * RFC 6464 client-to-mixer audio level, read on the forwarding path: one byte in an RFC 8285
 * header extension, `V` (voice activity, the top bit) and the level in -dBov (0 = loudest the
 * format can say, 127 = silence or "no level", the low 7 bits). No allocation, never throws.
 */
import { extDataLength, extDataOffset, findHeaderExtension, type RtpView } from "./rtpPacket.ts";

/** The level byte's value for silence (-127 dBov), also what a muted sender writes. */
export const AUDIO_LEVEL_SILENT = 127;

/**
 * The audio level element `extId` of a parsed packet: `(V << 7) | level`, 0..255, or -1 when
 * the packet has no such element (or its data is empty). `level` (low 7 bits) is -dBov; `V`
 * (bit 7) is the sender's voice activity flag, when it sets one. Works on the one-byte and
 * two-byte header forms (the two-byte form may pad the element: only the first byte counts).
 */
export function readAudioLevel(buf: Uint8Array, view: RtpView, extId: number): number {
  if (extId <= 0) return -1;
  const packed = findHeaderExtension(buf, view, extId);
  if (packed < 0 || extDataLength(packed) < 1) return -1;
  return buf[extDataOffset(packed)];
}

/** The level (0..127, -dBov) of a {@link readAudioLevel} result >= 0. */
export function audioLevelDbov(value: number): number {
  return value & 0x7f;
}

/** The voice activity flag of a {@link readAudioLevel} result >= 0. */
export function voiceActivity(value: number): boolean {
  return (value & 0x80) !== 0;
}

/**
 * Linear amplitude (0..1) of each level: 10^(-level/20). A table, so the per-packet work is
 * one lookup; level 127 (silence) maps to about 4.5e-7.
 */
export const LEVEL_AMPLITUDE: Float64Array = (() => {
  const t = new Float64Array(128);
  for (let l = 0; l < 128; l++) t[l] = 10 ** (-l / 20);
  return t;
})();
