import { networkInterfaces } from "node:os";

/**
 * Every address of the machine a client can use: IPv4 with loopback (a browser on the same
 * machine), and IPv6 other than loopback and link-local (those need a scope id in a candidate).
 */
export function hostAddresses(): string[] {
  const ips = Object.values(networkInterfaces())
    .flat()
    .filter((a) => a !== undefined)
    .filter((a) => a.family === "IPv4" || !(a.internal || /^fe[89ab]/i.test(a.address)))
    .map((a) => a.address);
  return [...new Set(["127.0.0.1", ...ips])];
}
