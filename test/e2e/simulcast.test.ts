// Simulcast end to end: headless Chromium publishes its fake camera at 1280x720 in three
// simulcast layers (rids q/h/f), each with three temporal layers (L1T3; Chromium's default
// simulcast has none), into a media node Router. Chromium subscribers pinned to each
// layer decode about 320, 640 and 1280 wide frames; one switches up and down while its decoded
// frames are sampled every 100 ms; a werift subscriber whose REMB is capped is moved down and
// back up; and the WebSocket protocol path (Room.setPreferredLayers through the edge) is
// exercised on the embedded process.
// Run alone: node scripts/test.mjs test/e2e/simulcast.test.ts
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import {
  type Publisher,
  type PublishTransport,
  Router,
  type Subscriber,
  type SubscribeTransport,
} from "../../media-node/src/index.ts";
import { parseVp8, Vp8Descriptor } from "../../media-node/src/rtp/codecs/vp8.ts";
import { buildCompound, buildRemb, buildRr } from "../../media-node/src/rtp/rtcp/build.ts";
import { createReportBlock } from "../../media-node/src/rtp/rtcp/common.ts";
import {
  BrowserHarness,
  browserUnavailable,
  type FrameSample,
  pollUntil,
  SubscriberLink,
  sleep,
  videoStat,
  type WeirPage,
} from "../helpers/browser.ts";
import { devToken, type Embedded, roomInbound, startEmbedded } from "../helpers/system.ts";
import { until, WeriftSubscriber } from "../helpers/weriftPeer.ts";

const WIDTHS = [320, 640, 1280];
const skip = browserUnavailable() ?? false;
const opts = { skip, timeout: 120_000 };

const router = new Router({ transport: { listenIps: ["127.0.0.1"] } });
let browser: BrowserHarness | undefined;
let a: WeirPage;
let pt: PublishTransport;
let publisher: Publisher;
const viewers: { page: WeirPage; st: SubscribeTransport; subscriber: Subscriber }[] = [];

before(async () => {
  if (!skip) browser = await BrowserHarness.launch();
});

after(async () => {
  for (const v of viewers) await v.page.close();
  await a?.close();
  await browser?.close();
  await router.close();
});

async function width(page: WeirPage): Promise<number> {
  return videoStat(await page.inbound())?.frameWidth ?? 0;
}

test(
  "Chromium publishes 1280x720 in three simulcast layers, each its own encoding",
  opts,
  async () => {
    assert.ok(browser);
    a = await browser.newPage("A");
    pt = router.createPublishTransport();
    const local = await a.getMedia(1280, 720);
    await a.openPublisher();
    publisher = await publishSimulcast(local.video);
    assert.equal(publisher.simulcast, true);
    assert.deepEqual(
      publisher.encodings.map((e) => e.rid),
      ["q", "h", "f"],
    );
    const stats = await pollUntil(
      async () => {
        const s = publisher.getStats();
        return s.encodings.every((e) => e.bitrate > 0 && e.keyframesReceived > 0) ? s : null;
      },
      15_000,
      async () => JSON.stringify({ pub: publisher.getStats(), out: await a.outbound() }),
    );
    const ssrcs = new Set(stats.encodings.map((e) => e.ssrc));
    assert.equal(ssrcs.size, 3, "one SSRC per layer");
    console.log(
      `  layers: ${stats.encodings.map((e) => `${e.rid} ${Math.round(e.bitrate / 1000)} kbps`).join(", ")}`,
    );
  },
);

