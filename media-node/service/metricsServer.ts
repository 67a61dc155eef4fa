import { createServer, type Server } from "node:http";
import type { TcpMux } from "../src/ice/TcpMux.ts";
import type { UdpMux } from "../src/ice/UdpMux.ts";
import { renderMetrics } from "../src/metrics.ts";
import { processStats } from "../src/processMetrics.ts";
import type { RelayServer } from "../src/relay/RelayServer.ts";
import type { MediaNode } from "./MediaNode.ts";

export interface MetricsPorts {
  relay?: RelayServer;
  udpMux?: UdpMux;
  tcpMux?: TcpMux;
}

export const METRICS_CONTENT_TYPE = "text/plain; version=0.0.4";

/** The node's rooms, sessions, ports and process as Prometheus text. */
export function metricsText(node: MediaNode, ports: MetricsPorts): string {
  const stats = node.roomNames.flatMap((room) => node.router(room)?.getStats() ?? []);
  return renderMetrics({
    routers: stats,
    relay: ports.relay?.getStats(),
    udpMux: ports.udpMux?.stats,
    tcpMux: ports.tcpMux?.stats,
    sessions: node.sessionCount,
    process: processStats(),
  });
}

/**
 * `GET /metrics` on its own port, loopback by default: the text names rooms, so it is for the
 * operator's scraper, not for the API's public port.
 */
export function startMetricsServer(
  node: MediaNode,
  port: number,
  host = "127.0.0.1",
  ports: MetricsPorts = {},
): Promise<Server> {
  const server = createServer((req, res) => {
    if (req.method !== "GET" || req.url !== "/metrics") {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { "content-type": METRICS_CONTENT_TYPE }).end(metricsText(node, ports));
  });
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => resolve(server));
  });
}
