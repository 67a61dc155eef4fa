/**
 * Bus and NodeRegistry over an open NatsConnection, shared by the TCP adapter (media node,
 * `adapter/node/nats.ts`) and the WebSocket adapter (Worker, `adapter/worker/nats.ts`).
 * No `node:` imports here: this bundles for workerd.
 *
 * Registry storage: JetStream KV buckets `weir-nodes` (node id -> NodeInfo JSON, history 1,
 * bucket max_age NODES_BUCKET_TTL_MS as garbage collection for nodes that died without
 * removing themselves; liveness itself is judged by `heartbeatAt`, see `liveNodes`) and
 * `weir-rooms` (room -> node id, history 1, no max_age: a room's placement must not vanish
 * while the room lives; callers check the node with `liveNodes` and `clearRoom` a dead one).
 * nats-server 2.9 has no per-key TTL (2.11), hence timestamps.
 */
import { type KV, Kvm, type KvOptions } from "@nats-io/kv";
import {
  ClosedConnectionError,
  type Msg,
  type NatsConnection,
  NoRespondersError,
  RequestError,
  TimeoutError,
} from "@nats-io/nats-core";
import { KV_NODES, KV_ROOMS } from "../subjects.ts";
import {
  type Bus,
  BusError,
  type BusSubscription,
  exceedsMaxPayload,
  isValidSubject,
  type NodeInfo,
  type NodeRegistry,
} from "./bus.ts";

/** Server-side garbage collection of `weir-nodes` entries (heartbeats refresh them every 2 s). */
export const NODES_BUCKET_TTL_MS = 60_000;

export interface NatsBusHandle {
  bus: Bus;
  registry: NodeRegistry;
  /** Drains and closes the connection (same as `bus.close()`). */
  close(): Promise<void>;
}

export interface NatsBusOptions {
  /** Open the KV buckets on first registry use instead of at connect. */
  lazyRegistry?: boolean;
  /** Called when a subscription handler throws or its promise rejects. Default: console.error. */
  onHandlerError?: (err: unknown, subject: string) => void;
}

type Handler = (data: string, respond?: (reply: string) => void) => void;

/** Connect options from a NATS URL (or comma-separated list) that may carry credentials. */
export interface NatsUrlAuth {
  servers: string[];
  user?: string;
  pass?: string;
  token?: string;
}

/**
 * `nats://user:password@host` (or `nats://token@host`): nats.js ignores user info in server
 * URLs, so it is taken out here and passed as `user`/`pass` (or `token`).
 */
export function natsUrlAuth(urls: string): NatsUrlAuth {
  const out: NatsUrlAuth = { servers: [] };
  for (const raw of urls
    .split(",")
    .map((u) => u.trim())
    .filter(Boolean)) {
    const m = /^([a-z]+:\/\/)([^/@]*)@(.*)$/i.exec(raw);
    if (!m) {
      out.servers.push(raw);
      continue;
    }
    const [user, pass] = m[2].split(":", 2).map((p) => decodeURIComponent(p));
    if (pass !== undefined) Object.assign(out, { user, pass });
    else out.token = user;
    out.servers.push(`${m[1]}${m[3]}`);
  }
  return out;
}

/** Opens (creating if missing) the KV buckets and wraps `nc`; the handle owns the connection. */
export async function openNatsBus(
  nc: NatsConnection,
  options: NatsBusOptions = {},
): Promise<NatsBusHandle> {
  let registry: NodeRegistry;
  try {
    registry = await natsRegistry(nc, { lazy: options.lazyRegistry });
  } catch (err) {
    await closeConnection(nc);
    throw err;
  }
  const bus = natsBus(nc, options);
  return { bus, registry, close: () => bus.close() };
}

