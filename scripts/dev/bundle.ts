/**
 * Bundles for `npm run dev`, rebuilt by esbuild's watch mode when their sources change:
 * - the edge Worker, from wrangler.toml's `main`, with the esbuild settings wrangler 4 uses for a
 *   modules Worker without nodejs_compat (esm, es2024, conditions workerd/worker/browser, names
 *   kept, cloudflare:* external, NODE_ENV defined); test/e2e/dev.test.ts checks that it holds the
 *   same modules as `wrangler deploy --dry-run`;
 * - the client SDK, as client/build.mjs makes it (client/dist/weir-client.js).
 */
import { readFileSync } from "node:fs";
import { mkdir, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { type BuildOptions, type BuildResult, context, type Plugin } from "esbuild";

export const ROOT = join(import.meta.dirname, "..", "..");

/** wrangler.toml's `main` and `compatibility_date` (a small reader: two top-level keys). */
export function wranglerConfig(path = join(ROOT, "wrangler.toml")): {
  main: string;
  compatibilityDate: string;
} {
  const text = readFileSync(path, "utf8");
  const key = (name: string) => {
    const m = new RegExp(`^${name}\\s*=\\s*"([^"]+)"`, "m").exec(text);
    if (!m) throw new Error(`${path}: no ${name}`);
    return m[1];
  };
  return { main: key("main"), compatibilityDate: key("compatibility_date") };
}

export function workerBuildOptions(outfile: string): BuildOptions {
  return {
    entryPoints: [join(ROOT, wranglerConfig().main)],
    absWorkingDir: ROOT,
    outfile,
    bundle: true,
    format: "esm",
    target: "es2024",
    supported: { "import-source": true },
    conditions: ["workerd", "worker", "browser"],
    keepNames: true,
    sourcemap: true,
    external: ["cloudflare:*"],
    define: {
      "process.env.NODE_ENV": '"development"',
      "global.process.env.NODE_ENV": '"development"',
      "globalThis.process.env.NODE_ENV": '"development"',
    },
    loader: { ".js": "jsx", ".mjs": "jsx", ".cjs": "jsx" },
    metafile: true,
    logLevel: "silent",
  };
}

export function clientBuildOptions(): BuildOptions {
  return {
    entryPoints: [join(ROOT, "client", "src", "index.ts")],
    outfile: join(ROOT, "client", "dist", "weir-client.js"),
    bundle: true,
    format: "esm",
    platform: "browser",
    target: "es2022",
    sourcemap: "linked",
    legalComments: "none",
    logLevel: "silent",
  };
}

export interface Watcher {
  dispose(): Promise<void>;
}

/** Writes a build's output files (builds run with `write: false`, so writing comes first). */
async function writeOutputs(result: BuildResult): Promise<void> {
  for (const f of result.outputFiles ?? []) {
    await mkdir(dirname(f.path), { recursive: true });
    await writeFile(f.path, f.contents);
  }
}

/**
 * Builds once (rejecting on errors), then watches; after every later build its output is on
 * disk and `onRebuild` gets the result (with its errors, if any; nothing is written then).
 * Returns once the first build is written.
 */
export async function watchBuild(
  options: BuildOptions,
  onRebuild: (result: BuildResult, ms: number) => void | Promise<void>,
): Promise<Watcher> {
  let first = true;
  let started = 0;
  let resolveFirst: (r: BuildResult) => void = () => {};
  const firstDone = new Promise<BuildResult>((r) => {
    resolveFirst = r;
  });
  const hook: Plugin = {
    name: "weir-dev-rebuild",
    setup(build) {
      build.onStart(() => {
        started = performance.now();
      });
      build.onEnd(async (result) => {
        if (result.errors.length === 0) await writeOutputs(result);
        if (first) {
          first = false;
          resolveFirst(result);
          return;
        }
        await onRebuild(result, Math.round(performance.now() - started));
      });
    },
  };
  const ctx = await context({
    ...options,
    write: false,
    plugins: [...(options.plugins ?? []), hook],
  });
  await ctx.watch();
  const result = await firstDone;
  if (result.errors.length > 0) {
    await ctx.dispose();
    throw new Error(`build of ${String(options.entryPoints)} failed:\n${formatErrors(result)}`);
  }
  return { dispose: () => ctx.dispose() };
}

/** One line per esbuild error. */
export function formatErrors(result: BuildResult): string {
  return result.errors
    .map((e) => `  ${e.location ? `${e.location.file}:${e.location.line}: ` : ""}${e.text}`)
    .join("\n");
}
