import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { describe, it } from "node:test";
import { promisify } from "node:util";
import { base64url } from "jose";
import { bearerToken } from "../../edge/src/auth/bearer.ts";
import { DEV_SECRET } from "../../edge/src/auth/devSecret.ts";
import { AuthError, type AuthErrorCode } from "../../edge/src/auth/errors.ts";
import { requireGrant, roomAllowed } from "../../edge/src/auth/grants.ts";
import {
  CLOCK_SKEW_S,
  importVerifier,
  MAX_TOKEN_LENGTH,
  MAX_TOKEN_LIFETIME_S,
  signToken,
  type VerifierConfig,
  verifyToken,
} from "../../edge/src/auth/jwt.ts";
import { makeSessionId, parseSessionId } from "../../edge/src/auth/sessionId.ts";
import type { TokenClaims as Claims } from "../../shared/token.ts";
import { TokenClaims } from "../../shared/token.ts";

const execFileP = promisify(execFile);

const SECRET = "test-secret-0123456789-abcdefghijklmnop";
const OTHER_SECRET = "another-secret-0123456789-abcdefghijkl";
const NOW = 1_800_000_000;

function claims(over: Partial<Claims> = {}): Claims {
  return {
    sub: "alice",
    room: "room-1",
    grants: ["publish", "subscribe"],
    exp: NOW + 600,
    ...over,
  };
}

const enc = new TextEncoder();
const b64json = (v: unknown) => base64url.encode(enc.encode(JSON.stringify(v)));

/** Asserts that `p` rejects with an AuthError of `code` (and the matching status). */
async function rejectsWith(p: Promise<unknown>, code: AuthErrorCode): Promise<AuthError> {
  const status = { unauthorized: 401, token_expired: 401, forbidden: 403, session_not_found: 404 };
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof AuthError, `expected AuthError, got ${String(err)}`);
    assert.equal(err.code, code, err.message);
    assert.equal(err.status, status[code]);
    return err;
  }
  assert.fail(`expected AuthError ${code}, but it resolved`);
}

function throwsWith(fn: () => unknown, code: AuthErrorCode): void {
  assert.throws(fn, (err: unknown) => err instanceof AuthError && err.code === code);
}

/** Signs `header.payload` with a crypto.subtle private key, as an outside issuer would. */
async function signAsymmetric(
  alg: "EdDSA" | "ES256",
  key: CryptoKey,
  payload: unknown,
  header: Record<string, unknown> = { alg, typ: "JWT" },
): Promise<string> {
  const input = `${b64json(header)}.${b64json(payload)}`;
  const params = alg === "ES256" ? { name: "ECDSA", hash: "SHA-256" } : { name: "Ed25519" };
  const sig = new Uint8Array(await crypto.subtle.sign(params, key, enc.encode(input)));
  return `${input}.${base64url.encode(sig)}`;
}

async function hs256(header: unknown, payload: unknown, secret = SECRET): Promise<string> {
  const key = await crypto.subtle.importKey(
    "raw",
    enc.encode(secret),
    { name: "HMAC", hash: "SHA-256" },
    false,
    ["sign"],
  );
  const input = `${b64json(header)}.${b64json(payload)}`;
  const sig = new Uint8Array(await crypto.subtle.sign("HMAC", key, enc.encode(input)));
  return `${input}.${base64url.encode(sig)}`;
}

function toPem(spki: ArrayBuffer): string {
  const b64 = btoa(String.fromCharCode(...new Uint8Array(spki)));
  return `-----BEGIN PUBLIC KEY-----\n${b64.replace(/(.{64})/g, "$1\n")}\n-----END PUBLIC KEY-----\n`;
}

async function edKeys() {
  return (await crypto.subtle.generateKey({ name: "Ed25519" }, true, [
    "sign",
    "verify",
  ])) as CryptoKeyPair;
}
async function ecKeys() {
  return crypto.subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, true, [
    "sign",
    "verify",
  ]);
}

