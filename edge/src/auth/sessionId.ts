/**
 * Session ids that carry the media node holding the session, signed so any edge instance can
 * route a later request (`PATCH` / `DELETE /v1/sessions/:id`, WebSocket events) to the right
 * node without a lookup, and nobody can point a request at a node or session of their choice.
 *
 * Format: `<nodeId>.<localId>.<sig>`, where nodeId and localId are `[A-Za-z0-9_-]{1,64}` and
 * sig is base64url(HMAC-SHA256(secret, "weir.session.v1" NUL nodeId "." localId)) truncated to
 * 16 bytes (22 characters). The label keeps these MACs apart from HS256 JWT signatures made
 * with the same secret.
 */
import { base64url } from "jose";
import { AuthError } from "./errors.ts";
import { hmacKey } from "./jwt.ts";

export const SESSION_PART_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;
const SIG_BYTES = 16;
const SIG_CHARS = 22; // base64url of 16 bytes, unpadded
/** Longest well-formed session id. */
export const MAX_SESSION_ID_LENGTH = 64 + 1 + 64 + 1 + SIG_CHARS;
const LABEL = "weir.session.v1\u0000";

export interface SessionRef {
  nodeId: string;
  localId: string;
}

async function sign(nodeId: string, localId: string, secret: string): Promise<string> {
  const key = await hmacKey(secret);
  const mac = await crypto.subtle.sign("HMAC", key, utf8(`${LABEL}${nodeId}.${localId}`));
  return base64url.encode(new Uint8Array(mac, 0, SIG_BYTES));
}

/**
 * Makes the signed session id for `localId` on `nodeId`. Throws `TypeError` when either part is
 * not `[A-Za-z0-9_-]{1,64}` or the secret is too short (both are server bugs, not client input).
 */
export async function makeSessionId(
  nodeId: string,
  localId: string,
  secret: string,
): Promise<string> {
  if (typeof nodeId !== "string" || !SESSION_PART_PATTERN.test(nodeId)) {
    throw new TypeError("nodeId must match [A-Za-z0-9_-]{1,64}");
  }
  if (typeof localId !== "string" || !SESSION_PART_PATTERN.test(localId)) {
    throw new TypeError("localId must match [A-Za-z0-9_-]{1,64}");
  }
  return `${nodeId}.${localId}.${await sign(nodeId, localId, secret)}`;
}

/**
 * Checks a session id from a client and returns where it lives. Anything but an id this
 * secret made (forged, truncated, altered, garbage) throws `AuthError` "session_not_found"
 * (404), with one message whatever was wrong.
 */
export async function parseSessionId(id: unknown, secret: string): Promise<SessionRef> {
  await hmacKey(secret); // a bad secret is a server error: throw it before judging the id
  if (typeof id !== "string" || id.length > MAX_SESSION_ID_LENGTH) throw notFound();
  const parts = id.split(".");
  if (parts.length !== 3) throw notFound();
  const [nodeId, localId, sig] = parts;
  if (
    !SESSION_PART_PATTERN.test(nodeId) ||
    !SESSION_PART_PATTERN.test(localId) ||
    sig.length !== SIG_CHARS
  ) {
    throw notFound();
  }
  // Comparing the canonical spelling (in constant time) also rejects alternative encodings of
  // the same 16 bytes, so each session has exactly one id.
  const expected = await sign(nodeId, localId, secret);
  if (!timingSafeEqual(utf8(expected), utf8(sig))) throw notFound();
  return { nodeId, localId };
}

function notFound(): AuthError {
  return new AuthError("session_not_found", "session not found");
}

const encoder = new TextEncoder();
function utf8(s: string): Uint8Array<ArrayBuffer> {
  return encoder.encode(s);
}

/** Compares two equal-purpose byte strings without an early exit on the first difference. */
function timingSafeEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a[i] ^ b[i];
  return diff === 0;
}
