import type { Context } from "hono";
import type { Bus, NodeRegistry } from "../../shared/bus/bus.ts";
import type { VerifierConfig } from "./auth/jwt.ts";
import type { WsHandler } from "./protocol.ts";
import type { TurnConfig } from "./turn.ts";

/** What a request needs from the bus: request/reply to nodes, and the node/room registry. */
export interface BusContext {
  bus: Bus;
  registry: NodeRegistry;
}

/**
 * Turns an authorized WebSocket request into a 101 answer and drives `handler` with the
 * socket's life (platform adapters: `worker/websocket.ts`, `node/websocket.ts`).
 */
export type AcceptWebSocket = (c: Context, handler: WsHandler) => Response | Promise<Response>;

/** Everything the edge app gets from its platform. The app itself holds no state. */
export interface EdgeDeps {
  /** How to verify access tokens (a bare string is an HS256 secret). */
  token: VerifierConfig;
  /** The secret that signs session ids (may equal the HS256 secret). */
  sessionSecret: string;
  /**
   * Runs fn with a bus and registry. Worker: one NATS-over-WebSocket connection per call,
   * closed when fn settles. Node: a shared long-lived bus.
   */
  withBus<T>(fn: (ctx: BusContext) => Promise<T>): Promise<T>;
  /** WebSocket upgrades; without it `GET /v1/rooms/:room/ws` answers 501-ish errors. */
  acceptWebSocket?: AcceptWebSocket;
  /**
   * TURN servers and the secret shared with them: each client gets time-limited credentials in
   * the WebSocket `welcome` and in WHIP/WHEP `Link` headers. None: clients get no ICE servers.
   */
  turn?: TurnConfig;
  /** Clock in ms (tests). */
  now?: () => number;
}
