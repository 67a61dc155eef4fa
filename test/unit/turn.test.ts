// TURN credentials (the TURN REST API scheme coturn's use-auth-secret checks), the edge's TURN
// settings, RFC 9725 Link headers both ways, and the client's reading of the selected candidate
// pair from getStats.
import assert from "node:assert/strict";
import { createHmac } from "node:crypto";
import { describe, it } from "node:test";
import { iceServersFromLinks } from "../../client/src/iceServers.ts";
import { mediaPathOf, samePath } from "../../client/src/mediaPath.ts";
import {
  DEFAULT_TURN_TTL_SECONDS,
  iceServerLinks,
  iceServersFor,
  parseTurnConfig,
  turnPassword,
  turnUsername,
} from "../../edge/src/turn.ts";

const SECRET = "north-weir-static-auth-secret";

describe("TURN REST API credentials", () => {
  it("the password is base64 HMAC-SHA1 of the username keyed with the secret", async () => {
    // RFC 2202's HMAC-SHA1 test case 2, in base64.
    const rfc2202 = Buffer.from("effcdf6ae5eb2fa2d27416d5f184df9c259a7c79", "hex");
    assert.equal(
      await turnPassword("Jefe", "what do ya want for nothing?"),
      rfc2202.toString("base64"),
    );
    // A username as the edge makes it, computed independently with node:crypto.
    const username = "1700000000:alice";
    const expected = createHmac("sha1", SECRET).update(username).digest("base64");
    assert.equal(expected, "6ptceNE7PVjpAPql5zTTKG8d9vE=");
    assert.equal(await turnPassword(SECRET, username), expected);
    // Non-ASCII secrets and usernames are UTF-8, as coturn reads them.
    const u = "1700000000:j%C3%B6rg";
    assert.equal(
      await turnPassword("sécret-ünïcode-0123", u),
      createHmac("sha1", "sécret-ünïcode-0123").update(u).digest("base64"),
    );
  });

  it("the username is <expiry>:<identity>, the identity percent-encoded and capped", () => {
    assert.equal(turnUsername("alice", 1700000000), "1700000000:alice");
    // No colon, quote or backslash after the expiry: coturn reads the expiry before the first
    // colon, and the username sits in a Link header's quoted-string.
    assert.equal(turnUsername('a:b"c\\d é', 5), "5:a%3Ab%22c%5Cd%20%C3%A9");
    assert.equal(turnUsername("x".repeat(1000), 5).length, "5:".length + 256);
  });

  it("iceServersFor: one TURN entry with a credential valid for the TTL, STUN without", async () => {
    const config = parseTurnConfig({
      urls: "stun:turn.example.com:3478, turns:turn.example.com:443?transport=tcp,turn:turn.example.com:3478",
      secret: SECRET,
      ttl: "600",
    });
    const now = 1_700_000_000_123;
    const servers = await iceServersFor(config, "bob", now);
    assert.equal(servers.length, 2);
    assert.deepEqual(servers[0], { urls: ["stun:turn.example.com:3478"] });
    const turn = servers[1];
    assert.deepEqual(turn.urls, [
      "turns:turn.example.com:443?transport=tcp",
      "turn:turn.example.com:3478",
    ]);
    assert.equal(turn.username, `${1_700_000_000 + 600}:bob`);
    assert.equal(
      turn.credential,
      createHmac("sha1", SECRET)
        .update(turn.username ?? "")
        .digest("base64"),
    );
    assert.deepEqual(await iceServersFor(undefined, "bob", now), []);
  });

  it("parseTurnConfig: nothing set is no TURN; half or bad settings are errors", () => {
    assert.equal(parseTurnConfig({}), undefined);
    assert.equal(parseTurnConfig({ urls: " ", secret: "" }), undefined);
    const ok = parseTurnConfig({ urls: "turn:10.0.0.1:3478", secret: SECRET });
    assert.equal(ok?.ttlSeconds, DEFAULT_TURN_TTL_SECONDS);
    assert.throws(() => parseTurnConfig({ urls: "turn:10.0.0.1" }), /WEIR_TURN_SECRET/);
    assert.throws(() => parseTurnConfig({ urls: "turn:10.0.0.1", secret: "short" }), /16 bytes/);
    assert.throws(() => parseTurnConfig({ secret: SECRET }), /WEIR_TURN_URLS is not/);
    assert.throws(() => parseTurnConfig({ urls: "http://x", secret: SECRET }), /not a stun/);
    // Nothing that could end the Link target or add a parameter.
    assert.throws(() => parseTurnConfig({ urls: "turn:x>; rel=y", secret: SECRET }), /not a/);
    assert.throws(
      () => parseTurnConfig({ urls: "turn:x", secret: SECRET, ttl: "10" }),
      /WEIR_TURN_TTL/,
    );
    assert.throws(
      () => parseTurnConfig({ urls: "turn:x", secret: SECRET, ttl: "1.5e3" }),
      /WEIR_TURN_TTL/,
    );
    // STUN alone needs no secret.
    assert.deepEqual(parseTurnConfig({ urls: "stun:x:3478" })?.urls, ["stun:x:3478"]);
  });
});

