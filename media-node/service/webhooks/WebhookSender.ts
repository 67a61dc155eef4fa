import { createHmac } from "node:crypto";
import {
  WEBHOOK_ID_HEADER,
  WEBHOOK_SIGNATURE_HEADER,
  type WebhookEvent,
} from "../../../shared/webhooks.ts";
import { type Logger, silentLogger } from "../log.ts";

export interface WebhookOptions {
  /** Where every event goes (each URL gets each event). */
  urls: string[];
  /** The shared secret of the `Weir-Signature` HMAC. */
  secret: string;
  /** Events one URL may have waiting (default 1000); more are dropped and counted. */
  maxQueue?: number;
  /** Tries per event and URL (default 6: about 15 s of backoff); then it is dropped. */
  maxAttempts?: number;
  /** The first retry's delay (default 500 ms); it doubles each time, capped at 30 s. */
  backoffMs?: number;
  /** How long one POST may take (default 5 s); longer counts as a failure. */
  timeoutMs?: number;
  /** Requests in flight per URL at most (default 4), each for a different room. */
  concurrency?: number;
  /** How long stop() waits for queued events (default 3 s). */
  flushMs?: number;
  log?: Logger;
  /** The HTTP client (tests). */
  fetch?: typeof fetch;
}

export interface WebhookStats {
  /** Events waiting or being sent, over every URL. */
  queued: number;
  delivered: number;
  /** Answers other than 2xx and network errors or timeouts (each try counts). */
  failedAttempts: number;
  /** Events given up after maxAttempts. */
  failed: number;
  /** Events refused because a URL's queue was full. */
  dropped: number;
}

/** An event, or one whose content is still being decided (room.started / finished): null = none. */
export type PendingEvent = WebhookEvent | Promise<WebhookEvent | null>;

interface Item {
  event: PendingEvent;
}

interface Endpoint {
  url: string;
  /** Each room's events in order; a room is sent one event at a time. */
  rooms: Map<string, Item[]>;
  /** Rooms with events waiting and no request in flight, in arrival order. */
  ready: string[];
  active: Set<string>;
  queued: number;
  /** Drops not yet logged, and when the last drop warning was (one per 10 s per URL). */
  unloggedDrops: number;
  lastDropLog: number;
}

/** `sha256=<hex HMAC-SHA256 of body>`: the `Weir-Signature` header value. */
export function webhookSignature(body: string, secret: string): string {
  return `sha256=${createHmac("sha256", secret).update(body).digest("hex")}`;
}

/**
 * Delivers webhook events: signed POSTs with retries and backoff, a bounded queue per URL, one
 * event at a time per room and URL (so a room's events arrive in order), rooms in parallel up to
 * `concurrency`. enqueue() never blocks or throws: a slow or dead URL costs its queue, never the
 * media or signaling path.
 */
export class WebhookSender {
  readonly #o: Required<Omit<WebhookOptions, "log" | "fetch">>;
  readonly #log: Logger;
  readonly #fetch: typeof fetch;
  readonly #endpoints: Endpoint[];
  readonly #stats = { delivered: 0, failedAttempts: 0, failed: 0, dropped: 0 };
  readonly #timers = new Set<ReturnType<typeof setTimeout>>();
  readonly #aborts = new Set<AbortController>();
  #idle: (() => void)[] = [];
  #closed = false;

