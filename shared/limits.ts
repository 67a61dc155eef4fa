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

/** Room names and identities are NATS subject tokens too: no dots, spaces or wildcards. */
export const NAME_PATTERN = /^[A-Za-z0-9_-]{1,128}$/;