describe("token claims schema", () => {
  it("accepts good claims and the any-room wildcard", () => {
    assert.ok(TokenClaims.safeParse(claims()).success);
    assert.ok(TokenClaims.safeParse(claims({ room: "*", grants: ["admin"] })).success);
    assert.ok(TokenClaims.safeParse(claims({ grants: [], iat: NOW, nbf: NOW })).success);
  });
  it("rejects bad rooms, identities, grants and times", () => {
    const bad: unknown[] = [
      claims({ room: "" }),
      claims({ room: "a".repeat(129) }),
      claims({ room: "a b" }),
      claims({ room: "a.b" }), // a NATS subject separator
      claims({ room: "a*" }),
      claims({ room: ">" }),
      claims({ sub: "" }),
      claims({ sub: "x".repeat(129) }),
      claims({ sub: "evil\nlog line" }),
      { ...claims(), grants: ["publish", "publish"] },
      { ...claims(), grants: ["root"] },
      { ...claims(), exp: "soon" },
      { ...claims(), exp: -1 },
      { ...claims(), exp: Number.POSITIVE_INFINITY },
      { sub: "a", room: "r", grants: [] },
    ];
    for (const b of bad) assert.equal(TokenClaims.safeParse(b).success, false, JSON.stringify(b));
  });
});

