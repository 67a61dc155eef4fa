/** WebSocket upgrades in Node: @hono/node-server's helper over a `ws` server (noServer). */
import { upgradeWebSocket } from "@hono/node-server";
import { WebSocketServer } from "ws";
import { WeirApiError } from "../../../shared/errors.ts";
import type { AcceptWebSocket } from "../deps.ts";
import { WS_PROTOCOL } from "../routes/rooms.ts";

/** Frames over this are refused by `ws` itself (close 1009); smaller oversize ones get an error frame. */
const MAX_FRAME_BYTES = 1024 * 1024;

export function createWebSocketServer(): WebSocketServer {
  return new WebSocketServer({
    noServer: true,
    maxPayload: MAX_FRAME_BYTES,
    handleProtocols: (protocols) => (protocols.has(WS_PROTOCOL) ? WS_PROTOCOL : false),
  });
}

export const acceptNodeWebSocket: AcceptWebSocket = async (c, handler) => {
  const res = await upgradeWebSocket(c, {
    onOpen: (_ev, ws) =>
      handler.open({ send: (text) => ws.send(text), close: (code, r) => ws.close(code, r) }),
    onMessage: (ev) => {
      const data = ev.data;
      handler.message(typeof data === "string" ? data : new Uint8Array(0));
    },
    onClose: () => handler.close(),
    onError: () => handler.close(),
  });
  if (!res) {
    handler.close();
    throw new WeirApiError("bad_request", "expected a WebSocket upgrade");
  }
  return res;
};
