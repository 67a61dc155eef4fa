import type { LayerTarget } from "./LayerFilter.ts";

/** Highest layer index: "as high as the publisher sends". */
export const MAX_LAYER = 15;
/** Receiver-report loss (0..1) that moves a subscriber one layer down. */
const LOSS_DOWN = 0.1;
const LOSS_STEP_MS = 1000;
/** Loss under which a layer counts as clean (up-switching and probing are allowed). */
const LOSS_CLEAN = 0.02;
/** A higher layer's bitrate must fit the estimate with this headroom to switch up. */
const UP_HEADROOM = 1.15;
/** The up condition must hold this long (hysteresis against flapping). */
const UP_HOLD_MS = 1500;
/** After a move down, no move up for this long. */
const DOWN_HOLD_MS = 3000;
/** A probe (a tentative move up past the estimate) is first tried after this long, doubling. */
const PROBE_FIRST_MS = 5000;
const PROBE_MAX_MS = 60_000;
/** During a probe, the estimate is not trusted for this long (it trails the new rate). */
const PROBE_GRACE_MS = 3000;
/** Probe only when the estimate leaves this much room over the current layer. */
const PROBE_ROOM = 1.3;

/**
 * Picks a subscriber's simulcast encoding (spatial layer) from its own feedback: the REMB
 * estimate and the receiver-report loss, never above the preferred layer and only among
 * encodings the publisher is sending. Moves down at once; moves up when the next layer fits
 * with headroom for UP_HOLD_MS, and probes one layer up now and then (the receiver's estimate
 * cannot grow far above what it receives). Pure logic: time comes in, nothing is scheduled.
 */
export class LayerSelector {
  readonly preferred: LayerTarget = { spatial: MAX_LAYER, temporal: MAX_LAYER };
  /** The spatial layer last chosen (-1 before the first choice). */
  current = -1;
  #estimate = 0;
  #loss = 0;
  #upSince = -1;
  #holdUntil = 0;
  #probeUntil = 0;
  #probeInterval = PROBE_FIRST_MS;
  #lastMove = 0;

  setPreferred(spatial: number, temporal: number): void {
    this.preferred.spatial = spatial;
    this.preferred.temporal = temporal;
  }

  /** Bandwidth estimate from the subscriber's REMB, bits/s. */
  onRemb(bps: number): void {
    this.#estimate = bps;
  }

  /** Fraction lost (0..1) from the subscriber's receiver report. */
  onLoss(fraction: number, nowMs: number): void {
    this.#loss = fraction;
    // one step per LOSS_STEP_MS at most: the loss of the layer just left is still being reported
    if (fraction > LOSS_DOWN && this.current > 0 && nowMs - this.#lastMove >= LOSS_STEP_MS) {
      this.#failProbe(nowMs);
      this.#move(this.current - 1, nowMs);
    }
  }

  /**
   * The spatial layer to send, given each encoding's bitrate (bits/s, 0 = not sending).
   * Returns -1 when no encoding is sending.
   */
  choose(bitrates: ArrayLike<number>, nowMs: number): number {
    const cap = Math.min(this.preferred.spatial, bitrates.length - 1);
    let cur = this.current;
    if (cur < 0 || cur > cap || bitrates[cur] <= 0) cur = highestActive(bitrates, cap);
    if (cur < 0) return this.#set(-1, nowMs);
    const budget = this.#estimate > 0 ? this.#estimate : Number.POSITIVE_INFINITY;
    const probing = nowMs < this.#probeUntil;
    if (!probing && cur > 0 && bitrates[cur] > budget) {
      if (this.#probeUntil > 0) this.#failProbe(nowMs);
      let down = cur - 1;
      while (down > 0 && (bitrates[down] <= 0 || bitrates[down] > budget)) down--;
      return this.#move(down, nowMs);
    }
    if (!probing && this.#probeUntil > 0) this.#passProbe();
    const up = nextActive(bitrates, cur, cap);
    if (up < 0 || nowMs < this.#holdUntil || this.#loss > LOSS_CLEAN) {
      this.#upSince = -1;
      return this.#set(cur, nowMs);
    }
    if (bitrates[up] * UP_HEADROOM <= budget) {
      if (this.#upSince < 0) this.#upSince = nowMs;
      if (nowMs - this.#upSince >= UP_HOLD_MS) return this.#move(up, nowMs);
      return this.#set(cur, nowMs);
    }
    this.#upSince = -1;
    if (budget >= bitrates[cur] * PROBE_ROOM && nowMs - this.#lastMove >= this.#probeInterval) {
      this.#probeUntil = nowMs + PROBE_GRACE_MS;
      return this.#move(up, nowMs);
    }
    return this.#set(cur, nowMs);
  }

  #set(layer: number, nowMs: number): number {
    if (layer !== this.current) this.#lastMove = nowMs;
    this.current = layer;
    return layer;
  }

  #move(layer: number, nowMs: number): number {
    if (layer < this.current) this.#holdUntil = nowMs + DOWN_HOLD_MS;
    this.#upSince = -1;
    return this.#set(layer, nowMs);
  }

  #failProbe(nowMs: number): void {
    if (this.#probeUntil === 0) return;
    this.#probeUntil = 0;
    this.#probeInterval = Math.min(PROBE_MAX_MS, this.#probeInterval * 2);
    this.#lastMove = nowMs;
  }

  #passProbe(): void {
    this.#probeUntil = 0;
    this.#probeInterval = PROBE_FIRST_MS;
  }
}

/** The highest sending encoding up to cap; if none, the lowest above it (video beats a freeze). */
function highestActive(bitrates: ArrayLike<number>, cap: number): number {
  for (let i = cap; i >= 0; i--) if (bitrates[i] > 0) return i;
  for (let i = cap + 1; i < bitrates.length; i++) if (bitrates[i] > 0) return i;
  return -1;
}

function nextActive(bitrates: ArrayLike<number>, cur: number, cap: number): number {
  for (let i = cur + 1; i <= cap; i++) if (bitrates[i] > 0) return i;
  return -1;
}
