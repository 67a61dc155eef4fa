/**
 * The edge: one Hono app with no state of its own. It authenticates, validates, finds the media
 * node and forwards over the bus. Platform adapters: `worker.ts` (Cloudflare Worker) and
 * `node.ts` (@hono/node-server).
 */
import { Hono } from "hono";
import { cors } from "hono/cors";
import { Access } from "./access.ts";
import type { EdgeDeps } from "./deps.ts";
import { notFound, onError } from "./errors.ts";
import { GoneNodes } from "./placement.ts";
import { adminRoutes } from "./routes/admin.ts";
import type { EdgeContext } from "./routes/context.ts";
import { mediaRoutes } from "./routes/media.ts";
import { recordingRoutes } from "./routes/recordings.ts";
import { roomRoutes } from "./routes/rooms.ts";
import { iceServersFor } from "./turn.ts";

export type { AcceptWebSocket, BusContext, EdgeDeps } from "./deps.ts";
export type { TurnConfig } from "./turn.ts";

export function createApp(deps: EdgeDeps): Hono {
  const now = deps.now ?? Date.now;
  const edge: EdgeContext = {
    deps,
    access: new Access(deps.token),
    now,
    gone: new GoneNodes(),
    iceServers: (identity) => iceServersFor(deps.turn, identity, now()),
  };
  const app = new Hono();
  app.onError(onError);
  app.notFound(notFound);
  app.use(
    "*",
    cors({
      origin: "*",
      allowMethods: ["GET", "POST", "PATCH", "DELETE", "OPTIONS"],
      allowHeaders: ["Authorization", "Content-Type", "If-Match"],
      exposeHeaders: ["Location", "ETag", "Accept-Patch", "Link"],
      maxAge: 600,
    }),
  );
  roomRoutes(app, edge);
  mediaRoutes(app, edge);
  recordingRoutes(app, edge);
  adminRoutes(app, edge);
  return app;
}
