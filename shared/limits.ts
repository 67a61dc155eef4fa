/** Size limits on everything that comes from outside. Checked at the edge and again at nodes. */
export const LIMITS = {
  /** An SDP offer or answer. Real ones are a few KiB. */
  sdpBytes: 64 * 1024,
  /** A trickle-ice-sdpfrag PATCH body. */
  sdpFragBytes: 16 * 1024,
  /** One WebSocket message from a client (JSON). */
  wsMessageBytes: 96 * 1024,
  /** One ICE candidate line. */
  candidateBytes: 1024,
  /** Any other JSON body. */
  jsonBytes: 16 * 1024,
} as const;

/**
 * Per WebSocket at the edge. Every frame counts against the rate, invalid ones too: a token
 * bucket of `burst` frames refilled at `messagesPerSecond`. `inFlight` is how many requests may
 * wait for their node reply at once. A socket over either is closed with WS_CLOSE_RATE_LIMITED.
 */
export const WS_LIMITS = {
  messagesPerSecond: 50,
  burst: 200,
  inFlight: 64,
} as const;

/** Close code (private range, after HTTP 429) of a socket over WS_LIMITS; the reason says which. */
export const WS_CLOSE_RATE_LIMITED = 4429;

/** Room names and identities are NATS subject tokens too: no dots, spaces or wildcards. */
export const NAME_PATTERN = /^[A-Za-z0-9_-]{1,128}$/;
