// werift's ICE-lite agent on Weir's muxes (one UDP port, one TCP port for every session): its
// host candidates are the muxes' addresses and ports, each a werift StunProtocol over a
// transport of werift's small Transport shape that the mux feeds. werift keeps its check
// handling, nomination and DTLS; the muxes own the sockets. Reached from weriftIceLite.ts.
import type { RemoteInfo, Socket } from "node:dgram";
import { isIPv6 } from "node:net";
import { Candidate, candidateFoundation, candidatePriority, StunProtocol } from "werift";
import type { TcpMux } from "./ice/TcpMux.ts";
import type { UdpMux } from "./ice/UdpMux.ts";
import type {
  MuxEndpoint,
  MuxSession,
  MuxSocket,
  TcpConnection,
  TcpEndpoint,
  TcpListener,
} from "./ice/UdpMuxTypes.ts";
import { FAILED, SENT, type SendResult } from "./UdpSender.ts";
import { authentic, type LiteConnection, type LiteProtocol } from "./weriftIceLite.ts";

/** The muxes one agent gathers on: always the UDP port, ICE-TCP when the node has a TCP port. */
export interface Muxes {
  udp: UdpMux;
  tcp?: TcpMux;
}

type WeriftTransport = StunProtocol["transport"];

/** Host candidates on the muxes: for each address, UDP then TCP passive; none twice (restarts). */
export function gatherOnMux(
  conn: LiteConnection,
  m: Muxes,
  addresses: string[],
): Promise<unknown>[] {
  const session = muxSessionOf(conn, m.udp);
  const fresh = addresses.filter((a) => !conn.protocols.some((p) => p.localIp === a));
  const gathered: Promise<unknown>[] = [];
  for (const address of fresh) {
    const socket = m.udp.socketFor(address);
    if (socket) {
      const transport = new MuxTransport(socket, session);
      session.transports.set(socket, transport);
      gathered.push(addHost(conn, address, socket.port, transport, "udp"));
    }
    const listener = m.tcp?.listenerFor(address);
    if (listener) {
      const transport = new MuxTcpTransport(listener, session);
      session.tcp.set(listener, transport);
      gathered.push(addHost(conn, address, listener.port, transport, "tcp"));
    }
  }
  m.udp.add(session);
  return gathered;
}

function addHost(
  conn: LiteConnection,
  address: string,
  port: number,
  transport: { onData: (data: Buffer, addr: [string, number]) => void },
  kind: "udp" | "tcp",
): Promise<Candidate> {
  const protocol = new StunProtocol();
  conn.ensureProtocol(protocol as unknown as LiteProtocol);
  const receiver = protocol as unknown as LiteProtocol;
  transport.onData = (data, addr) => receiver.datagramReceived(data, addr);
  protocol.transport = transport as unknown as WeriftTransport;
  protocol.localIp = address;
  conn.protocols.push(protocol);
  const tcptype = kind === "tcp" ? "passive" : undefined;
  const candidate = new Candidate(
    candidateFoundation("host", kind, address),
    1,
    kind,
    candidatePriority(
      "host",
      kind === "tcp" ? { transport: "tcp", tcptype } : { transport: "udp" },
    ),
    address,
    port,
    "host",
    undefined,
    undefined,
    tcptype,
    conn.generation,
    conn.localUsername,
  );
  protocol.localCandidate = candidate;
  conn.pairLocalProtocol(protocol);
  conn.appendLocalCandidate(candidate);
  return Promise.resolve(candidate);
}

const sessions = new WeakMap<object, WeriftMuxSession>();

function muxSessionOf(conn: LiteConnection, mux: UdpMux): WeriftMuxSession {
  let session = sessions.get(conn);
  if (!session) {
    session = new WeriftMuxSession(conn, mux);
    sessions.set(conn, session);
  }
  return session;
}

/** One lite agent as the muxes see it: its ufrags, its password check, its host candidates. */
class WeriftMuxSession implements MuxSession {
  readonly transports = new Map<MuxSocket, MuxTransport>();
  readonly tcp = new Map<TcpListener, MuxTcpTransport>();
  readonly #conn: LiteConnection;
  readonly #mux: UdpMux;

  constructor(conn: LiteConnection, mux: UdpMux) {
    this.#conn = conn;
    this.#mux = mux;
  }

