// `import * as z`, not `import { z }`: the namespace object defeats tree-shaking and drags all of
// zod (locales, JSON Schema; ~420 KB minified) into the Worker bundle, against ~20 KB this way.
import * as z from "zod/mini";

/**
 * Access token claims (the JWT payload the edge accepts).
 *
 * - `sub`: the participant's identity, 1-128 characters, no control characters.
 * - `room`: the room the token is good for: 1-128 of `[A-Za-z0-9_-]` (room names are NATS
 *   subject tokens, see `NAME_PATTERN` in `limits.ts`, so no dots, spaces or wildcards), or the
 *   wildcard `"*"`, which means ANY room. The wildcard is meant for admin / service tokens
 *   (dashboards, recorders, the operator's own backend); mint it only for those. Grants still
 *   apply one by one: a `"*"` token without `admin` cannot do admin things anywhere.
 * - `grants`: what the bearer may do in that room, no duplicates:
 *   `publish` (send media), `subscribe` (receive media), `data` (DataChannels),
 *   `admin` (manage the room: list, kick, end), `record` (start, list and stop recordings of
 *   the room, and nothing else; `admin` may too).
 * - `exp`: expiry, seconds since the Unix epoch (JWT NumericDate). Required.
 * - `iat` (issued at) and `nbf` (not before): optional, seconds since the Unix epoch.
 *
 * Other registered claims (`iss`, `aud`, `jti`, ...) are accepted and dropped on parse.
 */

export const GRANTS = ["publish", "subscribe", "data", "admin", "record"] as const;

/** The grants that may start, list and stop recordings (any one of them). */
export const RECORDING_GRANTS: readonly Grant[] = ["record", "admin"];
export type Grant = (typeof GRANTS)[number];

/** The room claim that matches every room. */
export const ANY_ROOM = "*";

/** A room name in a token: the same rule as `NAME_PATTERN` in `limits.ts`, or `"*"`. */
export const TOKEN_ROOM_PATTERN = /^(?:\*|[A-Za-z0-9_-]{1,128})$/;

// biome-ignore lint/suspicious/noControlCharactersInRegex: rejecting control characters is the point
const CONTROL_CHARS = /[\u0000-\u001f\u007f]/;

/** JWT NumericDate: non-negative, finite seconds since the epoch (fractions allowed, RFC 7519). */
const NumericDate = z.number().check(z.nonnegative());

export const TokenClaims = z.object({
  sub: z.string().check(
    z.minLength(1),
    z.maxLength(128),
    z.refine((s) => !CONTROL_CHARS.test(s), { message: "sub must not contain control characters" }),
  ),
  room: z.string().check(z.regex(TOKEN_ROOM_PATTERN)),
  grants: z.array(z.enum(GRANTS)).check(
    z.maxLength(GRANTS.length),
    z.refine((g) => new Set(g).size === g.length, { message: "grants must not repeat" }),
  ),
  exp: NumericDate,
  iat: z.optional(NumericDate),
  nbf: z.optional(NumericDate),
});
export type TokenClaims = z.infer<typeof TokenClaims>;