test(
  "subscribers pinned to each layer decode about 320, 640 and 1280 wide frames",
  opts,
  async () => {
    assert.ok(browser);
    for (let spatial = 0; spatial < 3; spatial++) {
      const page = await browser.newPage(`B${spatial}`);
      await page.openSubscriber();
      const st = router.createSubscribeTransport();
      const link = new SubscriberLink(page, st);
      const subscriber = await link.subscribe(publisher.id);
      subscriber.setPreferredLayers({ spatial });
      viewers.push({ page, st, subscriber });
    }
    for (const [spatial, v] of viewers.entries()) {
      const w = await pollUntil(
        async () => {
          const s = videoStat(await v.page.inbound());
          return s && s.framesDecoded > 10 && s.frameWidth === WIDTHS[spatial] ? s : null;
        },
        15_000,
        async () =>
          `layer ${spatial}: ${JSON.stringify({ in: await v.page.inbound(), sub: v.subscriber.getStats() })}`,
      );
      assert.equal(v.subscriber.currentLayers.spatial, spatial);
      console.log(
        `  pinned to layer ${spatial}: ${w.frameWidth}x${w.frameHeight}, ${w.framesDecoded} frames`,
      );
    }
  },
);

test(
  "switching up and down completes in under 1 s each time, with frames decoded throughout",
  opts,
  async () => {
    const v = viewers[0];
    await v.page.startSampler(undefined, 100);
    const times: string[] = [];
    for (const spatial of [2, 0, 1, 2, 1, 0]) {
      const t0 = performance.now();
      v.subscriber.setPreferredLayers({ spatial });
      await pollUntil(
        async () => ((await width(v.page)) === WIDTHS[spatial] ? true : null),
        3000,
        async () => `switch to ${spatial}: ${JSON.stringify(v.subscriber.getStats())}`,
        20,
      );
      const ms = Math.round(performance.now() - t0);
      times.push(`${spatial}: ${ms} ms`);
      assert.ok(ms < 1000, `switch to layer ${spatial} took ${ms} ms`);
      await sleep(1200);
    }
    const samples: FrameSample[] = await v.page.stopSampler();
    const stall = longestStall(samples);
    console.log(`  switches (frameWidth seen): ${times.join(", ")}; longest stall ${stall} ms`);
    assert.ok(stall < 1000, `decoding stalled for ${stall} ms`);
    assert.ok(samples.at(-1)!.framesDecoded - samples[0].framesDecoded > 100);
    assert.equal(v.subscriber.getStats().layerSwitches >= 6, true);
  },
);

test("temporal layer 0 decodes at a lower frame rate than all temporal layers", opts, async () => {
  const v = viewers[1];
  // The frame rate over 3 s on encoding 1, measured only in a window that stayed on encoding 1
  // from start to end: under load the subscriber's REMB can move it down for a while (that is
  // the selector's job, tested below); such a window is measured again once it is back.
  const rate = async (what: string) => {
    for (let attempt = 0; attempt < 4; attempt++) {
      await until(() => v.subscriber.currentLayers.spatial === 1, 20_000, `${what}: on encoding 1`);
      let moved = false;
      const onChange = () => {
        moved = true;
      };
      v.subscriber.on("layerschange", onChange);
      const f0 = (await v.page.inbound()).find((s) => s.kind === "video")?.framesDecoded ?? 0;
      await sleep(3000);
      const f1 = (await v.page.inbound()).find((s) => s.kind === "video")?.framesDecoded ?? 0;
      v.subscriber.off("layerschange", onChange);
      if (!moved && v.subscriber.currentLayers.spatial === 1) return (f1 - f0) / 3;
    }
    throw new Error(`${what}: never stayed on encoding 1 for 3 s`);
  };
  const full = await rate("all temporal layers");
  v.subscriber.setPreferredLayers({ spatial: 1, temporal: 0 });
  await sleep(500);
  const low = await rate("temporal layer 0");
  v.subscriber.setPreferredLayers({ spatial: 1 });
  console.log(
    `  layer 1: ${full.toFixed(1)} fps at all temporal layers, ${low.toFixed(1)} fps at temporal 0`,
  );
  assert.ok(
    v.subscriber.getStats().packetsFiltered > 0,
    "packets of higher temporal layers dropped",
  );
  assert.ok(low < full * 0.6, `temporal 0 at ${low} fps vs ${full} fps`);
  assert.ok(low > 2, "still decoding");
  // The browser decodes encoding 1's frames (waited for: see `rate` on REMB moves).
  await pollUntil(
    async () => (await width(v.page)) === 640,
    20_000,
    async () => `viewer decodes 640 wide, not ${await width(v.page)}`,
  );
});

