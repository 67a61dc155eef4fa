/**
 * JWT access tokens for the edge, on WebCrypto only (`crypto.subtle`), so the same code runs in
 * Cloudflare Workers, Node 20 and browsers.
 *
 * - HS256 with a shared secret: sign (`signToken`) and verify.
 * - EdDSA (Ed25519) and ES256 (P-256, ECDSA with SHA-256): verify only, with a public key given
 *   as a JWK or an SPKI PEM (`-----BEGIN PUBLIC KEY-----`). The private key stays with whoever
 *   issues tokens.
 *
 * The verifier decides the algorithm, never the token: the header's `alg` must equal the
 * configured one exactly, so `none`, HS256-signed-with-the-public-key and similar confusions
 * are rejected before any crypto runs. Header keys such as `jwk`, `jku`, `x5u` and `kid` are
 * ignored (keys never come from the token); `crit` is rejected (no extensions are supported).
 */

import type { TokenClaims as Claims } from "../../../shared/token.ts";
import { TokenClaims } from "../../../shared/token.ts";
import { base64urlDecode, base64urlEncode, utf8 } from "./base64url.ts";
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

/**
 * A verifier with its key imported once. Build one at startup with `importVerifier` and reuse
 * it: `verifyToken` also takes a `VerifierConfig` and imports on the fly, which costs a key
 * import per call (HMAC keys are cached).
 */
export class TokenVerifier {
  readonly alg: JwtAlg;
  readonly #key: CryptoKey;
  readonly #params: AlgorithmIdentifier | EcdsaParams;

  /** @internal use `importVerifier`. */
  constructor(alg: JwtAlg, key: CryptoKey) {
    this.alg = alg;
    this.#key = key;
    this.#params =
      alg === "HS256"
        ? "HMAC"
        : alg === "ES256"
          ? { name: "ECDSA", hash: "SHA-256" }
          : { name: key.algorithm.name };
  }

