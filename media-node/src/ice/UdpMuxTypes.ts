import type { RemoteInfo, Socket } from "node:dgram";

export interface UdpMuxOptions {
  /** The one UDP port for every client (0: a free port, the same on every address). */
  port: number;
  /** One socket per address, IPv4 and IPv6; each is bound to its own address. */
  listenIps: string[];
  /** Remote addresses (tuples) one session may hold per socket; the least recently checked goes. */
  maxTuplesPerSession?: number;
  /** Kernel receive/send buffer per socket: one socket carries every session's traffic. */
  socketBufferBytes?: number;
}

/** One bound socket of the mux: a listen address and the tuples learnt on it. */
export interface MuxSocket {
  readonly ip: string;
  readonly port: number;
  readonly socket: Socket;
  /** remote ip -> remote port -> the session endpoint that authenticated from that tuple. */
  readonly tuples: Map<string, Map<number, MuxEndpoint>>;
}

/** A session's presence on one mux socket (for werift: one ICE host candidate). */
export interface MuxEndpoint {
  readonly session: MuxSession;
  /** Tuples routed here, least recently checked first (kept by the mux). */
  readonly tuples: [string, number][];
  /** A datagram from one of its tuples, or an authentic Binding request that names it. */
  deliver(data: Buffer, from: RemoteInfo): void;
}

/** What the mux needs of an ICE session: its ufrags, and whether a request is really for it. */
export interface MuxSession {
  /** Local ufrags the session answers to (current and earlier ICE generations). */
  ufrags(): Iterable<string>;
  /** True when `request` carries a valid MESSAGE-INTEGRITY for this session's password. */
  authentic(request: Buffer): boolean;
  /** The session's endpoint on `socket`, if it has one. */
  endpoint(socket: MuxSocket): MuxEndpoint | undefined;
  /** The session's ICE-TCP endpoint on `listener`, if it has one. */
  tcpEndpoint(listener: TcpListener): TcpEndpoint | undefined;
}

/** One listening TCP socket of a TcpMux (ICE-TCP passive, RFC 6544). */
export interface TcpListener {
  readonly ip: string;
  readonly port: number;
}

/** A client's ICE-TCP connection, framed by RFC 4571 (a 2-byte length before each packet). */
export interface TcpConnection {
  readonly remote: RemoteInfo;
  /** Frames and queues one packet; false when the write queue is full (the packet is dropped). */
  send(packet: Uint8Array): boolean;
  close(): void;
}

/** A session's presence on one TCP listener: the connections that authenticated to it. */
export interface TcpEndpoint {
  readonly session: MuxSession;
  /** A connection whose first packet was an authentic Binding request for this session. */
  attach(connection: TcpConnection): void;
  detach(connection: TcpConnection): void;
  deliver(data: Buffer, from: RemoteInfo): void;
}

/** Counters of the mux (rendered in /metrics). */
export interface UdpMuxStats {
  /** Sessions registered now. */
  sessions: number;
  /** Tuples routed now, all sockets. */
  tuples: number;
  /** Datagrams from a tuple no session authenticated on (not STUN): dropped. */
  droppedUnknownSource: number;
  /** Binding requests whose ufrag no session has, or whose integrity is wrong: dropped. */
  droppedStun: number;
  /** Datagrams of no class WebRTC uses on this port (RFC 7983: TURN channels, ZRTP...): dropped. */
  droppedUnclassified: number;
  /** Tuples let go because their session reached maxTuplesPerSession. */
  tuplesEvicted: number;
  /** Socket errors (each ends at most the send that caused it). */
  socketErrors: number;
}

export interface UdpMuxEvents {
  /** A socket reported an error; the mux keeps serving. */
  socketerror: [Error, MuxSocket];
}
