import type { TcpMux } from "./ice/TcpMux.ts";
import type { UdpMux } from "./ice/UdpMux.ts";
import type { LivenessOptions } from "./PeerLiveness.ts";

/**
 * Network options shared by publish and subscribe transports; `connectTimeoutMs` and
 * `consentTimeoutMs` (PeerLiveness.ts, 30 s each) bound how long a transport lives without
 * connecting, or without hearing from its client.
 */
export interface TransportOptions extends LivenessOptions {
  /** Host addresses to offer ICE candidates on (default: every interface werift finds). */
  listenIps?: string[];
  /** NAT 1:1 mapping: local address -> address announced to clients in candidates. */
  announcedIps?: Record<string, string>;
  /** Inclusive UDP port range for ICE sockets. Running out is an IcePortsExhaustedError. */
  portRange?: [number, number];
  /**
   * One UDP port for every transport (`UdpMux.open`): candidates are the mux's addresses (within
   * `listenIps` when given) and port, and no transport opens a socket of its own.
   */
  udpMux?: UdpMux;
  /** ICE-TCP (passive, RFC 6544) on one TCP port beside `udpMux`: candidates below UDP's. */
  tcpMux?: TcpMux;
}

export type TransportState =
  | "new"
  | "connecting"
  | "connected"
  | "disconnected"
  | "failed"
  | "closed";

export interface IceCandidateInit {
  candidate: string;
  sdpMid?: string;
  sdpMLineIndex?: number;
  usernameFragment?: string;
}

/** The node's side of an ICE restart by SDP fragment (WHIP/WHEP PATCH, RFC 8840). */
export interface IceRestartResult {
  /** The node's new a=ice-ufrag value. */
  ufrag: string;
  /** The node's new a=ice-pwd value. */
  pwd: string;
  /** The node's candidates as "candidate:..." attribute values (prefix "a=" for an SDP fragment). */
  candidates: string[];
}

export interface SessionDescriptionInit {
  type: "offer" | "answer";
  sdp: string;
}

/** Counters of what the media path received and why it dropped anything. */
export interface MediaPathStats {
  rtpPacketsIn: number;
  rtcpPacketsIn: number;
  rtpPacketsOut: number;
  rtcpPacketsOut: number;
  bytesIn: number;
  bytesOut: number;
  /** Datagrams dropped: failed SRTP authentication or replay, or DTLS records that cannot be authentic. */
  droppedAuth: number;
  /** Datagrams dropped: malformed RTP/RTCP, or media before keys. */
  droppedMalformed: number;
  /** Packets whose SSRC or payload type matched nothing negotiated. */
  droppedUnknown: number;
  /**
   * Remote ICE candidates ignored because they name a host (mDNS `.local`): never resolved, an
   * ICE-lite server needs no remote candidates.
   */
  candidatesIgnored: number;
}
