import { WeirApiError } from "../../../shared/errors.ts";

/** The error codes authentication and authorization can raise, with their HTTP statuses. */
export type AuthErrorCode = "unauthorized" | "token_expired" | "forbidden" | "session_not_found";

/**
 * A failed authentication / authorization check. It is a `WeirApiError`, so the edge's error
 * handler answers it like any other: `status` (401, 403 or 404) and
 * `{ "error": { "code", "message" } }`. Messages are safe to show to clients: they never carry
 * key material, expected signatures, or which part of a session id was wrong.
 */
export class AuthError extends WeirApiError {
  declare readonly code: AuthErrorCode;
  constructor(code: AuthErrorCode, message: string) {
    super(code, message);
    this.name = "AuthError";
  }
}
