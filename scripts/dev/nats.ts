/**
 * The dev command's nats-server: JetStream in a temp dir, a WebSocket listener for the Worker
 * edge and a monitoring port for its health check, all on 127.0.0.1 and free ports.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { freePorts } from "./ports.ts";

export const NATS_SERVER_BIN = process.env.NATS_SERVER_BIN ?? "nats-server";

export interface DevNats {
  url: string;
  wsUrl: string;
  child: ChildProcess;
  /** The last 4 KB of its log, for error messages. */
  log(): string;
}

export async function startNats(dir: string, opts: { verbose: boolean }): Promise<DevNats> {
  const [port, wsPort, httpPort] = await freePorts(3);
  const conf = join(dir, "nats.conf");
  await writeFile(
    conf,
    [
      `listen: "127.0.0.1:${port}"`,
      `http: "127.0.0.1:${httpPort}"`,
      `jetstream { store_dir: ${JSON.stringify(join(dir, "jetstream"))}, max_memory_store: 64MB, max_file_store: 256MB }`,
      `websocket { host: "127.0.0.1", port: ${wsPort}, no_tls: true }`,
      "",
    ].join("\n"),
  );
  const child = spawn(NATS_SERVER_BIN, ["-c", conf], { stdio: ["ignore", "ignore", "pipe"] });
  let log = "";
  child.stderr?.setEncoding("utf8");
  child.stderr?.on("data", (chunk: string) => {
    log = (log + chunk).slice(-4096);
    if (opts.verbose) process.stderr.write(prefixLines("nats", chunk));
  });
  let spawnError: Error | undefined;
  child.once("error", (err) => {
    spawnError = err;
  });
  const health = `http://127.0.0.1:${httpPort}/healthz?js-enabled-only=true`;
  const deadline = Date.now() + 15_000;
  for (;;) {
    if (spawnError) {
      throw new Error(
        `cannot start ${NATS_SERVER_BIN} (${spawnError.message}); install it with \`bash scripts/setup.sh --dev\` (Debian: apt-get install nats-server) or set NATS_SERVER_BIN`,
      );
    }
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
      child.kill("SIGKILL");
      throw new Error(`nats-server not healthy after 15 s:\n${log}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    url: `nats://127.0.0.1:${port}`,
    wsUrl: `ws://127.0.0.1:${wsPort}`,
    child,
    log: () => log,
  };
}

/** `[name] ` before every line of `text`. */
export function prefixLines(name: string, text: string): string {
  return text
    .split(/\r?\n/)
    .filter((l) => l !== "")
    .map((l) => `[${name}] ${l}\n`)
    .join("");
}
