// SVC end-to-end: headless Chromium publishes its fake camera as one VP9 (filtered by payload
// descriptor) or AV1 (by Dependency Descriptor) stream with scalabilityMode L3T3 (3 spatial x
// 3 temporal layers on one SSRC); two Chromium subscribers
// receive it through the router, one at the top layers, one held at spatial 0 / temporal 1 by
// setPreferredLayers. Their own inbound-rtp stats show the smaller picture at the lower rate.
// WEIR_CAPTURE_DIR=dir also writes packets of the stream (from the keyframe of the switch up)
// to dir/chromium-vp9-l3t3.json: that is how test/fixtures/packets/ got its Chromium capture.
// Run alone: node scripts/test.mjs test/e2e/svc.test.ts
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { EXT_URI } from "../../media-node/src/headerExtensions.ts";
import { type Publisher, Router, type Subscriber } from "../../media-node/src/index.ts";
import { vp9IsKeyframe } from "../../media-node/src/rtp/codecs/vp9.ts";
import type { RtpView } from "../../media-node/src/rtp/rtpPacket.ts";
import {
  BrowserHarness,
  browserUnavailable,
  pollUntil,
  publishTrack,
  SubscriberLink,
  sleep,
  videoStat,
  type WeirPage,
} from "../helpers/browser.ts";

// Three spatial layers need a base of at least 240x135 in libwebrtc: 960x540 is the smallest.
const WIDTH = 960;
const HEIGHT = 540;
/** Packets kept from the first keyframe on; payloads cut to this many bytes in the capture. */
const CAPTURE_PACKETS = 120;
const CAPTURE_PAYLOAD = 24;
const skip = browserUnavailable() ?? false;

const router = new Router({ transport: { listenIps: ["127.0.0.1"] } });
let browser: BrowserHarness | undefined;

before(async () => {
  if (!skip) browser = await BrowserHarness.launch();
});

after(async () => {
  await browser?.close();
  await router.close();
});

/**
 * Keeps the publisher's media packets (decrypted, as received; padding-only probes left out)
 * from the first keyframe after arm() on.
 */
function capture(publisher: Publisher): { kept: Buffer[]; arm(): void } {
  const kept: Buffer[] = [];
  let armed = false;
  const receive = publisher.receive.bind(publisher);
  publisher.receive = (buf: Buffer, view: RtpView, nowMs: number, encoding?: number) => {
    const started =
      kept.length > 0 || (armed && vp9IsKeyframe(buf, view.payloadOffset, view.payloadLength));
    if (started && kept.length < CAPTURE_PACKETS && view.payloadLength > 0) {
      const end = Math.min(view.length, view.payloadOffset + CAPTURE_PAYLOAD);
      kept.push(Buffer.from(buf.subarray(0, end)));
    }
    receive(buf, view, nowMs, encoding);
  };
  return {
    kept,
    arm() {
      armed = true;
    },
  };
}

function writeCapture(dir: string, publisher: Publisher, kept: Buffer[], version?: string): void {
  const ddId =
    publisher.headerExtensions.find((e) => e.uri === EXT_URI.dependencyDescriptor)?.id ?? 0;
  const json = {
    source:
      `Chromium ${version} VP9 L3T3 ${WIDTH}x${HEIGHT}: decrypted RTP as the node received it, ` +
      `from the keyframe after a switch up on, padding-only packets left out, payloads cut to ` +
      `${CAPTURE_PAYLOAD} bytes`,
    dependencyDescriptorId: ddId,
    packets: kept.map((b) => b.toString("hex")),
  };
  writeFileSync(join(dir, "chromium-vp9-l3t3.json"), `${JSON.stringify(json, null, 1)}\n`);
}

interface Viewer {
  page: WeirPage;
  subscriber: Subscriber;
  close(): Promise<void>;
}

async function viewer(name: string, publisherId: string): Promise<Viewer> {
  const page = await browser!.newPage(name);
  await page.openSubscriber();
  const st = router.createSubscribeTransport();
  const link = new SubscriberLink(page, st);
  const subscriber = await link.subscribe(publisherId);
  return {
    page,
    subscriber,
    async close() {
      await page.close();
      await st.close();
    },
  };
}

/** framesDecoded per second and the frame width over `ms`, from the page's inbound-rtp. */
async function measure(page: WeirPage, ms: number): Promise<{ fps: number; width: number }> {
  const a = videoStat(await page.inbound());
  await sleep(ms);
  const b = videoStat(await page.inbound());
  assert.ok(a && b, `${page.name}: no inbound video`);
  return { fps: ((b.framesDecoded - a.framesDecoded) * 1000) / ms, width: b.frameWidth };
}

