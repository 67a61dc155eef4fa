/** `GET /healthz`, `GET /v1/rooms/:room` and the WebSocket signaling route. */
import type { Hono } from "hono";
import { liveNodes } from "../../../shared/bus/bus.ts";
import { WeirApiError } from "../../../shared/errors.ts";
import { requireAnyGrant, requireRoomName } from "../access.ts";
import { joinPlaced } from "../placement.ts";
import { openWsSession, type WsHandler } from "../protocol.ts";
import { ServerApi } from "../serverApi.ts";
import type { EdgeContext } from "./context.ts";

/** The subprotocol a WebSocket client offers first; the token rides second. */
export const WS_PROTOCOL = "weir";

/** The token of a WebSocket request: `Sec-WebSocket-Protocol: weir, <token>`, or `?token=`. */
export function wsToken(req: Request): string | null {
  const offered = (req.headers.get("sec-websocket-protocol") ?? "")
    .split(",")
    .map((p) => p.trim())
    .filter((p) => p.length > 0);
  const fromProtocol = offered.find((p) => p !== WS_PROTOCOL);
  if (fromProtocol !== undefined) return fromProtocol;
  return new URL(req.url).searchParams.get("token");
}

export function roomRoutes(app: Hono, edge: EdgeContext): void {
  app.get("/healthz", async (c) => {
    const nodes = await edge.deps.withBus(({ registry }) => registry.list());
    return c.json({ ok: true, nodes: liveNodes(nodes, edge.now()).length });
  });

  app.get("/v1/rooms/:room", async (c) => {
    const claims = await edge.access.bearer(c.req.raw);
    const room = requireRoomName(c.req.param("room"));
    requireAnyGrant(claims, room, ["subscribe", "admin"]);
    const info = await edge.deps.withBus((ctx) =>
      new ServerApi({ ...ctx, now: edge.now }).getRoom(room),
    );
    return c.json(info);
  });

  app.get("/v1/rooms/:room/ws", async (c) => {
    if ((c.req.header("upgrade") ?? "").toLowerCase() !== "websocket")
      throw new WeirApiError("bad_request", "expected a WebSocket upgrade");
    const accept = edge.deps.acceptWebSocket;
    if (accept === undefined) throw new WeirApiError("internal", "WebSockets are not enabled");
    const claims = await edge.access.verify(wsToken(c.req.raw));
    const room = requireRoomName(c.req.param("room"));
    requireAnyGrant(claims, room, ["publish", "subscribe", "data"]);

    // The bus lives as long as the socket: withBus settles when the session is closed.
    const handler = await new Promise<WsHandler>((resolve, reject) => {
      edge.deps
        .withBus(async (ctx) => {
          const iceServers = await edge.iceServers(claims.sub);
          const verify = (t: string) => edge.access.verify(t);
          const h = await joinPlaced(
            ctx.registry,
            room,
            edge.now(),
            (nodeId) => openWsSession({ ctx, nodeId, room, claims, iceServers, verify }),
            edge.gone,
          );
          resolve(h);
          await h.closed;
        })
        .catch(reject);
    });
    return accept(c, handler);
  });
}
