import type { RemoteInfo } from "node:dgram";
import { createServer, isIPv6, type Server, type Socket } from "node:net";
import type { UdpMux } from "./UdpMux.ts";
import type { TcpConnection, TcpEndpoint, TcpListener } from "./UdpMuxTypes.ts";

export interface TcpMuxOptions {
  /** The one TCP port (0: a free port, the same on every address). */
  port: number;
  listenIps: string[];
  /** Bytes a connection may have queued for the client; beyond, its packets are dropped. */
  maxQueueBytes?: number;
  /** How long a connection may take to send its first, authentic, Binding request. */
  firstCheckTimeoutMs?: number;
  /** Connections one session may hold per listener; the oldest goes first. */
  maxConnectionsPerSession?: number;
  /** Connections waiting for their first check, all listeners; more are closed at once. */
  maxPendingConnections?: number;
}

export interface TcpMuxStats {
  /** Connections open now (authenticated or waiting for their first check). */
  connections: number;
  /** Connections closed because their first packet was no authentic Binding request, or late. */
  rejected: number;
  /** Packets not queued because their connection's write queue was full. */
  droppedQueueFull: number;
}

const DEFAULT_QUEUE_BYTES = 256 * 1024;
const DEFAULT_FIRST_CHECK_MS = 10_000;
const DEFAULT_MAX_CONNECTIONS = 4;
const DEFAULT_MAX_PENDING = 256;
/** RFC 4571: a 16-bit length before each packet. */
const MAX_FRAME = 0xffff;
const BIND_ATTEMPTS = 5;

/**
 * ICE-TCP, passive (RFC 6544), on one TCP port per address for every session: a connection's
 * first packet must be a Binding request that a session on `udpMux` authenticates; from then on
 * the connection carries that session's STUN, DTLS and SRTP, framed by RFC 4571. Each connection
 * has a bounded write queue: a client that stops reading loses its own packets (counted) and
 * never delays anyone else.
 */
export class TcpMux {
  readonly listeners: readonly (TcpListener & { server: Server })[];
  readonly port: number;
  readonly stats: TcpMuxStats = { connections: 0, rejected: 0, droppedQueueFull: 0 };
  readonly #sockets = new Set<Socket>();
  /** Connections not yet authenticated: bounded, so a connection flood holds no more than this. */
  #pending = 0;
  /** Each endpoint's connections, oldest first. */
  readonly #byEndpoint = new WeakMap<TcpEndpoint, TcpConnection[]>();

