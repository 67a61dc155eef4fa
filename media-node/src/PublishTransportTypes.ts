import type { MediaKind, PublisherStats } from "./PublisherTypes.ts";
import type {
  IceCandidateInit,
  MediaPathStats,
  TransportOptions,
  TransportState,
} from "./TransportTypes.ts";

export interface PublishTransportOptions extends TransportOptions {
  /** Bitrate announced to the publisher in REMB, bits/s (default 3 Mbps). */
  maxIncomingBitrate?: number;
}

/** A track the client offered, known by its MediaStreamTrack id (the offer's a=msid). */
export interface OfferedTrack {
  trackId: string;
  mid: string;
  kind: MediaKind;
  mimeType: string;
}

export interface PublishTransportEvents {
  icecandidate: [IceCandidateInit | null];
  connectionstatechange: [TransportState];
  /** A track appeared in a client offer; call publish(trackId) to forward it. */
  track: [OfferedTrack];
  /** A track left the client's offer (its m-line stopped or went inactive). */
  trackended: [OfferedTrack];
  closed: [];
}

export interface PublishTransportStats {
  id: string;
  state: TransportState;
  media: MediaPathStats;
  publishers: PublisherStats[];
}
