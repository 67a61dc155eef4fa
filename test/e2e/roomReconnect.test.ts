// A Room that reconnects finds the room changed: while it was away, the participant it watched
// left and joined again with new tracks. The Room emits what it missed (trackunpublished for
// the old ids, trackpublished for the new), so an app that subscribes on `trackpublished` (as
// the demo page does) decodes the new tracks. Chromium against the embedded process; the
// viewer's WebSocket is cut and its reconnects refused until the publisher is back.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { BrowserHarness, browserUnavailable, pollUntil } from "../helpers/browser.ts";
import {
  devToken,
  type Embedded,
  roomInbound,
  roomStates,
  startEmbedded,
  startRoomApp,
  untilDecoding,
} from "../helpers/system.ts";

const skip = browserUnavailable();
const ROOM = "away";
let embedded: Embedded | undefined;
let browser: BrowserHarness | undefined;

before(async () => {
  if (skip) return;
  [embedded, browser] = await Promise.all([startEmbedded(), BrowserHarness.launch()]);
});
after(async () => {
  await browser?.close();
  await embedded?.stop();
});

/**
 * Wraps the page's WebSocket: `weirCut()` closes the open ones and sends new ones to a closed
 * port until `weirHeal()`. A string, so no bundler helper ends up in the page.
 */
const CUTTABLE_WS = `(() => {
  const Native = window.WebSocket;
  const open = [];
  let cut = false;
  window.WebSocket = class extends Native {
    constructor(url, protocols) {
      super(cut ? "ws://127.0.0.1:9/" : url, protocols);
      open.push(this);
    }
  };
  window.weirCut = () => { cut = true; for (const ws of open.splice(0)) ws.close(); };
  window.weirHeal = () => { cut = false; };
  window.weirEvents = [];
})()`;

async function roomTracks(): Promise<string[]> {
  const res = await fetch(`${embedded!.url}/v1/rooms/${ROOM}`, {
    headers: { authorization: `Bearer ${await devToken(ROOM, "observer", ["subscribe"])}` },
  });
  const info = (await res.json()) as { participants: { tracks: { publisherId: string }[] }[] };
  return info.participants.flatMap((p) => p.tracks.map((t) => t.publisherId)).sort();
}

test("a Room back from a reconnect subscribes to what was published while it was away", {
  skip: skip ?? false,
}, async () => {
  const edgeUrl = embedded!.url;
  const viewer = await browser!.newPage("viewer");
  let publisher = await browser!.newPage("publisher");
  await viewer.page.evaluate(CUTTABLE_WS);
  const publish = () =>
    devToken(ROOM, "bob", ["publish", "subscribe"]).then((token) =>
      startRoomApp(publisher.page, { edgeUrl, token, publish: true }),
    );
  await publish();
  await startRoomApp(viewer.page, {
    edgeUrl,
    token: await devToken(ROOM, "alice", ["subscribe"]),
    publish: false,
  });
  await viewer.page.evaluate(() => {
    type W = { weirRoom: { on(e: string, f: (x: { publisherId: string }) => void): void } };
    const w = window as unknown as W & { weirEvents: string[] };
    w.weirRoom.on("trackpublished", (t) => w.weirEvents.push(`published ${t.publisherId}`));
    w.weirRoom.on("trackunpublished", (t) => w.weirEvents.push(`unpublished ${t.publisherId}`));
  });
  await untilDecoding(viewer.page, "alice decodes bob");
  const first = await roomTracks();
  assert.equal(first.length, 2, JSON.stringify(first));

  // alice is away; bob leaves and publishes again from a new page (new publisher ids)
  await viewer.page.evaluate(() => (window as unknown as { weirCut(): void }).weirCut());
  await pollUntil(
    async () => (await roomStates(viewer.page)).at(-1)?.endsWith("reconnecting") === true,
    10_000,
    () => "alice is reconnecting",
  );
  await publisher.close();
  await pollUntil(
    async () => (await roomTracks()).length === 0,
    15_000,
    () => "bob left",
  );
  publisher = await browser!.newPage("publisher-again");
  await publish();
  await pollUntil(
    async () => (await roomTracks()).length === 2,
    15_000,
    () => "bob published again",
  );
  const second = await roomTracks();
  assert.equal(second.filter((id) => first.includes(id)).length, 0, "new publisher ids");

  await viewer.page.evaluate(() => (window as unknown as { weirHeal(): void }).weirHeal());
  await pollUntil(
    async () => (await roomStates(viewer.page)).at(-1)?.endsWith("connected") === true,
    15_000,
    async () => `alice is back: ${JSON.stringify(await roomStates(viewer.page))}`,
  );
  await untilDecoding(viewer.page, "alice decodes bob's new tracks", { timeoutMs: 20_000 });
  const events = await viewer.page.evaluate(
    () => (window as unknown as { weirEvents: string[] }).weirEvents,
  );
  assert.deepEqual(
    events.filter((e) => e.startsWith("unpublished")).sort(),
    first.map((id) => `unpublished ${id}`),
  );
  assert.deepEqual(
    events.filter((e) => e.startsWith("published")).sort(),
    second.map((id) => `published ${id}`),
    "the first ones came in alice's welcome; the new ones as events on her reconnect",
  );
  assert.equal((await roomInbound(viewer.page)).state, "connected");
});
