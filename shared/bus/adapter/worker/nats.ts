/**
 * Bus + NodeRegistry over NATS WebSocket (`ws://` or `wss://`), for edges in Workers and Node.
 * No `node:` imports here or below: this bundles for workerd.
 *
 * A Worker cannot share a NATS connection across requests: a stateless handler uses
 * `withNatsBus` (connect, run, close in `finally`); a WebSocket handler or a Durable Object
 * holds one from `connectNatsWsBus` for the life of the socket.
 *
 * The global `WebSocket` is used (Workers, browsers, Node >= 22); on Node 20 pass one in
 * `options.WebSocket` (e.g. undici's). In Node prefer the TCP adapter
 * (`../node/nats.ts`): nats.js keeps one process-wide transport slot, so
 * one process should not keep reconnecting TCP and WebSocket connections side by side.
 */
import { wsconnect } from "@nats-io/nats-core";
import type { Bus, NodeRegistry } from "../../bus.ts";
import { BusError } from "../../bus.ts";
import {
  connectError,
  exclusiveTransport,
  type NatsBusHandle,
  type NatsBusOptions,
  natsUrlAuth,
  openNatsBus,
} from "../../natsCore.ts";

export type { NatsBusHandle } from "../../natsCore.ts";

/** Anything constructible like the WHATWG WebSocket (the global one, undici's, ...). */
export type WebSocketConstructor = new (url: string) => unknown;

export interface NatsWsBusOptions extends NatsBusOptions {
  /** Connection name shown by the server's monitoring. */
  name?: string;
  /** Connect timeout. Default 5000 ms. */
  timeoutMs?: number;
  /** WebSocket implementation when there is no global one. */
  WebSocket?: WebSocketConstructor;
  /** Reconnect after a lost connection (long-lived use). Default false: a lost connection closes the bus. */
  reconnect?: boolean;
}

type SocketEvent = "open" | "message" | "error" | "close";
type SocketHandler = ((ev: Event) => void) | null;

/**
 * nats-core awaits `wsFactory` and only then sets `onopen`/`onerror`/...; undici's WebSocket
 * can fire `error` and `close` (connection refused) before that, and nats-core then never
 * settles the connect. This wrapper listens from the start and replays early events, in order,
 * once the handlers are set.
 */
class LateBoundSocket {
  readonly #ws: WebSocket;
  readonly #handlers: Record<SocketEvent, SocketHandler> = {
    open: null,
    message: null,
    error: null,
    close: null,
  };
  #early: [SocketEvent, Event][] | null = [];

  constructor(ws: WebSocket) {
    this.#ws = ws;
    ws.binaryType = "arraybuffer";
    for (const type of ["open", "message", "error", "close"] as const) {
      ws.addEventListener(type, (ev: Event) => {
        if (this.#early) this.#early.push([type, ev]);
        else this.#handlers[type]?.(ev);
      });
    }
  }

  #set(type: SocketEvent, fn: SocketHandler): void {
    this.#handlers[type] = fn;
    // nats-core sets all four handlers in one synchronous run: replay after it
    if (this.#early && fn) {
      queueMicrotask(() => {
        const early = this.#early;
        this.#early = null;
        for (const [t, ev] of early ?? []) this.#handlers[t]?.(ev);
      });
    }
  }

  set onopen(fn: SocketHandler) {
    this.#set("open", fn);
  }
  set onmessage(fn: SocketHandler) {
    this.#set("message", fn);
  }
  set onerror(fn: SocketHandler) {
    this.#set("error", fn);
  }
  set onclose(fn: SocketHandler) {
    this.#set("close", fn);
  }
  get binaryType(): BinaryType {
    return this.#ws.binaryType;
  }
  set binaryType(t: BinaryType) {
    this.#ws.binaryType = t;
  }
  get bufferedAmount(): number {
    return this.#ws.bufferedAmount;
  }
  get readyState(): number {
    return this.#ws.readyState;
  }
  send(data: ArrayBufferLike | ArrayBufferView): void {
    this.#ws.send(data as ArrayBuffer);
  }
  close(code?: number, reason?: string): void {
    this.#ws.close(code, reason);
  }
}

/** Connects over WebSocket and opens the registry buckets; the caller must `close()`. */
export async function connectNatsWsBus(
  url: string,
  options: NatsWsBusOptions = {},
): Promise<NatsBusHandle> {
  const Ctor = options.WebSocket ?? (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket;
  if (!Ctor) {
    throw new BusError(
      "connection_failed",
      "no WebSocket implementation: pass options.WebSocket (Node 20 has no global WebSocket)",
    );
  }
  let nc: Awaited<ReturnType<typeof wsconnect>>;
  try {
    nc = await exclusiveTransport("ws", () =>
      wsconnect({
        ...natsUrlAuth(url),
        name: options.name,
        timeout: options.timeoutMs ?? 5000,
        reconnect: options.reconnect ?? false,
        wsFactory: options.WebSocket
          ? async (u: string) => ({
              socket: new LateBoundSocket(new Ctor(u) as WebSocket) as unknown as WebSocket,
              encrypted: u.startsWith("wss://"),
            })
          : undefined,
      }),
    );
  } catch (err) {
    throw connectError(err, url);
  }
  // lazy by default: many Worker requests only send a command and never read the registry
  return openNatsBus(nc, { ...options, lazyRegistry: options.lazyRegistry ?? true });
}

/** Connects, runs `fn`, and closes the connection in `finally` (one connection per Worker request). */
export async function withNatsBus<T>(
  url: string,
  fn: (ctx: { bus: Bus; registry: NodeRegistry }) => Promise<T> | T,
  options: NatsWsBusOptions = {},
): Promise<T> {
  const handle = await connectNatsWsBus(url, options);
  try {
    return await fn({ bus: handle.bus, registry: handle.registry });
  } finally {
    await handle.close();
  }
}
