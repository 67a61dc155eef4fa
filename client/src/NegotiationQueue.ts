import { WeirClientError } from "./errors.ts";

/**
 * Runs negotiation steps one at a time, in call order.
 *
 * A task may call `hold(promise)` to keep the queue blocked after the task itself has
 * returned: a publisher returns its offer to the app at once but must not start another
 * offer until the answer for this one has been applied. The queue moves on when the held
 * promise settles either way. A task that fails does not block later tasks.
 */
export class NegotiationQueue {
  #tail: Promise<void> = Promise.resolve();
  #closed = false;
  #pending = 0;

  /** Tasks queued or running (including one whose slot is still held). */
  get pending(): number {
    return this.#pending;
  }

  get closed(): boolean {
    return this.#closed;
  }

  run<T>(task: (hold: (until: Promise<unknown>) => void) => Promise<T> | T): Promise<T> {
    if (this.#closed) return Promise.reject(new WeirClientError("closed", "transport is closed"));
    this.#pending++;
    let held: Promise<unknown> | undefined;
    const result = this.#tail.then(() => {
      if (this.#closed) throw new WeirClientError("closed", "transport is closed");
      return task((until) => {
        held = until;
      });
    });
    this.#tail = result
      .then(
        () => held,
        () => undefined,
      )
      .then(
        () => undefined,
        () => undefined,
      )
      .then(() => {
        this.#pending--;
      });
    return result;
  }

  /** Later tasks (and queued ones that have not started) reject with code "closed". */
  close(): void {
    this.#closed = true;
  }

  /** Resolves when everything queued so far has finished (held slots included). */
  idle(): Promise<void> {
    return this.#tail;
  }
}

/** A promise with its resolve/reject exposed. */
export interface Deferred<T> {
  promise: Promise<T>;
  resolve(value: T): void;
  reject(reason: unknown): void;
}

export function deferred<T>(): Deferred<T> {
  let resolve!: (value: T) => void;
  let reject!: (reason: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  // Nobody may be awaiting it; a rejection must not surface as unhandled.
  promise.catch(() => {});
  return { promise, resolve, reject };
}
