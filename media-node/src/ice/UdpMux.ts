import { createSocket, type RemoteInfo, type Socket } from "node:dgram";
import { isIPv6 } from "node:net";
import { TypedEmitter } from "../TypedEmitter.ts";
import { classify, isBindingRequest, requestedUfrag } from "./stunMessage.ts";
import type {
  MuxEndpoint,
  MuxSession,
  MuxSocket,
  UdpMuxEvents,
  UdpMuxOptions,
  UdpMuxStats,
} from "./UdpMuxTypes.ts";

const DEFAULT_MAX_TUPLES = 8;
const DEFAULT_SOCKET_BUFFER = 4 * 1024 * 1024;
/** Tries to find one free port on every address when the port is 0. */
const BIND_ATTEMPTS = 5;

/**
 * One UDP port for every ICE session of a node (mediasoup's WebRtcServer, LiveKit's udp_port):
 * one socket per listen address, all on the same port. A STUN Binding request finds its session
 * by the USERNAME's local ufrag and, once its MESSAGE-INTEGRITY checks out, binds its source
 * tuple to that session; everything else (DTLS, SRTP, SRTCP, later checks) is routed by tuple.
 * Sources no session authenticated are dropped and counted.
 */
export class UdpMux extends TypedEmitter<UdpMuxEvents> {
  readonly sockets: readonly MuxSocket[];
  readonly port: number;
  readonly stats: UdpMuxStats = {
    sessions: 0,
    tuples: 0,
    droppedUnknownSource: 0,
    droppedStun: 0,
    droppedUnclassified: 0,
    tuplesEvicted: 0,
    socketErrors: 0,
  };
  readonly #maxTuples: number;
  readonly #sessions = new Set<MuxSession>();
  /** ufrag -> sessions answering to it (rebuilt when sessions or their ufrags change). */
  #byUfrag = new Map<string, MuxSession[]>();
  #stale = false;
  #closed = false;

  private constructor(sockets: MuxSocket[], options: UdpMuxOptions) {
    super();
    this.sockets = sockets;
    this.port = sockets[0]?.port ?? 0;
    this.#maxTuples = options.maxTuplesPerSession ?? DEFAULT_MAX_TUPLES;
    for (const s of sockets) {
      s.socket.off("error", ignoreWhileBinding);
      s.socket.on("message", (data, from) => this.#receive(s, data, from));
      s.socket.on("error", (error) => {
        this.stats.socketErrors++;
        this.emit("socketerror", error, s);
      });
    }
  }

  /** Binds one socket per listen address, all on `options.port` (or one free port for all). */
  static async open(options: UdpMuxOptions): Promise<UdpMux> {
    if (options.listenIps.length === 0) throw new Error("the UDP mux needs a listen address");
    for (let attempt = 1; ; attempt++) {
      try {
        return new UdpMux(await bindAll(options), options);
      } catch (error) {
        const inUse = (error as NodeJS.ErrnoException).code === "EADDRINUSE";
        if (!(inUse && options.port === 0 && attempt < BIND_ATTEMPTS)) throw error;
      }
    }
  }

  /** The mux socket bound to `ip`, if any. */
  socketFor(ip: string): MuxSocket | undefined {
    return this.sockets.find((s) => s.ip === ip);
  }

  /** Starts routing Binding requests for `session`'s ufrags to it. */
  add(session: MuxSession): void {
    if (this.#sessions.has(session)) return;
    this.#sessions.add(session);
    this.stats.sessions = this.#sessions.size;
    this.#stale = true;
  }

  /** The session's ufrags changed (an ICE restart). */
  ufragsChanged(): void {
    this.#stale = true;
  }

  /** Stops routing to `endpoint` (one of its session's host candidates closed). */
  release(socket: MuxSocket, endpoint: MuxEndpoint): void {
    this.#unbindAll(socket, endpoint);
  }

  /**
   * The session a Binding request is for: the one with its USERNAME's ufrag whose password its
   * MESSAGE-INTEGRITY checks out with (ICE-TCP connections find their session this way too).
   */
  sessionFor(request: Buffer): MuxSession | undefined {
    const ufrag = isBindingRequest(request) ? requestedUfrag(request) : null;
    if (ufrag === null) return undefined;
    return this.#sessionsFor(ufrag)?.find((session) => session.authentic(request));
  }

  /** Forgets `session` and every tuple routed to its endpoints. */
  remove(session: MuxSession): void {
    if (!this.#sessions.delete(session)) return;
    this.stats.sessions = this.#sessions.size;
    this.#stale = true;
    for (const s of this.sockets) {
      const endpoint = session.endpoint(s);
      if (endpoint) this.#unbindAll(s, endpoint);
    }
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const session of [...this.#sessions]) this.remove(session);
    await Promise.all(
      this.sockets.map((s) => new Promise<void>((resolve) => s.socket.close(() => resolve()))),
    );
  }

  #receive(s: MuxSocket, data: Buffer, from: RemoteInfo): void {
    const kind = classify(data[0]);
    if (kind === "stun" && isBindingRequest(data)) {
      this.#bindingRequest(s, data, from);
      return;
    }
    const endpoint = s.tuples.get(from.address)?.get(from.port);
    if (endpoint === undefined) {
      this.stats.droppedUnknownSource++;
    } else if (kind === "other") {
      this.stats.droppedUnclassified++;
    } else {
      endpoint.deliver(data, from);
    }
  }

  /** Routed by ufrag, always: a tuple may move to another session (a NAT reusing a port). */
  #bindingRequest(s: MuxSocket, data: Buffer, from: RemoteInfo): void {
    const ufrag = requestedUfrag(data);
    const sessions = ufrag === null ? undefined : this.#sessionsFor(ufrag);
    for (const session of sessions ?? []) {
      const endpoint = session.endpoint(s);
      if (endpoint === undefined || !session.authentic(data)) continue;
      this.#bind(s, endpoint, from);
      endpoint.deliver(data, from);
      return;
    }
    this.stats.droppedStun++;
  }

  #sessionsFor(ufrag: string): MuxSession[] | undefined {
    if (this.#stale) {
      this.#stale = false;
      this.#byUfrag = new Map();
      for (const session of this.#sessions) {
        for (const u of session.ufrags()) {
          const list = this.#byUfrag.get(u);
          if (list) list.push(session);
          else this.#byUfrag.set(u, [session]);
        }
      }
    }
    return this.#byUfrag.get(ufrag);
  }

  /** Routes `from` to `endpoint`, most recently checked last; evicts beyond the bound. */
  #bind(s: MuxSocket, endpoint: MuxEndpoint, from: RemoteInfo): void {
    let byPort = s.tuples.get(from.address);
    const current = byPort?.get(from.port);
    if (current !== undefined) this.#unbind(s, current, from.address, from.port);
    if (byPort === undefined) {
      byPort = new Map();
      s.tuples.set(from.address, byPort);
    }
    byPort.set(from.port, endpoint);
    endpoint.tuples.push([from.address, from.port]);
    this.stats.tuples++;
    while (endpoint.tuples.length > this.#maxTuples) {
      const [ip, port] = endpoint.tuples[0];
      this.#unbind(s, endpoint, ip, port);
      this.stats.tuplesEvicted++;
    }
  }