describe("RFC 9725 Link headers", () => {
  const servers = [
    { urls: ["stun:s.example:3478"] },
    {
      urls: ["turns:t.example:443?transport=tcp", "turn:t.example:3478"],
      username: "1700000600:bob",
      credential: "ab+/cd==",
    },
  ];

  it("the edge writes one Link per URL with username, credential and credential-type", () => {
    assert.deepEqual(iceServerLinks(servers), [
      '<stun:s.example:3478>; rel="ice-server"',
      '<turns:t.example:443?transport=tcp>; rel="ice-server"; username="1700000600:bob"; credential="ab+/cd=="; credential-type="password"',
      '<turn:t.example:3478>; rel="ice-server"; username="1700000600:bob"; credential="ab+/cd=="; credential-type="password"',
    ]);
  });

  it("the client reads them back from the comma-joined header fetch gives", () => {
    const header = iceServerLinks(servers).join(", ");
    assert.deepEqual(iceServersFromLinks(header), [
      { urls: "stun:s.example:3478" },
      {
        urls: "turns:t.example:443?transport=tcp",
        username: "1700000600:bob",
        credential: "ab+/cd==",
      },
      { urls: "turn:t.example:3478", username: "1700000600:bob", credential: "ab+/cd==" },
    ]);
  });

  it("other links, escapes, tokens and odd spacing", () => {
    const header = [
      '</v1/sessions/x>; rel="urn:ietf:params:whip:ext:example"',
      '<turn:a:3478>;rel=ice-server;username="u\\"1";credential="p,;w"',
      '<https://e.example/>; rel="ice-server"',
      '  <stun:b>  ;  rel="other ice-server"  ',
    ].join(",");
    assert.deepEqual(iceServersFromLinks(header), [
      { urls: "turn:a:3478", username: 'u"1', credential: "p,;w" },
      { urls: "stun:b" },
    ]);
    assert.deepEqual(iceServersFromLinks(null), []);
    assert.deepEqual(iceServersFromLinks("garbage"), []);
  });
});

describe("the client's media path from getStats", () => {
  const report = (local: Record<string, unknown>, extra: Record<string, unknown> = {}) =>
    new Map<string, Record<string, unknown>>([
      ["T", { id: "T", type: "transport", selectedCandidatePairId: "P" }],
      [
        "P",
        {
          id: "P",
          type: "candidate-pair",
          localCandidateId: "L",
          remoteCandidateId: "R",
          currentRoundTripTime: 0.0123,
          ...extra,
        },
      ],
      ["L", { id: "L", type: "local-candidate", ...local }],
      ["R", { id: "R", type: "remote-candidate", address: "10.1.0.2", port: 40000 }],
    ]) as unknown as RTCStatsReport;

  it("udp, tcp and relay over udp/tcp/tls, with RTT in ms", () => {
    const udp = mediaPathOf(
      report({ candidateType: "host", protocol: "udp", address: "10.2.0.2" }),
    );
    assert.deepEqual(udp, {
      transport: "udp",
      relayProtocol: null,
      localCandidateType: "host",
      localAddress: "10.2.0.2",
      remoteAddress: "10.1.0.2",
      remotePort: 40000,
      rttMs: 12.3,
    });
    assert.equal(mediaPathOf(report({ candidateType: "host", protocol: "tcp" }))?.transport, "tcp");
    assert.equal(
      mediaPathOf(report({ candidateType: "srflx", protocol: "udp" }))?.transport,
      "udp",
    );
    for (const rp of ["udp", "tcp", "tls"] as const) {
      const p = mediaPathOf(report({ candidateType: "relay", protocol: "udp", relayProtocol: rp }));
      assert.equal(p?.transport, "relay");
      assert.equal(p?.relayProtocol, rp);
    }
  });

  it("no selected pair is null; Firefox's `selected` pair counts; RTT alone is no change", () => {
    const none = new Map([["T", { id: "T", type: "transport" }]]) as unknown as RTCStatsReport;
    assert.equal(mediaPathOf(none), null);
    const firefox = new Map<string, Record<string, unknown>>([
      [
        "P",
        {
          id: "P",
          type: "candidate-pair",
          selected: true,
          localCandidateId: "L",
          remoteCandidateId: "R",
        },
      ],
      ["L", { id: "L", type: "local-candidate", candidateType: "relay", relayProtocol: "tcp" }],
      ["R", { id: "R", type: "remote-candidate", address: "10.1.0.2", port: 1 }],
    ]) as unknown as RTCStatsReport;
    assert.equal(mediaPathOf(firefox)?.relayProtocol, "tcp");
    assert.equal(mediaPathOf(firefox)?.rttMs, null);
    const a = mediaPathOf(report({ candidateType: "host", protocol: "udp" }));
    const b = mediaPathOf(
      report({ candidateType: "host", protocol: "udp" }, { currentRoundTripTime: 0.5 }),
    );
    assert.ok(samePath(a, b));
    assert.ok(!samePath(a, mediaPathOf(report({ candidateType: "relay", protocol: "udp" }))));
    assert.ok(!samePath(a, null));
    assert.ok(samePath(null, null));
  });
});