describe("HS256 sign / verify", () => {
  it("round-trips the claims", async () => {
    const c = claims({ iat: NOW, nbf: NOW - 5 });
    const token = await signToken(c, SECRET);
    assert.match(token, /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]{43}$/);
    assert.deepEqual(await verifyToken(token, SECRET, NOW), c);
    assert.deepEqual(await verifyToken(token, { alg: "HS256", secret: SECRET }, NOW), c);
    const v = await importVerifier({ alg: "HS256", secret: SECRET });
    assert.deepEqual(await verifyToken(token, v, NOW), c);
  });

  it("uses the clock when `now` is not given", async () => {
    const now = Math.floor(Date.now() / 1000);
    const token = await signToken(claims({ exp: now + 60 }), SECRET);
    assert.equal((await verifyToken(token, SECRET)).sub, "alice");
    const old = await signToken(claims({ exp: now - 3600 }), SECRET);
    await rejectsWith(verifyToken(old, SECRET), "token_expired");
  });

  it("refuses to sign invalid claims or with a short secret", async () => {
    await assert.rejects(signToken(claims({ room: "no spaces" }), SECRET), TypeError);
    await assert.rejects(signToken(claims(), "short"), TypeError);
    await assert.rejects(verifyToken("a.b.c", "short"), TypeError);
  });

  it("refuses an exp more than MAX_TOKEN_LIFETIME_S ahead (1e300 included)", async () => {
    const week = await signToken(claims({ exp: NOW + MAX_TOKEN_LIFETIME_S }), SECRET);
    assert.equal((await verifyToken(week, SECRET, NOW)).sub, "alice");
    for (const exp of [NOW + MAX_TOKEN_LIFETIME_S + CLOCK_SKEW_S + 1, 1e300]) {
      const token = await signToken(claims({ exp }), SECRET);
      await rejectsWith(verifyToken(token, SECRET, NOW), "unauthorized");
    }
  });

  it("expires after exp, with 30 s of clock skew", async () => {
    const token = await signToken(claims({ exp: NOW }), SECRET);
    assert.equal((await verifyToken(token, SECRET, NOW + CLOCK_SKEW_S - 1)).sub, "alice");
    await rejectsWith(verifyToken(token, SECRET, NOW + CLOCK_SKEW_S), "token_expired");
    await rejectsWith(verifyToken(token, SECRET, NOW + 3600), "token_expired");
  });

  it("rejects nbf in the future (beyond the skew) as unauthorized", async () => {
    const token = await signToken(claims({ nbf: NOW + 120 }), SECRET);
    await rejectsWith(verifyToken(token, SECRET, NOW), "unauthorized");
    assert.equal((await verifyToken(token, SECRET, NOW + 100)).sub, "alice");
  });

  it("rejects a token signed with another secret", async () => {
    const token = await signToken(claims(), OTHER_SECRET);
    await rejectsWith(verifyToken(token, SECRET, NOW), "unauthorized");
  });

  it("rejects a tampered payload, header or signature", async () => {
    const token = await signToken(claims(), SECRET);
    const [h, p, s] = token.split(".");
    const evil = b64json({ ...claims(), room: "*", grants: ["admin"] });
    await rejectsWith(verifyToken(`${h}.${evil}.${s}`, SECRET, NOW), "unauthorized");
    const evilHeader = b64json({ alg: "HS256", typ: "JWT", kid: "x" });
    await rejectsWith(verifyToken(`${evilHeader}.${p}.${s}`, SECRET, NOW), "unauthorized");
    // Flip one bit of the signature in every byte position.
    const sig = base64url.decode(s)!;
    for (let i = 0; i < sig.length; i++) {
      const t = sig.slice();
      t[i] ^= 1;
      await rejectsWith(
        verifyToken(`${h}.${p}.${base64url.encode(t)}`, SECRET, NOW),
        "unauthorized",
      );
    }
    // The same 32 bytes spelled with the unused low bits of the last character set, padded,
    // or with whitespace: one token has one accepted spelling.
    const ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    const lastBits = ALPHABET[ALPHABET.indexOf(s.at(-1)!) ^ 1];
    for (const alt of [
      `${s.slice(0, -1)}${lastBits}`,
      `${s}=`,
      `${s.slice(0, 20)} ${s.slice(20)}`,
    ]) {
      await rejectsWith(verifyToken(`${h}.${p}.${alt}`, SECRET, NOW), "unauthorized");
    }
    // Truncated signature, missing signature, extra segment.
    await rejectsWith(verifyToken(`${h}.${p}.${s.slice(0, 20)}`, SECRET, NOW), "unauthorized");
    await rejectsWith(verifyToken(`${h}.${p}.`, SECRET, NOW), "unauthorized");
    await rejectsWith(verifyToken(`${h}.${p}`, SECRET, NOW), "unauthorized");
    await rejectsWith(verifyToken(`${token}.${s}`, SECRET, NOW), "unauthorized");
  });

  it("rejects a validly signed token whose claims are invalid", async () => {
    const t = await hs256({ alg: "HS256" }, { ...claims(), grants: ["root"] });
    await rejectsWith(verifyToken(t, SECRET, NOW), "unauthorized");
    const arr = await hs256({ alg: "HS256" }, [claims()]);
    await rejectsWith(verifyToken(arr, SECRET, NOW), "unauthorized");
    const crit = await hs256({ alg: "HS256", crit: ["b64"], b64: false }, claims());
    await rejectsWith(verifyToken(crit, SECRET, NOW), "unauthorized");
    // jose recognises b64 in crit; the edge supports no extension at all.
    for (const header of [
      { alg: "HS256", crit: ["b64"], b64: true },
      { alg: "HS256", crit: ["x"], x: 1 },
    ]) {
      await rejectsWith(verifyToken(await hs256(header, claims()), SECRET, NOW), "unauthorized");
    }
    // Extra registered claims are fine and dropped.
    const extra = await hs256({ alg: "HS256", typ: "JWT" }, { ...claims(), iss: "me", jti: "1" });
    assert.deepEqual(await verifyToken(extra, SECRET, NOW), claims());
  });

  it('rejects alg "none" and other algs in every spelling', async () => {
    const payload = b64json(claims());
    for (const alg of ["none", "None", "NONE", "", "hs256", "HS384", "HS512", "RS256", null, 1]) {
      const header = b64json({ alg, typ: "JWT" });
      await rejectsWith(verifyToken(`${header}.${payload}.`, SECRET, NOW), "unauthorized");
      await rejectsWith(verifyToken(`${header}.${payload}`, SECRET, NOW), "unauthorized");
      const signed = await hs256({ alg, typ: "JWT" }, claims());
      await rejectsWith(verifyToken(signed, SECRET, NOW), "unauthorized");
    }
    const noAlg = await hs256({ typ: "JWT" }, claims());
    await rejectsWith(verifyToken(noAlg, SECRET, NOW), "unauthorized");
  });

  it("rejects missing, empty and oversized tokens", async () => {
    await rejectsWith(verifyToken(undefined, SECRET, NOW), "unauthorized");
    await rejectsWith(verifyToken(null, SECRET, NOW), "unauthorized");
    await rejectsWith(verifyToken("", SECRET, NOW), "unauthorized");
    const big = await hs256({ alg: "HS256", pad: "x".repeat(MAX_TOKEN_LENGTH) }, claims());
    await rejectsWith(verifyToken(big, SECRET, NOW), "unauthorized");
  });

  it("never throws anything but AuthError for garbage", async () => {
    const verifier = await importVerifier(SECRET);
    const edVerifier = await importVerifier({
      alg: "EdDSA",
      publicKey: await crypto.subtle.exportKey("jwk", (await edKeys()).publicKey),
    });
    const good = await signToken(claims(), SECRET);
    let seed = 0x9e3779b9;
    const rand = (n: number) => {
      seed ^= seed << 13;
      seed ^= seed >>> 17;
      seed ^= seed << 5;
      return (seed >>> 0) % n;
    };
    const alphabets = [
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.",
      'ABCabc012-_.=+/ \n\t\u0000\u00ff\u{1f600}{}":,[]',
    ];
    const samples: string[] = [".", "..", "...", "a.b.c", "e30.e30.", "e30.e30.e30", "\u0000"];
    for (let i = 0; i < 400; i++) {
      const alphabet = [...alphabets[i % 2]];
      const len = rand(i % 50 === 0 ? 9000 : 200);
      let s = "";
      for (let j = 0; j < len; j++) s += alphabet[rand(alphabet.length)];
      samples.push(s);
      // Mutations of a real token: one character changed, or cut short.
      const pos = rand(good.length);
      samples.push(good.slice(0, pos) + alphabet[rand(alphabet.length)] + good.slice(pos + 1));
      samples.push(good.slice(0, pos));
    }
    // Structured garbage: valid base64url segments holding odd JSON.
    for (const h of [null, [], "x", 1, { alg: {} }, { alg: ["HS256"] }, { alg: "HS256" }]) {
      for (const p of [null, [], {}, "x", { sub: 1 }, { ...claims(), exp: "1" }]) {
        samples.push(`${b64json(h)}.${b64json(p)}.${"A".repeat(43)}`);
      }
    }
    let accepted = 0;
    for (const s of samples) {
      for (const v of [verifier, edVerifier]) {
        try {
          await verifyToken(s, v, NOW);
          if (s !== good) accepted++; // a mutation may put back the same character
        } catch (err) {
          assert.ok(err instanceof AuthError, `non-AuthError for ${JSON.stringify(s)}: ${err}`);
          assert.equal(err.status, 401);
        }
      }
    }
    assert.equal(accepted, 0);
  });
});

