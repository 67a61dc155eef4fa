import { randomBytes } from "node:crypto";
import { networkInterfaces } from "node:os";
import { DEV_SECRET } from "../../../edge/src/auth/devSecret.ts";
import { type MediaNodeConfig, parsePortRange, sessionLimits } from "../service/config.ts";
import type { TransportOptions } from "../TransportTypes.ts";

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
  /** WEIR_MAX_SESSIONS and WEIR_MAX_SESSIONS_PER_IDENTITY, as for a media node. */
  limits: Pick<MediaNodeConfig, "maxSessions" | "maxSessionsPerIdentity">;
}

/** Reads the embedded mode's settings from the environment. */
export function embeddedConfig(env: NodeJS.ProcessEnv): EmbeddedConfig {
  const secret = env.WEIR_SECRET ?? DEV_SECRET;
  return {
    port: Number(env.PORT ?? 8080),
    host: env.WEIR_HOST ?? "127.0.0.1",
    natsUrl: env.NATS_URL || undefined,
    nodeId: env.WEIR_NODE_ID ?? `embedded-${randomBytes(4).toString("hex")}`,
    secret,
    sessionSecret: env.WEIR_SESSION_SECRET ?? secret,
    devSecret: env.WEIR_SECRET === undefined,
    limits: sessionLimits((_flag, name) => env[name] || undefined),
    transport: {
      listenIps: env.WEIR_LISTEN_IPS ? env.WEIR_LISTEN_IPS.split(",") : defaultListenIps(),
      announcedIps: env.WEIR_ANNOUNCED_IP
        ? announce(env.WEIR_ANNOUNCED_IP, env.WEIR_LISTEN_IPS)
        : undefined,
      portRange: env.WEIR_PORT_RANGE ? parsePortRange(env.WEIR_PORT_RANGE) : undefined,
    },
  };
}

/**
 * Every address of the machine a client can use: IPv4 with loopback (a browser on the same
 * machine), and IPv6 other than loopback and link-local (those need a scope id in a candidate).
 */
function defaultListenIps(): string[] {
  const ips = Object.values(networkInterfaces())
    .flat()
    .filter((a) => a !== undefined)
    .filter((a) => a.family === "IPv4" || !(a.internal || /^fe[89ab]/i.test(a.address)))
    .map((a) => a.address);
  return [...new Set(["127.0.0.1", ...ips])];
}

function announce(ip: string, listen: string | undefined): Record<string, string> {
  const from = listen?.split(",")[0] ?? defaultListenIps().find((a) => a !== "127.0.0.1");
  return from ? { [from]: ip } : {};
}
