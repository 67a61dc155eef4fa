import { createServer, type Server } from "node:http";
import type { TcpMux } from "../ice/TcpMux.ts";
import type { UdpMux } from "../ice/UdpMux.ts";
import { renderMetrics } from "../metrics.ts";
import type { RelayServer } from "../relay/RelayServer.ts";
import type { MediaNode } from "./MediaNode.ts";

/** `GET /metrics` (Prometheus text) for the node's rooms and ports, on its own port. */
export function startMetricsServer(
  node: MediaNode,
  port: number,
  host = "127.0.0.1",
  ports: { relay?: RelayServer; udpMux?: UdpMux; tcpMux?: TcpMux } = {},
): Promise<Server> {
  const server = createServer((req, res) => {
    if (req.method !== "GET" || req.url !== "/metrics") {
      res.writeHead(404).end();
      return;
    }
    const stats = node.roomNames.flatMap((room) => node.router(room)?.getStats() ?? []);
    res
      .writeHead(200, { "content-type": "text/plain; version=0.0.4" })
      .end(renderMetrics(stats, ports.relay?.getStats(), ports.udpMux?.stats, ports.tcpMux?.stats));
  });
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => resolve(server));
  });
}