describe("EdDSA and ES256 (verify only)", () => {
  it("verifies EdDSA tokens with a JWK or an SPKI PEM public key", async () => {
    const { privateKey, publicKey } = await edKeys();
    const jwk = await crypto.subtle.exportKey("jwk", publicKey);
    const pem = toPem(await crypto.subtle.exportKey("spki", publicKey));
    const token = await signAsymmetric("EdDSA", privateKey, claims());
    assert.deepEqual(await verifyToken(token, { alg: "EdDSA", publicKey: jwk }, NOW), claims());
    assert.deepEqual(await verifyToken(token, { alg: "EdDSA", publicKey: pem }, NOW), claims());
    const expired = await signAsymmetric("EdDSA", privateKey, claims({ exp: NOW - 60 }));
    await rejectsWith(verifyToken(expired, { alg: "EdDSA", publicKey: jwk }, NOW), "token_expired");
    const other = await edKeys();
    const forged = await signAsymmetric("EdDSA", other.privateKey, claims());
    await rejectsWith(verifyToken(forged, { alg: "EdDSA", publicKey: jwk }, NOW), "unauthorized");
  });

  it("verifies ES256 tokens with a JWK or an SPKI PEM public key", async () => {
    const { privateKey, publicKey } = await ecKeys();
    const jwk = await crypto.subtle.exportKey("jwk", publicKey);
    const pem = toPem(await crypto.subtle.exportKey("spki", publicKey));
    const token = await signAsymmetric("ES256", privateKey, claims());
    assert.deepEqual(await verifyToken(token, { alg: "ES256", publicKey: jwk }, NOW), claims());
    assert.deepEqual(await verifyToken(token, { alg: "ES256", publicKey: pem }, NOW), claims());
    const other = await ecKeys();
    const forged = await signAsymmetric("ES256", other.privateKey, claims());
    await rejectsWith(verifyToken(forged, { alg: "ES256", publicKey: pem }, NOW), "unauthorized");
    const [h, , s] = token.split(".");
    const tampered = `${h}.${b64json(claims({ room: "*" }))}.${s}`;
    await rejectsWith(verifyToken(tampered, { alg: "ES256", publicKey: jwk }, NOW), "unauthorized");
  });

  it("refuses private keys and keys of the wrong type at configuration", async () => {
    const ed = await edKeys();
    const ec = await ecKeys();
    const edPrivate = await crypto.subtle.exportKey("jwk", ed.privateKey);
    const ecJwk = await crypto.subtle.exportKey("jwk", ec.publicKey);
    const edPem = toPem(await crypto.subtle.exportKey("spki", ed.publicKey));
    const bad: VerifierConfig[] = [
      { alg: "EdDSA", publicKey: edPrivate },
      { alg: "EdDSA", publicKey: ecJwk },
      { alg: "ES256", publicKey: edPem },
      { alg: "ES256", publicKey: "not a pem" },
      { alg: "RS256", publicKey: edPem } as unknown as VerifierConfig,
    ];
    for (const config of bad) await assert.rejects(importVerifier(config), TypeError);
  });

  it("stops alg confusion in both directions", async () => {
    const ed = await edKeys();
    const ec = await ecKeys();
    const edJwk = await crypto.subtle.exportKey("jwk", ed.publicKey);
    const edPem = toPem(await crypto.subtle.exportKey("spki", ed.publicKey));
    const ecPem = toPem(await crypto.subtle.exportKey("spki", ec.publicKey));
    const edVerifier: VerifierConfig = { alg: "EdDSA", publicKey: edJwk };

    // HS256 token presented to an EdDSA edge, including the classic attack: HMAC keyed with
    // the (public) key material.
    const hsToken = await signToken(claims(), SECRET);
    await rejectsWith(verifyToken(hsToken, edVerifier, NOW), "unauthorized");
    for (const secret of [edPem, JSON.stringify(edJwk)]) {
      const t = await hs256({ alg: "HS256", typ: "JWT" }, claims(), secret);
      await rejectsWith(verifyToken(t, edVerifier, NOW), "unauthorized");
      await rejectsWith(verifyToken(t, { alg: "EdDSA", publicKey: edPem }, NOW), "unauthorized");
    }
    const esPemHmac = await hs256({ alg: "HS256" }, claims(), ecPem);
    await rejectsWith(
      verifyToken(esPemHmac, { alg: "ES256", publicKey: ecPem }, NOW),
      "unauthorized",
    );

    // EdDSA / ES256 tokens presented to an HS256 edge.
    const edToken = await signAsymmetric("EdDSA", ed.privateKey, claims());
    const esToken = await signAsymmetric("ES256", ec.privateKey, claims());
    await rejectsWith(verifyToken(edToken, SECRET, NOW), "unauthorized");
    await rejectsWith(verifyToken(esToken, SECRET, NOW), "unauthorized");
    // EdDSA vs ES256, and a header that lies about its alg.
    await rejectsWith(verifyToken(esToken, edVerifier, NOW), "unauthorized");
    await rejectsWith(
      verifyToken(edToken, { alg: "ES256", publicKey: ecPem }, NOW),
      "unauthorized",
    );
    const lying = await signAsymmetric("EdDSA", ed.privateKey, claims(), { alg: "ES256" });
    await rejectsWith(verifyToken(lying, edVerifier, NOW), "unauthorized");
  });
});

