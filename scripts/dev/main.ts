#!/usr/bin/env node
/**
 * `npm run dev`: Weir as it runs in production, on this machine, for development.
 *
 *   nats-server      JetStream (data in a temp dir) + a WebSocket listener, on 127.0.0.1
 *   media node(s)    `npm run media-node` processes on that NATS (--nodes N, default 1)
 *   the edge Worker  edge/src/worker.ts bundled and run in miniflare (workerd), offline;
 *                    rebuilt and reloaded when edge (or shared) code changes
 *   dev front        a development-only Worker in front of it on the same 127.0.0.1 port:
 *                    the demo page, the client bundle (rebuilt when client/src changes) and
 *                    POST /dev/token come from this process, everything else goes to the edge
 *
 * Prints the URL and a development token; Ctrl-C (SIGINT) or SIGTERM stops every child.
 *
 *   npm run dev -- [--port 8787] [--nodes 1] [--verbose]
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { DEV_SECRET } from "../../edge/src/auth/devSecret.ts";
import { demoToken } from "../../media-node/embedded/devPages.ts";
import { hostAddresses } from "../../media-node/src/ice/hostAddresses.ts";
import {
  clientBuildOptions,
  formatErrors,
  ROOT,
  type Watcher,
  watchBuild,
  workerBuildOptions,
  wranglerConfig,
} from "./bundle.ts";
import { DevEdge } from "./edge.ts";
import { type DevNats, prefixLines, startNats } from "./nats.ts";
import { freePort } from "./ports.ts";

const USAGE = `usage: npm run dev -- [--port P] [--nodes N] [--verbose]
  --port P     the demo page and the edge on http://127.0.0.1:P (default 8787; 0: any free port)
  --nodes N    media node processes (default 1; 2 or more to see relays between nodes)
  --verbose    also print nats-server's log`;

interface Options {
  port: number;
  nodes: number;
  verbose: boolean;
}

function options(): Options {
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({
      options: {
        port: { type: "string" },
        nodes: { type: "string" },
        verbose: { type: "boolean" },
        help: { type: "boolean", short: "h" },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (err) {
    fail((err as Error).message);
  }
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    process.exit(0);
  }
  const port = Number(values.port ?? process.env.PORT ?? 8787);
  const nodes = Number(values.nodes ?? 1);
  if (!Number.isInteger(port) || port < 0 || port > 65535) fail(`bad --port ${values.port}`);
  if (!Number.isInteger(nodes) || nodes < 1 || nodes > 16) fail("--nodes is 1 to 16");
  return { port, nodes, verbose: values.verbose === true };
}

function fail(message: string): never {
  process.stderr.write(`dev: ${message}\n${USAGE}\n`);
  process.exit(2);
}

const say = (line: string) => process.stdout.write(`${line}\n`);

/** Everything started so far, stopped in reverse by `shutdown`. */
const state: {
  dir?: string;
  nats?: DevNats;
  nodes: { id: string; child: ChildProcess }[];
  edge?: DevEdge;
  watchers: Watcher[];
} = { nodes: [], watchers: [] };

let stopping = false;

async function main(): Promise<void> {
  const opts = options();
  const t0 = performance.now();
  const secret = process.env.WEIR_SECRET ?? DEV_SECRET;
  state.dir = await mkdtemp(join(tmpdir(), "weir-dev-"));

  // The client bundle first: the demo page needs it, and its watcher rebuilds on edits.
  state.watchers.push(
    await watchBuild(clientBuildOptions(), (result, ms) => {
      if (result.errors.length > 0) say(`client: build failed:\n${formatErrors(result)}`);
      else say(`client: rebuilt client/dist/weir-client.js (${ms} ms); reload the page`);
    }),
  );

  state.nats = await startNats(state.dir, { verbose: opts.verbose });
  const nats = state.nats;
  nats.child.once("exit", (code, signal) => {
    if (stopping) return;
    say(`dev: nats-server exited (${code ?? signal}); stopping\n${nats.log()}`);
    void shutdown(1);
  });

  const listenIps = process.env.WEIR_LISTEN_IPS ? [] : ["--listen-ip", hostAddresses().join(",")];
  const nodesUp = Promise.all(
    Array.from({ length: opts.nodes }, (_, i) =>
      startMediaNode(`dev-node-${i + 1}`, nats.url, listenIps),
    ),
  );
  nodesUp.catch(() => {}); // awaited below; a failure before then is not unhandled

  const { compatibilityDate } = wranglerConfig();
  const scriptPath = join(state.dir, "edge", "worker.js");
  const port = opts.port === 0 ? await freePort() : opts.port;
  const edgeOptions = { port, scriptPath, compatibilityDate, natsWsUrl: nats.wsUrl, secret };
  state.watchers.push(
    await watchBuild(workerBuildOptions(scriptPath), async (result, ms) => {
      if (result.errors.length > 0) {
        say(
          `edge: build failed; the Worker keeps running the last good build:\n${formatErrors(result)}`,
        );
        return;
      }
      const t = performance.now();
      try {
        await state.edge?.reload();
        onlyOurSignalHandlers();
        say(
          `edge: Worker reloaded (build ${ms} ms, restart ${Math.round(performance.now() - t)} ms)`,
        );
      } catch (err) {
        say(`edge: reload failed: ${(err as Error).message}`);
      }
    }),
  );
  state.edge = await DevEdge.start(edgeOptions);
  onlyOurSignalHandlers();
  await nodesUp;

  const url = `${state.edge.url}/`;
  say(
    [
      "",
      `Weir dev is running: ${url}`,
      `  edge: the Worker (${wranglerConfig().main}) in miniflare on 127.0.0.1; it reloads when edge/ or shared/ code changes`,
      `  nats: ${nats.url}, WebSocket ${nats.wsUrl}, JetStream in ${join(state.dir, "jetstream")}`,
      `  media nodes: ${state.nodes.map((n) => n.id).join(", ")}`,
      "  the demo page, client/dist/weir-client.js and POST /dev/token are served by this dev process",
      "  in front of the Worker (development only: anyone who reaches /dev/token can mint tokens)",
      ...(process.env.WEIR_SECRET === undefined
        ? ["  tokens are signed with the public DEVELOPMENT secret"]
        : ["  tokens are signed with WEIR_SECRET"]),
      `  a development token for room "demo" (24 h): ${await demoToken(secret)}`,
      `  ready in ${Math.round(performance.now() - t0)} ms; Ctrl-C stops everything`,
      "",
    ].join("\n"),
  );
}

