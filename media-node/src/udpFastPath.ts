import type { Socket } from "node:dgram";
import { isIP } from "node:net";

const patched = new WeakSet<Socket>();

/**
 * Node's dgram resolves every destination through dns.lookup, which answers even an IP literal
 * on the next tick: each send costs a tick, a closure and async-hook bookkeeping, and goes out
 * only after the fan-out loop. ICE remote addresses are always IP literals, so answer those
 * synchronously; anything else still takes Node's path. Relies on dgram's internal state
 * symbol and leaves the socket untouched if that ever changes.
 */
export function resolveIpLiteralsSync(socket: Socket): void {
  if (patched.has(socket)) return;
  patched.add(socket);
  const symbol = Object.getOwnPropertySymbols(socket).find((s) => s.description === "state symbol");
  const state = symbol
    ? (socket as unknown as Record<symbol, { handle?: Handle }>)[symbol]
    : undefined;
  const handle = state?.handle;
  const original = handle?.lookup;
  if (!handle || typeof original !== "function") return;
  const family = socket.address().family === "IPv6" ? 6 : 4;
  let lastLiteral = "";
  handle.lookup = (address, callback) => {
    if (address === lastLiteral || isIP(address) === family) {
      lastLiteral = address;
      callback(null, address, family);
    } else {
      original.call(handle, address, callback);
    }
  };
}

type LookupCallback = (err: Error | null, address: string, family: number) => void;
interface Handle {
  lookup?: (address: string, callback: LookupCallback) => void;
}
