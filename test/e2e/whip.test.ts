// WHIP and WHEP (RFC 9725) from headless Chromium against the embedded process, with a client
// written from the RFC alone (test/helpers/page/whip.ts: RTCPeerConnection + fetch, no Weir
// client code) and a token as `npm run token` makes it (HS256 with the development secret).
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import {
  BrowserHarness,
  browserUnavailable,
  pollUntil,
  type WeirPage,
} from "../helpers/browser.ts";
import {
  devToken,
  type Embedded,
  type InboundSummary,
  injectRfc9725,
  type OfferResult,
  startEmbedded,
} from "../helpers/system.ts";

const skip = browserUnavailable();
const ROOM = "whip-e2e";
let embedded: Embedded | undefined;
let harness: BrowserHarness | undefined;
let publisherPage: WeirPage;
let viewerPage: WeirPage;
let published: OfferResult;
let played: OfferResult;

before(async () => {
  if (skip) return;
  [embedded, harness] = await Promise.all([startEmbedded(), BrowserHarness.launch()]);
  // Pages on the harness's 127.0.0.1 origin: the edge is another origin (CORS).
  publisherPage = await harness.newPage("whip");
  viewerPage = await harness.newPage("whep");
  await Promise.all([injectRfc9725(publisherPage.page), injectRfc9725(viewerPage.page)]);
});

after(async () => {
  for (const p of [publisherPage, viewerPage])
    await p?.page.evaluate(() => window.rfc9725?.close()).catch(() => {});
  await harness?.close();
  await embedded?.stop();
});

const opts = { skip: skip ?? false };

function diag(): string {
  return `${embedded?.log().slice(-2000)}\n${[...(publisherPage?.logs ?? []), ...(viewerPage?.logs ?? [])].join("\n")}`;
}

test("WHIP: POST an SDP offer -> 201 with Location, ETag and an SDP answer", opts, async () => {
  const token = await devToken(ROOM, "whip-publisher", ["publish"]);
  const endpoint = `${embedded!.url}/v1/rooms/${ROOM}/whip`;
  const t0 = performance.now();
  published = await publisherPage.page.evaluate(([e, t]) => window.rfc9725.publish(e, t), [
    endpoint,
    token,
  ] as const);
  assert.equal(published.status, 201, `${published.body}\n${diag()}`);
  assert.equal(published.contentType, "application/sdp");
  assert.match(published.location ?? "", /^\/v1\/sessions\/\S+$/);
  assert.match(published.etag ?? "", /^"[^"]+"$/);
  assert.match(published.body, /^v=0\r\n/);
  assert.match(published.body, /^a=ice-lite/m);
  await pollUntil(
    async () =>
      (await publisherPage.page.evaluate(
        (id) => window.rfc9725.connectionState(id),
        published.id,
      )) === "connected",
    15_000,
    () => `WHIP publisher connects\n${diag()}`,
  );
  console.log(`  WHIP publisher connected ${Math.round(performance.now() - t0)} ms after POST`);
});

test("WHIP: PATCH a trickle-ice-sdpfrag with a candidate -> 204", opts, async () => {
  const r = await publisherPage.page.evaluate((id) => window.rfc9725.trickle(id), published.id);
  assert.ok(r.candidates > 0, "the browser gathered a candidate");
  assert.equal(r.status, 204, r.body);
  assert.equal(r.body, "");
  assert.equal(r.etag, published.etag, "trickle keeps the ETag");
  // Media keeps flowing to the node.
  const sent = await publisherPage.page.evaluate((id) => window.rfc9725.outbound(id), published.id);
  assert.ok(sent.video > 0 && sent.audio > 0, JSON.stringify(sent));
});

test("WHEP: a recvonly offer -> 201; the viewer decodes the publisher's frames", opts, async () => {
  const token = await devToken(ROOM, "whep-viewer", ["subscribe"]);
  const endpoint = `${embedded!.url}/v1/rooms/${ROOM}/whep`;
  const t0 = performance.now();
  played = await viewerPage.page.evaluate(([e, t]) => window.rfc9725.play(e, t), [
    endpoint,
    token,
  ] as const);
  assert.equal(played.status, 201, `${played.body}\n${diag()}`);
  assert.equal(played.contentType, "application/sdp");
  assert.match(played.location ?? "", /^\/v1\/sessions\/\S+$/);
  assert.notEqual(played.location, published.location);
  assert.match(played.etag ?? "", /^"[^"]+"$/);
  assert.match(played.body, /^m=video .*$/m);
  const trickled = await viewerPage.page.evaluate((id) => window.rfc9725.trickle(id), played.id);
  assert.equal(trickled.status, 204, trickled.body);
  let last: InboundSummary | null = null;
  const s = await pollUntil(
    async () => {
      last = await viewerPage.page.evaluate((id) => window.rfc9725.inbound(id), played.id);
      return last.videoFramesDecoded > 30 && last.audioPackets > 30 ? last : null;
    },
    20_000,
    () => `WHEP viewer decodes: ${JSON.stringify(last)}\n${diag()}`,
    200,
  );
  const ms = Math.round(performance.now() - t0);
  assert.equal(s.connectionState, "connected");
  assert.ok(s.frameWidth > 0);
  console.log(
    `  WHEP viewer: ${s.videoFramesDecoded} frames decoded (${s.frameWidth} px wide), ${s.audioPackets} audio packets, ${ms} ms after POST`,
  );
});

test("DELETE both sessions -> 200; a second DELETE -> 404", opts, async () => {
  const viewerToken = await devToken(ROOM, "whep-viewer", ["subscribe"]);
  const viewerUrl = `${embedded!.url}${played.location}`;
  assert.equal(await viewerPage.page.evaluate((id) => window.rfc9725.remove(id), played.id), 200);
  assert.equal(
    await publisherPage.page.evaluate((id) => window.rfc9725.remove(id), published.id),
    200,
  );
  const again = await fetch(viewerUrl, {
    method: "DELETE",
    headers: { authorization: `Bearer ${viewerToken}` },
  });
  assert.equal(again.status, 404);
  // The room is empty again.
  const admin = await devToken(ROOM, "ops", ["admin"]);
  const info = (await (
    await fetch(`${embedded!.url}/v1/rooms/${ROOM}`, {
      headers: { authorization: `Bearer ${admin}` },
    })
  ).json()) as { participants: unknown[] };
  assert.deepEqual(info.participants, []);
});