  /** Checks `signature` over `data`; false on mismatch or anything crypto.subtle dislikes. */
  async check(signature: Uint8Array<ArrayBuffer>, data: Uint8Array<ArrayBuffer>): Promise<boolean> {
    try {
      // HMAC: crypto.subtle.verify compares in constant time.
      return await crypto.subtle.verify(this.#params, this.#key, signature, data);
    } catch {
      return false;
    }
  }
}

/** Imports the key of a `VerifierConfig`. Throws a `TypeError` for a bad key or config. */
export async function importVerifier(config: VerifierConfig): Promise<TokenVerifier> {
  if (typeof config === "string") return new TokenVerifier("HS256", await hmacKey(config));
  switch (config.alg) {
    case "HS256":
      return new TokenVerifier("HS256", await hmacKey(config.secret));
    case "EdDSA":
      return new TokenVerifier("EdDSA", await importEd25519(config.publicKey));
    case "ES256":
      return new TokenVerifier("ES256", await importP256(config.publicKey));
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
  const header = base64urlEncode(utf8(JSON.stringify({ alg: "HS256", typ: "JWT" })));
  const payload = base64urlEncode(utf8(JSON.stringify(parsed.data)));
  const input = `${header}.${payload}`;
  const sig = new Uint8Array(await crypto.subtle.sign("HMAC", key, utf8(input)));
  return `${input}.${base64urlEncode(sig)}`;
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

  const parts = token.split(".");
  if (parts.length !== 3) throw unauthorized("malformed token");
  const [h, p, s] = parts;

  const header = decodeJson(h);
  if (header === null) throw unauthorized("malformed token");
  if (header.crit !== undefined) throw unauthorized("unsupported token header");
  if (header.alg !== v.alg) throw unauthorized("unexpected token algorithm");

  const sig = base64urlDecode(s);
  if (sig === null || sig.length !== SIGNATURE_BYTES[v.alg]) {
    throw unauthorized("invalid token signature");
  }
  if (!(await v.check(sig, utf8(`${h}.${p}`)))) throw unauthorized("invalid token signature");

  const payload = decodeJson(p);
  const parsed = payload === null ? null : TokenClaims.safeParse(payload);
  if (parsed === null || !parsed.success) throw unauthorized("invalid token claims");
  const claims = parsed.data;

  if (now >= claims.exp + CLOCK_SKEW_S) throw new AuthError("token_expired", "token expired");
  if (claims.exp > now + MAX_TOKEN_LIFETIME_S + CLOCK_SKEW_S) {
    throw unauthorized(`token valid for more than ${MAX_TOKEN_LIFETIME_S} s (exp too far ahead)`);
  }
  if (claims.nbf !== undefined && claims.nbf > now + CLOCK_SKEW_S) {
    throw unauthorized("token not yet valid");
  }
  return claims;
}

function unauthorized(message: string): AuthError {
  return new AuthError("unauthorized", message);
}

const strictUtf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

/** A base64url JSON object, or null for anything else. */
function decodeJson(segment: string): Record<string, unknown> | null {
  const bytes = base64urlDecode(segment);
  if (bytes === null || bytes.length === 0) return null;
  try {
    const value: unknown = JSON.parse(strictUtf8.decode(bytes));
    if (typeof value !== "object" || value === null || Array.isArray(value)) return null;
    return value as Record<string, unknown>;
  } catch {
    return null;
  }
}

// --- keys ---------------------------------------------------------------------------------

const HMAC_CACHE_MAX = 8;
const hmacCache = new Map<string, Promise<CryptoKey>>();

/**
 * The HMAC-SHA256 key for a secret (cached: Workers import per request otherwise). Shared with
 * the session-id signer. Throws `TypeError` for a secret shorter than `MIN_SECRET_BYTES`.
 */
export function hmacKey(secret: string): Promise<CryptoKey> {
  if (typeof secret !== "string" || utf8(secret).length < MIN_SECRET_BYTES) {
    throw new TypeError(`the secret must be at least ${MIN_SECRET_BYTES} bytes long`);
  }
  let key = hmacCache.get(secret);
  if (key === undefined) {
    key = crypto.subtle.importKey("raw", utf8(secret), { name: "HMAC", hash: "SHA-256" }, false, [
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

const PEM = /^-----BEGIN PUBLIC KEY-----([A-Za-z0-9+/=\s]+)-----END PUBLIC KEY-----$/;

function spkiFromPem(pem: string): Uint8Array<ArrayBuffer> {
  const m = PEM.exec(pem.trim());
  if (m === null) throw new TypeError("expected an SPKI PEM (-----BEGIN PUBLIC KEY-----)");
  const bin = atob(m[1].replace(/\s+/g, ""));
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

/** Only the public members of a JWK; refuses private keys and keys of the wrong type. */
function publicJwk(jwk: JsonWebKey, kty: string, crv: string, alg: JwtAlg): JsonWebKey {
  if (typeof jwk !== "object" || jwk === null) throw new TypeError("expected a JWK object");
  if (jwk.d !== undefined) {
    throw new TypeError("the edge needs the PUBLIC key; this JWK holds a private key");
  }
  if (jwk.kty !== kty || jwk.crv !== crv) {
    throw new TypeError(`${alg} needs a JWK with kty "${kty}" and crv "${crv}"`);
  }
  // WebCrypto exports Ed25519 JWKs with alg "Ed25519" (RFC 9864); RFC 8037 says "EdDSA".
  const algs = alg === "EdDSA" ? ["EdDSA", "Ed25519"] : [alg];
  if (jwk.alg !== undefined && !algs.includes(jwk.alg)) {
    throw new TypeError(`the JWK is for alg "${jwk.alg}", not "${alg}"`);
  }
  const out: JsonWebKey = { kty, crv, x: jwk.x };
  if (jwk.y !== undefined) out.y = jwk.y;
  return out;
}

type KeyData =
  | { format: "spki"; data: Uint8Array<ArrayBuffer> }
  | { format: "jwk"; data: JsonWebKey };

/** Parses and checks the key input (throws `TypeError`); crypto.subtle import comes later. */
function keyData(input: PublicKeyInput, kty: string, crv: string, alg: JwtAlg): KeyData {
  return typeof input === "string"
    ? { format: "spki", data: spkiFromPem(input) }
    : { format: "jwk", data: publicJwk(input, kty, crv, alg) };
}

function importKeyData(
  key: KeyData,
  algorithm: AlgorithmIdentifier | EcKeyImportParams,
): Promise<CryptoKey> {
  return key.format === "spki"
    ? crypto.subtle.importKey("spki", key.data, algorithm, false, ["verify"])
    : crypto.subtle.importKey("jwk", key.data, algorithm, false, ["verify"]);
}

async function importEd25519(input: PublicKeyInput): Promise<CryptoKey> {
  const key = keyData(input, "OKP", "Ed25519", "EdDSA");
  try {
    return await importKeyData(key, { name: "Ed25519" });
  } catch (err) {
    try {
      // Older Cloudflare Workers runtimes name the algorithm "NODE-ED25519".
      return await importKeyData(key, { name: "NODE-ED25519", namedCurve: "NODE-ED25519" });
    } catch {
      throw new TypeError(`invalid Ed25519 public key: ${(err as Error).message}`);
    }
  }
}

async function importP256(input: PublicKeyInput): Promise<CryptoKey> {
  const key = keyData(input, "EC", "P-256", "ES256");
  try {
    return await importKeyData(key, { name: "ECDSA", namedCurve: "P-256" });
  } catch (err) {
    throw new TypeError(`invalid P-256 public key: ${(err as Error).message}`);
  }
}
