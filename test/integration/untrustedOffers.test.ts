// Offers and candidates that made werift open sockets per request (issue 22, defects 3 and 4),
// sent through the edge (Node, in-process bus) to a media node in this process, while a werift
// publisher/viewer pair in another room keeps its media.
import assert from "node:assert/strict";
import { createSocket } from "node:dgram";
import { after, before, test } from "node:test";
import { MAX_OFFER_MEDIA_SECTIONS } from "../../media-node/src/sdpRules.ts";
import {
  type EdgePair,
  edgeToken,
  openFds,
  postOffer,
  startEdgePair,
  watchGrowth,
} from "../helpers/edgePair.ts";
import { type EmbeddedSystem, startEmbedded } from "../helpers/nodeEdge.ts";
import { weriftPublisher } from "../helpers/weriftPeer.ts";

const SECRET = "weir-untrusted-offers-test-secret-0123456789";
let system: EmbeddedSystem;
let pair: EdgePair;

before(async () => {
  system = await startEmbedded(SECRET);
  pair = await startEdgePair(system.edge.url, SECRET, "steady");
});

after(async () => {
  await pair?.close();
  await system?.close();
});

/** An offer of `count` audio m-lines; `bundle` lists the mids of its BUNDLE group, if any. */
function manyLines(count: number, bundle?: string[]): string {
  const lines = [
    "v=0",
    "o=- 1 1 IN IP4 127.0.0.1",
    "s=-",
    "t=0 0",
    ...(bundle ? [`a=group:BUNDLE ${bundle.join(" ")}`] : []),
    "a=ice-ufrag:abcd",
    "a=ice-pwd:abcdefghijklmnopqrstuvwx",
    `a=fingerprint:sha-256 ${Array(32).fill("AB").join(":")}`,
    "a=setup:actpass",
  ];
  for (let i = 0; i < count; i++) {
    lines.push(
      "m=audio 9 UDP/TLS/RTP/SAVPF 111",
      "c=IN IP4 0.0.0.0",
      `a=mid:${i}`,
      "a=sendonly",
      "a=rtcp-mux",
      "a=rtpmap:111 opus/48000/2",
    );
  }
  return `${lines.join("\r\n")}\r\n`;
}

async function expectInvalidSdp(res: Response, pattern: RegExp): Promise<void> {
  const body = (await res.json()) as { error: { code: string; message: string } };
  assert.equal(res.status, 400, JSON.stringify(body));
  assert.equal(body.error.code, "invalid_sdp");
  assert.match(body.error.message, pattern);
}

test("a 400-m-line offer without BUNDLE: 400 invalid_sdp, no socket opened, others keep media", async () => {
  const token = await edgeToken(SECRET, "*", "mallory", ["publish", "subscribe"]);
  const sdp = manyLines(400);
  // warm up: the keep-alive connection to the edge exists before the baseline
  await expectInvalidSdp(
    await postOffer(system.edge.url, "abuse", "whip", token, "v=0\r\nm=x"),
    /./,
  );
  const watch = watchGrowth(pair.videoReceived);
  const before = openFds();
  await expectInvalidSdp(
    await postOffer(system.edge.url, "abuse", "whip", token, sdp),
    /400 media sections.*limit is 64/,
  );
  // WHEP in the pair's own room (it has something to view)
  await expectInvalidSdp(
    await postOffer(system.edge.url, "steady", "whep", token, sdp),
    /400 media sections/,
  );
  const withoutLimit = manyLines(MAX_OFFER_MEDIA_SECTIONS);
  await expectInvalidSdp(
    await postOffer(system.edge.url, "abuse", "whip", token, withoutLimit),
    /no a=group:BUNDLE.*RFC 9725/,
  );
  const outside = manyLines(3, ["0", "1"]);
  await expectInvalidSdp(
    await postOffer(system.edge.url, "abuse", "whip", token, outside),
    /media section 2 is outside the BUNDLE group/,
  );
  const after = openFds();
  const videoBefore = pair.videoReceived();
  await new Promise((r) => setTimeout(r, 500));
  const stalled = watch.stop();
  assert.equal(after.udp, before.udp, "no UDP socket was opened");
  assert.ok(after.total - before.total <= 2, `fds ${before.total} -> ${after.total}`);
  assert.ok(pair.videoReceived() > videoBefore, "the viewer in another room still receives");
  assert.ok(stalled < 1000, `the viewer's video stood still for ${stalled} ms`);
  assert.equal(system.service.node.sessionCount, 2, "only the pair's sessions exist");
});

