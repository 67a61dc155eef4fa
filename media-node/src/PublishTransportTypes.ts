import type { DataChannelOptions, DataPublisherStats } from "./DataPublisherTypes.ts";
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
  /** The client opened a DataChannel; call publishData(label) to forward it. */
  datachannel: [DataChannelOptions];
  /** A DataChannel the client opened was closed (by the client, or by unpublishData). */
  datachannelclosed: [DataChannelOptions];
  closed: [];
}

export interface PublishTransportStats {
  id: string;
  state: TransportState;
  media: MediaPathStats;
  publishers: PublisherStats[];
  /** DataChannels (optional for stats built outside the SDK). */
  data?: {
    publishers: DataPublisherStats[];
    /** DataChannels refused: a label already open on this transport, or a label over 1 KiB. */
    channelsRejected: number;
    /** Messages on channels not (or no longer) published. */
    messagesUnpublished: number;
    /** SCTP input werift would have thrown on (unknown PPID, bad DCEP, malformed packet). */
    malformed: number;
  };
}
