/**
 * WebSocket upgrades in a Cloudflare Worker: a raw `WebSocketPair` (Hono's Workers helper never
 * fired onOpen in miniflare). Frames go to the platform-free protocol handler.
 */
import type {
  ResponseInit as CfResponseInit,
  WebSocket as CfWebSocket,
  WebSocketPair as CfWebSocketPair,
} from "@cloudflare/workers-types";
import type { AcceptWebSocket } from "../deps.ts";
import { WS_PROTOCOL } from "../routes/rooms.ts";

const Pair = (globalThis as unknown as { WebSocketPair: typeof CfWebSocketPair }).WebSocketPair;

export const acceptWorkerWebSocket: AcceptWebSocket = (c, handler) => {
  const pair = new Pair();
  const client: CfWebSocket = pair[0];
  const server: CfWebSocket = pair[1];
  server.accept();
  server.addEventListener("message", (ev) => handler.message(ev.data));
  server.addEventListener("close", () => {
    handler.close();
    try {
      server.close(1000, "closed");
    } catch {
      // already closed
    }
  });
  server.addEventListener("error", () => handler.close());
  handler.open({
    send: (text) => server.send(text),
    close: (code, reason) => server.close(code, reason),
  });
  const headers = new Headers();
  const offered = (c.req.header("sec-websocket-protocol") ?? "").split(",").map((p) => p.trim());
  if (offered.includes(WS_PROTOCOL)) headers.set("sec-websocket-protocol", WS_PROTOCOL);
  const init: CfResponseInit = { status: 101, webSocket: client, headers };
  return new Response(null, init as ResponseInit);
};
