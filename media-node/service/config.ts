import { randomBytes } from "node:crypto";
import { isIPv6 } from "node:net";
import { resolve } from "node:path";
import { parseArgs } from "node:util";
import { NAME_PATTERN } from "../../shared/limits.ts";
import { DEFAULT_RELAY_PORT, type RelayServerOptions } from "../src/relay/RelayServerTypes.ts";
import type { TransportOptions } from "../src/TransportTypes.ts";
import { DEFAULT_MAX_SESSIONS, DEFAULT_MAX_SESSIONS_PER_IDENTITY } from "./MediaNode.ts";
import { DEFAULT_MIN_FREE_BYTES, type RecordingsConfig } from "./Recordings.ts";

export interface MediaNodeConfig {
  natsUrl: string;
  nodeId: string;
  listenIps?: string[];
  /** NAT 1:1, per address family: local listen ip -> the public address announced for it. */
  announcedIps?: Record<string, string>;
  portRange?: [number, number];
  /** One UDP port for every client (a UdpMux on each listen ip); unset: sockets per session. */
  udpPort?: number;
  /** ICE-TCP on one TCP port (a TcpMux beside the UdpMux); needs udpPort. */
  tcpPort?: number;
  maxSessions: number;
  /** Sessions one identity may hold in one room on this node. */
  maxSessionsPerIdentity: number;
  drainGraceMs: number;
  /** UDP port shared by all relays to and from other media nodes (0: any free port; unset: 50000). */
  relayPort?: number;
  /** Address other media nodes send relay traffic to (default: the first listen ip). */
  relayIp?: string;
  /** Where this node writes recordings (unset directory: recording is off). */
  recordings: RecordingsConfig;
  /** Where to POST webhook events, and the secret that signs them. */
  webhooks?: WebhookConfig;
}

export interface WebhookConfig {
  urls: string[];
  secret: string;
}

/** A webhook secret shorter than this is refused (HMAC-SHA256 wants at least 128 bits). */
export const MIN_WEBHOOK_SECRET_CHARS = 16;

/**
 * `--webhook-urls` / WEIR_WEBHOOK_URLS (comma-separated http(s) URLs) and `--webhook-secret` /
 * WEIR_WEBHOOK_SECRET (required with URLs). Neither: no webhooks. Throws ConfigError.
 */
export function webhookConfig(
  urls: string | undefined,
  secret: string | undefined,
): WebhookConfig | undefined {
  const list = (urls ?? "")
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean);
  if (list.length === 0) {
    if (secret) throw new ConfigError("WEIR_WEBHOOK_SECRET is set but WEIR_WEBHOOK_URLS is not");
    return undefined;
  }
  for (const u of list) {
    let ok = false;
    try {
      ok = ["http:", "https:"].includes(new URL(u).protocol);
    } catch {}
    if (!ok) throw new ConfigError(`bad webhook URL "${u}": expected http(s)://...`);
  }
  if (!secret || secret.length < MIN_WEBHOOK_SECRET_CHARS) {
    throw new ConfigError(
      `webhooks need WEIR_WEBHOOK_SECRET (--webhook-secret), at least ${MIN_WEBHOOK_SECRET_CHARS} characters`,
    );
  }
  return { urls: list, secret };
}

export const DEFAULT_NATS_URL = "nats://127.0.0.1:4222";

export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ConfigError";
  }
}

export const USAGE = `npm run media-node -- [options]
  --nats-url <url>          NATS_URL            (default ${DEFAULT_NATS_URL})
  --node-id <id>            WEIR_NODE_ID        (default: random)
  --listen-ip <ip,...>      WEIR_LISTEN_IPS     addresses to offer ICE candidates on
  --announced-ip <ip,...>   WEIR_ANNOUNCED_IP   public address(es) for NAT 1:1, one per family
                                                (each stands for the one listen ip of its family)
  --port-range <lo-hi>      WEIR_PORT_RANGE     UDP ports for ICE, e.g. 40000-49999
  --udp-port <port>         WEIR_UDP_PORT       one UDP port for every client (0: any free one)
  --tcp-port <port>         WEIR_TCP_PORT       ICE-TCP on one TCP port (with --udp-port)
  --max-sessions <n>        WEIR_MAX_SESSIONS   (default ${DEFAULT_MAX_SESSIONS}); more: 503 node_full
  --max-sessions-per-identity <n>
                            WEIR_MAX_SESSIONS_PER_IDENTITY  per identity and room
                            (default ${DEFAULT_MAX_SESSIONS_PER_IDENTITY}); more: 429 too_many_sessions
  --drain-grace <seconds>   WEIR_DRAIN_GRACE_S  wait for sessions on SIGTERM (default 30)
  --relay-port <port>       WEIR_RELAY_PORT     UDP port for relays between nodes (default ${DEFAULT_RELAY_PORT}, 0: any)
  --relay-ip <ip>           WEIR_RELAY_IP       address other nodes reach the relay port at
  --recordings-dir <dir>    WEIR_RECORDINGS_DIR where recordings go (<dir>/<room>/...); unset: off
  --recordings-min-free-mb <n>
                            WEIR_RECORDINGS_MIN_FREE_MB  no new recording with less free
                                                (default ${DEFAULT_MIN_FREE_BYTES / 1048576})
  --webhook-urls <url,...>  WEIR_WEBHOOK_URLS   POST signed room events to these URLs
  --webhook-secret <s>      WEIR_WEBHOOK_SECRET the HMAC-SHA256 key of their Weir-Signature
  log level: WEIR_LOG_LEVEL=debug|info|warn|error (default info)
  metrics: WEIR_METRICS_PORT=9464 serves GET /metrics (Prometheus) on WEIR_METRICS_HOST (127.0.0.1)`;