/** Starts `npm run media-node` and resolves once it says it started. */
function startMediaNode(id: string, natsUrl: string, listenIps: string[]): Promise<void> {
  const args = [
    "--import",
    "tsx",
    join(ROOT, "media-node", "service", "main.ts"),
    "--nats-url",
    natsUrl,
    "--node-id",
    id,
    ...listenIps,
    // several nodes on one host: each relay on its own free port
    "--relay-port",
    "0",
    "--drain-grace",
    "1",
  ];
  const child = spawn(process.execPath, args, {
    cwd: ROOT,
    env: { ...process.env, NATS_URL: natsUrl },
    stdio: ["ignore", "pipe", "pipe"],
  });
  state.nodes.push({ id, child });
  return new Promise((resolve, reject) => {
    let ready = false;
    let log = "";
    const onData = (chunk: Buffer) => {
      const text = chunk.toString();
      if (!ready) {
        log = (log + text).slice(-8192);
        if (/"msg":"media node started"/.test(log)) {
          ready = true;
          resolve();
        }
      }
      process.stdout.write(prefixLines(id, text.split("\n").map(readable).join("\n")));
    };
    child.stdout?.on("data", onData);
    child.stderr?.on("data", onData);
    child.once("exit", (code, signal) => {
      if (!ready)
        reject(new Error(`media node ${id} exited (${code ?? signal}) before it started`));
      else if (!stopping) say(`dev: media node ${id} exited (${code ?? signal})`);
    });
  });
}

/** A media node's JSON log line as `level msg key=value ...`; other lines as they are. */
function readable(line: string): string {
  if (!line.startsWith("{")) return line;
  try {
    const { t: _t, level, msg, node: _n, ...rest } = JSON.parse(line) as Record<string, unknown>;
    const fields = Object.entries(rest)
      .filter(([, v]) => v !== undefined)
      .map(([k, v]) => `${k}=${typeof v === "string" ? v : JSON.stringify(v)}`);
    return [String(level).padEnd(5), msg, ...fields].join(" ");
  } catch {
    return line;
  }
}

function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once("exit", () => resolve()));
}

async function stopChild(child: ChildProcess, graceMs: number): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill("SIGTERM");
  const killer = setTimeout(() => child.kill("SIGKILL"), graceMs);
  await exited(child);
  clearTimeout(killer);
}

/** Stops everything that was started (the Worker, the nodes, then NATS) and exits. */
async function shutdown(code: number): Promise<void> {
  if (stopping) return;
  stopping = true;
  say("dev: stopping ...");
  await Promise.allSettled(state.watchers.map((w) => w.dispose()));
  await state.edge?.dispose().catch((err) => say(`dev: miniflare: ${(err as Error).message}`));
  await Promise.all(state.nodes.map((n) => stopChild(n.child, 5000)));
  if (state.nats) await stopChild(state.nats.child, 3000);
  if (state.dir) await rm(state.dir, { recursive: true, force: true });
  say("dev: stopped");
  process.exit(code);
}

/** Whatever way this process ends, no child outlives it. */
process.on("exit", () => {
  for (const c of [...state.nodes.map((n) => n.child), state.nats?.child]) {
    if (c && c.exitCode === null && c.signalCode === null) c.kill("SIGKILL");
  }
});
const SIGNALS = ["SIGINT", "SIGTERM", "SIGHUP"] as const;
function onSignal(): void {
  if (stopping) {
    // a second Ctrl-C: no more waiting
    say("dev: killing");
    process.exit(130);
  }
  void shutdown(0);
}
for (const signal of SIGNALS) process.on(signal, onSignal);

/**
 * Miniflare's exit hook exits the process on SIGINT/SIGTERM (after disposing workerd) before
 * the media nodes and nats-server are stopped: keep only our handler, which disposes it too.
 */
function onlyOurSignalHandlers(): void {
  for (const signal of SIGNALS) {
    for (const l of process.listeners(signal)) if (l !== onSignal) process.off(signal, l);
  }
}

main().catch(async (err) => {
  process.stderr.write(`dev: failed to start: ${(err as Error).message}\n`);
  await shutdown(1);
});
