#!/usr/bin/env node
// Runs a command inside a fresh loopback-only network namespace, so media traffic of tests and
// benchmarks cannot leave the machine. Usage: node scripts/netns.mjs <cmd> [args...]
import { spawnSync } from "node:child_process";

const args = process.argv.slice(2);
if (args.length === 0) {
  console.error("usage: node scripts/netns.mjs <command> [args...]");
  process.exit(2);
}
if (process.env.WEIR_NETNS === "1") {
  const r = spawnSync(args[0], args.slice(1), { stdio: "inherit" });
  process.exit(r.status ?? 1);
}
const quoted = args.map((a) => `'${a.replaceAll("'", "'\\''")}'`).join(" ");
const r = spawnSync("unshare", ["--net", "sh", "-c", `ip link set lo up && exec ${quoted}`], {
  stdio: "inherit",
  env: { ...process.env, WEIR_NETNS: "1" },
});
if (r.error || r.status === null) {
  console.error("netns: could not create a network namespace (needs root and unshare):", r.error);
  process.exit(1);
}
process.exit(r.status);
