import { readFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import type { Hono } from "hono";
import { signToken } from "../../../edge/src/auth/jwt.ts";
import { readTextLimited } from "../../../edge/src/http.ts";
import { NAME_PATTERN } from "../../../shared/limits.ts";
import type { TcpMux } from "../ice/TcpMux.ts";
import type { UdpMux } from "../ice/UdpMux.ts";
import { METRICS_CONTENT_TYPE, metricsText } from "../service/metricsServer.ts";
import type { NodeService } from "../service/NodeService.ts";

const root = (p: string) => fileURLToPath(new URL(`../../../client/${p}`, import.meta.url));
const FILES: Record<string, [file: string, type: string]> = {
  "/": ["demo/index.html", "text/html; charset=utf-8"],
  "/demo.js": ["demo/demo.js", "text/javascript; charset=utf-8"],
  "/weir-client.js": ["dist/weir-client.js", "text/javascript; charset=utf-8"],
};

/** A /dev/token request is `{ room, identity }`: a few hundred bytes; larger is refused unread. */
const DEV_TOKEN_BODY_BYTES = 4 * 1024;

export interface StaticOptions {
  secret: string;
  /** Mint demo tokens at POST /dev/token (development secret only). */
  devTokens: boolean;
  node: NodeService;
  /** Serve /metrics here: only while the API listens on loopback (the text names rooms). */
  metricsOnApi: boolean;
  /** The one UDP port, when WEIR_UDP_PORT is set (its counters go to /metrics). */
  udpMux?: UdpMux;
  /** The one ICE-TCP port, when WEIR_TCP_PORT is set. */
  tcpMux?: TcpMux;
}

/** The demo page, the client bundle, /metrics and (in development) /dev/token. */
export function staticRoutes(app: Hono, opts: StaticOptions): void {
  for (const [path, [file, type]] of Object.entries(FILES)) {
    app.get(path, async (c) => c.body(await readFile(root(file)), 200, { "content-type": type }));
  }
  if (opts.metricsOnApi) {
    app.get("/metrics", (c) =>
      c.text(metricsText(opts.node.node, opts), 200, { "content-type": METRICS_CONTENT_TYPE }),
    );
  }
  if (!opts.devTokens) return;
  app.post("/dev/token", async (c) => {
    const body = safeParse(await readTextLimited(c.req.raw, DEV_TOKEN_BODY_BYTES, "body"));
    if (!body || !NAME_PATTERN.test(body.room) || !NAME_PATTERN.test(body.identity)) {
      return c.json(
        { error: { code: "bad_request", message: "room and identity: [A-Za-z0-9_-]{1,128}" } },
        400,
      );
    }
    const exp = Math.floor(Date.now() / 1000) + 3600;
    const grants = ["publish", "subscribe", "data"] as const;
    const token = await signToken(
      { sub: body.identity, room: body.room, grants: [...grants], exp },
      opts.secret,
    );
    return c.json({ token });
  });
}

function safeParse(text: string): { room: string; identity: string } | null {
  try {
    const v = JSON.parse(text) as { room?: unknown; identity?: unknown };
    return typeof v.room === "string" && typeof v.identity === "string"
      ? { room: v.room, identity: v.identity }
      : null;
  } catch {
    return null;
  }
}
