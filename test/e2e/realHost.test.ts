// WHIP and WHEP on the shape of a real host: the embedded process with its default media
// addresses (127.0.0.1, 10.99.0.1 and fd99::1 in scripts/netns.mjs's namespace) and clients on
// the same host, which have several paths to the node. Chromium runs as a person's browser and
// with loopback allowed; publishers are a plain RFC 9725 client in Chromium, the same with three
// simulcast layers, and GStreamer's webrtcbin. Each is viewed by a Chromium WHEP client that
// must decode its frames.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { after, before, describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import {
  BrowserHarness,
  browserUnavailable,
  CHROMIUM_MODES,
  pollUntil,
  type WeirPage,
} from "../helpers/browser.ts";
import { killWithParent } from "../helpers/children.ts";
import type { InboundSummary } from "../helpers/page/whip.ts";
import { devToken, type Embedded, injectRfc9725, startEmbedded } from "../helpers/system.ts";

const skip = browserUnavailable();
const GST_PYTHON = "/usr/bin/python3";
const GST_WHIP = join(dirname(fileURLToPath(import.meta.url)), "..", "helpers", "gst_whip.py");
let embedded: Embedded | undefined;

before(async () => {
  if (!skip) embedded = await startEmbedded();
});
after(async () => {
  await embedded?.stop();
});

/** Polls a WHEP viewer until it has decoded `frames` video frames and 30 audio packets. */
async function untilViewerDecodes(
  viewer: WeirPage,
  id: string,
  frames: number,
): Promise<InboundSummary> {
  let last: InboundSummary | null = null;
  return pollUntil(
    async () => {
      last = await viewer.page.evaluate((i) => window.rfc9725.inbound(i), id);
      return last.videoFramesDecoded > frames && last.audioPackets > 30 ? last : null;
    },
    30_000,
    () => `WHEP viewer decodes: ${JSON.stringify(last)}\n${embedded?.log().slice(-1500)}`,
    200,
  );
}

async function whepView(viewer: WeirPage, room: string): Promise<string> {
  const endpoint = `${embedded!.url}/v1/rooms/${room}/whep`;
  const token = await devToken(room, `viewer-${room}`, ["subscribe"]);
  const played = await viewer.page.evaluate(([e, t]) => window.rfc9725.play(e, t), [
    endpoint,
    token,
  ] as const);
  assert.equal(played.status, 201, played.body);
  return played.id;
}

async function whipPublish(page: WeirPage, room: string, simulcast: boolean): Promise<string> {
  const endpoint = `${embedded!.url}/v1/rooms/${room}/whip`;
  const token = await devToken(room, `publisher-${room}`, ["publish"]);
  const [w, h] = simulcast ? [1280, 720] : [640, 480];
  const r = await page.page.evaluate(
    ([e, t, width, height, sc]) => window.rfc9725.publish(e, t, width, height, sc),
    [endpoint, token, w, h, simulcast] as const,
  );
  assert.equal(r.status, 201, r.body);
  await pollUntil(
    async () =>
      (await page.page.evaluate((id) => window.rfc9725.connectionState(id), r.id)) === "connected",
    20_000,
    () => `WHIP publisher connects\n${embedded?.log().slice(-1500)}`,
  );
  return r.id;
}

for (const [m, mode] of CHROMIUM_MODES.entries()) {
  describe(`lo + veth, ${mode.name}`, { skip: skip ?? false }, () => {
    let harness: BrowserHarness;
    let publisher: WeirPage;
    let viewer: WeirPage;
    before(async () => {
      harness = await BrowserHarness.launch({ loopback: mode.loopback });
    });
    after(async () => {
      await harness?.close();
    });
    const fresh = async () => {
      await publisher?.close();
      await viewer?.close();
      publisher = await harness.newPage("publisher");
      viewer = await harness.newPage("viewer");
      await Promise.all([injectRfc9725(publisher.page), injectRfc9725(viewer.page)]);
    };

    test("Chromium WHIP publisher, Chromium WHEP viewer decodes", async () => {
      await fresh();
      const room = `host-whip-${m}`;
      await whipPublish(publisher, room, false);
      const id = await whepView(viewer, room);
      const s = await untilViewerDecodes(viewer, id, 30);
      assert.equal(s.frameWidth, 640);
    });

    test("3-layer simulcast WHIP publisher, Chromium WHEP viewer decodes", async () => {
      await fresh();
      const room = `host-simulcast-${m}`;
      const pubId = await whipPublish(publisher, room, true);
      const id = await whepView(viewer, room);
      await untilViewerDecodes(viewer, id, 30);
      // Chromium sends all three encodings to the node (it answered the rids and feeds back REMB).
      const layers = await pollUntil(
        async () => {
          const v = await publisher.page.evaluate((i) => window.rfc9725.outboundVideo(i), pubId);
          return v.length === 3 && v.every((l) => l.packets > 20) ? v : null;
        },
        20_000,
        () => "three simulcast layers sending",
      );
      assert.deepEqual(layers.map((l) => l.rid).sort(), ["f", "h", "q"]);
    });

    test("GStreamer webrtcbin WHIP publisher, Chromium WHEP viewer decodes", {
      skip: existsSync(GST_PYTHON) ? false : "no /usr/bin/python3 with GStreamer",
    }, async () => {
      await fresh();
      const room = `host-gst-${m}`;
      const gst = await startGstPublisher(room);
      try {
        const id = await whepView(viewer, room);
        const s = await untilViewerDecodes(viewer, id, 30);
        assert.equal(s.frameWidth, 320);
      } finally {
        gst.child.kill("SIGINT");
      }
      assert.match(gst.output(), /whip: 201/);
    });
  });
}

/** Runs test/helpers/gst_whip.py into `room` and waits until its connection is up. */
async function startGstPublisher(room: string) {
  const token = await devToken(room, `gst-${room}`, ["publish"]);
  const child = spawn(
    "timeout",
    ["60", GST_PYTHON, GST_WHIP, `${embedded!.url}/v1/rooms/${room}/whip`, token, "50"],
    { stdio: ["ignore", "pipe", "pipe"] },
  );
  killWithParent(child);
  let out = "";
  child.stdout.on("data", (c: Buffer) => {
    out += c.toString();
  });
  child.stderr.on("data", (c: Buffer) => {
    out = (out + c.toString()).slice(-4000);
  });
  await pollUntil(
    async () => /pc: connected/.test(out),
    20_000,
    () => `GStreamer publisher connects: ${out}\n${embedded?.log().slice(-1500)}`,
  );
  return { child, output: () => out };
}
