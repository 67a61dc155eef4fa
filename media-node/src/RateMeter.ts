/** Bitrate over the last completed one-second window; O(1) per packet, no allocation. */
export class RateMeter {
  #windowStart = 0;
  #windowBytes = 0;
  #bps = 0;

  add(bytes: number, nowMs: number): void {
    if (nowMs - this.#windowStart >= 1000) this.#roll(nowMs);
    this.#windowBytes += bytes;
  }

  bitrate(nowMs: number): number {
    if (nowMs - this.#windowStart >= 2000) return 0;
    if (nowMs - this.#windowStart >= 1000) this.#roll(nowMs);
    return this.#bps;
  }

  #roll(nowMs: number): void {
    const elapsed = nowMs - this.#windowStart;
    this.#bps = elapsed < 2000 ? (this.#windowBytes * 8 * 1000) / elapsed : 0;
    this.#windowStart = nowMs;
    this.#windowBytes = 0;
  }
}
