import type { MediaKind } from "../PublisherTypes.ts";

/** Most encodings of one publisher a relay carries (a downstream node offers this many SSRCs). */
export const MAX_RELAY_ENCODINGS = 4;

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
  /**
   * SSRCs the origin must send with, one per encoding (lowest first; unique among the
   * downstream node's relays). A simulcast origin relays at most this many encodings.
   */
  ssrcs: number[];
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
  /** The relayed publisher's simulcast rids (lowest first), empty without simulcast. */
  rids: string[];
}

/** Downstream -> origin: what the downstream node's subscribers want. */
export interface RelayLayers {
  /** Highest spatial layer (single-SSRC SVC: the origin's filter drops those above). */
  spatial: number;
  temporal: number;
  /** Simulcast encodings to relay (others stop); ignored without simulcast. */
  encodings: number[];
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
  /** Downstream only: what the local subscribers want may have changed (coalesced). */
  wantedchange: [];
}