test(
  "a subscriber whose REMB is capped, or whose reports show loss, is moved down, and comes back up when the link recovers",
  opts,
  async () => {
    const viewer = new WeriftSubscriber();
    viewer.keep = false;
    const st = router.createSubscribeTransport();
    const keyframeWidths: number[] = [];
    const vp8 = new Vp8Descriptor();
    viewer.pc.onTrack.subscribe((track) => {
      track.onReceiveRtp.subscribe((rtp) => {
        const p = rtp.payload;
        if (!parseVp8(p, 0, p.length, vp8) || !vp8.isKeyframe) return;
        const h = vp8.headerLength;
        if (p[h + 3] === 0x9d && p[h + 4] === 0x01 && p[h + 5] === 0x2a) {
          keyframeWidths.push(p.readUInt16LE(h + 6) & 0x3fff);
        }
      });
    });
    try {
      const { subscriber, offer } = await st.subscribe(publisher.id);
      await st.setAnswer(await viewer.answer(offer));
      const layers: string[] = [];
      const t0 = performance.now();
      subscriber.on("layerschange", (l) =>
        layers.push(`${Math.round(performance.now() - t0)}ms:${l.spatial}`),
      );
      await until(() => keyframeWidths.at(-1) === 1280, 15_000, "a 1280 keyframe");
      // The estimate first covers the top layer, as a receiver's does on a good link.
      let cap = 20_000_000;
      let loss = 0;
      const dtls = viewer.pc.dtlsTransports[0];
      const feedback = setInterval(() => {
        const block = { ...createReportBlock(), ssrc: subscriber.ssrc, fractionLost: loss };
        const packet = buildCompound([
          buildRr(0x1234, [block]),
          buildRemb(0x1234, cap, [subscriber.ssrc]),
        ]);
        void dtls.sendRtcp([{ serialize: () => packet } as never]);
      }, 250);
      try {
        await sleep(1000);
        // Then the link degrades under the lowest layer: layer 0, and it stays there.
        const q = publisher.getStats().encodings[0].bitrate;
        cap = Math.round(q * 0.8);
        const tDown = performance.now();
        await until(() => keyframeWidths.at(-1) === 320, 5000, "down to 320");
        const downMs = Math.round(performance.now() - tDown);
        await sleep(4000);
        assert.equal(subscriber.currentLayers.spatial, 0, "stays down while capped");
        // Lifted: back to the top after the hold and two up-steps.
        cap = 20_000_000;
        const tUp = performance.now();
        await until(() => keyframeWidths.at(-1) === 1280, 15_000, "back up to 1280");
        const upMs = Math.round(performance.now() - tUp);
        // 30 % loss in the receiver reports: one layer down a second, to the lowest.
        loss = 77;
        const tLoss = performance.now();
        await until(() => keyframeWidths.at(-1) === 320, 5000, "down to 320 on loss");
        const lossMs = Math.round(performance.now() - tLoss);
        loss = 0;
        const tClean = performance.now();
        await until(() => keyframeWidths.at(-1) === 1280, 15_000, "back up to 1280 after loss");
        const cleanMs = Math.round(performance.now() - tClean);
        console.log(
          `  REMB cap ${Math.round(q * 0.8)} bps: down in ${downMs} ms; lifted: back at 1280 in ${upMs} ms`,
        );
        console.log(
          `  30 % loss: at 320 in ${lossMs} ms; clean: back at 1280 in ${cleanMs} ms; changes ${layers.join(" ")}`,
        );
        assert.ok(subscriber.getStats().remoteBitrateEstimate > 0);
        assert.deepEqual(
          layers.map((l) => l.split(":")[1]),
          ["2", "0", "1", "2", "1", "0", "1", "2"],
          "one move down per cause, up one layer at a time, no flapping",
        );
      } finally {
        clearInterval(feedback);
      }
    } finally {
      await st.close();
      await viewer.pc.close();
    }
  },
);

