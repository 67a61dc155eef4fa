import { AuthError } from "./errors.ts";

/**
 * The token of an `Authorization: Bearer <token>` header (scheme case-insensitive, RFC 6750).
 * Throws `AuthError` "unauthorized" (401) when the header is missing or not a bearer token.
 */
export function bearerToken(authorization: string | null | undefined): string {
  if (typeof authorization !== "string") throw new AuthError("unauthorized", "missing token");
  const m = /^Bearer +([^ ]+) *$/i.exec(authorization);
  if (m === null) throw new AuthError("unauthorized", "expected Authorization: Bearer <token>");
  return m[1];
}
