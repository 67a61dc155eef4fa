/** Options of `new PublishTransport(...)`. */
export interface PublishTransportOptions {
  /** STUN/TURN servers; default `[]` (the media node is reachable directly). */
  iceServers?: RTCIceServer[];
  /** "all" (default) or "relay" (TURN only). */
  iceTransportPolicy?: RTCIceTransportPolicy;
  /**
   * How long a local offer waits for `setAnswer()` before it is rolled back and the next
   * queued negotiation may start, in ms. Default 20000; 0 waits forever.
   */
  negotiationTimeoutMs?: number;
}

/** Options of `PublishTransport.publish(track, opts)`. */
export interface PublishOptions {
  /** Preferred codec mime type, e.g. "video/H264", "video/VP8", "audio/opus". */
  codec?: string;
  /** Video only: send three simulcast layers, rids q/h/f at 1/4, 1/2 and full resolution. */
  simulcast?: boolean;
  /** Video only: SVC scalability mode for every encoding, e.g. "L1T3" or "L3T3_KEY". */
  scalabilityMode?: string;
  /** Cap in bits per second applied to every encoding. */
  maxBitrate?: number;
  /** The stream the track belongs to (its id goes into `a=msid`); none by default. */
  stream?: MediaStream;
}

/** What `publish()` resolves to: send `offer` to the server, then call `setAnswer()`. */
export interface PublishResult {
  /** The id the server's `publish(trackId)` expects: the MediaStreamTrack's id. */
  trackId: string;
  offer: RTCSessionDescriptionInit;
}

/** Events of a PublishTransport: event name -> listener arguments. */
export interface PublishTransportEvents {
  /** A local ICE candidate for the server's `addIceCandidate`; null when gathering ended. */
  icecandidate: [candidate: RTCIceCandidateInit | null];
  connectionstatechange: [state: RTCPeerConnectionState];
  closed: [];
}
