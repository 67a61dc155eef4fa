/** Options of `new SubscribeTransport(...)`. */
export interface SubscribeTransportOptions {
  /** STUN/TURN servers; default `[]`. */
  iceServers?: RTCIceServer[];
  /** "all" (default) or "relay" (TURN only). */
  iceTransportPolicy?: RTCIceTransportPolicy;
}

/** A remote track that became live: the media node forwards `publisherId` on m-line `mid`. */
export interface SubscribedTrack {
  track: MediaStreamTrack;
  /** From the offer's `a=msid:<publisherId> <publisherId>` for this m-line. */
  publisherId: string;
  mid: string;
  /** The remote streams of the track (the media node uses one, whose id is the publisherId). */
  streams: readonly MediaStream[];
  receiver: RTCRtpReceiver;
}

/** A subscription that stopped: its m-line went inactive/stopped, or its track ended. */
export interface EndedTrack {
  publisherId: string;
  mid: string;
}

/** Events of a SubscribeTransport: event name -> listener arguments. */
export interface SubscribeTransportEvents {
  track: [event: SubscribedTrack];
  trackended: [event: EndedTrack];
  /** The server opened a DataChannel (a data subscription; its `protocol` is the data publisher id). */
  datachannel: [channel: RTCDataChannel];
  /** A local ICE candidate for the server's `addIceCandidate`; null when gathering ended. */
  icecandidate: [candidate: RTCIceCandidateInit | null];
  connectionstatechange: [state: RTCPeerConnectionState];
  closed: [];
}