/** A Bus over `nc`. `close()` drains and closes the connection. */
export function natsBus(nc: NatsConnection, options: NatsBusOptions = {}): Bus {
  const onHandlerError =
    options.onHandlerError ??
    ((err: unknown, subject: string) => console.error(`bus handler for ${subject} failed:`, err));

  const check = (subject: string, data: string): void => {
    if (nc.isClosed()) throw new BusError("closed", "bus is closed");
    if (!isValidSubject(subject, false)) {
      throw new BusError("invalid_subject", `invalid subject ${JSON.stringify(subject)}`);
    }
    if (exceedsMaxPayload(data)) {
      throw new BusError("payload_too_large", `payload on ${subject} is over the maximum payload`);
    }
  };

  return {
    async request(subject, data, timeoutMs) {
      check(subject, data);
      try {
        const msg = await nc.request(subject, data, { timeout: timeoutMs });
        return msg.string();
      } catch (err) {
        throw requestError(err, subject, timeoutMs);
      }
    },

    publish(subject, data) {
      check(subject, data);
      try {
        nc.publish(subject, data);
      } catch (err) {
        throw natsError(err, `publish on ${subject} failed`);
      }
    },

    subscribe(subject: string, handler: Handler): BusSubscription {
      if (nc.isClosed()) throw new BusError("closed", "bus is closed");
      if (!isValidSubject(subject, true)) {
        throw new BusError("invalid_subject", `invalid subject ${JSON.stringify(subject)}`);
      }
      const sub = nc.subscribe(subject, {
        callback: (err: Error | null, msg: Msg) => {
          if (err) {
            onHandlerError(err, subject);
            return;
          }
          const respond = msg.reply
            ? (reply: string): void => {
                if (exceedsMaxPayload(reply)) {
                  throw new BusError(
                    "payload_too_large",
                    `reply to ${msg.subject} is over the maximum payload`,
                  );
                }
                if (!nc.isClosed()) msg.respond(reply);
              }
            : undefined;
          try {
            const result: unknown = handler(msg.string(), respond);
            if (result instanceof Promise) {
              result.catch((e: unknown) => onHandlerError(e, msg.subject));
            }
          } catch (e) {
            onHandlerError(e, msg.subject);
          }
        },
      });
      return {
        unsubscribe: () => {
          if (!sub.isClosed() && !nc.isClosed()) sub.unsubscribe();
        },
      };
    },

    close: () => closeConnection(nc),
  };
}

/**
 * A NodeRegistry over the `weir-nodes` and `weir-rooms` KV buckets (created if missing).
 * Eager (default): the buckets are opened before this resolves, so a broken JetStream fails
 * at startup. Lazy: they are opened on first use (and retried after a failure), which saves a
 * Worker request that never touches the registry about five round trips.
 */
export async function natsRegistry(
  nc: NatsConnection,
  opts: { lazy?: boolean } = {},
): Promise<NodeRegistry> {
  let opening: Promise<Buckets> | undefined;
  const buckets = (): Promise<Buckets> => {
    if (opening === undefined) {
      const p = openBuckets(nc);
      opening = p;
      p.catch(() => {
        if (opening === p) opening = undefined;
      });
    }
    return opening;
  };
  /**
   * Runs `op` on the open buckets. A failure drops them: a nats-server restarted with an empty
   * JetStream store has no streams behind the handles ("jetstream is not enabled" forever), so
   * the next operation opens (re-creates) them.
   */
  const withBuckets = async <T>(what: string, op: (b: Buckets) => Promise<T>): Promise<T> => {
    const p = buckets();
    const b = await p;
    try {
      return await op(b);
    } catch (err) {
      if (opening === p) opening = undefined;
      throw natsError(err, `registry: ${what} failed`, "connection_failed");
    }
  };
  if (!opts.lazy) await buckets();

  return {
    async put(info) {
      await withBuckets(`put node ${info.nodeId}`, ({ nodes }) =>
        nodes.put(kvKey(info.nodeId), JSON.stringify(info)),
      );
    },

    async remove(nodeId) {
      await withBuckets(`remove node ${nodeId}`, ({ nodes }) => nodes.delete(kvKey(nodeId)));
    },

    async list() {
      return withBuckets("list nodes", async ({ nodes }) => {
        const keys = await listKeys(nodes);
        const entries = await Promise.all(keys.map((k) => nodes.get(k)));
        const out: NodeInfo[] = [];
        for (const e of entries) {
          if (e?.operation !== "PUT") continue;
          const info = parseNodeInfo(e.string());
          if (info) out.push(info);
        }
        return out;
      });
    },

    async getRoomNode(room) {
      return withBuckets(`get room ${room}`, async ({ rooms }) => {
        const e = await rooms.get(kvKey(room));
        return e && e.operation === "PUT" ? e.string() : null;
      });
    },

    async setRoomNode(room, nodeId) {
      await withBuckets(`set room ${room}`, ({ rooms }) => rooms.put(kvKey(room), nodeId));
    },

    async clearRoom(room) {
      await withBuckets(`clear room ${room}`, ({ rooms }) => rooms.delete(kvKey(room)));
    },

    async roomMembers(room) {
      return withBuckets(`list members of ${room}`, async ({ rooms }) => {
        const prefix = memberPrefix(room);
        // keys() skips deleted and purged keys
        return (await listKeys(rooms, `${prefix}>`)).map((k) => k.slice(prefix.length));
      });
    },

    async addRoomMember(room, nodeId) {
      await withBuckets(`add ${nodeId} to ${room}`, ({ rooms }) =>
        rooms.put(memberKey(room, nodeId), "1"),
      );
    },

    async removeRoomMember(room, nodeId) {
      await withBuckets(`remove ${nodeId} from ${room}`, ({ rooms }) =>
        rooms.purge(memberKey(room, nodeId)),
      );
    },
  };
}

