// `npm start` as a user meets it: the embedded process (edge + media node + in-process bus, its
// default media addresses) serves the demo page on a host with lo and one more interface (the
// test namespace's veth); two Chromium tabs on the same host fill in room and name, click Join,
// and each decodes the other's camera and receives the other's microphone. Run both as a
// person's Chromium (media over the veth address) and with loopback allowed (two paths to the
// node: the case that kept DTLS from ever completing before the node's lite agent was fixed).
import { after, before, test } from "node:test";
import { BrowserHarness, browserUnavailable, CHROMIUM_MODES } from "../helpers/browser.ts";
import { twoTabsSeeEachOther } from "../helpers/demo.ts";
import { type Embedded, startEmbedded } from "../helpers/system.ts";

const skip = browserUnavailable();
let embedded: Embedded | undefined;
let harness: BrowserHarness | undefined;

before(async () => {
  if (skip) return;
  embedded = await startEmbedded();
});

after(async () => {
  await harness?.close();
  await embedded?.stop();
});

for (const [i, mode] of CHROMIUM_MODES.entries()) {
  test(`demo page, ${mode.name}: two tabs join a room and see and hear each other`, {
    skip: skip ?? false,
  }, async () => {
    await harness?.close();
    harness = await BrowserHarness.launch({ loopback: mode.loopback });
    await twoTabsSeeEachOther(harness, embedded!, `demo-e2e-${i}`);
  });
}
