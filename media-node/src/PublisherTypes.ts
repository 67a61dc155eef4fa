import type { CodecCapability } from "./codecs.ts";

export type MediaKind = "audio" | "video";

export interface PublisherStats {
  id: string;
  kind: MediaKind;
  mimeType: string;
  /** SSRC of the first encoding. Counters below are summed over the encodings. */
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
  /** Per RTP stream: one, or one per simulcast layer (lowest resolution first). */
  encodings: EncodingStats[];
}

/** Receive statistics of one RTP stream of a publisher (a simulcast layer, or the only one). */
export interface EncodingStats {
  /** The simulcast rid, "" without simulcast. */
  rid: string;
  ssrc: number | null;
  packetsReceived: number;
  bytesReceived: number;
  packetsLost: number;
  packetsRepaired: number;
  nacksSent: number;
  keyframesRequested: number;
  keyframesReceived: number;
  bitrate: number;
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