  ufrags(): string[] {
    return [this.#conn.localUsername, ...Object.keys(this.#conn.userHistory)];
  }

  authentic(request: Buffer): boolean {
    return authentic(this.#conn, request);
  }

  endpoint(socket: MuxSocket): MuxEndpoint | undefined {
    return this.transports.get(socket);
  }

  tcpEndpoint(listener: TcpListener): TcpEndpoint | undefined {
    return this.tcp.get(listener);
  }

  /** werift closed one of our protocols; the last one takes the session off the mux. */
  transportClosed(transport: MuxTransport | MuxTcpTransport): void {
    if (transport instanceof MuxTransport) {
      this.#mux.release(transport.mux, transport);
      if (this.transports.get(transport.mux) === transport) this.transports.delete(transport.mux);
    } else if (this.tcp.get(transport.listener) === transport) {
      this.tcp.delete(transport.listener);
    }
    if (this.transports.size === 0 && this.tcp.size === 0) this.#mux.remove(this);
  }
}

/**
 * werift's Transport shape (what its StunProtocol and, through the agent, its DTLS use) on one
 * mux address. Only STUN gets a fresh address array: werift keeps those in candidate pairs; DTLS
 * and media ignore the address, so they share one.
 */
abstract class MuxTransportBase {
  closed = false;
  onData: (data: Buffer, addr: [string, number]) => void = () => {};
  readonly #addr: [string, number] = ["", 0];

  constructor(
    readonly ip: string,
    readonly port: number,
  ) {}

  get address(): { address: string; port: number; family: string } {
    return { address: this.ip, port: this.port, family: isIPv6(this.ip) ? "IPv6" : "IPv4" };
  }
  get addressFamily(): 4 | 6 {
    return isIPv6(this.ip) ? 6 : 4;
  }

  deliver(data: Buffer, from: RemoteInfo): void {
    if (data[0] < 4) {
      this.onData(data, [from.address, from.port]);
      return;
    }
    this.#addr[0] = from.address;
    this.#addr[1] = from.port;
    this.onData(data, this.#addr);
  }
}

/** Over one UDP mux socket. */
class MuxTransport extends MuxTransportBase implements MuxEndpoint {
  readonly type = "udp";
  readonly tuples: [string, number][] = [];
  readonly mux: MuxSocket;
  readonly session: WeriftMuxSession;

  constructor(mux: MuxSocket, session: WeriftMuxSession) {
    super(mux.ip, mux.port);
    this.mux = mux;
    this.session = session;
  }

  /** The shared socket: WebRtcPeer sends media on it directly. */
  get socket(): Socket {
    return this.mux.socket;
  }

  send = (data: Buffer, addr?: [string, number]): Promise<void> => {
    if (this.closed || !addr) return Promise.resolve();
    return new Promise((resolve, reject) => {
      this.mux.socket.send(data, addr[1], addr[0], (error: Error | null) =>
        error ? reject(error) : resolve(),
      );
    });
  };

  close = async (): Promise<void> => {
    if (this.closed) return;
    this.closed = true;
    this.session.transportClosed(this);
  };
}

/**
 * The same over ICE-TCP: one listener of the TcpMux, and the connections that authenticated to
 * this session on it, addressed by their remote address:port. `mediaSender` lets WebRtcPeer send
 * SRTP through the connection (framed, copied, dropped when its queue is full).
 */
class MuxTcpTransport extends MuxTransportBase implements TcpEndpoint {
  readonly type = "tcp";
  readonly listener: TcpListener;
  readonly session: WeriftMuxSession;
  readonly #connections: TcpConnection[] = [];
  readonly mediaSender = {
    send: (buf: Uint8Array, port: number, ip: string): SendResult => {
      const c = this.#connectionTo(ip, port);
      return c?.send(buf) ? SENT : FAILED;
    },
  };

  constructor(listener: TcpListener, session: WeriftMuxSession) {
    super(listener.ip, listener.port);
    this.listener = listener;
    this.session = session;
  }

  attach(connection: TcpConnection): void {
    this.#connections.push(connection);
  }

  detach(connection: TcpConnection): void {
    const i = this.#connections.indexOf(connection);
    if (i >= 0) this.#connections.splice(i, 1);
  }

  send = (data: Buffer, addr?: [string, number]): Promise<void> => {
    if (!this.closed && addr) this.#connectionTo(addr[0], addr[1])?.send(data);
    return Promise.resolve();
  };

  close = async (): Promise<void> => {
    if (this.closed) return;
    this.closed = true;
    for (const c of [...this.#connections]) c.close();
    this.session.transportClosed(this);
  };

  #connectionTo(ip: string, port: number): TcpConnection | undefined {
    return this.#connections.find((c) => c.remote.port === port && c.remote.address === ip);
  }
}