describe("session ids", () => {
  it("round-trips node and local id", async () => {
    const id = await makeSessionId("node-1", "sess_ABC-123", SECRET);
    assert.match(id, /^node-1\.sess_ABC-123\.[A-Za-z0-9_-]{22}$/);
    assert.deepEqual(await parseSessionId(id, SECRET), {
      nodeId: "node-1",
      localId: "sess_ABC-123",
    });
    const long = await makeSessionId("n".repeat(64), "l".repeat(64), SECRET);
    assert.deepEqual(await parseSessionId(long, SECRET), {
      nodeId: "n".repeat(64),
      localId: "l".repeat(64),
    });
  });

  it("refuses to make ids from bad parts", async () => {
    for (const [n, l] of [
      ["", "x"],
      ["a.b", "x"],
      ["x", "a b"],
      ["n".repeat(65), "x"],
      ["x", "*"],
    ]) {
      await assert.rejects(makeSessionId(n, l, SECRET), TypeError);
    }
    await assert.rejects(makeSessionId("n", "l", "short"), TypeError);
  });

  it("rejects forged, swapped, truncated and garbage ids alike", async () => {
    const id = await makeSessionId("node-1", "sess1", SECRET);
    const [n, l, s] = id.split(".");
    const sig = base64url.decode(s)!;
    const flipped = sig.slice();
    flipped[0] ^= 0x80;
    const other = await makeSessionId("node-2", "sess1", SECRET);
    const messages = new Set<string>();
    const bad: unknown[] = [
      `${n}.${l}.${base64url.encode(flipped)}`, // forged signature
      `node-2.${l}.${s}`, // swapped node id
      `${n}.sess2.${s}`, // swapped local id
      `${l}.${n}.${s}`, // parts swapped
      `${other.split(".")[0]}.${l}.${s}`,
      await makeSessionId("node-1", "sess1", OTHER_SECRET), // another deployment's secret
      id.slice(0, -1), // truncated
      `${n}.${l}`,
      `${n}.${l}.`,
      `${id}.x`,
      `${id}=`,
      // Same 16 bytes, non-canonical last character (unused bits set).
      s.endsWith("A") ? `${n}.${l}.${s.slice(0, -1)}B` : `${n}.${l}.${s.slice(0, -1)}A`,
      "",
      ".",
      "..",
      "garbage",
      "x".repeat(10_000),
      `${"n".repeat(65)}.${l}.${s}`,
      null,
      undefined,
      42,
    ];
    for (const b of bad) {
      const err = await rejectsWith(parseSessionId(b, SECRET), "session_not_found");
      messages.add(err.message);
    }
    assert.equal(messages.size, 1, "one message, whatever was wrong");
    for (let i = 0; i < 300; i++) {
      const bytes = crypto.getRandomValues(new Uint8Array(1 + (i % 160)));
      const s2 = String.fromCharCode(...bytes.map((b) => 32 + (b % 95)));
      await rejectsWith(parseSessionId(s2, SECRET), "session_not_found");
    }
  });

  it("throws a TypeError, not a 404, for a misconfigured secret", async () => {
    await assert.rejects(parseSessionId("a.b.c", "short"), TypeError);
  });
});

