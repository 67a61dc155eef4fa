import type { SvcFilterStats } from "./layers/SvcFilterTypes.ts";
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
  /** Packets dropped by layer filtering (temporal layers above the target, SVC filter). */
  packetsFiltered: number;
  /** Switches from one simulcast encoding to another. */
  layerSwitches: number;
  nacksReceived: number;
  packetsRetransmitted: number;
  keyframeRequestsReceived: number;
  /** Loss the subscriber reports in its receiver reports (0..1). */
  fractionLost: number;
  /** Bandwidth estimate from the subscriber's REMB, bits/s (0 until one arrives). */
  remoteBitrateEstimate: number;
  bitrate: number;
  layers: {
    /** What is sent now (spatial -1: nothing yet). */
    current: Layers;
    /** What the node switches to next (preferred, capped by feedback). */
    target: Layers;
    preferred: Layers;
  };
  /** SVC filtering (VP9, or AV1/H.264 with the Dependency Descriptor), when it applies. */
  svc?: SvcFilterStats;
}

/** Spatial (simulcast encoding, 0 = lowest; or SVC spatial layer) and temporal layer. */
export interface Layers {
  spatial: number;
  temporal: number;
}

/** setPreferredLayers() argument; an omitted layer means as high as the publisher sends. */
export interface LayerPreference {
  spatial?: number;
  temporal?: number;
}

export interface SubscriberEvents {
  closed: [];
  /** The layers being sent changed (a switch completed, or the preference changed). */
  layerschange: [Layers];
}
