#!/usr/bin/env node
// Runs a command inside a fresh network namespace shaped like a real host: `lo` plus one more
// interface (a veth pair, `weir0` with 10.99.0.1/24 and fd99::1/64, its peer `weir1` up without
// addresses), and no route out, so media traffic of tests and benchmarks cannot leave the
// machine. A loopback-only namespace hid bugs that every real host shows (two paths from a
// browser to the node). Usage: node scripts/netns.mjs <cmd> [args...]
// The addresses are exported as WEIR_HOST_IPV4 / WEIR_HOST_IPV6 for tests that want them.
import { spawnSync } from "node:child_process";

const HOST_IPV4 = "10.99.0.1";
const HOST_IPV6 = "fd99::1";

const SETUP = [
  "ip link set lo up",
  "ip link add weir0 type veth peer name weir1",
  `ip addr add ${HOST_IPV4}/24 dev weir0`,
  // nodad: the address is usable at once (duplicate address detection would hold it ~2 s)
  `ip -6 addr add ${HOST_IPV6}/64 dev weir0 nodad`,
  "ip link set weir0 up",
  "ip link set weir1 up",
].join(" && ");

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
const r = spawnSync("unshare", ["--net", "sh", "-c", `${SETUP} && exec ${quoted}`], {
  stdio: "inherit",
  env: {
    ...process.env,
    WEIR_NETNS: "1",
    WEIR_HOST_IPV4: HOST_IPV4,
    WEIR_HOST_IPV6: HOST_IPV6,
  },
});
if (r.error || r.status === null) {
  console.error("netns: could not create a network namespace (needs root and unshare):", r.error);
  process.exit(1);
}
process.exit(r.status);
