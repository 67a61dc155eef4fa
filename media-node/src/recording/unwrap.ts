/** Extends RTP's wrapping counters to monotonic numbers (RFC 3550 A.1 style, by nearest value). */

/** 16-bit sequence numbers to an extended counter. */
export class SeqUnwrapper {
  #last = -1;

  unwrap(seq: number): number {
    if (this.#last < 0) {
      this.#last = seq + 0x10000; // room below for reordered packets of the first cycle
      return this.#last;
    }
    const delta = ((seq - this.#last + 0x8000) & 0xffff) - 0x8000;
    const ext = this.#last + delta;
    if (delta > 0) this.#last = ext;
    return ext;
  }
}

const TS_RANGE = 0x1_0000_0000;
const TS_HALF = 0x8000_0000;

/** 32-bit RTP timestamps to an extended counter. */
export class TimestampUnwrapper {
  #last = -1;

  unwrap(ts: number): number {
    if (this.#last < 0) {
      this.#last = ts + TS_RANGE;
      return this.#last;
    }
    const low = this.#last % TS_RANGE;
    let delta = ts - low;
    if (delta >= TS_HALF) delta -= TS_RANGE;
    else if (delta < -TS_HALF) delta += TS_RANGE;
    const ext = this.#last + delta;
    if (delta > 0) this.#last = ext;
    return ext;
  }
}
