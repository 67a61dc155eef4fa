import { ANY_ROOM, type Grant, type TokenClaims } from "../../../shared/token.ts";
import { AuthError } from "./errors.ts";

/** Whether the claims cover `room` (their own room, or `"*"`, any room). */
export function roomAllowed(claims: TokenClaims, room: string): boolean {
  return claims.room === ANY_ROOM || claims.room === room;
}

/**
 * Throws `AuthError` "forbidden" (403) unless the token is for `room` (or `"*"`, any room) and
 * carries `grant`. `admin` does not imply the others: grant what a token needs explicitly.
 */
export function requireGrant(claims: TokenClaims, room: string, grant: Grant): void {
  if (!roomAllowed(claims, room)) throw new AuthError("forbidden", "token is not for this room");
  if (!claims.grants.includes(grant)) {
    throw new AuthError("forbidden", `token lacks the "${grant}" grant`);
  }
}
