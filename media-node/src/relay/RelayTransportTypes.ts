import type { MediaKind } from "../PublisherTypes.ts";

/** A UDP address of a node's relay port. */
export interface RelayAddress {
  ip: string;
  port: number;
}

/** One direction's SRTP master key (16 bytes) and salt (14 bytes), base64. */
export interface RelayKey {
  key: string;
  salt: string;
}

/** Downstream -> origin: open a relay of one publisher toward me. */
export interface RelayRequest {
  publisherId: string;
  /** Where the origin sends RTP (the downstream node's relay port). */
  address: RelayAddress;
  /** SSRC the origin must send with (unique among the downstream node's relays). */
  ssrc: number;
  /** Key of the origin -> downstream direction (RTP, SR). */
  key: RelayKey;
}

/** The codec the relayed stream carries, as the origin's router numbers it. */
export interface RelayCodec {
  mimeType: string;
  clockRate: number;
  channels?: number;
  parameters?: string;
  payloadType: number;
}

/** Origin -> downstream: the relay is open. */
export interface RelayAnswer {
  /** Where the downstream node sends RTCP (the origin's relay port). */
  address: RelayAddress;
  /** SSRC the downstream node must send RTCP with (unique among the origin's relays). */
  ssrc: number;
  /** Key of the downstream -> origin direction (RTCP). */
  key: RelayKey;
  kind: MediaKind;
  codec: RelayCodec;
}

export type RelayRole = "origin" | "downstream";

export type RelayCloseReason = "closed" | "remote" | "timeout" | "publisher";

export interface RelayTransportStats {
  id: string;
  role: RelayRole;
  publisherId: string;
  remote: RelayAddress | null;
  rtpPacketsIn: number;
  rtpPacketsOut: number;
  rtcpPacketsIn: number;
  rtcpPacketsOut: number;
  bytesIn: number;
  bytesOut: number;
  /** RTP packets the loss test hook dropped instead of sending. */
  droppedByTest: number;
}

export interface RelayTransportEvents {
  closed: [RelayCloseReason];
}
