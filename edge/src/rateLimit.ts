/** A token bucket: `burst` tokens, refilled at `perSecond`; `take()` spends one if it can. */
export class TokenBucket {
  #tokens: number;
  #at: number;

  constructor(
    readonly perSecond: number,
    readonly burst: number,
    readonly now: () => number = () => Date.now(),
  ) {
    this.#tokens = burst;
    this.#at = now();
  }

  take(): boolean {
    const t = this.now();
    // a clock that steps back refills nothing
    const elapsed = Math.max(0, t - this.#at);
    this.#at = t;
    this.#tokens = Math.min(this.burst, this.#tokens + (elapsed * this.perSecond) / 1000);
    if (this.#tokens < 1) return false;
    this.#tokens -= 1;
    return true;
  }
}
