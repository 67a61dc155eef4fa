/**
 * JWT access tokens for the edge, on `jose` (WebCrypto only, no dependencies), so the same code
 * runs in Cloudflare Workers, Node 20 and browsers.
 *
 * - HS256 with a shared secret: sign (`signToken`) and verify.
 * - EdDSA (Ed25519) and ES256 (P-256, ECDSA with SHA-256): verify only, with a public key given
 *   as a JWK or an SPKI PEM (`-----BEGIN PUBLIC KEY-----`). The private key stays with whoever
 *   issues tokens.
 *
 * What this file adds to jose, on purpose: the verifier decides the algorithm, never the token
 * (one allowed `alg` per key, so `none` and HS256-signed-with-the-public-key are rejected before
 * any crypto runs); keys never come from the token (`jwk`, `jku`, `x5u`, `kid` are ignored);
 * `crit` is refused, `b64` included; each token has one accepted spelling (jose's decoder is
 * lenient about the signature's unused bits); claims go through the `TokenClaims` schema; an
 * `exp` more than `MAX_TOKEN_LIFETIME_S` ahead is refused.
 */

import { base64url, errors, importJWK, importSPKI, jwtVerify, SignJWT } from "jose";
import type { TokenClaims as Claims } from "../../../shared/token.ts";
import { TokenClaims } from "../../../shared/token.ts";
import { AuthError } from "./errors.ts";

export type JwtAlg = "HS256" | "EdDSA" | "ES256";

/** A public key: a JWK object, or an SPKI PEM string (`-----BEGIN PUBLIC KEY-----`). */
export type PublicKeyInput = JsonWebKey | string;

/** How to verify tokens. A bare string is an HS256 secret. */
export type VerifierConfig =
  | string
  | { alg: "HS256"; secret: string }
  | { alg: "EdDSA"; publicKey: PublicKeyInput }
  | { alg: "ES256"; publicKey: PublicKeyInput };

/** Longest token accepted, in characters (tokens are ASCII). */
export const MAX_TOKEN_LENGTH = 8 * 1024;
/** Clock skew allowed on `exp` and `nbf`, in seconds. */
export const CLOCK_SKEW_S = 30;
/**
 * Longest time a token may still be valid, in seconds: an `exp` further ahead (such as `1e300`)
 * is refused, so a leaked token stops working within a week whatever its issuer wrote.
 */
export const MAX_TOKEN_LIFETIME_S = 7 * 24 * 3600;
/** Shortest HS256 / session-id secret accepted, in UTF-8 bytes (RFC 7518 section 3.2). */
export const MIN_SECRET_BYTES = 32;

const SIGNATURE_BYTES: Record<JwtAlg, number> = { HS256: 32, EdDSA: 64, ES256: 64 };
/** Three unpadded base64url segments. */
const COMPACT_JWS = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.([A-Za-z0-9_-]+)$/;

/**
 * A verifier with its key imported once. Build one at startup with `importVerifier` and reuse
 * it: `verifyToken` also takes a `VerifierConfig` and imports on the fly, which costs a key
 * import per call (HMAC keys are cached).
 */
export class TokenVerifier {
  /** @internal use `importVerifier`. */
  constructor(
    readonly alg: JwtAlg,
    readonly key: CryptoKey,
  ) {}
}

/** Imports the key of a `VerifierConfig`. Throws a `TypeError` for a bad key or config. */
export async function importVerifier(config: VerifierConfig): Promise<TokenVerifier> {
  if (typeof config === "string") return new TokenVerifier("HS256", await hmacKey(config));
  switch (config.alg) {
    case "HS256":
      return new TokenVerifier("HS256", await hmacKey(config.secret));
    case "EdDSA":
      return new TokenVerifier("EdDSA", await importPublic(config.publicKey, "EdDSA"));
    case "ES256":
      return new TokenVerifier("ES256", await importPublic(config.publicKey, "ES256"));
    default:
      throw new TypeError(
        `unsupported token algorithm: ${String((config as { alg: unknown }).alg)}`,
      );
  }
}

/**
 * Signs `claims` as an HS256 JWT. The claims are validated first (a `TypeError` says what is
 * wrong); unknown keys are dropped.
 */
export async function signToken(claims: Claims, secret: string): Promise<string> {
  const parsed = TokenClaims.safeParse(claims);
  if (!parsed.success) {
    const what = parsed.error.issues.map((i) => `${i.path.join(".") || "claims"}: ${i.message}`);
    throw new TypeError(`invalid token claims: ${what.join("; ")}`);
  }
  const key = await hmacKey(secret);
  return new SignJWT(parsed.data).setProtectedHeader({ alg: "HS256", typ: "JWT" }).sign(key);
}

/**
 * Verifies a JWT and returns its claims. `now` is seconds since the epoch (default: the clock).
 *
 * Throws `AuthError` (status 401) with code `token_expired` when `exp` has passed (more than
 * `CLOCK_SKEW_S` ago), or `unauthorized` for everything else: `exp` more than
 * `MAX_TOKEN_LIFETIME_S` ahead, missing, too long, malformed,
 * wrong or unknown `alg` (including `none`), bad signature, invalid claims, `nbf` in the
 * future. A bad verifier config throws `TypeError` (a server error, not the client's).
 */
