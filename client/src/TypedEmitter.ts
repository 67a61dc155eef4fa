/**
 * A tiny typed event emitter for browsers (no Node `events`).
 *
 * `Events` maps each event name to the tuple of its listener's arguments, e.g.
 * `{ icecandidate: [RTCIceCandidateInit | null]; closed: [] }`.
 *
 * A listener that throws does not stop the others: the error goes to `reportError` (so it
 * still reaches `window.onerror` / the console) and emission continues.
 */
export type Listener<Args extends unknown[]> = (...args: Args) => void;

/** Any listener; the map below stores them untyped and `emit` restores the type. */
type AnyListener = (...args: never) => void;

export class TypedEmitter<Events extends { [K in keyof Events]: unknown[] }> {
  #listeners = new Map<keyof Events, AnyListener[]>();

  on<K extends keyof Events>(event: K, listener: Listener<Events[K]>): this {
    const list = this.#listeners.get(event);
    if (list) list.push(listener);
    else this.#listeners.set(event, [listener]);
    return this;
  }

  /** Removes one registration of `listener` (the most recent one), or all listeners of `event`. */
  off<K extends keyof Events>(event: K, listener?: Listener<Events[K]>): this {
    if (!listener) {
      this.#listeners.delete(event);
      return this;
    }
    const list = this.#listeners.get(event);
    if (!list) return this;
    const i = list.lastIndexOf(listener);
    if (i !== -1) list.splice(i, 1);
    if (list.length === 0) this.#listeners.delete(event);
    return this;
  }

  once<K extends keyof Events>(event: K, listener: Listener<Events[K]>): this {
    const wrapper: Listener<Events[K]> = (...args) => {
      this.off(event, wrapper);
      listener(...args);
    };
    return this.on(event, wrapper);
  }

  /** Calls every listener of `event` in registration order; returns whether there were any. */
  emit<K extends keyof Events>(event: K, ...args: Events[K]): boolean {
    const list = this.#listeners.get(event);
    if (!list || list.length === 0) return false;
    for (const listener of [...list]) {
      try {
        (listener as unknown as Listener<Events[K]>)(...args);
      } catch (err) {
        reportListenerError(err);
      }
    }
    return true;
  }

  listenerCount<K extends keyof Events>(event: K): number {
    return this.#listeners.get(event)?.length ?? 0;
  }

  removeAllListeners(): this {
    this.#listeners.clear();
    return this;
  }
}

/** Browsers' `reportError` (window "error" event + console); elsewhere an async rethrow. */
function reportListenerError(err: unknown): void {
  const report = (globalThis as { reportError?: (e: unknown) => void }).reportError;
  if (typeof report === "function") report(err);
  else
    queueMicrotask(() => {
      throw err;
    });
}