/** Flags win over environment variables, which win over defaults. Throws ConfigError. */
export function loadConfig(
  argv: string[] = process.argv.slice(2),
  env: Record<string, string | undefined> = process.env,
): MediaNodeConfig {
  let values: Record<string, string | boolean | undefined>;
  try {
    values = parseArgs({
      args: argv,
      strict: true,
      options: {
        "nats-url": { type: "string" },
        "node-id": { type: "string" },
        "listen-ip": { type: "string" },
        "announced-ip": { type: "string" },
        "port-range": { type: "string" },
        "udp-port": { type: "string" },
        "tcp-port": { type: "string" },
        "max-sessions": { type: "string" },
        "max-sessions-per-identity": { type: "string" },
        "drain-grace": { type: "string" },
        "relay-port": { type: "string" },
        "relay-ip": { type: "string" },
        "recordings-dir": { type: "string" },
        "recordings-min-free-mb": { type: "string" },
        "webhook-urls": { type: "string" },
        "webhook-secret": { type: "string" },
        help: { type: "boolean", short: "h" },
      },
    }).values;
  } catch (err) {
    throw new ConfigError((err as Error).message);
  }
  if (values.help) throw new ConfigError("help");
  const pick = (flag: string, name: string) => {
    const v = values[flag];
    return typeof v === "string" ? v : env[name] || undefined;
  };
  const nodeId = pick("node-id", "WEIR_NODE_ID") ?? `node-${randomBytes(6).toString("hex")}`;
  if (!NAME_PATTERN.test(nodeId)) throw new ConfigError(`bad node id "${nodeId}": [A-Za-z0-9_-]`);
  const listen = pick("listen-ip", "WEIR_LISTEN_IPS");
  const listenIps = listen
    ?.split(",")
    .map((s) => s.trim())
    .filter(Boolean);
  for (const ip of listenIps ?? []) if (!isIp(ip)) throw new ConfigError(`bad listen ip "${ip}"`);
  const announced = pick("announced-ip", "WEIR_ANNOUNCED_IP");
  const announcedIps = announced ? announcedMap(announced, listenIps ?? []) : undefined;
  const range = pick("port-range", "WEIR_PORT_RANGE");
  const udpPort = pick("udp-port", "WEIR_UDP_PORT");
  const tcpPort = pick("tcp-port", "WEIR_TCP_PORT");
  if (tcpPort !== undefined && udpPort === undefined) throw new ConfigError(TCP_NEEDS_UDP);
  const relayIp = pick("relay-ip", "WEIR_RELAY_IP");
  if (relayIp !== undefined && !isIp(relayIp)) throw new ConfigError(`bad relay ip "${relayIp}"`);
  const relayPortText = pick("relay-port", "WEIR_RELAY_PORT");
  const relayPort = relayPortText === undefined ? undefined : Number(relayPortText);
  if (relayPort !== undefined && !(Number.isInteger(relayPort) && relayPort <= 65535)) {
    throw new ConfigError(`bad relay port "${relayPortText}"`);
  }
  const webhooks = webhookConfig(
    pick("webhook-urls", "WEIR_WEBHOOK_URLS"),
    pick("webhook-secret", "WEIR_WEBHOOK_SECRET"),
  );
  return {
    natsUrl: pick("nats-url", "NATS_URL") ?? DEFAULT_NATS_URL,
    nodeId,
    listenIps: listenIps?.length ? listenIps : undefined,
    ...(announcedIps ? { announcedIps } : {}),
    portRange: range === undefined ? undefined : parsePortRange(range),
    ...(udpPort === undefined ? {} : { udpPort: parseUdpPort(udpPort) }),
    ...(tcpPort === undefined ? {} : { tcpPort: parseUdpPort(tcpPort, "TCP") }),
    ...sessionLimits((flag, name) => pick(flag, name)),
    drainGraceMs:
      1000 * positiveInt(pick("drain-grace", "WEIR_DRAIN_GRACE_S") ?? "30", "drain grace", true),
    ...(relayPort === undefined ? {} : { relayPort }),
    ...(relayIp === undefined ? {} : { relayIp }),
    recordings: recordingsConfig(pick),
    ...(webhooks ? { webhooks } : {}),
  };
}

