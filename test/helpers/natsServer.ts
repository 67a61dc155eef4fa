/**
 * A real nats-server (2.9 from apt at /usr/sbin/nats-server) for tests: JetStream in a temp
 * dir, a WebSocket listener and a monitoring port, all on loopback and on free ports.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { killWithParent } from "./children.ts";

export const NATS_SERVER_BIN = process.env.NATS_SERVER_BIN ?? "/usr/sbin/nats-server";

export interface NatsServer {
  /** nats://127.0.0.1:port */
  url: string;
  /** ws://127.0.0.1:port */
  wsUrl: string;
  httpPort: number;
  stop(): Promise<void>;
  /**
   * Stops the server and starts it again on the same ports; `emptyStore` first deletes its
   * JetStream store_dir (a container without a persistent volume).
   */
  restart(opts?: { emptyStore?: boolean }): Promise<void>;
}

type Ports = [port: number, wsPort: number, httpPort: number];
type Running = Omit<NatsServer, "restart">;

/** A port that was free a moment ago (bind 0, read, close). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const addr = srv.address();
      const port = typeof addr === "object" && addr ? addr.port : 0;
      srv.close(() => (port ? resolve(port) : reject(new Error("no port"))));
    });
  });
}

async function distinctFreePorts(n: number): Promise<number[]> {
  const ports = new Set<number>();
  while (ports.size < n) ports.add(await freePort());
  return [...ports];
}

function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once("exit", () => resolve()));
}

export interface NatsServerOptions {
  readyTimeoutMs?: number;
  /** Appended to the generated config (e.g. an `authorization` block). */
  extraConfig?: string;
  /** nats-server's environment on top of ours (variables the config refers to). */
  env?: Record<string, string>;
}

async function startOnce(dir: string, opts: NatsServerOptions, ports: Ports): Promise<Running> {
  const readyTimeoutMs = opts.readyTimeoutMs ?? 10_000;
  const [port, wsPort, httpPort] = ports;
  const storeDir = join(dir, "jetstream");
  const conf = join(dir, "nats.conf");
  await writeFile(
    conf,
    [
      `listen: "127.0.0.1:${port}"`,
      `http: "127.0.0.1:${httpPort}"`,
      `jetstream { store_dir: ${JSON.stringify(storeDir)}, max_memory_store: 64MB, max_file_store: 256MB }`,
      `websocket { host: "127.0.0.1", port: ${wsPort}, no_tls: true }`,
      opts.extraConfig ?? "",
      "",
    ].join("\n"),
  );
  const child = spawn(NATS_SERVER_BIN, ["-c", conf], {
    stdio: ["ignore", "ignore", "pipe"],
    env: { ...process.env, ...opts.env },
  });
  killWithParent(child);
  let log = "";
  child.stderr?.setEncoding("utf8");
  child.stderr?.on("data", (chunk: string) => {
    log = (log + chunk).slice(-4000);
  });
  let spawnError: Error | undefined;
  child.once("error", (err) => {
    spawnError = err;
  });

  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill("SIGTERM");
      const killer = setTimeout(() => child.kill("SIGKILL"), 3000);
      await exited(child);
      clearTimeout(killer);
    }
  };

  const deadline = Date.now() + readyTimeoutMs;
  const health = `http://127.0.0.1:${httpPort}/healthz?js-enabled-only=true`;
  for (;;) {
    if (spawnError) throw new Error(`cannot start ${NATS_SERVER_BIN}: ${spawnError.message}`);
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`nats-server exited (${child.exitCode ?? child.signalCode}):\n${log}`);
    }
    try {
      const res = await fetch(health, { signal: AbortSignal.timeout(500) });
      await res.body?.cancel();
      if (res.status === 200) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`nats-server not healthy after ${readyTimeoutMs} ms:\n${log}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return { url: `nats://127.0.0.1:${port}`, wsUrl: `ws://127.0.0.1:${wsPort}`, httpPort, stop };
}

/**
 * Starts nats-server and waits until JetStream is healthy. Retries with fresh ports if one was
 * taken between picking and binding. `stop()` kills it and removes its temp dir.
 */
export async function startNatsServer(opts: NatsServerOptions = {}): Promise<NatsServer> {
  const dir = await mkdtemp(join(tmpdir(), "weir-nats-"));
  let lastError: unknown;
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      const ports = (await distinctFreePorts(3)) as Ports;
      let server = await startOnce(dir, opts, ports);
      let stopped: Promise<void> | undefined;
      return {
        ...server,
        stop: () => {
          stopped ??= server.stop().finally(() => rm(dir, { recursive: true, force: true }));
          return stopped;
        },
        async restart(o = {}) {
          await server.stop();
          if (o.emptyStore) await rm(join(dir, "jetstream"), { recursive: true, force: true });
          server = await startOnce(dir, opts, ports);
        },
      };
    } catch (err) {
      lastError = err;
      if (err instanceof Error && err.message.startsWith("cannot start")) break;
    }
  }
  await rm(dir, { recursive: true, force: true });
  throw lastError;
}
