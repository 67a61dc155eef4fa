// One UDP port for every client, as users run it: the embedded process with WEIR_UDP_PORT on a
// host with lo and a veth (127.0.0.1, 10.99.0.1, fd99::1). Chromium (as a person's browser, and
// with loopback allowed: two paths to the node) joins through the demo page's Room client, and
// publishes with WHIP and plays with WHEP; each must decode. The node's UDP sockets, read with
// `ss` in the test's namespace, are one per address on the one port, however many sessions.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { after, before, test } from "node:test";
import { BrowserHarness, browserUnavailable, CHROMIUM_MODES } from "../helpers/browser.ts";
import { twoTabsSeeEachOther } from "../helpers/demo.ts";
import {
  devToken,
  type Embedded,
  injectRfc9725,
  startEmbedded,
  whepFromPage,
  whipFromPage,
} from "../helpers/system.ts";

const skip = browserUnavailable();
let embedded: Embedded | undefined;
let harness: BrowserHarness | undefined;
let port = 0;

before(async () => {
  if (skip) return;
  embedded = await startEmbedded({ env: { WEIR_UDP_PORT: "0" } });
  port = Number(/all on UDP port (\d+)/.exec(embedded.log())?.[1]);
  assert.ok(port > 0, embedded.log());
});

after(async () => {
  await harness?.close();
  await embedded?.stop();
});

/** Local address:port of every UDP socket the embedded process holds. */
function nodeUdpSockets(): string[] {
  const pid = embedded!.child.pid;
  return execFileSync("ss", ["-uanpH"], { encoding: "utf8" })
    .split("\n")
    .filter((line) => line.includes(`pid=${pid},`))
    .map((line) => line.trim().split(/\s+/)[3])
    .sort();
}

async function muxSessions(): Promise<number> {
  const metrics = await (await fetch(`${embedded!.url}/metrics`)).text();
  return Number(/^weir_udp_mux_sessions (\d+)$/m.exec(metrics)?.[1]);
}

test("the node listens on one UDP port per address before any session", {
  skip: skip ?? false,
}, () => {
  const sockets = nodeUdpSockets();
  assert.ok(sockets.length >= 2, sockets.join(" "));
  for (const s of sockets) assert.ok(s.endsWith(`:${port}`), `${s} is not on port ${port}`);
  assert.ok(sockets.includes(`10.99.0.1:${port}`), sockets.join(" "));
});

for (const [i, mode] of CHROMIUM_MODES.entries()) {
  test(`demo page on one port, ${mode.name}: two tabs see and hear each other`, {
    skip: skip ?? false,
  }, async () => {
    const before = nodeUdpSockets();
    await harness?.close();
    harness = await BrowserHarness.launch({ loopback: mode.loopback });
    await twoTabsSeeEachOther(harness, embedded!, `mux-demo-${i}`);
    assert.ok((await muxSessions()) >= 2, "sessions on the mux");
    assert.deepEqual(nodeUdpSockets(), before, "no socket per session");
  });
}

test("Chromium WHIP publisher and Chromium WHEP viewer on one port", {
  skip: skip ?? false,
}, async () => {
  await harness?.close();
  harness = await BrowserHarness.launch({ loopback: false });
  const [publisher, viewer] = [await harness.newPage("pub"), await harness.newPage("viewer")];
  await Promise.all([injectRfc9725(publisher.page), injectRfc9725(viewer.page)]);
  const diag = () => embedded!.log().slice(-1500);
  const room = "mux-whip";
  const base = `${embedded!.url}/v1/rooms/${room}`;
  await whipFromPage(publisher.page, `${base}/whip`, await devToken(room, "pub", ["publish"]), {
    simulcast: false,
    diag,
  });
  const token = await devToken(room, "viewer", ["subscribe"]);
  const { inbound } = await whepFromPage(viewer.page, `${base}/whep`, token, { frames: 30, diag });
  assert.ok(inbound.videoFramesDecoded >= 30, `frames ${inbound.videoFramesDecoded}`);
  const sockets = nodeUdpSockets();
  for (const s of sockets) assert.ok(s.endsWith(`:${port}`), `${s} is not on port ${port}`);
});
