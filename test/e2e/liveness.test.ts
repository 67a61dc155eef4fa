// A client that vanishes is noticed (PeerLiveness.ts, consent freshness): a Chromium WHIP
// publisher is killed with SIGKILL (no DELETE, no DTLS close), and within 35 s the Room client
// of another participant sees it and its tracks leave, and DELETE on its session answers 404.
// Meanwhile the viewer's own session, whose Chromium keeps sending consent checks, lives on.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { BrowserHarness, browserUnavailable, pollUntil } from "../helpers/browser.ts";
import {
  devToken,
  type Embedded,
  injectRfc9725,
  roomInbound,
  startEmbedded,
  startRoomApp,
  untilDecoding,
  whipFromPage,
} from "../helpers/system.ts";

const skip = browserUnavailable();
const ROOM = "vanishing";
let embedded: Embedded | undefined;
let viewerBrowser: BrowserHarness | undefined;
let publisherBrowser: BrowserHarness | undefined;

before(async () => {
  if (skip) return;
  [embedded, viewerBrowser, publisherBrowser] = await Promise.all([
    startEmbedded(),
    BrowserHarness.launch(),
    BrowserHarness.launch(),
  ]);
});
after(async () => {
  await publisherBrowser?.close();
  await viewerBrowser?.close();
  await embedded?.stop();
});

test("a killed Chromium publisher leaves the room within 35 s; its session is gone", {
  skip: skip ?? false,
}, async () => {
  const viewer = await viewerBrowser!.newPage("viewer");
  const publisher = await publisherBrowser!.newPage("publisher");
  await injectRfc9725(publisher.page);
  const pubToken = await devToken(ROOM, "doomed", ["publish"]);
  const whip = `${embedded!.url}/v1/rooms/${ROOM}/whip`;
  const published = await whipFromPage(publisher.page, whip, pubToken);
  await startRoomApp(viewer.page, {
    edgeUrl: embedded!.url,
    token: await devToken(ROOM, "watcher", ["subscribe"]),
    publish: false,
  });
  await untilDecoding(viewer.page, "the viewer decodes the publisher");
  const present = () =>
    viewer.page.evaluate(() => {
      const room = (window as unknown as { weirRoom: { participants: { identity: string }[] } })
        .weirRoom;
      return room.participants.some((p) => p.identity === "doomed");
    });
  assert.ok(await present(), "the viewer's Room lists the publisher");

  const t0 = Date.now();
  await publisherBrowser!.kill();
  publisherBrowser = undefined;
  await pollUntil(
    async () => !(await present()),
    35_000,
    () =>
      `the publisher still listed 35 s after its browser was killed\n${embedded!.log().slice(-1500)}`,
    250,
  );
  const gone = Date.now() - t0;
  const del = await fetch(new URL(published.location ?? "", embedded!.url), {
    method: "DELETE",
    headers: { authorization: `Bearer ${pubToken}` },
  });
  assert.equal(del.status, 404, "the vanished client's session is gone");
  // The viewer, whose client is alive, keeps its session.
  assert.equal((await roomInbound(viewer.page)).state, "connected");
  const metrics = await (await fetch(`${embedded!.url}/metrics`)).text();
  assert.match(metrics, /^weir_transports_expired_total\{reason="consent_expired"\} [1-9]/m);
  console.log(`  publisher gone from the viewer's room ${gone} ms after its browser was killed`);
});
