#!/usr/bin/env node
// Runs Biome's native binary. The registry these machines use lacks Biome's packages for other
// platforms, which breaks `npm ci` for the @biomejs/biome wrapper, so we depend on the Linux x64
// binary package directly. Usage: node scripts/biome.mjs check .
import { spawnSync } from "node:child_process";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";

const require = createRequire(import.meta.url);
let bin;
try {
  bin = join(dirname(require.resolve("@biomejs/cli-linux-x64/package.json")), "biome");
} catch {
  console.error("biome: @biomejs/cli-linux-x64 is not installed (Linux x64 only); run npm ci");
  process.exit(2);
}
const r = spawnSync(bin, process.argv.slice(2), { stdio: "inherit" });
process.exit(r.status ?? 1);
