import { randomBytes } from "node:crypto";
import { parseArgs } from "node:util";
import { DEV_SECRET } from "../../edge/src/auth/devSecret.ts";
import { MIN_SECRET_BYTES } from "../../edge/src/auth/jwt.ts";
import { parseTurnConfig, type TurnConfig } from "../../edge/src/turn.ts";
import {
  announcedMap,
  ConfigError,
  type MediaNodeConfig,
  parsePortRange,
  parseUdpPort,
  recordingsConfig,
  sessionLimits,
  TCP_NEEDS_UDP,
  type WebhookConfig,
  webhookConfig,
} from "../service/config.ts";
import type { RecordingsConfig } from "../service/Recordings.ts";
import { hostAddresses } from "../src/ice/hostAddresses.ts";
import type { TransportOptions } from "../src/TransportTypes.ts";

export interface EmbeddedConfig {
  port: number;
  host: string;
  natsUrl: string | undefined;
  nodeId: string;
  secret: string;
  sessionSecret: string;
  /** True when no WEIR_SECRET was given: tokens are signed with the development secret. */
  devSecret: boolean;
  transport: TransportOptions;
  /** WEIR_UDP_PORT: one UDP port for every client (a UdpMux) instead of sockets per session. */
  udpPort?: number;
  /** WEIR_TCP_PORT: ICE-TCP on one TCP port (needs WEIR_UDP_PORT). */
  tcpPort?: number;
  /** WEIR_TURN_URLS, WEIR_TURN_SECRET, WEIR_TURN_TTL: TURN credentials for clients. */
  turn: TurnConfig | undefined;
  /**
   * Where GET /metrics is served: on the API port while WEIR_HOST is loopback (the text names
   * rooms), and on WEIR_METRICS_PORT (on WEIR_METRICS_HOST, 127.0.0.1) when that is set.
   */
  metrics: { onApi: boolean; port?: number; host: string };
  /** WEIR_MAX_SESSIONS and WEIR_MAX_SESSIONS_PER_IDENTITY, as for a media node. */
  limits: Pick<MediaNodeConfig, "maxSessions" | "maxSessionsPerIdentity">;
  /** --recordings-dir / WEIR_RECORDINGS_DIR (and the min free space): recording, when set. */
  recordings: RecordingsConfig;
  /** WEIR_WEBHOOK_URLS and WEIR_WEBHOOK_SECRET, as for a media node. */
  webhooks?: WebhookConfig;
}

/**
 * Reads the embedded mode's settings from the environment. Throws ConfigError when development
 * mode would be reachable from elsewhere (see `requireDevModeAllowed`).
 */
export function embeddedConfig(env: NodeJS.ProcessEnv, argv: string[] = []): EmbeddedConfig {
  let flags: Record<string, string | boolean | undefined>;
  try {
    flags = parseArgs({
      args: argv,
      strict: true,
      options: {
        "recordings-dir": { type: "string" },
        "recordings-min-free-mb": { type: "string" },
      },
    }).values;
  } catch (err) {
    throw new ConfigError((err as Error).message);
  }
  const pick = (flag: string, name: string) => {
    const v = flags[flag];
    return typeof v === "string" ? v : env[name] || undefined;
  };
  const secret = env.WEIR_SECRET ?? DEV_SECRET;
  const host = env.WEIR_HOST ?? "127.0.0.1";
  const natsUrl = env.NATS_URL || undefined;
  const devSecret = env.WEIR_SECRET === undefined;
  if (devSecret) requireDevModeAllowed(host, natsUrl, env.WEIR_DEV === "1");
  const listenIps = env.WEIR_LISTEN_IPS ? env.WEIR_LISTEN_IPS.split(",") : hostAddresses();
  return {
    port: Number(env.PORT ?? 8080),
    host,
    natsUrl,
    nodeId: env.WEIR_NODE_ID ?? `embedded-${randomBytes(4).toString("hex")}`,
    secret,
    sessionSecret: env.WEIR_SESSION_SECRET ?? secret,
    devSecret,
    limits: sessionLimits((_flag, name) => env[name] || undefined),
    metrics: {
      onApi: isLoopback(host),
      host: env.WEIR_METRICS_HOST ?? "127.0.0.1",
      ...(env.WEIR_METRICS_PORT ? { port: parseUdpPort(env.WEIR_METRICS_PORT, "metrics") } : {}),
    },
    ...(env.WEIR_UDP_PORT ? { udpPort: parseUdpPort(env.WEIR_UDP_PORT) } : {}),
    ...(env.WEIR_TCP_PORT ? { tcpPort: tcpPortOf(env) } : {}),
    turn: turnConfig(env),
    recordings: recordingsConfig(pick),
    ...optionalWebhooks(env),
    transport: {
      listenIps,
      announcedIps: env.WEIR_ANNOUNCED_IP
        ? announcedMap(env.WEIR_ANNOUNCED_IP, listenIps)
        : undefined,
      portRange: env.WEIR_PORT_RANGE ? parsePortRange(env.WEIR_PORT_RANGE) : undefined,
    },
  };
}

function optionalWebhooks(env: NodeJS.ProcessEnv): { webhooks?: WebhookConfig } {
  const webhooks = webhookConfig(
    env.WEIR_WEBHOOK_URLS || undefined,
    env.WEIR_WEBHOOK_SECRET || undefined,
  );
  return webhooks ? { webhooks } : {};
}

function turnConfig(env: NodeJS.ProcessEnv): TurnConfig | undefined {
  try {
    return parseTurnConfig({
      urls: env.WEIR_TURN_URLS,
      secret: env.WEIR_TURN_SECRET,
      ttl: env.WEIR_TURN_TTL,
    });
  } catch (err) {
    throw new ConfigError((err as Error).message);
  }
}

/**
 * Development mode (no WEIR_SECRET: the public secret, so anyone can mint any token, and POST
 * /dev/token) stays on this machine: a loopback WEIR_HOST and the in-process bus. Anything else
 * needs WEIR_SECRET, or WEIR_DEV=1 to say it is meant.
 */
function requireDevModeAllowed(host: string, natsUrl: string | undefined, optIn: boolean): void {
  if (optIn) return;
  const exposed =
    natsUrl !== undefined
      ? "NATS_URL is set"
      : isLoopback(host)
        ? null
        : `WEIR_HOST=${host} is not a loopback address`;
  if (exposed === null) return;
  throw new ConfigError(
    `WEIR_SECRET is not set and ${exposed}: development mode signs tokens with a public secret, so anyone could mint them. Set WEIR_SECRET (${MIN_SECRET_BYTES} bytes or more), or WEIR_DEV=1 to run development mode anyway.`,
  );
}

/** 127.0.0.0/8, ::1 (also IPv4-mapped) and localhost. */
function isLoopback(host: string): boolean {
  const h = host.replace(/^\[(.*)\]$/, "$1").toLowerCase();
  return h === "localhost" || h === "::1" || /^(?:::ffff:)?127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h);
}

function tcpPortOf(env: NodeJS.ProcessEnv): number {
  if (!env.WEIR_UDP_PORT) throw new ConfigError(TCP_NEEDS_UDP);
  return parseUdpPort(env.WEIR_TCP_PORT ?? "", "TCP");
}
