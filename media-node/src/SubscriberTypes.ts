import type { MediaKind } from "./PublisherTypes.ts";

export interface SubscriberStats {
  id: string;
  publisherId: string;
  kind: MediaKind;
  ssrc: number;
  payloadType: number;
  packetsSent: number;
  bytesSent: number;
  /** Packets not forwarded while waiting for a keyframe or paused. */
  packetsSkipped: number;
  nacksReceived: number;
  packetsRetransmitted: number;
  keyframeRequestsReceived: number;
  /** Loss the subscriber reports in its receiver reports (0..1). */
  fractionLost: number;
  /** Bandwidth estimate from the subscriber's REMB, bits/s (0 until one arrives). */
  remoteBitrateEstimate: number;
  bitrate: number;
}

export interface SubscriberEvents {
  closed: [];
}
