/**
 * Reorders one RTP stream by extended sequence number and hands packets on in order. A hole
 * waits up to `repairWaitMs` (counted from the first packet after it) for the retransmission
 * the publisher's NACK asked for, then is given up as a gap. Bounded: at most `capacity`
 * packets are held; a packet further ahead forces the oldest holes out.
 */

export interface RecPacket {
  /** Extended sequence number. */
  seq: number;
  /** Extended RTP timestamp. */
  ts: number;
  marker: boolean;
  /** A copy of the RTP payload (no header, no padding). */
  payload: Buffer;
  arrivalMs: number;
}

export interface JitterSink {
  packet(p: RecPacket): void;
  /** `count` packets before `p`'s place were lost for good. */
  gap(count: number): void;
}

export const DEFAULT_CAPACITY = 1024;

export class JitterBuffer {
  readonly #slots: (RecPacket | undefined)[];
  readonly #mask: number;
  readonly #repairWaitMs: number;
  /** Next sequence number to hand on; -1 before the first packet. */
  #next = -1;
  #highest = -1;
  #held = 0;
  late = 0;
  overflow = 0;

  constructor(repairWaitMs: number, capacity = DEFAULT_CAPACITY) {
    if ((capacity & (capacity - 1)) !== 0) throw new RangeError("capacity must be a power of two");
    this.#slots = new Array(capacity);
    this.#mask = capacity - 1;
    this.#repairWaitMs = repairWaitMs;
  }

  get held(): number {
    return this.#held;
  }

  /** Stores a packet; false if it was late (its place already passed) or a duplicate. */
  push(p: RecPacket, sink: JitterSink): boolean {
    if (this.#next < 0) this.#next = p.seq;
    if (p.seq < this.#next || this.#slots[p.seq & this.#mask]?.seq === p.seq) {
      this.late++;
      return false;
    }
    // Too far ahead to fit: give up the oldest places until it fits.
    while (p.seq - this.#next > this.#mask) this.#skipOne(sink);
    this.#slots[p.seq & this.#mask] = p;
    this.#held++;
    if (p.seq > this.#highest) this.#highest = p.seq;
    return true;
  }

  /** Hands on every packet that is in order, and gives up holes that waited long enough. */
  drain(nowMs: number, sink: JitterSink): void {
    while (this.#held > 0) {
      const p = this.#take(this.#next);
      if (p) {
        this.#next++;
        sink.packet(p);
        continue;
      }
      const after = this.#firstAfterHole();
      if (after === undefined || nowMs - after.arrivalMs < this.#repairWaitMs) return;
      sink.gap(after.seq - this.#next);
      this.#next = after.seq;
    }
  }

  /** Hands on everything held, holes counted as gaps (on stop). */
  flush(sink: JitterSink): void {
    this.drain(Number.POSITIVE_INFINITY, sink);
  }

  #take(seq: number): RecPacket | undefined {
    const i = seq & this.#mask;
    const p = this.#slots[i];
    if (p === undefined || p.seq !== seq) return undefined;
    this.#slots[i] = undefined;
    this.#held--;
    return p;
  }

  #firstAfterHole(): RecPacket | undefined {
    for (let s = this.#next + 1; s <= this.#highest; s++) {
      const p = this.#slots[s & this.#mask];
      if (p !== undefined && p.seq === s) return p;
    }
    return undefined;
  }

  /** Moves past the oldest place: its packet if held, else one lost packet. */
  #skipOne(sink: JitterSink): void {
    const p = this.#take(this.#next);
    this.#next++;
    if (p) sink.packet(p);
    else {
      this.overflow++;
      sink.gap(1);
    }
  }
}
