import type { LayerTarget } from "./LayerFilter.ts";

/** Highest layer index: "as high as the publisher sends". */
export const MAX_LAYER = 15;
/** Receiver-report loss (0..1) that moves a subscriber one layer down. */
const LOSS_DOWN = 0.1;
const LOSS_STEP_MS = 1000;
/** Loss under which a layer counts as clean (up-switching and probing are allowed). */
const LOSS_CLEAN = 0.02;
/** Down when the layer's bitrate exceeds the estimate by this factor (estimates are noisy). */
const DOWN_MARGIN = 1.1;
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
 * Picks a subscriber's simulcast encoding (spatial layer): the preferred layer, capped by a
 * limit learned from the subscriber's own feedback, among encodings the publisher is sending.
 * The limit drops at once when a falling REMB estimate is short of the layer being sent (once
 * the estimate has caught up with the layer: a receiver ramping up is not congested), or the
 * receiver reports loss over 10 %. It rises one layer when the next layer fits the estimate
 * with headroom for UP_HOLD_MS, or by a probe now and then (a receiver's estimate cannot grow
 * far above what it receives); a failed probe doubles the wait for the next one. No limit
 * applies until feedback asks for one, so a preference change takes effect at once.
 * Pure logic: time comes in, nothing is scheduled.
 */
export class LayerSelector {
  readonly preferred: LayerTarget = { spatial: MAX_LAYER, temporal: MAX_LAYER };
  /** The spatial layer last chosen (-1: none is sending). */
  current = -1;
  /** Highest spatial layer the feedback allows (MAX_LAYER: no limit). */
  limit = MAX_LAYER;
  #estimate = 0;
  /**
   * A REMB that can mean congestion came since the last choice: the first one, or one lower
   * than the one before. A receiver's estimate otherwise trails what it receives (it ramps up
   * slowly after a move up, and holds), so a low but steady or rising one is not acted on.
   */
  #fell = false;
  /**
   * Since the last move, a REMB has reached the layer's bitrate. Before that a short estimate
   * is the receiver still ramping up (Chromium's starts low and grows a few % a second), not
   * congestion; only loss, or a failing probe, moves the layer down then.
   */
  #caughtUp = false;
  #loss = 0;
  /** After any move up the estimate is not trusted until then (it trails the new rate). */
  #graceUntil = 0;
  #upSince = -1;
  #holdUntil = 0;
  #probeUntil = 0;
  #probeInterval = PROBE_FIRST_MS;
  #lastMove = Number.NEGATIVE_INFINITY;

  setPreferred(spatial: number, temporal: number): void {
    this.preferred.spatial = spatial;
    this.preferred.temporal = temporal;
  }

  /** Bandwidth estimate from the subscriber's REMB, bits/s. */
  onRemb(bps: number): void {
    if (bps <= 0) return;
    if (bps < this.#estimate) this.#fell = true;
    this.#estimate = bps;
  }

  /** Fraction lost (0..1) from the subscriber's receiver report. */
  onLoss(fraction: number, nowMs: number): void {
    this.#loss = fraction;
    // one step per LOSS_STEP_MS at most: the loss of the layer just left is still being reported
    if (fraction > LOSS_DOWN && this.current > 0 && nowMs - this.#lastMove >= LOSS_STEP_MS) {
      this.#failProbe();
      this.#lower(this.current - 1, nowMs);
    }
  }

  /**
   * The spatial layer to send, given each encoding's bitrate (bits/s, 0 = not sending).
   * Returns -1 when no encoding is sending.
   */
  choose(bitrates: ArrayLike<number>, nowMs: number): number {
    const top = Math.min(this.preferred.spatial, bitrates.length - 1);
    const cur = highestActive(bitrates, Math.min(top, this.limit));
    if (this.current >= 0 && cur > this.current) {
      this.#graceUntil = nowMs + PROBE_GRACE_MS;
      this.#caughtUp = false;
    }
    this.current = cur;
    if (cur < 0) return cur;
    const budget = this.#estimate > 0 ? this.#estimate : Number.POSITIVE_INFINITY;
    const probing = nowMs < this.#probeUntil;
    if (this.#estimate >= bitrates[cur]) this.#caughtUp = true;
    const trusted = this.#caughtUp || (this.#probeUntil > 0 && !probing);
    const short = bitrates[cur] > budget * DOWN_MARGIN && this.#fell && trusted;
    this.#fell = false;
    if (nowMs >= this.#graceUntil && cur > 0 && short) {
      this.#failProbe();
      let down = cur - 1;
      while (down > 0 && (bitrates[down] <= 0 || bitrates[down] > budget)) down--;
      return this.#lower(down, nowMs);
    }
    if (!probing && this.#probeUntil > 0) this.#passProbe();
    const up = nextActive(bitrates, cur, top);
    if (up < 0 || this.limit >= top || nowMs < this.#holdUntil || this.#loss > LOSS_CLEAN) {
      this.#upSince = -1;
      return cur;
    }
    if (bitrates[up] * UP_HEADROOM <= budget) {
      if (this.#upSince < 0) this.#upSince = nowMs;
      return nowMs - this.#upSince >= UP_HOLD_MS ? this.#raise(up, top, nowMs) : cur;
    }
    this.#upSince = -1;
    if (budget >= bitrates[cur] * PROBE_ROOM && nowMs - this.#lastMove >= this.#probeInterval) {
      this.#probeUntil = nowMs + PROBE_GRACE_MS;
      return this.#raise(up, top, nowMs);
    }
    return cur;
  }

  #lower(layer: number, nowMs: number): number {
    this.limit = layer;
    this.#caughtUp = false;
    this.current = layer;
    this.#holdUntil = nowMs + DOWN_HOLD_MS;
    this.#upSince = -1;
    this.#lastMove = nowMs;
    return layer;
  }

  #raise(layer: number, top: number, nowMs: number): number {
    this.limit = layer >= top ? MAX_LAYER : layer;
    this.current = layer;
    this.#caughtUp = false;
    this.#graceUntil = nowMs + PROBE_GRACE_MS;
    this.#upSince = -1;
    this.#lastMove = nowMs;
    return layer;
  }

  #failProbe(): void {
    if (this.#probeUntil === 0) return;
    this.#probeUntil = 0;
    this.#probeInterval = Math.min(PROBE_MAX_MS, this.#probeInterval * 2);
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