/** `--recordings-dir` and `--recordings-min-free-mb` (or their variables). */
export function recordingsConfig(
  pick: (flag: string, env: string) => string | undefined,
): RecordingsConfig {
  const dir = pick("recordings-dir", "WEIR_RECORDINGS_DIR");
  const minFree = pick("recordings-min-free-mb", "WEIR_RECORDINGS_MIN_FREE_MB");
  const out: RecordingsConfig = {};
  if (dir !== undefined) out.directory = resolve(dir);
  if (minFree !== undefined) {
    const mb = Number(minFree);
    if (!(Number.isFinite(mb) && mb >= 0))
      throw new ConfigError(`bad recordings min free "${minFree}"`);
    out.minFreeBytes = Math.round(mb * 1048576);
  }
  return out;
}

/** `--max-sessions` and `--max-sessions-per-identity` (or their variables), else the defaults. */
export function sessionLimits(
  pick: (flag: string, env: string) => string | undefined,
): Pick<MediaNodeConfig, "maxSessions" | "maxSessionsPerIdentity"> {
  const limit = (flag: string, env: string, fallback: number) =>
    positiveInt(pick(flag, env) ?? `${fallback}`, flag.replaceAll("-", " "));
  return {
    maxSessions: limit("max-sessions", "WEIR_MAX_SESSIONS", DEFAULT_MAX_SESSIONS),
    maxSessionsPerIdentity: limit(
      "max-sessions-per-identity",
      "WEIR_MAX_SESSIONS_PER_IDENTITY",
      DEFAULT_MAX_SESSIONS_PER_IDENTITY,
    ),
  };
}

/** The SDK's transport options for this config. */
export function transportOptions(c: MediaNodeConfig): TransportOptions {
  const t: TransportOptions = {};
  if (c.listenIps) t.listenIps = c.listenIps;
  if (c.announcedIps) t.announcedIps = c.announcedIps;
  if (c.portRange) t.portRange = c.portRange;
  return t;
}

/** The relay port's options: bound on the first listen ip (or all), announced as relayIp. */
export function relayOptions(c: MediaNodeConfig): RelayServerOptions {
  const listenIp = c.listenIps?.[0];
  return {
    port: c.relayPort ?? DEFAULT_RELAY_PORT,
    listenIp,
    announcedIp: c.relayIp ?? listenIp,
  };
}

/** ICE-TCP finds a connection's session among the UDP mux's sessions. */
export const TCP_NEEDS_UDP = "--tcp-port (WEIR_TCP_PORT) needs --udp-port (WEIR_UDP_PORT)";

export function parseUdpPort(s: string, kind: "UDP" | "TCP" | "metrics" = "UDP"): number {
  const port = /^\d{1,5}$/.test(s.trim()) ? Number(s) : Number.NaN;
  if (!(port >= 0 && port <= 65535)) throw new ConfigError(`bad ${kind} port "${s}": 0-65535`);
  return port;
}

export function parsePortRange(s: string): [number, number] {
  const m = /^(\d{1,5})-(\d{1,5})$/.exec(s.trim());
  const lo = m ? Number(m[1]) : Number.NaN;
  const hi = m ? Number(m[2]) : Number.NaN;
  if (!(lo >= 1 && hi <= 65535 && lo <= hi)) {
    throw new ConfigError(`bad port range "${s}": expected e.g. 40000-49999`);
  }
  return [lo, hi];
}

function positiveInt(s: string, what: string, zeroOk = false): number {
  const n = Number(s);
  if (!Number.isInteger(n) || n < (zeroOk ? 0 : 1)) throw new ConfigError(`bad ${what} "${s}"`);
  return n;
}

/**
 * NAT 1:1, per family: each announced address (a comma list) stands for the one listen ip of
 * its family that is not loopback. Throws a ConfigError when that is not exactly one.
 */
export function announcedMap(list: string, listenIps: string[]): Record<string, string> {
  const map: Record<string, string> = {};
  for (const ip of list
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean)) {
    if (!isIp(ip)) throw new ConfigError(`bad announced ip "${ip}"`);
    const v6 = isIPv6(ip);
    const locals = listenIps.filter((l) => isIPv6(l) === v6 && !isLoopbackIp(l));
    if (locals.length !== 1) {
      throw new ConfigError(
        `announced ip ${ip} needs exactly one non-loopback IPv${v6 ? 6 : 4} listen ip (the local side of NAT 1:1), not ${locals.length}`,
      );
    }
    if (map[locals[0]]) throw new ConfigError(`two announced IPv${v6 ? 6 : 4} addresses`);
    map[locals[0]] = ip;
  }
  return map;
}

function isLoopbackIp(ip: string): boolean {
  return ip === "::1" || ip.startsWith("127.");
}

function isIp(s: string): boolean {
  return /^(\d{1,3})(\.\d{1,3}){3}$/.test(s) || (s.includes(":") && /^[0-9a-fA-F:.]+$/.test(s));
}