  #unbind(s: MuxSocket, endpoint: MuxEndpoint, ip: string, port: number): void {
    const i = endpoint.tuples.findIndex((t) => t[0] === ip && t[1] === port);
    if (i >= 0) endpoint.tuples.splice(i, 1);
    const byPort = s.tuples.get(ip);
    if (byPort?.get(port) !== endpoint) return;
    byPort.delete(port);
    if (byPort.size === 0) s.tuples.delete(ip);
    this.stats.tuples--;
  }

  #unbindAll(s: MuxSocket, endpoint: MuxEndpoint): void {
    for (const [ip, port] of [...endpoint.tuples]) this.#unbind(s, endpoint, ip, port);
  }
}

async function bindAll(options: UdpMuxOptions): Promise<MuxSocket[]> {
  const bound: MuxSocket[] = [];
  let port = options.port;
  try {
    for (const ip of options.listenIps) {
      const socket = await bindOne(ip, port, options.socketBufferBytes ?? DEFAULT_SOCKET_BUFFER);
      port = socket.address().port;
      bound.push({ ip, port, socket, tuples: new Map() });
    }
    return bound;
  } catch (error) {
    for (const s of bound) s.socket.close();
    throw error;
  }
}

function bindOne(ip: string, port: number, bufferBytes: number): Promise<Socket> {
  const v6 = isIPv6(ip);
  const socket = createSocket({
    type: v6 ? "udp6" : "udp4",
    ipv6Only: v6,
    recvBufferSize: bufferBytes,
    sendBufferSize: bufferBytes,
  });
  return new Promise((resolve, reject) => {
    const failed = (error: Error) => {
      socket.close();
      reject(error);
    };
    socket.once("error", failed);
    socket.bind({ address: ip, port, exclusive: true }, () => {
      socket.off("error", failed);
      // until the mux listens (the other addresses are still binding)
      socket.on("error", ignoreWhileBinding);
      resolve(socket);
    });
  });
}

function ignoreWhileBinding(): void {}
