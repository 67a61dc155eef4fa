/** Machine-readable reasons a client SDK call failed. */
export type WeirClientErrorCode =
  /** The transport was closed before or while the call ran. */
  | "closed"
  /** Creating or applying an offer/answer failed (the browser rejected the SDP). */
  | "negotiation_failed"
  /** No answer arrived for a local offer within the negotiation timeout. */
  | "negotiation_timeout"
  /** The call does not fit the current signaling state (e.g. an answer with no offer pending). */
  | "invalid_state"
  /** A bad argument (e.g. a track that is already published). */
  | "invalid_argument"
  /** No published track with that id. */
  | "not_published"
  /** The requested codec is not supported by this browser. */
  | "codec_unsupported"
  /** The token expired and no TokenProvider was given to renew it. */
  | "token_expired"
  /** A newer session of the same identity joined the room (another tab): this one ended. */
  | "replaced";

/** Every error the client SDK throws on its own is a `WeirClientError` with a `code`. */
export class WeirClientError extends Error {
  readonly code: WeirClientErrorCode;

  constructor(code: WeirClientErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "WeirClientError";
    this.code = code;
  }
}

/** Wraps a browser error (DOMException etc.) unless it already is a `WeirClientError`. */
export function toClientError(
  err: unknown,
  code: WeirClientErrorCode,
  context: string,
): WeirClientError {
  if (err instanceof WeirClientError) return err;
  const detail = err instanceof Error ? err.message : String(err);
  return new WeirClientError(code, `${context}: ${detail}`, { cause: err });
}