export async function verifyToken(
  token: string | null | undefined,
  verifier: TokenVerifier | VerifierConfig,
  now: number = Math.floor(Date.now() / 1000),
): Promise<Claims> {
  const v = verifier instanceof TokenVerifier ? verifier : await importVerifier(verifier);
  if (typeof token !== "string" || token.length === 0) throw unauthorized("missing token");
  if (token.length > MAX_TOKEN_LENGTH) throw unauthorized("token too long");
  const shape = COMPACT_JWS.exec(token);
  if (shape === null) throw unauthorized("malformed token");
  if (!canonicalSignature(shape[1], SIGNATURE_BYTES[v.alg])) {
    throw unauthorized("invalid token signature");
  }

  const { payload, protectedHeader } = await jwtVerify(token, v.key, {
    algorithms: [v.alg],
    clockTolerance: CLOCK_SKEW_S,
    currentDate: new Date(now * 1000),
    requiredClaims: ["exp"],
  }).catch(rethrowAsAuthError);
  if (protectedHeader.crit !== undefined) throw unauthorized("unsupported token header");

  const parsed = TokenClaims.safeParse(payload);
  if (!parsed.success) throw unauthorized("invalid token claims");
  if (parsed.data.exp > now + MAX_TOKEN_LIFETIME_S + CLOCK_SKEW_S) {
    throw unauthorized(`token valid for more than ${MAX_TOKEN_LIFETIME_S} s (exp too far ahead)`);
  }
  return parsed.data;
}

function unauthorized(message: string): AuthError {
  return new AuthError("unauthorized", message);
}

/** Whether `segment` decodes to `bytes` bytes and is the one spelling of them. */
function canonicalSignature(segment: string, bytes: number): boolean {
  try {
    const sig = base64url.decode(segment);
    return sig.length === bytes && base64url.encode(sig) === segment;
  } catch {
    return false;
  }
}

/** jose's errors as the edge's: expiry is `token_expired`, every other failure `unauthorized`. */
function rethrowAsAuthError(err: unknown): never {
  if (err instanceof errors.JWTExpired) throw new AuthError("token_expired", "token expired");
  if (err instanceof errors.JWTClaimValidationFailed && err.claim === "nbf") {
    throw unauthorized("token not yet valid");
  }
  if (err instanceof errors.JWSSignatureVerificationFailed) {
    throw unauthorized("invalid token signature");
  }
  if (err instanceof errors.JOSEAlgNotAllowed) throw unauthorized("unexpected token algorithm");
  if (err instanceof errors.JWTClaimValidationFailed || err instanceof errors.JWTInvalid) {
    throw unauthorized("invalid token claims");
  }
  if (err instanceof errors.JOSEError) throw unauthorized("malformed token");
  throw err;
}

// --- keys ---------------------------------------------------------------------------------

const HMAC_CACHE_MAX = 8;
const hmacCache = new Map<string, Promise<CryptoKey>>();
const encoder = new TextEncoder();

/**
 * The HMAC-SHA256 key for a secret (cached: Workers import per request otherwise). Shared with
 * the session-id signer. Throws `TypeError` for a secret shorter than `MIN_SECRET_BYTES`.
 */
export function hmacKey(secret: string): Promise<CryptoKey> {
  if (typeof secret !== "string" || encoder.encode(secret).length < MIN_SECRET_BYTES) {
    throw new TypeError(`the secret must be at least ${MIN_SECRET_BYTES} bytes long`);
  }
  let key = hmacCache.get(secret);
  if (key === undefined) {
    const raw = encoder.encode(secret);
    key = crypto.subtle.importKey("raw", raw, { name: "HMAC", hash: "SHA-256" }, false, [
      "sign",
      "verify",
    ]);
    if (hmacCache.size >= HMAC_CACHE_MAX) {
      const oldest = hmacCache.keys().next().value;
      if (oldest !== undefined) hmacCache.delete(oldest);
    }
    hmacCache.set(secret, key);
  }
  return key;
}

const KEY_TYPE = {
  EdDSA: { kty: "OKP", crv: "Ed25519" },
  ES256: { kty: "EC", crv: "P-256" },
} as const;

/** Imports a public key for `alg`; a `TypeError` for a private key, a key of another type, or junk. */
async function importPublic(input: PublicKeyInput, alg: "EdDSA" | "ES256"): Promise<CryptoKey> {
  if (typeof input === "string") {
    return importSPKI(input.trim(), alg).catch((err: Error) => {
      throw new TypeError(`invalid ${alg} public key: ${err.message}`);
    });
  }
  const jwk = publicJwk(input, alg);
  return importJWK(jwk, alg).then(
    (key) => key as CryptoKey,
    (err: Error) => {
      throw new TypeError(`invalid ${alg} public key: ${err.message}`);
    },
  );
}

/** Only the public members of a JWK; refuses private keys and keys of the wrong type. */
function publicJwk(jwk: JsonWebKey, alg: "EdDSA" | "ES256"): JsonWebKey {
  if (typeof jwk !== "object" || jwk === null) throw new TypeError("expected a JWK object");
  if (jwk.d !== undefined) {
    throw new TypeError("the edge needs the PUBLIC key; this JWK holds a private key");
  }
  const { kty, crv } = KEY_TYPE[alg];
  if (jwk.kty !== kty || jwk.crv !== crv) {
    throw new TypeError(`${alg} needs a JWK with kty "${kty}" and crv "${crv}"`);
  }
  // WebCrypto exports Ed25519 JWKs with alg "Ed25519" (RFC 9864); RFC 8037 says "EdDSA".
  const algs: string[] = alg === "EdDSA" ? ["EdDSA", "Ed25519"] : [alg];
  if (jwk.alg !== undefined && !algs.includes(jwk.alg)) {
    throw new TypeError(`the JWK is for alg "${jwk.alg}", not "${alg}"`);
  }
  const out: JsonWebKey = { kty, crv, x: jwk.x };
  if (jwk.y !== undefined) out.y = jwk.y;
  return out;
}