test(
  "two simulcast tracks with the same rids on one transport stay apart (bound by mid and rid)",
  opts,
  async () => {
    const second = await publishSimulcast(await a.cloneTrack("video"));
    assert.notEqual(second.mid, publisher.mid);
    await pollUntil(
      async () => (second.getStats().encodings.every((e) => e.bitrate > 0) ? true : null),
      15_000,
      () => JSON.stringify(second.getStats()),
    );
    const all = [...publisher.encodings, ...second.encodings].map((e) => e.ssrc);
    assert.equal(new Set(all).size, 6, `six SSRCs: ${all}`);
    // A viewer already on the first track's top layer takes the second's lowest layer too.
    const v = viewers[2];
    const mid1 = (await v.page.transceivers())[0]?.mid ?? undefined;
    const link = new SubscriberLink(v.page, v.st);
    const sub2 = await link.subscribe(second.id);
    sub2.setPreferredLayers({ spatial: 0 });
    const mid2 = (await v.page.transceivers()).at(-1)?.mid ?? undefined;
    assert.notEqual(mid2, mid1);
    const s = await pollUntil(
      async () => {
        const st = videoStat(await v.page.inbound(), mid2);
        return st && st.frameWidth === 320 && st.framesDecoded > 10 ? st : null;
      },
      15_000,
      async () => JSON.stringify({ in: await v.page.inbound(), sub: sub2.getStats() }),
    );
    // The renegotiation for the new m-line can dip the viewer's REMB (Chromium's estimate),
    // which moves the first track down for a few seconds: it must be back at its top layer.
    const t0 = performance.now();
    await pollUntil(
      async () => {
        const inbound = await v.page.inbound();
        const first = videoStat(inbound, mid1)?.frameWidth;
        return first === 1280 && videoStat(inbound, mid2)?.frameWidth === 320 ? true : null;
      },
      15_000,
      () => {
        const { layers, remoteBitrateEstimate } = v.subscriber.getStats();
        return `the first track at its top layer: ${JSON.stringify({ layers, remoteBitrateEstimate })}`;
      },
    );
    const switches = v.subscriber.getStats().layerSwitches;
    console.log(
      `  first track at 1280 after ${Math.round(performance.now() - t0)} ms (switches ${switches})`,
    );
    console.log(
      `  second track (mid ${second.mid}): ${s.frameWidth} wide at layer 0 beside the first at 1280`,
    );
  },
);