describe("grants", () => {
  it("allows the token's room or any room for '*'", () => {
    const c = claims({ grants: ["publish", "subscribe"] });
    requireGrant(c, "room-1", "publish");
    requireGrant(c, "room-1", "subscribe");
    const admin = claims({ room: "*", grants: ["admin", "subscribe"] });
    requireGrant(admin, "any-room", "admin");
    requireGrant(admin, "room-1", "subscribe");
    assert.equal(roomAllowed(c, "room-2"), false);
    assert.equal(roomAllowed(admin, "room-2"), true);
  });

  it("forbids other rooms and missing grants", () => {
    const c = claims({ grants: ["subscribe"] });
    throwsWith(() => requireGrant(c, "room-2", "subscribe"), "forbidden");
    throwsWith(() => requireGrant(c, "room-1", "publish"), "forbidden");
    throwsWith(() => requireGrant(c, "room-1", "data"), "forbidden");
    throwsWith(() => requireGrant(c, "room-1", "admin"), "forbidden");
    throwsWith(() => requireGrant(c, "*", "subscribe"), "forbidden"); // "*" is not a room name
    throwsWith(() => requireGrant(c, "ROOM-1", "subscribe"), "forbidden");
    const wildcard = claims({ room: "*", grants: ["subscribe"] });
    throwsWith(() => requireGrant(wildcard, "room-9", "admin"), "forbidden");
    const admin = claims({ grants: ["admin"] });
    throwsWith(() => requireGrant(admin, "room-1", "publish"), "forbidden");
    const err = (() => {
      try {
        requireGrant(c, "room-1", "publish");
      } catch (e) {
        return e as AuthError;
      }
    })();
    assert.equal(err?.status, 403);
    assert.deepEqual(err?.toJSON(), { code: "forbidden", message: err?.message });
  });
});