  private constructor(
    listeners: (TcpListener & { server: Server })[],
    readonly udpMux: UdpMux,
    readonly options: TcpMuxOptions,
  ) {
    this.listeners = listeners;
    this.port = listeners[0]?.port ?? 0;
    for (const l of listeners) l.server.on("connection", (socket) => this.#accept(l, socket));
  }

  static async open(options: TcpMuxOptions, udpMux: UdpMux): Promise<TcpMux> {
    for (let attempt = 1; ; attempt++) {
      try {
        return new TcpMux(await listenAll(options), udpMux, options);
      } catch (error) {
        const inUse = (error as NodeJS.ErrnoException).code === "EADDRINUSE";
        if (!(inUse && options.port === 0 && attempt < BIND_ATTEMPTS)) throw error;
      }
    }
  }

  listenerFor(ip: string): TcpListener | undefined {
    return this.listeners.find((l) => l.ip === ip);
  }

  async close(): Promise<void> {
    for (const s of this.#sockets) s.destroy();
    await Promise.all(
      this.listeners.map((l) => new Promise<void>((resolve) => l.server.close(() => resolve()))),
    );
  }

  #accept(listener: TcpListener, socket: Socket): void {
    if (this.#pending >= (this.options.maxPendingConnections ?? DEFAULT_MAX_PENDING)) {
      this.stats.rejected++;
      socket.destroy();
      return;
    }
    this.#pending++;
    let pending = true;
    const settle = () => {
      if (pending) this.#pending--;
      pending = false;
    };
    this.#sockets.add(socket);
    this.stats.connections++;
    socket.setNoDelay(true);
    const remote: RemoteInfo = {
      address: socket.remoteAddress ?? "",
      family: socket.remoteFamily === "IPv6" ? "IPv6" : "IPv4",
      port: socket.remotePort ?? 0,
      size: 0,
    };
    const maxQueue = this.options.maxQueueBytes ?? DEFAULT_QUEUE_BYTES;
    let endpoint: TcpEndpoint | null = null;
    const connection: TcpConnection = {
      remote,
      send: (packet) => {
        if (socket.destroyed || packet.length > MAX_FRAME) return false;
        if (socket.writableLength + packet.length > maxQueue) {
          this.stats.droppedQueueFull++;
          return false;
        }
        const frame = Buffer.allocUnsafe(2 + packet.length);
        frame.writeUInt16BE(packet.length, 0);
        frame.set(packet, 2);
        socket.write(frame);
        return true;
      },
      close: () => socket.destroy(),
    };
    const reject = () => {
      this.stats.rejected++;
      socket.destroy();
    };
    const timer = setTimeout(reject, this.options.firstCheckTimeoutMs ?? DEFAULT_FIRST_CHECK_MS);
    readFrames(socket, (packet) => {
      if (endpoint) {
        endpoint.deliver(packet, remote);
        return;
      }
      const session = this.udpMux.sessionFor(packet);
      const found = session?.tcpEndpoint(listener);
      if (!found) return reject();
      clearTimeout(timer);
      settle();
      endpoint = found;
      this.#attach(found, connection);
      found.deliver(packet, remote);
    });
    socket.on("error", () => socket.destroy());
    socket.on("close", () => {
      clearTimeout(timer);
      settle();
      this.#sockets.delete(socket);
      this.stats.connections--;
      if (endpoint) this.#detach(endpoint, connection);
    });
  }

  #attach(endpoint: TcpEndpoint, connection: TcpConnection): void {
    const list = this.#byEndpoint.get(endpoint) ?? [];
    this.#byEndpoint.set(endpoint, list);
    list.push(connection);
    endpoint.attach(connection);
    const max = this.options.maxConnectionsPerSession ?? DEFAULT_MAX_CONNECTIONS;
    while (list.length > max) list.shift()?.close();
  }

  #detach(endpoint: TcpEndpoint, connection: TcpConnection): void {
    const list = this.#byEndpoint.get(endpoint);
    const i = list?.indexOf(connection) ?? -1;
    if (list && i >= 0) list.splice(i, 1);
    endpoint.detach(connection);
  }
}

/** Calls `onPacket` for each RFC 4571 frame; a frame may span reads, a read many frames. */
function readFrames(socket: Socket, onPacket: (packet: Buffer) => void): void {
  let pending: Buffer | null = null;
  socket.on("data", (chunk: Buffer) => {
    let data = pending ? Buffer.concat([pending, chunk]) : chunk;
    pending = null;
    while (data.length >= 2) {
      const end = 2 + data.readUInt16BE(0);
      if (data.length < end) break;
      onPacket(data.subarray(2, end));
      data = data.subarray(end);
    }
    if (data.length > 0) pending = Buffer.from(data);
  });
}

async function listenAll(options: TcpMuxOptions): Promise<(TcpListener & { server: Server })[]> {
  const out: (TcpListener & { server: Server })[] = [];
  let port = options.port;
  try {
    for (const ip of options.listenIps) {
      const server = createServer();
      await new Promise<void>((resolve, reject) => {
        server.once("error", reject);
        server.listen({ host: ip, port, ipv6Only: isIPv6(ip), exclusive: true }, () => {
          server.off("error", reject);
          resolve();
        });
      });
      const address = server.address();
      port = typeof address === "object" && address ? address.port : port;
      out.push({ ip, port, server });
    }
    return out;
  } catch (error) {
    for (const l of out) l.server.close();
    throw error;
  }
}