interface Buckets {
  nodes: KV;
  rooms: KV;
}

async function openBuckets(nc: NatsConnection): Promise<Buckets> {
  const kvm = new Kvm(nc);
  const [nodes, rooms] = await Promise.all([
    openBucket(kvm, KV_NODES, { history: 1, ttl: NODES_BUCKET_TTL_MS }),
    openBucket(kvm, KV_ROOMS, { history: 1 }),
  ]);
  return { nodes, rooms };
}

/** Creates the bucket or binds to it; a concurrent creator racing us is retried once. */
async function openBucket(kvm: Kvm, name: string, opts: Partial<KvOptions>): Promise<KV> {
  try {
    return await kvm.create(name, opts);
  } catch (first) {
    try {
      return await kvm.create(name, opts);
    } catch {
      throw natsError(first, `cannot open KV bucket ${name}`, "connection_failed");
    }
  }
}

const KEYS_TIMEOUT_MS = 2000;
const KEYS_ATTEMPTS = 3;

/**
 * kv.keys(), bounded. nats.js counts the pending keys before it consumes them and ends on the
 * last one; a key purged in between (room members are purged) is never delivered, so the
 * listing can wait forever. Each try is given KEYS_TIMEOUT_MS, then stopped and retried.
 */
async function listKeys(kv: KV, filter?: string): Promise<string[]> {
  for (let attempt = 1; ; attempt++) {
    const iter = await kv.keys(filter);
    const out: string[] = [];
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timedOut = new Promise<false>((resolve) => {
      timer = setTimeout(() => resolve(false), KEYS_TIMEOUT_MS);
    });
    const listed = (async () => {
      for await (const k of iter) out.push(k);
      return true as const;
    })();
    const done = await Promise.race([listed, timedOut]);
    clearTimeout(timer);
    if (done) return out;
    iter.stop();
    if (attempt >= KEYS_ATTEMPTS) {
      throw new Error(`listing keys timed out ${KEYS_ATTEMPTS} times (${KEYS_TIMEOUT_MS} ms each)`);
    }
  }
}

/** KV keys allow `[-/_=.A-Za-z0-9]`; names outside a safe subset are base64url-encoded. */
function kvKey(name: string): string {
  if (/^[A-Za-z0-9_-]{1,200}$/.test(name)) return name;
  const bytes = new TextEncoder().encode(name);
  let bin = "";
  for (const b of bytes) bin += String.fromCharCode(b);
  // the "x." prefix cannot collide with a raw key: raw keys have no dots
  return `x.${btoa(bin).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "")}`;
}

