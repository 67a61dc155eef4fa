#!/usr/bin/env node
// Bundles the browser client SDK (client/src/index.ts) into one ESM file:
// client/dist/weir-client.js (+ linked source map). Offline and fast; exits non-zero on error.
import { statSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

const here = dirname(fileURLToPath(import.meta.url));
const outfile = join(here, "dist", "weir-client.js");

try {
  const started = performance.now();
  const result = await build({
    entryPoints: [join(here, "src", "index.ts")],
    outfile,
    bundle: true,
    format: "esm",
    platform: "browser",
    target: "es2022",
    minify: false,
    sourcemap: "linked",
    legalComments: "none",
    logLevel: "warning",
  });
  if (result.errors.length > 0) process.exit(1);
  const bytes = statSync(outfile).size;
  const ms = Math.round(performance.now() - started);
  console.log(
    `client: ${relative(process.cwd(), outfile) || outfile} ${(bytes / 1024).toFixed(1)} KiB (${ms} ms)`,
  );
} catch (err) {
  // esbuild has already printed the diagnostics for build failures.
  if (!(err && Array.isArray(err.errors))) console.error(err);
  process.exit(1);
}
