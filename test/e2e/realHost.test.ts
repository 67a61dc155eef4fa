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
import {
  devToken,
  type Embedded,
  injectRfc9725,
  startEmbedded,
  whepFromPage,
  whipFromPage,
} from "../helpers/system.ts";

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

const diag = () => embedded?.log().slice(-1500) ?? "";

async function whepView(viewer: WeirPage, room: string, frames = 30): Promise<InboundSummary> {
  const token = await devToken(room, `viewer-${room}`, ["subscribe"]);
  const endpoint = `${embedded!.url}/v1/rooms/${room}/whep`;
  return (await whepFromPage(viewer.page, endpoint, token, { frames, diag })).inbound;
}

async function whipPublish(page: WeirPage, room: string, simulcast: boolean): Promise<string> {
  const token = await devToken(room, `publisher-${room}`, ["publish"]);
  const endpoint = `${embedded!.url}/v1/rooms/${room}/whip`;
  return (await whipFromPage(page.page, endpoint, token, { simulcast, diag })).id;
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
      const s = await whepView(viewer, room);
      assert.equal(s.frameWidth, 640);
    });

    test("3-layer simulcast WHIP publisher, Chromium WHEP viewer decodes", async () => {
      await fresh();
      const room = `host-simulcast-${m}`;
      const pubId = await whipPublish(publisher, room, true);
      await whepView(viewer, room);
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
        const s = await whepView(viewer, room);
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
    () => `GStreamer publisher connects: ${out}\n${diag()}`,
  );
  return { child, output: () => out };
}
