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
function resolveIpLiteralsSync(socket: Socket): void {
  if (patched.has(socket)) return;
  patched.add(socket);
  const handle = udpHandle(socket);
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

/** {@link UdpSender.send}: the kernel has the bytes, the buffer may be reused at once. */
export const SENT = 0;
/** Queued by libuv (socket busy): the buffer must stay untouched until it leaves. */
export const QUEUED = 1;
/** Not sent (socket closed or a send error); the buffer is free. */
export const FAILED = 2;
export type SendResult = typeof SENT | typeof QUEUED | typeof FAILED;

/**
 * Sends datagrams to IP-literal destinations through the socket's libuv handle, skipping what
 * dgram.send does per call that a forwarding loop doesn't need: argument checks, a DNS-lookup
 * closure, async-hook scoping, a fresh send request and a fresh buffer list. Only the queued case
 * (libuv could not send at once) needs a request object of its own, so one is reused until then.
 * Falls back to socket.send where Node's internals are not as expected.
 */
export class UdpSender {
  readonly socket: Socket;
  readonly #handle: SendHandle | null;
  #req: object | null = null;
  #list: Uint8Array[] = [];

  constructor(socket: Socket) {
    this.socket = socket;
    const handle = udpHandle(socket);
    this.#handle =
      SendWrapCtor && typeof handle?.send === "function" ? (handle as SendHandle) : null;
    if (!this.#handle) resolveIpLiteralsSync(socket);
  }

  send(buf: Uint8Array, port: number, ip: string): SendResult {
    const handle = this.#handle;
    if (handle === null || SendWrapCtor === null) {
      this.socket.send(buf, port, ip);
      return QUEUED; // dgram may finish it later: treat the buffer as in flight
    }
    let req = this.#req;
    if (req === null) {
      req = new SendWrapCtor();
      this.#req = req;
      this.#list = [buf];
    } else {
      this.#list[0] = buf;
    }
    const rc = handle.send(req, this.#list, 1, port, ip, false);
    if (rc > 0) return SENT;
    if (rc < 0) return FAILED;
    // libuv keeps pointers into buf until the send completes: keep buf alive with its request
    // (as dgram does), and never hand this request to libuv again.
    (req as { list?: Uint8Array[] }).list = this.#list;
    this.#req = null;
    return QUEUED;
  }
}

type LookupCallback = (err: Error | null, address: string, family: number) => void;
interface Handle {
  lookup?: (address: string, callback: LookupCallback) => void;
  send?: (
    req: object,
    list: Uint8Array[],
    count: number,
    port: number,
    address: string,
    hasCallback: boolean,
  ) => number;
}

type SendHandle = Required<Pick<Handle, "send">>;

function udpHandle(socket: Socket): Handle | undefined {
  const symbol = Object.getOwnPropertySymbols(socket).find((s) => s.description === "state symbol");
  const state = symbol
    ? (socket as unknown as Record<symbol, { handle?: Handle }>)[symbol]
    : undefined;
  return state?.handle;
}

/** libuv send request class from Node's udp_wrap binding (what dgram itself uses). */
const SendWrapCtor: (new () => object) | null = (() => {
  try {
    const binding = (
      process as unknown as { binding(name: string): { SendWrap?: new () => object } }
    ).binding("udp_wrap");
    return typeof binding.SendWrap === "function" ? binding.SendWrap : null;
  } catch {
    return null;
  }
})();
