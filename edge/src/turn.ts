/**
 * TURN for clients that cannot reach a media node directly: the edge hands out time-limited
 * credentials in the TURN REST API scheme that coturn checks with `use-auth-secret` /
 * `static-auth-secret`: username `<expiry unix seconds>:<identity>`, password the base64
 * HMAC-SHA1 of that username keyed with the shared secret. WebCrypto only (Workers and Node).
 */
import type { IceServer } from "../../shared/ws.ts";

export interface TurnConfig {
  /** `turn:`, `turns:` (and `stun:`) URLs, e.g. `turns:turn.example.com:443?transport=tcp`. */
  urls: string[];
  /** The secret coturn has as `static-auth-secret`. */
  secret: string;
  /** How long a credential stays valid, in seconds. */
  ttlSeconds: number;
}

/** A day: covers a long session's allocation refreshes (coturn checks the expiry on each). */
export const DEFAULT_TURN_TTL_SECONDS = 86_400;
export const MIN_TURN_SECRET_BYTES = 16;
/** The identity part of a username is cut here (a STUN USERNAME holds at most 513 bytes). */
const MAX_IDENTITY_CHARS = 256;
/** A STUN/TURN URI (RFC 7064 / RFC 7065) with nothing that could break a Link header. */
const ICE_URL = /^(?:stuns?|turns?):[^\s<>"',;\\]+$/;

/** The settings as they arrive (environment variables or Worker vars). */
export interface TurnSettings {
  /** Comma-separated URLs (WEIR_TURN_URLS). */
  urls?: string;
  /** WEIR_TURN_SECRET */
  secret?: string;
  /** Credential lifetime in seconds (WEIR_TURN_TTL). */
  ttl?: string;
}

/**
 * Reads the TURN settings: undefined when neither URLs nor a secret is set; throws a TypeError
 * that says what is wrong otherwise (a URL without a secret, a short secret, a bad URL or TTL).
 */
export function parseTurnConfig(s: TurnSettings): TurnConfig | undefined {
  const urls = (s.urls ?? "")
    .split(",")
    .map((u) => u.trim())
    .filter((u) => u.length > 0);
  const secret = s.secret ?? "";
  if (urls.length === 0 && secret === "") return undefined;
  if (urls.length === 0) throw new TypeError("WEIR_TURN_SECRET is set but WEIR_TURN_URLS is not");
  // The welcome's IceServer schema (shared/ws.ts) holds at most 16 URLs per entry.
  if (urls.length > 16) throw new TypeError("WEIR_TURN_URLS lists more than 16 URLs");
  const bad = urls.find((u) => !ICE_URL.test(u) || u.length > 512);
  if (bad !== undefined)
    throw new TypeError(`WEIR_TURN_URLS: "${bad}" is not a stun:, turn: or turns: URL`);
  const needsSecret = urls.some((u) => u.startsWith("turn"));
  if (needsSecret && new TextEncoder().encode(secret).length < MIN_TURN_SECRET_BYTES)
    throw new TypeError(
      `WEIR_TURN_SECRET must be set, ${MIN_TURN_SECRET_BYTES} bytes or more (coturn's static-auth-secret)`,
    );
  const ttl = s.ttl?.trim() ?? "";
  const ttlSeconds =
    ttl === "" ? DEFAULT_TURN_TTL_SECONDS : /^\d{1,8}$/.test(ttl) ? Number(ttl) : 0;
  if (ttlSeconds < 60 || ttlSeconds > 30 * 86_400)
    throw new TypeError("WEIR_TURN_TTL must be whole seconds between 60 and 2592000");
  return { urls, secret, ttlSeconds };
}

/** base64(HMAC-SHA1(secret, username)): the password coturn expects for `username`. */
export async function turnPassword(secret: string, username: string): Promise<string> {
  const enc = new TextEncoder();
  const key = await crypto.subtle.importKey(
    "raw",
    enc.encode(secret),
    { name: "HMAC", hash: "SHA-1" },
    false,
    ["sign"],
  );
  const mac = new Uint8Array(await crypto.subtle.sign("HMAC", key, enc.encode(username)));
  let bin = "";
  for (const b of mac) bin += String.fromCharCode(b);
  return btoa(bin);
}

/**
 * `<expiry>:<identity>`: expiry in unix seconds, the identity percent-encoded (ASCII only, no
 * quote or colon, so it fits a header's quoted-string) and cut to 256 characters.
 */
export function turnUsername(identity: string, expiresAt: number): string {
  return `${expiresAt}:${encodeURIComponent(identity).slice(0, MAX_IDENTITY_CHARS)}`;
}

/**
 * The ICE servers for one client: STUN URLs as they are, TURN URLs in one entry with a fresh
 * credential valid for `ttlSeconds` from `nowMs`. Empty without a config.
 */
export async function iceServersFor(
  config: TurnConfig | undefined,
  identity: string,
  nowMs: number,
): Promise<IceServer[]> {
  if (config === undefined) return [];
  const stun = config.urls.filter((u) => u.startsWith("stun"));
  const turn = config.urls.filter((u) => u.startsWith("turn"));
  const servers: IceServer[] = [];
  if (stun.length > 0) servers.push({ urls: stun });
  if (turn.length > 0) {
    const username = turnUsername(identity, Math.floor(nowMs / 1000) + config.ttlSeconds);
    servers.push({ urls: turn, username, credential: await turnPassword(config.secret, username) });
  }
  return servers;
}

/**
 * RFC 9725 section 4.6: one `Link` value per URL, `rel="ice-server"`, with `username`,
 * `credential` and `credential-type="password"` where the server has a credential.
 */
export function iceServerLinks(servers: IceServer[]): string[] {
  const links: string[] = [];
  for (const s of servers) {
    const auth =
      s.username !== undefined && s.credential !== undefined
        ? `; username="${s.username}"; credential="${s.credential}"; credential-type="password"`
        : "";
    for (const url of s.urls) links.push(`<${url}>; rel="ice-server"${auth}`);
  }
  return links;
}
