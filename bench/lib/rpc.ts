// Request/response over a child_process IPC channel (JSON messages), usable from either side.
// Every call has a hard timeout, so a stuck peer fails the step instead of hanging the run.

interface Endpoint {
  send?(message: unknown): boolean;
  on(event: "message", listener: (message: unknown) => void): unknown;
}

interface CallMsg {
  rpc: "call";
  id: number;
  method: string;
  params: unknown;
}

interface ReturnMsg {
  rpc: "ret";
  id: number;
  ok: boolean;
  value?: unknown;
  error?: string;
}

type Handler = (params: never) => unknown;

interface Pending {
  resolve(value: unknown): void;
  reject(err: Error): void;
  timer: NodeJS.Timeout;
}

export class Rpc {
  readonly #endpoint: Endpoint;
  readonly #handlers = new Map<string, Handler>();
  readonly #pending = new Map<number, Pending>();
  readonly #name: string;
  #nextId = 1;

  constructor(endpoint: Endpoint, name: string) {
    this.#endpoint = endpoint;
    this.#name = name;
    endpoint.on("message", (m) => this.#onMessage(m));
  }

  handle<P, R>(method: string, fn: (params: P) => R | Promise<R>): void {
    this.#handlers.set(method, fn as Handler);
  }

  call<R = unknown>(method: string, params: unknown = {}, timeoutMs = 30_000): Promise<R> {
    const id = this.#nextId++;
    return new Promise<R>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#pending.delete(id);
        reject(new Error(`${this.#name}: ${method} timed out after ${timeoutMs} ms`));
      }, timeoutMs);
      this.#pending.set(id, { resolve: resolve as (v: unknown) => void, reject, timer });
      this.#send({ rpc: "call", id, method, params } satisfies CallMsg);
    });
  }

  /** Fails every call still waiting (the peer exited). */
  failAll(reason: string): void {
    for (const [id, p] of this.#pending) {
      clearTimeout(p.timer);
      p.reject(new Error(`${this.#name}: ${reason}`));
      this.#pending.delete(id);
    }
  }

  #send(msg: CallMsg | ReturnMsg): void {
    if (!this.#endpoint.send) throw new Error(`${this.#name}: no IPC channel`);
    this.#endpoint.send(msg);
  }

  async #onMessage(m: unknown): Promise<void> {
    const msg = m as CallMsg | ReturnMsg;
    if (!msg || typeof msg !== "object") return;
    if (msg.rpc === "ret") {
      const p = this.#pending.get(msg.id);
      if (!p) return;
      this.#pending.delete(msg.id);
      clearTimeout(p.timer);
      if (msg.ok) p.resolve(msg.value);
      else p.reject(new Error(`${this.#name}: ${msg.error}`));
      return;
    }
    if (msg.rpc !== "call") return;
    const fn = this.#handlers.get(msg.method);
    try {
      if (!fn) throw new Error(`no handler for ${msg.method}`);
      const value = await fn(msg.params as never);
      this.#send({ rpc: "ret", id: msg.id, ok: true, value: value ?? null });
    } catch (err) {
      const e = err as Error;
      this.#send({ rpc: "ret", id: msg.id, ok: false, error: `${msg.method}: ${e.stack ?? e}` });
    }
  }
}

/** Rejects after ms with a message naming the step. */
export function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const t = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms);
  });
  return Promise.race([p, t]).finally(() => clearTimeout(timer));
}

/** Runs fn over items with at most `limit` in flight. */
export async function mapLimit<T, R>(
  items: T[],
  limit: number,
  fn: (item: T, index: number) => Promise<R>,
): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i], i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}
