/**
 * `npm start`: Weir in one process. The edge (Hono on Node), one media node and an in-process
 * bus in place of NATS, plus the demo page. With NATS_URL set, the same process uses NATS
 * instead, so more media nodes and edges can join it.
 */
import { createNodeEdge } from "../../edge/src/node.ts";
import { ConfigError } from "../service/config.ts";
import { createLogger, errorFields, withoutCredentials } from "../service/log.ts";
import { startMetricsServer } from "../service/metricsServer.ts";
import { NodeService } from "../service/NodeService.ts";
import { TcpMux } from "../src/ice/TcpMux.ts";
import { UdpMux } from "../src/ice/UdpMux.ts";
import { openBus } from "./bus.ts";
import { embeddedConfig } from "./config.ts";
import { demoToken } from "./devPages.ts";
import { staticRoutes } from "./static.ts";

async function main(): Promise<void> {
  const config = embeddedConfig(process.env, process.argv.slice(2));
  const log = createLogger({ fields: { node: config.nodeId } });
  const { bus, registry, close: closeBus } = await openBus(config.natsUrl, log);
  const listenIps = config.transport.listenIps ?? [];
  const udpMux =
    config.udpPort === undefined
      ? undefined
      : await UdpMux.open({ port: config.udpPort, listenIps });
  const tcpMux =
    config.tcpPort === undefined || !udpMux
      ? undefined
      : await TcpMux.open({ port: config.tcpPort, listenIps }, udpMux);
  const service = new NodeService({
    nodeId: config.nodeId,
    bus,
    registry,
    address: config.host,
    transport: {
      ...config.transport,
      ...(udpMux ? { udpMux } : {}),
      ...(tcpMux ? { tcpMux } : {}),
    },
    ...config.limits,
    recordings: config.recordings,
    ...(config.webhooks ? { webhooks: config.webhooks } : {}),
    log,
  });
  await service.start();
  const edge = await createNodeEdge({
    bus,
    registry,
    secret: config.secret,
    sessionSecret: config.sessionSecret,
    port: config.port,
    hostname: config.host,
    turn: config.turn,
    extraRoutes: (app) =>
      staticRoutes(app, {
        secret: config.secret,
        devTokens: config.devSecret,
        node: service,
        metricsOnApi: config.metrics.onApi,
        ...(udpMux ? { udpMux } : {}),
        ...(tcpMux ? { tcpMux } : {}),
      }),
  });
  const ports = { ...(udpMux ? { udpMux } : {}), ...(tcpMux ? { tcpMux } : {}) };
  const { port: metricsPort, host: metricsHost } = config.metrics;
  const metrics =
    metricsPort === undefined
      ? undefined
      : await startMetricsServer(service.node, metricsPort, metricsHost, ports);
  const busName = config.natsUrl === undefined ? "in-process" : withoutCredentials(config.natsUrl);
  process.stdout.write(
    [
      `Weir is running: ${edge.url}/`,
      `  bus: ${busName}   media addresses: ${listenIps.join(", ")}${udpMux ? `, all on UDP port ${udpMux.port}` : ""}${tcpMux ? ` and TCP port ${tcpMux.port}` : ""}`,
      ...(config.turn ? [`  TURN for clients: ${config.turn.urls.join(", ")}`] : []),
      `  metrics: ${metricsWhere(config.metrics, edge.url)}`,
      `  recordings: ${config.recordings.directory ?? "off (set WEIR_RECORDINGS_DIR or --recordings-dir)"}`,
      ...(config.devSecret
        ? [
            "  using the DEVELOPMENT secret (set WEIR_SECRET in production); the demo page mints its own tokens",
            `  a token for room "demo" (24 h): ${await demoToken(config.secret)}`,
          ]
        : ["  using WEIR_SECRET; mint tokens with `npm run token`"]),
      "",
    ].join("\n"),
  );
  const stop = (signal: string) => {
    log.info("shutting down", { signal });
    void service
      .drain()
      .then(() => edge.close())
      .then(() => metrics?.close())
      .then(() => tcpMux?.close())
      .then(() => udpMux?.close())
      .then(() => closeBus())
      .then(() => process.exit(0));
  };
  process.once("SIGINT", () => stop("SIGINT"));
  process.once("SIGTERM", () => stop("SIGTERM"));
}

function metricsWhere(m: { onApi: boolean; port?: number; host: string }, api: string): string {
  const host = m.host.includes(":") ? `[${m.host}]` : m.host;
  const own = m.port === undefined ? [] : [`http://${host}:${m.port}/metrics`];
  const all = m.onApi ? [`${api}/metrics`, ...own] : own;
  return all.length > 0 ? all.join(", ") : "off on a non-loopback API host: set WEIR_METRICS_PORT";
}

main().catch((err) => {
  const why = err instanceof ConfigError ? err.message : JSON.stringify(errorFields(err));
  process.stderr.write(`weir: failed to start: ${why}\n`);
  process.exit(err instanceof ConfigError ? 2 : 1);
});
