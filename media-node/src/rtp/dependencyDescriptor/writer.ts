/** In-place rewrites of a dependency descriptor (for forwarding to a subscriber). */
import type { DependencyDescriptor } from "./types.ts";

/**
 * Rewrite active_decode_targets_bitmask of the descriptor at buf[offset..), which `desc` was
 * parsed from, to `mask` (bit i: decode target i; bits at or above decodeTargetCount are
 * ignored). Returns false, changing nothing, when the packet carries no bitmask or the
 * buffer is too short. Does not change the reader's state.
 */
export function writeActiveDecodeTargets(
  buf: Uint8Array,
  offset: number,
  desc: DependencyDescriptor,
  mask: number,
): boolean {
  const bitOffset = desc.activeDecodeTargetsBitOffset;
  const n = desc.decodeTargetCount;
  if (bitOffset < 0 || n <= 0 || offset < 0) return false;
  const start = offset * 8 + bitOffset;
  if ((start + n + 7) >>> 3 > buf.length) return false;
  for (let i = 0; i < n; i++) {
    // f(DtCnt) is written most significant bit first: decode target DtCnt-1 comes first.
    const bit = Math.floor(mask / 2 ** (n - 1 - i)) & 1;
    const p = start + i;
    const byte = p >>> 3;
    const shift = 7 - (p & 7);
    buf[byte] = (buf[byte] & ~(1 << shift)) | (bit << shift);
  }
  return true;
}
