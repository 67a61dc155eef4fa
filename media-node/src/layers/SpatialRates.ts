/** Spatial layers an SVC stream can signal (VP9 SID has 3 bits; the DD allows 4). */
export const MAX_SVC_SPATIAL = 8;
const WINDOW_MS = 1000;

/**
 * Bitrate of each spatial layer of one SVC stream, for the layer selector. add() is the hot
 * path (no clock, no allocation); windows roll when read at the layer tick, so a stream read
 * more often than every WINDOW_MS costs nothing extra.
 */
export class SpatialRates {
  readonly #bytes = new Float64Array(MAX_SVC_SPATIAL);
  readonly #bps = new Float64Array(MAX_SVC_SPATIAL);
  /** cumulative[n]: views of length n (created once) handed to the selector. */
  readonly #cumulative = new Float64Array(MAX_SVC_SPATIAL);
  readonly #views: Float64Array[] = [];
  #windowStart = -1;

  constructor() {
    for (let n = 0; n <= MAX_SVC_SPATIAL; n++) this.#views.push(this.#cumulative.subarray(0, n));
  }

  add(spatial: number, bytes: number): void {
    if (spatial >= 0 && spatial < MAX_SVC_SPATIAL) this.#bytes[spatial] += bytes;
  }

  /**
   * What forwarding up to each spatial layer costs, bits/s: element s is the sum of layers
   * 0..s, 0 where layer s itself is not being sent; one element per layer up to the highest
   * sent. Valid until the next call (shared).
   */
  bitrates(nowMs: number): Float64Array {
    if (this.#windowStart < 0) this.#windowStart = nowMs;
    const elapsed = nowMs - this.#windowStart;
    if (elapsed >= WINDOW_MS) {
      for (let s = 0; s < MAX_SVC_SPATIAL; s++) {
        // A window far longer than the tick means nobody read the stream: it is not sending.
        this.#bps[s] = elapsed < 2 * WINDOW_MS ? (this.#bytes[s] * 8000) / elapsed : 0;
        this.#bytes[s] = 0;
      }
      this.#windowStart = nowMs;
    }
    let sum = 0;
    let count = 0;
    for (let s = 0; s < MAX_SVC_SPATIAL; s++) {
      sum += this.#bps[s];
      this.#cumulative[s] = this.#bps[s] > 0 ? sum : 0;
      if (this.#bps[s] > 0) count = s + 1;
    }
    return this.#views[count];
  }
}
