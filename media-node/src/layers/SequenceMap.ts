/** How far behind the newest packet an out-of-order packet may still be mapped. */
const WINDOW = 1024;

/**
 * Maps a source sequence number space onto an outgoing one that has no holes where packets
 * were dropped on purpose (layer filtering). Only drops of the newest packet close up the
 * sequence; a packet dropped out of order leaves its number unused (the receiver sees loss).
 * Preallocated; no allocation per packet.
 */
export class SequenceMap {
  /** Per slot: the source seq that was dropped there (consumed no outgoing number), or -1. */
  readonly #dropped = new Int32Array(WINDOW).fill(-1);
  #epochSrc = 0;
  #highestSrc = 0;
  #highestOut = 0;

  /** Starts an epoch: source `src` will map to `out`; older source packets are refused. */
  reset(src: number, out: number): void {
    this.#epochSrc = src & 0xffff;
    this.#highestSrc = (src - 1) & 0xffff;
    this.#highestOut = (out - 1) & 0xffff;
    this.#dropped.fill(-1);
  }

  /** The outgoing sequence number of a forwarded source packet, or -1 (too old). */
  forward(src: number): number {
    const d = ((src - this.#highestSrc) << 16) >> 16;
    if (d > 0) {
      this.#advance(src, d);
      this.#highestOut = (this.#highestOut + d) & 0xffff;
      return this.#highestOut;
    }
    if (-d >= WINDOW || ((src - this.#epochSrc) & 0xffff) >= 0x8000) return -1;
    let out = this.#highestOut + d;
    for (
      let s = (src + 1) & 0xffff;
      s !== ((this.#highestSrc + 1) & 0xffff);
      s = (s + 1) & 0xffff
    ) {
      if (this.#dropped[s & (WINDOW - 1)] === s) out++;
    }
    if (this.#dropped[src & (WINDOW - 1)] === src) return -1;
    return out & 0xffff;
  }

  /** A source packet that will not be sent. The newest one consumes no outgoing number. */
  drop(src: number): void {
    const d = ((src - this.#highestSrc) << 16) >> 16;
    if (d <= 0) return;
    this.#advance(src, d);
    this.#highestOut = (this.#highestOut + d - 1) & 0xffff;
    this.#dropped[src & (WINDOW - 1)] = src;
  }

  /** Moves the newest source seq on by d, clearing the drop marks of the slots passed. */
  #advance(src: number, d: number): void {
    const n = Math.min(d, WINDOW);
    for (let i = 0; i < n; i++) this.#dropped[(src - i) & (WINDOW - 1)] = -1;
    this.#highestSrc = src;
  }

  /** The newest outgoing number handed out (or reserved). */
  get lastOut(): number {
    return this.#highestOut;
  }
}
