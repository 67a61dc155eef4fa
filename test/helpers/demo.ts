// The demo page as a user meets it: two tabs fill in room and name, click Join, and each must
// decode the other's camera and receive the other's microphone.
import assert from "node:assert/strict";
import type { BrowserHarness, WeirPage } from "./browser.ts";
import { roomInbound, rtpReport, untilDecoding } from "./system.ts";

/** What serves the demo page: `npm start` (Embedded) or `npm run dev`. */
export interface DemoServer {
  /** http://127.0.0.1:port, no trailing slash */
  url: string;
  log(): string;
}

export async function joinDemo(
  harness: BrowserHarness,
  server: DemoServer,
  name: string,
  room: string,
  beforeJoin?: (p: WeirPage) => Promise<void>,
): Promise<WeirPage> {
  const p = await harness.newPage(name);
  await beforeJoin?.(p);
  await p.page.goto(`${server.url}/`);
  await p.page.fill("#room", room);
  await p.page.fill("#identity", name);
  await p.page.click("#join button[type=submit]");
  return p;
}

/**
 * alice and bob join `room` on the demo page; each decodes the other; with `metrics`, the
 * server's /metrics names the room. Resolves with both pages.
 */
export async function twoTabsSeeEachOther(
  harness: BrowserHarness,
  embedded: DemoServer,
  room: string,
  opts: { metrics?: boolean; beforeJoin?: (p: WeirPage) => Promise<void> } = {},
): Promise<[WeirPage, WeirPage]> {
  const [alice, bob] = await Promise.all([
    joinDemo(harness, embedded, "alice", room, opts.beforeJoin),
    joinDemo(harness, embedded, "bob", room, opts.beforeJoin),
  ]);
  const t0 = performance.now();
  const diag = async () => {
    const metrics = await fetch(`${embedded.url}/metrics`)
      .then((r) => (r.ok ? r.text() : ""))
      .catch(() => "");
    const counters = metrics.split("\n").filter((l) => /^weir_(rtp|keyframe|packets_lost)/.test(l));
    return [
      embedded.log().slice(-2000),
      ...[...alice.logs, ...bob.logs],
      `alice ${await rtpReport(alice.page)}`,
      `bob ${await rtpReport(bob.page)}`,
      ...counters,
    ].join("\n");
  };
  for (const p of [alice, bob]) {
    await p.page
      .waitForFunction(
        () => document.getElementById("status")?.textContent === "connected",
        undefined,
        {
          timeout: 15_000,
        },
      )
      .catch(async (err: Error) => {
        throw new Error(`${p.name} never connected: ${err.message}\n${await diag()}`);
      });
  }
  const results = await Promise.all(
    [alice, bob].map((p) =>
      untilDecoding(p.page, `${p.name} decodes the other`, { frames: 30, audioPackets: 50 }).catch(
        async (err: Error) => {
          throw new Error(`${err.message}\n${await diag()}`);
        },
      ),
    ),
  );
  const elapsed = Math.round(performance.now() - t0);
  for (const [i, s] of results.entries()) {
    assert.ok(s.videoFramesDecoded > 30, `frames ${s.videoFramesDecoded}`);
    assert.ok(s.audioPackets > 50, `audio packets ${s.audioPackets}`);
    assert.ok(s.frameWidth > 0, `frame width ${s.frameWidth}`);
    assert.equal(s.state, "connected");
    assert.equal(s.connectionState, "connected");
    console.log(
      `  ${i === 0 ? "alice" : "bob"}: ${s.videoFramesDecoded} frames decoded (${s.frameWidth} px wide), ${s.audioPackets} audio packets, ${elapsed} ms after both clicked Join`,
    );
  }
  // Each page shows a tile captioned with the other participant's name.
  const captions = async (p: WeirPage) =>
    p.page.$$eval("figcaption", (els) => els.map((e) => e.textContent ?? ""));
  assert.ok((await captions(alice)).includes("bob"), JSON.stringify(await captions(alice)));
  assert.ok((await captions(bob)).includes("alice"), JSON.stringify(await captions(bob)));
  // Frames keep flowing.
  const before = await roomInbound(bob.page);
  await untilDecoding(bob.page, "bob keeps decoding", {
    frames: before.videoFramesDecoded + 20,
    audioPackets: before.audioPackets + 20,
  });
  // /metrics of the embedded node counts the room's traffic.
  if (opts.metrics !== false) {
    const metrics = await (await fetch(`${embedded.url}/metrics`)).text();
    assert.match(metrics, new RegExp(room));
  }
  return [alice, bob];
}
