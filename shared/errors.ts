import * as z from "zod/mini";

/** Every error code a client or an edge can see, with its HTTP status. */
export const ERROR_STATUS = {
  bad_request: 400,
  invalid_sdp: 400,
  invalid_json: 400,
  unauthorized: 401,
  token_expired: 401,
  forbidden: 403,
  not_found: 404,
  session_not_found: 404,
  room_not_found: 404,
  participant_not_found: 404,
  track_not_found: 404,
  conflict: 409,
  precondition_failed: 412,
  payload_too_large: 413,
  unsupported_media_type: 415,
  too_many_sessions: 429,
  internal: 500,
  /** Recording is not set up on the media node (no WEIR_RECORDINGS_DIR). */
  recording_disabled: 501,
  no_node_available: 503,
  node_full: 503,
  node_unavailable: 503,
  draining: 503,
  /** The recording node's disk is (nearly) full. */
  insufficient_storage: 507,
} as const;

export type ErrorCode = keyof typeof ERROR_STATUS;
export const ERROR_CODES = Object.keys(ERROR_STATUS) as ErrorCode[];

export const ErrorInfo = z.object({
  code: z.enum(ERROR_CODES as [ErrorCode, ...ErrorCode[]]),
  message: z.string(),
});
export type ErrorInfo = z.infer<typeof ErrorInfo>;

/** The JSON body of every HTTP error: `{ "error": { "code", "message" } }`. */
export const ErrorBody = z.object({ error: ErrorInfo });
export type ErrorBody = z.infer<typeof ErrorBody>;

/** An error that crosses the wire: it knows its code and HTTP status. */
export class WeirApiError extends Error {
  readonly code: ErrorCode;
  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "WeirApiError";
    this.code = code;
  }

  get status(): number {
    return ERROR_STATUS[this.code];
  }

  toJSON(): ErrorInfo {
    return { code: this.code, message: this.message };
  }
}