for (const codec of ["video/VP9", "video/AV1"])
  test(`${codec} L3T3 from Chromium: a subscriber held at S0T1 decodes a smaller picture at a lower rate`, {
    skip,
    timeout: 120_000,
  }, async (t) => {
    const a = await browser!.newPage("A");
    const pt = router.createPublishTransport();
    const viewers: Viewer[] = [];
    try {
      const local = await a.getMedia(WIDTH, HEIGHT);
      await a.openPublisher();
      const { publisher } = await publishTrack(a, pt, local.video, codec, {
        scalabilityMode: "L3T3",
      });
      const captured = capture(publisher);
      const top = await viewer("top", publisher.id);
      viewers.push(top);
      const low = await viewer("low", publisher.id);
      viewers.push(low);
      low.subscriber.setPreferredLayers({ spatial: 0, temporal: 1 });

      const diagnose = async () =>
        JSON.stringify({
          outbound: await a.outbound(),
          top: videoStat(await top.page.inbound()),
          low: videoStat(await low.page.inbound()),
          topSub: top.subscriber.getStats(),
          lowSub: low.subscriber.getStats(),
          logs: [a, top.page, low.page].flatMap((p) => p.logs).slice(-10),
        });
      // Chromium starts low and adds spatial layers as its bandwidth estimate grows.
      await pollUntil(
        async () => {
          const s = videoStat(await top.page.inbound());
          return s && s.frameWidth >= WIDTH / 2 && s.framesDecoded > 30;
        },
        40_000,
        diagnose,
        500,
      );
      await pollUntil(
        async () => (videoStat(await low.page.inbound())?.framesDecoded ?? 0) > 10,
        10_000,
        diagnose,
      );
      const [topM, lowM] = await Promise.all([measure(top.page, 4000), measure(low.page, 4000)]);
      const out = (await a.outbound()).find((o) => o.kind === "video");
      const lowSvc = low.subscriber.getStats().svc;
      const topSvc = top.subscriber.getStats().svc;
      t.diagnostic(
        `publisher ${out?.frameWidth}x${out?.frameHeight} (${out?.codec}, limited by ` +
          `${out?.qualityLimitationReason}); top: ${topM.width} wide at ${topM.fps.toFixed(1)} fps; ` +
          `S0T1: ${lowM.width} wide at ${lowM.fps.toFixed(1)} fps`,
      );
      t.diagnostic(`node, S0T1 subscriber: ${JSON.stringify(lowSvc)}`);
      assert.ok(lowSvc && topSvc, "both subscribers run the SVC filter");
      assert.equal(lowSvc.spatial, 0);
      assert.equal(lowSvc.temporal, 1);
      assert.ok(lowSvc.dropped > lowSvc.forwarded, "most packets of the stream are above S0T1");
      assert.deepEqual(lowSvc.errors, {});
      assert.deepEqual(topSvc.errors, {});
      assert.ok(lowM.width > 0 && lowM.width < topM.width, `${lowM.width} vs ${topM.width}`);
      assert.ok(lowM.width <= WIDTH / 4 + 16, `S0 is a quarter of the width: ${lowM.width}`);
      assert.ok(lowM.fps > 2, `S0T1 still decodes: ${lowM.fps} fps`);
      assert.ok(lowM.fps < topM.fps * 0.75, `S0T1 ${lowM.fps} fps vs top ${topM.fps} fps`);

      // Up to the top layers: the switch waits for a keyframe, which the node asks for (the
      // capture starts there: all three layers are up by now).
      captured.arm();
      low.subscriber.setPreferredLayers({});
      await pollUntil(
        async () => (videoStat(await low.page.inbound())?.frameWidth ?? 0) >= topM.width,
        10_000,
        diagnose,
      );
      const upM = await measure(low.page, 2000);
      const dir = process.env.WEIR_CAPTURE_DIR;
      if (dir)
        writeCapture(dir, publisher, captured.kept, await a.page.context().browser()?.version());
      t.diagnostic(`after setPreferredLayers({}): ${upM.width} wide at ${upM.fps.toFixed(1)} fps`);
      // Frames keep coming after the switch (the rate itself depends on the machine's load).
      assert.ok(upM.fps > 1, `${upM.fps} fps after the switch up`);
    } finally {
      for (const v of viewers) await v.close();
      await a.close();
      await pt.close();
    }
  });