test("a bundled offer over the m-line limit is refused; a client's bundled offer is answered", async () => {
  const pub = await weriftPublisher(["audio", "video"]);
  try {
    const token = await edgeToken(SECRET, "many", "alice", ["publish"]);
    const mids = Array.from({ length: MAX_OFFER_MEDIA_SECTIONS + 1 }, (_, i) => String(i));
    await expectInvalidSdp(
      await postOffer(system.edge.url, "many", "whip", token, manyLines(mids.length, mids)),
      /65 media sections/,
    );
    const ok = await postOffer(system.edge.url, "many", "whip", token, pub.offer.sdp);
    assert.equal(ok.status, 201, "a werift offer (BUNDLE) is answered");
    const del = await fetch(`${system.edge.url}${ok.headers.get("location")}`, {
      method: "DELETE",
      headers: { authorization: `Bearer ${token}` },
    });
    assert.equal(del.status, 200);
  } finally {
    await pub.pc.close();
  }
});

const MDNS_CANDIDATE =
  "candidate:1 1 udp 2122260223 4f9a1b2c-1111-2222-3333-444455556666.local 54321 typ host generation 0";

test("a .local candidate, trickled or in an offer, with UDP 5353 taken: ignored, counted, nobody hurt", async () => {
  // werift would open a multicast-dns socket on 5353 for it; held here, that bind would fail
  // with an unhandled 'error' and end this process (the node runs in it).
  const mdns = createSocket({ type: "udp4", reuseAddr: false });
  await new Promise<void>((resolve, reject) => {
    mdns.once("error", reject);
    mdns.bind(5353, "0.0.0.0", () => resolve());
  });
  try {
    const watch = watchGrowth(pair.videoReceived);
    const started = performance.now();
    const patched = await fetch(`${system.edge.url}${pair.publisherLocation}`, {
      method: "PATCH",
      body: `a=mid:0\r\na=${MDNS_CANDIDATE}\r\n`,
      headers: {
        authorization: `Bearer ${pair.publisherToken}`,
        "content-type": "application/trickle-ice-sdpfrag",
      },
    });
    const patchMs = performance.now() - started;
    assert.equal(patched.status, 204, await patched.text());
    assert.ok(
      patchMs < 2000,
      `PATCH took ${Math.round(patchMs)} ms (werift's mDNS lookup waits 10 s)`,
    );

    const pub = await weriftPublisher(["audio"]);
    try {
      const sdp = pub.offer.sdp.replace(/(\r\na=mid:[^\r]*)/, `$1\r\na=${MDNS_CANDIDATE}`);
      assert.match(sdp, /\.local 54321/);
      const token = await edgeToken(SECRET, "mdns", "alice", ["publish"]);
      const res = await postOffer(system.edge.url, "mdns", "whip", token, sdp);
      assert.equal(res.status, 201, await res.clone().text());
      await pub.pc.setRemoteDescription({ type: "answer", sdp: await res.text() });
    } finally {
      await pub.pc.close();
    }

    const videoBefore = pair.videoReceived();
    await new Promise((r) => setTimeout(r, 500));
    const stalled = watch.stop();
    assert.ok(pair.videoReceived() > videoBefore, "the pair still has media");
    assert.ok(stalled < 1000, `the viewer's video stood still for ${stalled} ms`);
    const steady = system.service.node.router("steady")?.getStats();
    const ignored = steady?.publishTransports.reduce((n, t) => n + t.media.candidatesIgnored, 0);
    assert.equal(ignored, 1, "the trickled .local candidate is counted");
  } finally {
    await new Promise<void>((r) => mdns.close(() => r()));
  }
});
