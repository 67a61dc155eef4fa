import type { RelayAddress, RelayTransportStats } from "./RelayTransportTypes.ts";

/** Outside the ICE range the docs suggest (40000-49999). */
export const DEFAULT_RELAY_PORT = 50000;

export interface RelayServerOptions {
  /** UDP port shared by every relay of the node (default 50000; 0 picks a free one). */
  port?: number;
  /** Address to bind (default 0.0.0.0). */
  listenIp?: string;
  /** Address other nodes send to (default: listenIp, or 127.0.0.1 for a wildcard bind). */
  announcedIp?: string;
  /** A relay that hears no authentic RTCP for this long closes (default 4000 ms). */
  timeoutMs?: number;
  /** Test hook: fraction (0..1) of outgoing relay RTP packets dropped on purpose. */
  dropRate?: number;
}

export interface RelayServerStats {
  address: RelayAddress;
  relays: number;
  packetsIn: number;
  packetsOut: number;
  /** Datagrams that are not RTP/RTCP or are cut short. */
  droppedMalformed: number;
  /** Datagrams whose SSRC belongs to no relay. */
  droppedUnknownSsrc: number;
  /** Datagrams for a known SSRC from another address than the relay's peer. */
  droppedUnknownSource: number;
  /** Datagrams failing SRTP/SRTCP authentication (or replays). */
  droppedAuth: number;
  transports: RelayTransportStats[];
}

export interface RelayServerEvents {
  closed: [];
}
