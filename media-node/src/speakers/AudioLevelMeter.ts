import { LEVEL_AMPLITUDE } from "../rtp/audioLevel.ts";

/**
 * How a room decides who is speaking, from the RFC 6464 levels its audio publishers send.
 * Defaults follow LiveKit's: a level of 30 dBov or louder counts as sound, judged over 500 ms.
 */
export interface ActiveSpeakerOptions {
  /** How often levels are judged and events may fire (default 250 ms). */
  intervalMs?: number;
  /**
   * The window a decision is smoothed over (default 500 ms), rounded to whole intervals: a
   * publisher is judged on the packets of the last `windowMs`.
   */
  windowMs?: number;
  /**
   * The quietest level that counts as sound, in -dBov (default 30: a packet whose level is
   * 30 dBov below full scale or louder). 0..127.
   */
  threshold?: number;
  /** The share of a window's packets that must be sound for "speaking" (default 0.4). */
  minActiveFraction?: number;
}

export const SPEAKER_DEFAULTS: Required<ActiveSpeakerOptions> = {
  intervalMs: 250,
  windowMs: 500,
  threshold: 30,
  minActiveFraction: 0.4,
};

/**
 * One audio publisher's levels: `add()` per packet (three numeric updates, no allocation),
 * `evaluate()` once per interval. The window is a ring of per-interval buckets.
 *
 * - `speaking`: the window has packets and at least `minActiveFraction` of them are at or above
 *   the threshold (level <= threshold, in -dBov).
 * - `level`: the mean linear amplitude (10^(-dBov/20), 0..1) of the window's packets, quiet ones
 *   included: the smoothed loudness speakers are ordered by. 0 without packets.
 */
export class AudioLevelMeter {
  readonly threshold: number;
  readonly minActiveFraction: number;
  /** The last evaluation: smoothed linear level (0..1) and whether it counts as speaking. */
  level = 0;
  speaking = false;
  #packets = 0;
  #active = 0;
  #sum = 0;
  readonly #ringPackets: Int32Array;
  readonly #ringActive: Int32Array;
  readonly #ringSum: Float64Array;
  #pos = 0;

  constructor(options: Required<ActiveSpeakerOptions> = SPEAKER_DEFAULTS) {
    const buckets = Math.max(1, Math.round(options.windowMs / options.intervalMs));
    this.threshold = options.threshold;
    this.minActiveFraction = options.minActiveFraction;
    this.#ringPackets = new Int32Array(buckets);
    this.#ringActive = new Int32Array(buckets);
    this.#ringSum = new Float64Array(buckets);
  }

  /** One packet's level, 0..127 -dBov (the low 7 bits of the extension byte). */
  add(dbov: number): void {
    const l = dbov & 0x7f;
    this.#packets++;
    if (l <= this.threshold) this.#active++;
    this.#sum += LEVEL_AMPLITUDE[l];
  }

  /** Closes the current interval and judges the window; `silenced` (muted) forces silence. */
  evaluate(silenced = false): void {
    const i = this.#pos;
    this.#ringPackets[i] = this.#packets;
    this.#ringActive[i] = this.#active;
    this.#ringSum[i] = this.#sum;
    this.#pos = (i + 1) % this.#ringPackets.length;
    this.#packets = 0;
    this.#active = 0;
    this.#sum = 0;
    let packets = 0;
    let active = 0;
    let sum = 0;
    for (let b = 0; b < this.#ringPackets.length; b++) {
      packets += this.#ringPackets[b];
      active += this.#ringActive[b];
      sum += this.#ringSum[b];
    }
    if (silenced || packets === 0) {
      this.level = 0;
      this.speaking = false;
      return;
    }
    this.level = sum / packets;
    this.speaking = active >= this.minActiveFraction * packets;
  }
}
