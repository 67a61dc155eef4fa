import { randomBytes } from "node:crypto";
import { networkInterfaces } from "node:os";
import { DEV_SECRET } from "../../../edge/src/auth/devSecret.ts";
import { parsePortRange } from "../service/config.ts";
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
    transport: {
      listenIps: env.WEIR_LISTEN_IPS ? env.WEIR_LISTEN_IPS.split(",") : defaultListenIps(),
      announcedIps: env.WEIR_ANNOUNCED_IP
        ? announce(env.WEIR_ANNOUNCED_IP, env.WEIR_LISTEN_IPS)
        : undefined,
      portRange: env.WEIR_PORT_RANGE ? parsePortRange(env.WEIR_PORT_RANGE) : undefined,
    },
  };
}

/** Every IPv4 address of the machine, loopback included (a browser on the same machine). */
function defaultListenIps(): string[] {
  const ips = Object.values(networkInterfaces())
    .flat()
    .filter((a) => a !== undefined && a.family === "IPv4")
    .map((a) => (a as { address: string }).address);
  return [...new Set(["127.0.0.1", ...ips])];
}

function announce(ip: string, listen: string | undefined): Record<string, string> {
  const from = listen?.split(",")[0] ?? defaultListenIps().find((a) => a !== "127.0.0.1");
  return from ? { [from]: ip } : {};
}
