import type { CodecCapability } from "./codecs.ts";

export type MediaKind = "audio" | "video";

export interface PublisherStats {
  id: string;
  kind: MediaKind;
  mimeType: string;
  ssrc: number | null;
  packetsReceived: number;
  bytesReceived: number;
  /** Packets missing from the sequence (before NACK repair). */
  packetsLost: number;
  /** Packets that arrived after a NACK asked for them. */
  packetsRepaired: number;
  nacksSent: number;
  keyframesRequested: number;
  keyframesReceived: number;
  bitrate: number;
  subscribers: number;
}

export interface PublisherEvents {
  closed: [];
  /** Emitted once the first packet fixes the stream's SSRC. */
  ssrc: [number];
}

export interface PublisherInfo {
  id: string;
  kind: MediaKind;
  codec: CodecCapability;
}