describe("bearer header", () => {
  it("extracts the token or throws unauthorized", () => {
    assert.equal(bearerToken("Bearer abc.def.ghi"), "abc.def.ghi");
    assert.equal(bearerToken("bearer abc"), "abc");
    for (const h of [undefined, null, "", "Bearer", "Bearer ", "Basic abc", "Bearer a b", "abc"]) {
      throwsWith(() => bearerToken(h), "unauthorized");
    }
  });
});

describe("token CLI", () => {
  const cli = (args: string[], env: NodeJS.ProcessEnv) =>
    execFileP(process.execPath, ["--import", "tsx", "scripts/token.ts", ...args], {
      env: { ...process.env, WEIR_SECRET: undefined, ...env },
    });

  it("prints a token that verifies with WEIR_SECRET", async () => {
    const { stdout, stderr } = await cli(
      ["--room", "demo", "--identity", "bob", "--subscribe", "--ttl", "120"],
      { WEIR_SECRET: SECRET },
    );
    assert.equal(stderr, "");
    const lines = stdout.trim().split("\n");
    assert.equal(lines.length, 1);
    const c = await verifyToken(lines[0], SECRET);
    assert.equal(c.sub, "bob");
    assert.equal(c.room, "demo");
    assert.deepEqual(c.grants, ["subscribe"]);
    assert.equal(c.exp - c.iat!, 120);
    await rejectsWith(verifyToken(lines[0], DEV_SECRET), "unauthorized");
  });

  it("falls back to the development secret with a warning and default grants", async () => {
    const { stdout, stderr } = await cli(["--room", "demo", "--identity", "carol"], {});
    assert.match(stderr, /WEIR_SECRET is not set.*development secret/);
    const c = await verifyToken(stdout.trim(), DEV_SECRET);
    assert.deepEqual(c.grants, ["publish", "subscribe", "data"]);
    assert.equal(c.exp - c.iat!, 3600);
  });

  it("fails with usage on bad arguments", async () => {
    for (const args of [
      ["--identity", "x"],
      ["--room", "r"],
      ["--room", "a.b", "--identity", "x"],
      ["--room", "r", "--identity", "x", "--ttl", "-5"],
      ["--room", "r", "--identity", "x", "--ttl", String(MAX_TOKEN_LIFETIME_S + 1)],
      ["--room", "r", "--identity", "x", "--bogus"],
    ]) {
      await assert.rejects(
        cli(args, { WEIR_SECRET: SECRET }),
        (err: { code?: number; stderr?: string }) => {
          assert.equal(err.code, 2);
          assert.match(err.stderr ?? "", /usage:/);
          return true;
        },
      );
    }
  });
});
