/**
 * The edge Worker in miniflare (workerd) for integration tests: bundle `edge/src/worker.ts`
 * with wrangler offline (cached per process), then serve it on a loopback port.
 */
import { execFile } from "node:child_process";
import { rmSync } from "node:fs";
import { mkdtemp, readFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { promisify } from "node:util";
import { Miniflare } from "miniflare";

const COMPATIBILITY_DATE = "2026-04-20";
let bundled: Promise<string> | null = null;

/** Bundles the Worker (`wrangler deploy --dry-run`); returns the path of the ES module. */
export function bundleWorker(): Promise<string> {
  bundled ??= (async () => {
    const outdir = await mkdtemp(join(tmpdir(), "weir-edge-bundle-"));
    process.once("exit", () => rmSync(outdir, { recursive: true, force: true }));
    await promisify(execFile)(
      "node_modules/.bin/wrangler",
      ["deploy", "--dry-run", "--outdir", outdir, "--config", "wrangler.toml"],
      {
        env: {
          ...process.env,
          WRANGLER_SEND_METRICS: "false",
          WRANGLER_SEND_ERROR_REPORTS: "false",
          CLOUDFLARE_CF_FETCH_ENABLED: "false",
          NO_COLOR: "1",
        },
        timeout: 120_000,
        maxBuffer: 16 * 1024 * 1024,
      },
    );
    return join(outdir, "worker.js");
  })();
  return bundled;
}

export async function readBundle(): Promise<string> {
  return readFile(await bundleWorker(), "utf8");
}

export interface EdgeWorker {
  /** http://127.0.0.1:port */
  url: string;
  mf: Miniflare;
  stop(): Promise<void>;
}

export async function startEdgeWorker(opts: {
  natsWsUrl: string;
  secret: string;
  sessionSecret?: string;
  /** More Worker vars, e.g. WEIR_TURN_URLS / WEIR_TURN_SECRET. */
  vars?: Record<string, string>;
}): Promise<EdgeWorker> {
  const scriptPath = await bundleWorker();
  const bindings: Record<string, string> = {
    NATS_WS_URL: opts.natsWsUrl,
    WEIR_SECRET: opts.secret,
    ...opts.vars,
  };
  if (opts.sessionSecret !== undefined) bindings.WEIR_SESSION_SECRET = opts.sessionSecret;
  const mf = new Miniflare({
    scriptPath,
    modules: true,
    // The bundle lives outside the working directory; module paths are relative to its folder.
    modulesRoot: dirname(scriptPath),
    compatibilityDate: COMPATIBILITY_DATE,
    bindings,
    host: "127.0.0.1",
    port: 0,
    cf: false,
  });
  const url = (await mf.ready).origin;
  return { url, mf, stop: () => mf.dispose() };
}
