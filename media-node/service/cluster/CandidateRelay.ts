import type { IceCandidateInit } from "../../src/TransportTypes.ts";

/**
 * Forwards a transport's trickled ICE candidates to the client, minus those already in the SDP
 * it was sent (the node is ICE-lite and werift puts its candidates in every local description).
 * While a negotiation is under way candidates wait: they belong with the SDP being made.
 */
export class CandidateRelay {
  readonly #send: (candidate: IceCandidateInit) => void;
  readonly #known = new Set<string>();
  #pending: IceCandidateInit[] = [];
  #holds = 0;

  constructor(send: (candidate: IceCandidateInit) => void) {
    this.#send = send;
  }

  candidate(c: IceCandidateInit | null): void {
    if (!c?.candidate) return;
    if (this.#holds > 0) this.#pending.push(c);
    else this.#forward(c);
  }

  /** Runs an SDP-producing step; its SDP's candidates count as sent. */
  async negotiate<T>(step: () => Promise<T>, sdpOf: (result: T) => string): Promise<T> {
    this.#holds++;
    try {
      const result = await step();
      for (const line of sdpOf(result).match(/^a=candidate:.*$/gm) ?? []) {
        this.#known.add(line.slice(2).trim());
      }
      return result;
    } finally {
      this.#holds--;
      if (this.#holds === 0) {
        const pending = this.#pending;
        this.#pending = [];
        for (const c of pending) this.#forward(c);
      }
    }
  }

  #forward(c: IceCandidateInit): void {
    const key = c.candidate.trim();
    if (this.#known.has(key)) return;
    this.#known.add(key);
    this.#send(c);
  }
}
