export type MediaKind = "audio" | "video";

/** Receive counters of an RTP stream; a publisher's are summed over its encodings. */
export interface ReceiveStats {
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
}

export interface PublisherStats extends ReceiveStats {
  id: string;
  kind: MediaKind;
  mimeType: string;
  /** SSRC of the first encoding. */
  ssrc: number | null;
  subscribers: number;
  /** Muted: received but not forwarded (Publisher.setMuted). */
  muted: boolean;
  /** Per RTP stream: one, or one per simulcast layer (lowest resolution first). */
  encodings: EncodingStats[];
}

/** One RTP stream of a publisher (a simulcast layer, or the only one). */
export interface EncodingStats extends ReceiveStats {
  /** The simulcast rid, "" without simulcast. */
  rid: string;
  ssrc: number | null;
}

export interface PublisherEvents {
  closed: [];
  /** Emitted once the first packet fixes the stream's SSRC. */
  ssrc: [number];
  /** Muted (true) or unmuted (false) by setMuted(). */
  mutechange: [boolean];
}
