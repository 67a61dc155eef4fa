import type { Hono } from "hono";
import { METRICS_CONTENT_TYPE, metricsText } from "../service/metricsServer.ts";
import type { NodeService } from "../service/NodeService.ts";
import type { TcpMux } from "../src/ice/TcpMux.ts";
import type { UdpMux } from "../src/ice/UdpMux.ts";
import { DEMO_FILES, DEV_TOKEN_PATH, demoFile, devTokenResponse } from "./devPages.ts";

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
  for (const path of Object.keys(DEMO_FILES)) {
    app.get(path, async (c) => (await demoFile(c.req.path)) ?? c.notFound());
  }
  if (opts.metricsOnApi) {
    app.get("/metrics", (c) =>
      c.text(metricsText(opts.node.node, opts), 200, { "content-type": METRICS_CONTENT_TYPE }),
    );
  }
  if (!opts.devTokens) return;
  app.post(DEV_TOKEN_PATH, (c) => devTokenResponse(c.req.raw, opts.secret));
}
