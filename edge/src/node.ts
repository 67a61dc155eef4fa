/**
 * The edge in a Node process (embedded mode, or an edge beside NATS): the same app served by
 * @hono/node-server with a long-lived bus shared by all requests.
 */
import type { AddressInfo } from "node:net";
import { type ServerType, serve } from "@hono/node-server";
import type { Hono } from "hono";
import type { Bus, NodeRegistry } from "../../shared/bus/bus.ts";
import { createApp } from "./app.ts";
import type { VerifierConfig } from "./auth/jwt.ts";
import { acceptNodeWebSocket, createWebSocketServer } from "./node/websocket.ts";
import type { TurnConfig } from "./turn.ts";

export interface NodeEdgeOptions {
  bus: Bus;
  registry: NodeRegistry;
  /** HS256 secret, or another verifier config. */
  secret: VerifierConfig;
  /** Session-id secret; defaults to `secret` when that is an HS256 secret string. */
  sessionSecret?: string;
  /** 0 picks a free port. */
  port: number;
  hostname?: string;
  /** TURN servers whose credentials the edge hands to clients (`parseTurnConfig`). */
  turn?: TurnConfig;
  /** Routes the host process adds beside the API (the embedded mode's demo page, /metrics). */
  extraRoutes?: (app: Hono) => void;
}

export interface NodeEdge {
  app: Hono;
  server: ServerType;
  port: number;
  url: string;
  close(): Promise<void>;
}

export async function createNodeEdge(opts: NodeEdgeOptions): Promise<NodeEdge> {
  const sessionSecret =
    opts.sessionSecret ??
    (typeof opts.secret === "string"
      ? opts.secret
      : opts.secret.alg === "HS256"
        ? opts.secret.secret
        : undefined);
  if (sessionSecret === undefined) throw new TypeError("sessionSecret is required");
  const ctx = { bus: opts.bus, registry: opts.registry };
  const app = createApp({
    token: opts.secret,
    sessionSecret,
    turn: opts.turn,
    withBus: (fn) => fn(ctx),
    acceptWebSocket: acceptNodeWebSocket,
  });
  opts.extraRoutes?.(app);
  const hostname = opts.hostname ?? "127.0.0.1";
  const wss = createWebSocketServer();
  const { server, port } = await new Promise<{ server: ServerType; port: number }>(
    (resolve, reject) => {
      const s = serve(
        { fetch: app.fetch, port: opts.port, hostname, websocket: { server: wss } },
        (info: AddressInfo) => resolve({ server: s, port: info.port }),
      );
      s.once("error", reject);
    },
  );
  const host = hostname.includes(":") ? `[${hostname}]` : hostname;
  return {
    app,
    server,
    port,
    url: `http://${host}:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        wss.close();
        server.close(() => resolve());
        (server as { closeAllConnections?: () => void }).closeAllConnections?.();
      }),
  };
}
