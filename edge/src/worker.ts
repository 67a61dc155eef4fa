/**
 * Cloudflare Worker entry: the edge app with one NATS-over-WebSocket connection per request
 * (a Worker cannot share one across requests), or per socket for WebSocket signaling.
 * No `node:` imports here or in anything below.
 */
import type { Hono } from "hono";
import { withNatsBus } from "../../shared/bus/adapter/worker/nats.ts";
import { createApp } from "./app.ts";
import { DEV_SECRET } from "./auth/devSecret.ts";
import { errorResponse } from "./errors.ts";
import { parseTurnConfig } from "./turn.ts";
import { acceptWorkerWebSocket } from "./worker/websocket.ts";

export interface WorkerEnv {
  /** NATS WebSocket URL, e.g. wss://nats.example.com:443 */
  NATS_WS_URL?: string;
  /** HS256 token secret (at least 32 bytes); set with `wrangler secret put WEIR_SECRET`. */
  WEIR_SECRET?: string;
  /** Session-id signing secret; defaults to WEIR_SECRET. Every edge must share it. */
  WEIR_SESSION_SECRET?: string;
  /** "1" allows the public development secret when WEIR_SECRET is unset. Never in production. */
  WEIR_DEV?: string;
  /** Comma-separated TURN (and STUN) URLs given to clients, e.g. "turns:turn.example.com:443?transport=tcp". */
  WEIR_TURN_URLS?: string;
  /** coturn's `static-auth-secret` (a secret: `wrangler secret put WEIR_TURN_SECRET`). */
  WEIR_TURN_SECRET?: string;
  /** TURN credential lifetime in seconds (default 86400). */
  WEIR_TURN_TTL?: string;
}

let cached: { key: string; app: Hono } | null = null;

/**
 * Set on every response of the Worker (not by the Node edge): tells a developer, a test or a
 * load balancer's health check that the request went through the Worker. (Not exported: a
 * Worker module may export handlers only.)
 */
const EDGE_HEADER = "x-weir-edge";

function fromWorker(res: Response): Response {
  try {
    res.headers.set(EDGE_HEADER, "worker");
    return res;
  } catch {
    // immutable headers (a fetched response): copy, keeping a WebSocket upgrade's socket
    const headers = new Headers(res.headers);
    headers.set(EDGE_HEADER, "worker");
    const { status, statusText } = res;
    const webSocket = (res as { webSocket?: unknown }).webSocket;
    return new Response(res.body, { status, statusText, headers, webSocket } as ResponseInit);
  }
}

function appFor(env: WorkerEnv): Hono | string {
  const url = env.NATS_WS_URL;
  const secret = env.WEIR_SECRET ?? (env.WEIR_DEV === "1" ? DEV_SECRET : undefined);
  if (!url) return "NATS_WS_URL is not set";
  if (!secret) return "WEIR_SECRET is not set";
  const sessionSecret = env.WEIR_SESSION_SECRET ?? secret;
  const turnSettings = [env.WEIR_TURN_URLS, env.WEIR_TURN_SECRET, env.WEIR_TURN_TTL];
  const key = [url, secret, sessionSecret, ...turnSettings].join("\n");
  if (cached?.key !== key) {
    let turn: ReturnType<typeof parseTurnConfig>;
    try {
      turn = parseTurnConfig({
        urls: env.WEIR_TURN_URLS,
        secret: env.WEIR_TURN_SECRET,
        ttl: env.WEIR_TURN_TTL,
      });
    } catch (err) {
      return (err as Error).message;
    }
    const app = createApp({
      token: secret,
      sessionSecret,
      turn,
      withBus: (fn) => withNatsBus(url, fn, { name: "weir-edge" }),
      acceptWebSocket: acceptWorkerWebSocket,
    });
    cached = { key, app };
  }
  return cached.app;
}

export default {
  async fetch(request: Request, env: WorkerEnv, ctx: unknown): Promise<Response> {
    const app = appFor(env);
    if (typeof app === "string") {
      console.error(`weir-edge misconfigured: ${app}`);
      return fromWorker(errorResponse("internal", "edge is not configured"));
    }
    return fromWorker(await app.fetch(request, env, ctx as never));
  },
};
