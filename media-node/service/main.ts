/**
 * `npm run media-node`: a media node process on NATS. SIGTERM/SIGINT drain it (goaway to
 * WebSocket sessions, wait for sessions up to the grace period) and exit 0.
 */
import { hostname } from "node:os";
import { connectNatsBus } from "../../shared/bus/adapter/node/nats.ts";
import { hostAddresses } from "../src/ice/hostAddresses.ts";
import { TcpMux } from "../src/ice/TcpMux.ts";
import { UdpMux } from "../src/ice/UdpMux.ts";
import { RelayServer } from "../src/relay/RelayServer.ts";
import {
  ConfigError,
  loadConfig,
  type MediaNodeConfig,
  relayOptions,
  transportOptions,
  USAGE,
} from "./config.ts";
import { createLogger, errorFields, type Logger, withoutCredentials } from "./log.ts";
import { startMetricsServer } from "./metricsServer.ts";
import { NodeService } from "./NodeService.ts";

async function main(): Promise<void> {
  let config: ReturnType<typeof loadConfig>;
  try {
    config = loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      const help = err.message === "help";
      process.stderr.write(`${help ? "" : `${err.message}\n\n`}${USAGE}\n`);
      process.exit(help ? 0 : 2);
    }
    throw err;
  }
  const log = createLogger({ fields: { node: config.nodeId } });
  const nats = await connectNatsBus(config.natsUrl, {
    name: `weir-media-node-${config.nodeId}`,
    onHandlerError: (err, subject) =>
      log.error("bus handler failed", { subject, ...errorFields(err) }),
  });
  const relay = await startRelay(config, log);
  const udpMux =
    config.udpPort === undefined
      ? undefined
      : await UdpMux.open({ port: config.udpPort, listenIps: config.listenIps ?? hostAddresses() });
  const tcpMux =
    config.tcpPort === undefined || !udpMux
      ? undefined
      : await TcpMux.open(
          { port: config.tcpPort, listenIps: udpMux.sockets.map((s) => s.ip) },
          udpMux,
        );
  const service = new NodeService({
    nodeId: config.nodeId,
    bus: nats.bus,
    registry: nats.registry,
    address: Object.values(config.announcedIps ?? {})[0] ?? config.listenIps?.[0] ?? hostname(),
    maxSessions: config.maxSessions,
    maxSessionsPerIdentity: config.maxSessionsPerIdentity,
    transport: {
      ...transportOptions(config),
      ...(udpMux ? { udpMux } : {}),
      ...(tcpMux ? { tcpMux } : {}),
    },
    drainGraceMs: config.drainGraceMs,
    relay,
    recordings: config.recordings,
    ...(config.webhooks ? { webhooks: config.webhooks } : {}),
    log,
  });
  await service.start();
  const metricsPort = Number(process.env.WEIR_METRICS_PORT ?? 0);
  const metrics =
    metricsPort > 0
      ? await startMetricsServer(service.node, metricsPort, process.env.WEIR_METRICS_HOST, {
          relay,
          udpMux,
          tcpMux,
        })
      : null;
  log.info("media node started", {
    nats: withoutCredentials(config.natsUrl),
    listenIps: config.listenIps,
    announcedIps: config.announcedIps,
    portRange: config.portRange,
    udpPort: udpMux?.port,
    tcpPort: tcpMux?.port,
    maxSessions: config.maxSessions,
    maxSessionsPerIdentity: config.maxSessionsPerIdentity,
    relay: relay.address,
    recordings: config.recordings.directory ?? "off",
    webhooks: config.webhooks?.urls.map(withoutCredentials),
  });
  let stopping = false;
  const shutdown = (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info("shutting down", { signal });
    metrics?.close();
    service
      .drain()
      .then(() => relay.close())
      .then(() => tcpMux?.close())
      .then(() => udpMux?.close())
      .then(() => nats.close())
      .then(
        () => process.exit(0),
        (err) => {
          log.error("shutdown failed", errorFields(err));
          process.exit(1);
        },
      );
  };
  process.on("SIGTERM", () => shutdown("SIGTERM"));
  process.on("SIGINT", () => shutdown("SIGINT"));
}

/** The relay port; the default one may be taken (several nodes on a host): then any free one. */
async function startRelay(config: MediaNodeConfig, log: Logger): Promise<RelayServer> {
  const options = relayOptions(config);
  try {
    const relay = new RelayServer(options);
    await relay.listen();
    return relay;
  } catch (err) {
    if (config.relayPort !== undefined || (err as NodeJS.ErrnoException).code !== "EADDRINUSE") {
      throw err;
    }
    log.warn("default relay port taken: using a free one", { port: options.port });
    const relay = new RelayServer({ ...options, port: 0 });
    await relay.listen();
    return relay;
  }
}

main().catch((err) => {
  process.stderr.write(
    `${JSON.stringify({ t: new Date().toISOString(), level: "error", msg: "media node failed to start", ...errorFields(err) })}\n`,
  );
  process.exit(1);
});