  constructor(options: WebhookOptions) {
    this.#o = {
      urls: options.urls,
      secret: options.secret,
      maxQueue: options.maxQueue ?? 1000,
      maxAttempts: options.maxAttempts ?? 6,
      backoffMs: options.backoffMs ?? 500,
      timeoutMs: options.timeoutMs ?? 5000,
      concurrency: options.concurrency ?? 4,
      flushMs: options.flushMs ?? 3000,
    };
    this.#log = options.log ?? silentLogger;
    this.#fetch = options.fetch ?? fetch;
    this.#endpoints = options.urls.map((url) => ({
      url,
      rooms: new Map(),
      ready: [],
      active: new Set(),
      queued: 0,
      unloggedDrops: 0,
      lastDropLog: -Infinity,
    }));
  }

  stats(): WebhookStats {
    const queued = this.#endpoints.reduce((n, e) => n + e.queued, 0);
    return { queued, ...this.#stats };
  }

  /** Queues `event` for every URL, after the room's earlier events. Never blocks. */
  enqueue(room: string, event: PendingEvent): void {
    if (this.#closed) return;
    // a deferred event that fails is no event (its decision could not be made)
    const item: Item = {
      event: event instanceof Promise ? event.catch(() => null) : event,
    };
    for (const ep of this.#endpoints) {
      if (ep.queued >= this.#o.maxQueue) {
        this.#stats.dropped++;
        ep.unloggedDrops++;
        const now = Date.now();
        if (now - ep.lastDropLog >= 10_000) {
          this.#log.warn("webhook queue full: events dropped", {
            url: ep.url,
            dropped: ep.unloggedDrops,
            maxQueue: this.#o.maxQueue,
          });
          ep.lastDropLog = now;
          ep.unloggedDrops = 0;
        }
        continue;
      }
      let q = ep.rooms.get(room);
      if (!q) {
        q = [];
        ep.rooms.set(room, q);
      }
      q.push(item);
      ep.queued++;
      if (!ep.active.has(room) && q.length === 1) ep.ready.push(room);
      this.#pump(ep);
    }
  }

  /** Waits up to `flushMs` for queued events, then stops (pending tries are abandoned). */
  async stop(flushMs = this.#o.flushMs): Promise<void> {
    if (this.stats().queued > 0 && flushMs > 0) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, flushMs);
        this.#idle.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
    this.#closed = true;
    for (const t of this.#timers) clearTimeout(t);
    this.#timers.clear();
    for (const a of this.#aborts) a.abort();
  }

  #pump(ep: Endpoint): void {
    while (!this.#closed && ep.active.size < this.#o.concurrency && ep.ready.length > 0) {
      const room = ep.ready.shift() as string;
      ep.active.add(room);
      void this.#drainRoom(ep, room);
    }
  }

  /** Sends the room's head event (all tries), then gives the slot to the next ready room. */
  async #drainRoom(ep: Endpoint, room: string): Promise<void> {
    const q = ep.rooms.get(room);
    const item = q?.[0];
    if (q && item) {
      const event = await item.event;
      if (event !== null && !this.#closed) await this.#deliver(ep, event);
      q.shift();
      ep.queued--;
    }
    ep.active.delete(room);
    if (q && q.length > 0) ep.ready.push(room);
    else ep.rooms.delete(room);
    if (this.stats().queued === 0) for (const wake of this.#idle.splice(0)) wake();
    this.#pump(ep);
  }

  async #deliver(ep: Endpoint, event: WebhookEvent): Promise<void> {
    const body = JSON.stringify(event);
    const headers = {
      "content-type": "application/json",
      [WEBHOOK_SIGNATURE_HEADER]: webhookSignature(body, this.#o.secret),
      [WEBHOOK_ID_HEADER]: event.id,
      "user-agent": "weir-webhooks",
    };
    for (let attempt = 1; attempt <= this.#o.maxAttempts && !this.#closed; attempt++) {
      const why = await this.#post(ep.url, body, headers);
      if (why === null) {
        this.#stats.delivered++;
        return;
      }
      this.#stats.failedAttempts++;
      if (attempt === this.#o.maxAttempts) break;
      const delay = Math.min(30_000, this.#o.backoffMs * 2 ** (attempt - 1));
      this.#log.debug("webhook failed; retrying", { url: ep.url, event: event.event, why, delay });
      await this.#sleep(delay * (0.8 + 0.4 * Math.random()));
    }
    if (this.#closed) return;
    this.#stats.failed++;
    this.#log.warn("webhook given up", {
      url: ep.url,
      event: event.event,
      room: event.room,
      attempts: this.#o.maxAttempts,
    });
  }

  /** One POST: null when the URL answered 2xx, else why not. */
  async #post(url: string, body: string, headers: Record<string, string>): Promise<string | null> {
    const abort = new AbortController();
    this.#aborts.add(abort);
    const timer = setTimeout(() => abort.abort(), this.#o.timeoutMs);
    try {
      const res = await this.#fetch(url, {
        method: "POST",
        body,
        headers,
        signal: abort.signal,
        redirect: "manual",
      });
      await res.body?.cancel().catch(() => {});
      return res.status >= 200 && res.status < 300 ? null : `HTTP ${res.status}`;
    } catch (err) {
      if (abort.signal.aborted) return "timeout";
      const cause = (err as { cause?: { code?: string } }).cause?.code;
      return cause ?? (err instanceof Error ? err.message : String(err));
    } finally {
      clearTimeout(timer);
      this.#aborts.delete(abort);
    }
  }

  #sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const t = setTimeout(() => {
        this.#timers.delete(t);
        resolve();
      }, ms);
      this.#timers.add(t);
    });
  }
}