/**
 * Room membership keys: `m.<room>.<nodeId>` (room names and node ids are `[A-Za-z0-9_-]`, so
 * they never collide with a raw room key, which has no dots, or an encoded one, `x.`).
 */
function memberPrefix(room: string): string {
  return `m.${kvKey(room)}.`;
}

function memberKey(room: string, nodeId: string): string {
  return `${memberPrefix(room)}${kvKey(nodeId)}`;
}

function parseNodeInfo(text: string): NodeInfo | null {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return null;
  }
  if (typeof v !== "object" || v === null) return null;
  const o = v as Record<string, unknown>;
  const ok =
    typeof o.nodeId === "string" &&
    typeof o.address === "string" &&
    (o.relayAddress === undefined || typeof o.relayAddress === "string") &&
    typeof o.load === "number" &&
    typeof o.sessions === "number" &&
    typeof o.maxSessions === "number" &&
    typeof o.draining === "boolean" &&
    typeof o.heartbeatAt === "number";
  return ok ? (o as unknown as NodeInfo) : null;
}

function requestError(err: unknown, subject: string, timeoutMs: number): BusError {
  if (err instanceof BusError) return err;
  if (err instanceof TimeoutError) {
    return new BusError(
      "node_unavailable",
      `request on ${subject} timed out after ${timeoutMs} ms`,
      {
        cause: err,
        reason: "timeout",
      },
    );
  }
  if (err instanceof NoRespondersError || (err instanceof RequestError && err.isNoResponders())) {
    return new BusError("node_unavailable", `no responders on ${subject}`, {
      cause: err,
      reason: "no_responders",
    });
  }
  if (
    err instanceof ClosedConnectionError ||
    (err instanceof RequestError && /closed/.test(err.message))
  ) {
    return new BusError("closed", `request on ${subject}: connection closed`, { cause: err });
  }
  // e.g. "connection disconnected" while reconnecting: the node cannot be reached right now
  return new BusError("node_unavailable", `request on ${subject} failed: ${errMessage(err)}`, {
    cause: err,
  });
}

function natsError(
  err: unknown,
  message: string,
  fallback: "connection_failed" | "closed" = "connection_failed",
): BusError {
  if (err instanceof BusError) return err;
  if (err instanceof ClosedConnectionError) return new BusError("closed", message, { cause: err });
  return new BusError(fallback, `${message}: ${errMessage(err)}`, { cause: err });
}

function errMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** Drain (flush outbound, let handlers finish), falling back to a hard close. Idempotent. */
export async function closeConnection(nc: NatsConnection): Promise<void> {
  if (nc.isClosed()) return;
  try {
    await nc.drain();
  } catch {
    if (!nc.isClosed()) await nc.close().catch(() => {});
  }
}

/**
 * nats.js 3.x keeps its transport (TCP or WebSocket) in one module-global slot: `connect`
 * (transport-node) and `wsconnect` (nats-core) each overwrite it, and a connection reads it
 * when it dials, asynchronously. Concurrent TCP and WebSocket connects in one process would
 * dial with the wrong transport, so connects of different kinds are serialized here; connects of
 * one kind (the only case in a Worker or a media node) never wait. Reconnects also read the
 * slot: a process should not keep reconnecting connections of both kinds (use TCP in Node).
 */
let connecting: { kind: string; pending: Set<Promise<unknown>> } | null = null;

export async function exclusiveTransport<T>(
  kind: "tcp" | "ws",
  dial: () => Promise<T>,
): Promise<T> {
  while (connecting && connecting.kind !== kind) {
    await Promise.allSettled([...connecting.pending]);
  }
  connecting ??= { kind, pending: new Set() };
  const group = connecting;
  const p = dial();
  group.pending.add(p);
  try {
    return await p;
  } finally {
    group.pending.delete(p);
    if (group.pending.size === 0 && connecting === group) connecting = null;
  }
}

/** Wraps a failed connect in BusError("connection_failed"). */
export function connectError(err: unknown, url: string): BusError {
  return new BusError("connection_failed", `cannot connect to NATS at ${url}: ${errMessage(err)}`, {
    cause: err,
  });
}