test(
  "the WebSocket protocol: Room.setPreferredLayers through the edge switches the layer",
  opts,
  async () => {
    // The SDK part is done: free the CPU for a second 720p simulcast publisher.
    for (const v of viewers.splice(0)) {
      await v.page.close();
      await v.st.close();
    }
    await a.close();
    await pt.close();
    assert.ok(browser);
    let embedded: Embedded | undefined;
    const pages: WeirPage[] = [];
    try {
      embedded = await startEmbedded();
      const url = embedded.url;
      const [alice, bob] = await Promise.all([browser.newPage("alice"), browser.newPage("bob")]);
      pages.push(alice, bob);
      const room = "simulcast-ws";
      await alice.page.evaluate(
        async ({ url, token }) => {
          const bundle = "/weir-client.js";
          const { Room } = (await import(bundle)) as { Room: new () => PageRoom };
          const r = new Room();
          await r.connect(url, token);
          const media = await navigator.mediaDevices.getUserMedia({
            video: { width: { exact: 1280 }, height: { exact: 720 } },
          });
          await r.publish(media.getVideoTracks()[0], { simulcast: true });
          (window as unknown as { weirRoom: unknown }).weirRoom = r;
        },
        { url, token: await devToken(room, "alice", ["publish"]) },
      );
      const publisherId: string = await bob.page.evaluate(
        async ({ url, token }) => {
          const bundle = "/weir-client.js";
          const { Room } = (await import(bundle)) as { Room: new () => PageRoom };
          const r = new Room();
          (window as unknown as { weirRoom: unknown }).weirRoom = r;
          r.on("track", ({ track }) => {
            const el = document.createElement("video");
            el.autoplay = true;
            el.muted = true;
            el.srcObject = new MediaStream([track]);
            document.body.append(el);
          });
          await r.connect(url, token);
          const id = r.participants.flatMap((p) => p.tracks)[0]?.publisherId ?? "";
          await r.setPreferredLayers(id, { spatial: 0 });
          await r.subscribe(id);
          return id;
        },
        { url, token: await devToken(room, "bob", ["subscribe"]) },
      );
      const roomWidth = async () => (await roomInbound(bob.page)).frameWidth;
      await pollUntil(
        async () => ((await roomWidth()) === 320 ? true : null),
        15_000,
        async () =>
          `bob at layer 0: ${JSON.stringify(await roomInbound(bob.page))}\n${embedded?.log().slice(-2000)}`,
      );
      const setLayers = (spatial: number) =>
        bob.page.evaluate(
          async ({ id, spatial }) => {
            const r = (window as unknown as { weirRoom: PageRoom }).weirRoom;
            try {
              await r.setPreferredLayers(id, { spatial });
              return "ok";
            } catch (e) {
              return (e as { code?: string }).code ?? String(e);
            }
          },
          { id: publisherId, spatial },
        );
      for (const spatial of [2, 1]) {
        const t0 = performance.now();
        assert.equal(await setLayers(spatial), "ok");
        await pollUntil(
          async () => ((await roomWidth()) === WIDTHS[spatial] ? true : null),
          5000,
          async () => `bob to layer ${spatial}: ${JSON.stringify(await roomInbound(bob.page))}`,
          20,
        );
        console.log(
          `  Room.setPreferredLayers(${spatial}): ${WIDTHS[spatial]} wide after ${Math.round(performance.now() - t0)} ms`,
        );
      }
      assert.equal(await setLayers(99), "bad_request", "an out-of-range layer is refused");
      assert.equal(await roomWidth(), 640, "and changes nothing");
    } finally {
      for (const p of pages) await p.close();
      await embedded?.stop();
    }
  },
);

/**
 * Publishes a local video track of page A in three simulcast layers with three temporal layers,
 * with Chromium's offer as is (it offers the Dependency Descriptor). The node's answer leaves the
 * DD out for VP8, so Chromium writes picture ids, TL0PICIDX and temporal layer ids into the VP8
 * payload descriptor: what the temporal filter and picture id rewriting read.
 */
async function publishSimulcast(localTrackId: string): Promise<Publisher> {
  const { trackId, offer } = await a.publish(localTrackId, "video/VP8", {
    simulcast: true,
    scalabilityMode: "L1T3",
  });
  assert.match(offer.sdp, /^a=extmap:\d+ \S+#dependency-descriptor/m, "Chromium offers the DD");
  const answer = await pt.getAnswer(offer);
  assert.doesNotMatch(answer.sdp, /dependency-descriptor/, "the answer declines it for VP8");
  const published = pt.publish(trackId);
  await a.setAnswer(answer as typeof offer);
  return published;
}

/** The part of the client's Room these pages use. */
interface PageRoom {
  connect(url: string, token: string): Promise<void>;
  publish(track: MediaStreamTrack, options: { simulcast: boolean }): Promise<unknown>;
  subscribe(publisherId: string): Promise<void>;
  setPreferredLayers(publisherId: string, layers: { spatial?: number }): Promise<void>;
  on(event: "track", listener: (e: { track: MediaStreamTrack }) => void): void;
  participants: { tracks: { publisherId: string }[] }[];
}

/** The longest time framesDecoded did not move, in ms. */
function longestStall(samples: FrameSample[]): number {
  let longest = 0;
  let since = samples[0]?.at ?? 0;
  for (let i = 1; i < samples.length; i++) {
    if (samples[i].framesDecoded > samples[i - 1].framesDecoded) {
      longest = Math.max(longest, samples[i].at - since);
      since = samples[i].at;
    }
  }
  return longest;
}
