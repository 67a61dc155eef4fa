// Browser end-to-end: real headless Chromium publishes its fake camera + microphone through the
// client SDK into a media node Router, other Chromium tabs subscribe through the client SDK, and
// the assertions read the subscribers' own getStats. The test process is the signaling.
// Run alone: node scripts/test.mjs test/e2e/browser.test.ts
import assert from "node:assert/strict";
import { createSocket } from "node:dgram";
import { existsSync } from "node:fs";
import { after, before, test } from "node:test";
import {
  type MediaPathStats,
  type Publisher,
  type PublishTransport,
  Router,
  type SubscribeTransport,
  WeirError,
} from "../../media-node/src/index.ts";
import {
  audioStat,
  BrowserHarness,
  CHROMIUM,
  type InboundStat,
  pollUntil,
  publishTrack,
  SubscriberLink,
  sleep,
  udpCandidate,
  unpublishTrack,
  videoStat,
  type WeirPage,
} from "../helpers/browser.ts";
import { iceUfrag, isRtpOrRtcp, sprayGarbage } from "./garbage.ts";

type Sdp = { type: "offer" | "answer"; sdp: string };

const WIDTH = 640;
const HEIGHT = 480;
const skip = existsSync(CHROMIUM) ? false : `no Chromium at ${CHROMIUM}`;

const router = new Router({ transport: { listenIps: ["127.0.0.1"] } });
let browser: BrowserHarness | undefined;

before(async () => {
  if (!skip) browser = await BrowserHarness.launch();
});

after(async () => {
  await browser?.close();
  await router.close();
});

interface Call {
  a: WeirPage;
  b: WeirPage;
  pt: PublishTransport;
  st: SubscribeTransport;
  link: SubscriberLink;
  video: Publisher;
  audio: Publisher;
  /** The client's video track id (= video.id) and its local track ids. */
  local: { audio: string; video: string };
  /** The last offer A sent and the node's answer to it. */
  lastOffer: Sdp;
  publishAnswer: Sdp;
  /** performance.now() when the video was published. */
  publishedAt: number;
  close(): Promise<void>;
}

/** Page A publishes camera (`codec`) + microphone; page B subscribes to both. */
async function startCall(codec: string): Promise<Call> {
  assert.ok(browser, "browser not launched");
  const a = await browser.newPage("A");
  const pt = router.createPublishTransport();
  const local = await a.getMedia(WIDTH, HEIGHT);
  await a.openPublisher();
  const v = await publishTrack(a, pt, local.video, codec);
  const publishedAt = performance.now();
  const au = await publishTrack(a, pt, local.audio, "audio/opus");
  assert.equal(v.publisher.id, local.video);
  assert.equal(v.publisher.codec.mimeType.toLowerCase(), codec.toLowerCase());

  const b = await browser.newPage("B");
  await b.openSubscriber();
  const st = router.createSubscribeTransport();
  const link = new SubscriberLink(b, st);
  await link.subscribe(v.publisher.id);
  await link.subscribe(au.publisher.id);
  return {
    a,
    b,
    pt,
    st,
    link,
    video: v.publisher,
    audio: au.publisher,
    local,
    lastOffer: au.offer,
    publishAnswer: au.answer,
    publishedAt,
    async close() {
      await Promise.all([a.close(), b.close()]);
      await Promise.all([pt.close(), st.close()]);
    },
  };
}

/** Everything useful when media does not flow: both ends' stats and the pages' errors. */
async function diagnose(call: Call, extra: WeirPage[] = []): Promise<string> {
  const pages = [call.a, call.b, ...extra];
  const info = {
    aOutbound: await call.a.outbound().catch(String),
    bInbound: await call.b.inbound().catch(String),
    states: await Promise.all(pages.map((p) => p.connectionStates().catch(String))),
    pt: call.pt.getStats(),
    st: call.st.getStats(),
    linkErrors: call.link.errors,
    linkStates: call.link.states,
    pageErrors: (await Promise.all(pages.map((p) => p.errors().catch(() => [])))).flat(),
    pageLogs: pages.flatMap((p) => p.logs).slice(-20),
    pageStates: await Promise.all(pages.map((p) => p.stateLog().catch(String))),
  };
  return JSON.stringify(info, null, 1);
}

function dropped(m: MediaPathStats): number {
  return m.droppedAuth + m.droppedMalformed + m.droppedUnknown;
}

/** Waits until B decodes >= 60 video frames and receives >= 100 audio packets. */
async function waitForMedia(call: Call, timeoutMs: number): Promise<InboundStat[]> {
  return pollUntil(
    async () => {
      const stats = await call.b.inbound();
      const v = videoStat(stats);
      const au = audioStat(stats);
      return v && au && v.framesDecoded >= 60 && au.packetsReceived >= 100 ? stats : null;
    },
    timeoutMs,
    () => diagnose(call),
    200,
  );
}

for (const codec of ["video/VP8", "video/H264"]) {
  test(`camera + microphone from Chromium to Chromium through the router (${codec})`, {
    skip,
    timeout: 60_000,
  }, async (t) => {
    const call = await startCall(codec);
    try {
      const started = performance.now();
      const stats = await waitForMedia(call, 20_000);
      const elapsed = Math.round(performance.now() - started);
      const v = videoStat(stats)!;
      const au = audioStat(stats)!;
      t.diagnostic(
        `${codec}: B decoded ${v.framesDecoded} frames ${v.frameWidth}x${v.frameHeight} ` +
          `(${v.codec} ${v.fmtp ?? ""}), ${au.packetsReceived} audio packets (${au.codec}) ` +
          `${elapsed} ms after subscribing`,
      );
      assert.ok(v.framesDecoded >= 60, `framesDecoded ${v.framesDecoded}`);
      assert.ok(au.packetsReceived >= 100, `audio packetsReceived ${au.packetsReceived}`);
      assert.equal(v.codec?.toLowerCase(), codec.toLowerCase(), "negotiated video codec at B");
      assert.equal(au.codec?.toLowerCase(), "audio/opus", "negotiated audio codec at B");
      assert.ok(v.frameWidth > 0 && v.frameHeight > 0, "decoded frames have a size");
      // Both ends of the node agree: packets came in from A and went out to B.
      const pub = call.video.getStats();
      assert.equal(pub.mimeType.toLowerCase(), codec.toLowerCase());
      assert.ok(pub.keyframesReceived >= 1, "the node saw a keyframe");
      const subs = call.st.getStats().subscribers;
      assert.equal(subs.length, 2);
      for (const s of subs) assert.ok(s.packetsSent > 0, `subscriber ${s.kind} sent nothing`);
      assert.deepEqual(call.link.errors, []);
    } finally {
      await call.close();
    }
  });
}

test("unpublishing video ends B's track and frees its m-line for the next subscription", {
  skip,
  timeout: 60_000,
}, async (t) => {
  const call = await startCall("video/VP8");
  const ptEnded: string[] = [];
  call.pt.on("trackended", (track) => ptEnded.push(track.trackId));
  try {
    await pollUntil(
      async () => (await call.b.framesDecoded()) > 0,
      15_000,
      () => diagnose(call),
    );
    const mLinesBefore = await call.b.mLineCount();
    const transceiversBefore = (await call.b.transceivers()).length;
    const videoMid = (await call.b.events()).find(
      (e) => e.type === "track" && e.publisherId === call.video.id,
    )?.mid;
    assert.ok(videoMid !== undefined, "B got a track event for the video");

    await unpublishTrack(call.a, call.pt, call.local.video);
    assert.deepEqual(ptEnded, [call.local.video], "the node saw the track leave the offer");
    assert.ok(call.video.closed, "the publisher closed");
    const ended = await pollUntil(
      async () =>
        (await call.b.events()).find(
          (e) => e.type === "trackended" && e.publisherId === call.video.id,
        ),
      10_000,
      () => diagnose(call),
    );
    assert.equal(ended.mid, videoMid);
    await call.link.settled();
    const released = await pollUntil(
      async () => {
        const tr = (await call.b.transceivers()).find((x) => x.mid === videoMid);
        return tr?.currentDirection === "inactive" || tr?.currentDirection === "stopped"
          ? tr
          : null;
      },
      5_000,
      async () => JSON.stringify(await call.b.transceivers()),
    );
    t.diagnostic(`B's video m-line ${videoMid} after unpublish: ${released.currentDirection}`);

    // A publishes its camera again (a new track), B subscribes again: the m-line is reused.
    const againId = await call.a.cloneTrack("video");
    const again = await publishTrack(call.a, call.pt, againId, "video/VP8");
    await call.link.subscribe(again.publisher.id);
    const started = await pollUntil(
      async () =>
        (await call.b.events()).find(
          (e) => e.type === "track" && e.publisherId === again.publisher.id,
        ),
      10_000,
      () => diagnose(call),
    );
    assert.equal(started.mid, videoMid, "the new subscription reuses the released m-line");
    assert.equal(await call.b.mLineCount(), mLinesBefore, "m-line count did not grow");
    assert.equal((await call.b.transceivers()).length, transceiversBefore);
    assert.equal(call.st.getStats().mLines, 2);
    // And the reused m-line carries the new stream.
    const before = await call.b.framesDecoded(videoMid);
    const after = await pollUntil(
      async () => {
        const n = await call.b.framesDecoded(videoMid);
        return n >= before + 20 ? n : null;
      },
      10_000,
      () => diagnose(call),
    );
    t.diagnostic(
      `m-lines before ${mLinesBefore}, after re-subscribe ${await call.b.mLineCount()}; ` +
        `framesDecoded on mid ${videoMid}: ${before} -> ${after}`,
    );
    assert.deepEqual(call.link.errors, []);
  } finally {
    await call.close();
  }
});

test("a subscriber joining 10 s into the stream decodes its first frame within 2 s", {
  skip,
  timeout: 60_000,
}, async (t) => {
  const call = await startCall("video/VP8");
  const c = await browser!.newPage("C");
  const st = router.createSubscribeTransport();
  try {
    await pollUntil(
      async () => (await call.b.framesDecoded()) > 0,
      15_000,
      () => diagnose(call),
    );
    const wait = 10_000 - (performance.now() - call.publishedAt);
    if (wait > 0) await sleep(wait);
    await c.openSubscriber();
    const link = new SubscriberLink(c, st);
    const subscribedAt = Date.now();
    const streamAge = Math.round(performance.now() - call.publishedAt);
    const firstFrame = c.firstFrameAt(undefined, 10, 10_000);
    await link.subscribe(call.video.id);
    const at = await firstFrame;
    assert.ok(at !== null, `C decoded nothing within 10 s: ${await diagnose(call, [c])}`);
    const ttff = at - subscribedAt;
    t.diagnostic(
      `C joined ${streamAge} ms into the stream; first frame decoded ${ttff} ms after subscribe()`,
    );
    assert.ok(streamAge >= 10_000);
    assert.ok(ttff <= 2_000, `first frame after ${ttff} ms`);
    assert.deepEqual(link.errors, []);
  } finally {
    await c.close();
    await st.close();
    await call.close();
  }
});

test("garbage datagrams and malformed SDP are counted or rejected while B keeps decoding", {
  skip,
  timeout: 60_000,
}, async (t) => {
  const call = await startCall("video/VP8");
  const socket = createSocket("udp4");
  const received: Buffer[] = [];
  socket.on("message", (msg) => received.push(msg));
  await new Promise<void>((resolve) => socket.bind(0, "127.0.0.1", resolve));
  try {
    await pollUntil(
      async () => (await call.b.framesDecoded()) > 0,
      15_000,
      () => diagnose(call),
    );
    const target = udpCandidate(call.publishAnswer.sdp);
    assert.equal(target.address, "127.0.0.1");
    const videoSsrc = call.video.getStats().ssrc;
    assert.ok(videoSsrc !== null);
    const ptBefore = call.pt.getStats().media;
    const rtpInBefore = ptBefore.rtpPacketsIn;
    await call.b.startSampler(undefined, 100);
    const samplingFrom = Date.now();
    const marks: string[] = [];
    const mark = (what: string) => marks.push(`+${Date.now() - samplingFrom}ms ${what}`);

    // 1. Datagrams from an address ICE never validated, to the port of the answer's candidate.
    mark("spray publish transport");
    const spray = await sprayGarbage(socket, target, {
      ssrc: videoSsrc,
      payloadType: call.video.sourcePayloadType,
      // USERNAME the node would accept (its ufrag : the client's): only integrity protects.
      stunUsername: `${iceUfrag(call.publishAnswer.sdp)}:${iceUfrag(call.lastOffer.sdp)}`,
    });
    const stTarget = udpCandidate(call.link.lastOffer?.sdp ?? "");
    const stBefore = call.st.getStats().media;
    mark("spray subscribe transport");
    const stSpray = await sprayGarbage(socket, stTarget, {
      ssrc: call.st.getStats().subscribers[0].ssrc,
      payloadType: 96,
      stunUsername: `${iceUfrag(call.link.lastOffer?.sdp ?? "")}:${iceUfrag(call.link.lastAnswer?.sdp ?? "")}`,
    });
    const expected = spray.mediaRange;

    // 2. Malformed SDP at the live transports.
    mark("malformed SDP");
    const fingerprintless = call.lastOffer.sdp.replace(/^a=fingerprint:.*\r?\n/gm, "");
    const huge = call.lastOffer.sdp + `a=x-pad:${"x".repeat(1024 * 1024)}\r\n`;
    const badOffers: [string, unknown][] = [
      ["not SDP", { type: "offer", sdp: "hello, I am not an SDP" }],
      ["missing fingerprint", { type: "offer", sdp: fingerprintless }],
      ["1 MB", { type: "offer", sdp: huge }],
      ["no sdp field", { type: "offer" }],
    ];
    for (const [what, offer] of badOffers) {
      await assert.rejects(
        call.pt.getAnswer(offer as Sdp),
        (err: unknown) => err instanceof WeirError && err.code === "invalid_sdp",
        `getAnswer(${what})`,
      );
    }
    const answer = call.link.lastAnswer;
    assert.ok(answer);
    const badAnswers: [string, unknown][] = [
      ["not SDP", { type: "answer", sdp: "\u0000\u0001garbage" }],
      [
        "missing fingerprint",
        { ...answer, sdp: answer.sdp.replace(/^a=fingerprint:.*\r?\n/gm, "") },
      ],
      ["1 MB", { ...answer, sdp: answer.sdp + `a=x-pad:${"y".repeat(1024 * 1024)}\r\n` }],
    ];
    for (const [what, bad] of badAnswers) {
      await assert.rejects(
        call.st.setAnswer(bad as Sdp),
        (err: unknown) => err instanceof WeirError && err.code === "invalid_sdp",
        `setAnswer(${what})`,
      );
    }

    // The transports still negotiate after rejecting all that.
    mark("renegotiate");
    await call.link.renegotiate();
    // ... and so does the publish side: A publishes one more track.
    const extra = await publishTrack(call.a, call.pt, await call.a.cloneTrack("audio"));
    assert.equal(extra.publisher.kind, "audio");
    mark("renegotiated");

    // 3. B keeps decoding through it all and after.
    await sleep(2_000);
    const samples = await call.b.stopSampler();
    const ptAfter = call.pt.getStats().media;
    const drops = {
      auth: ptAfter.droppedAuth - ptBefore.droppedAuth,
      malformed: ptAfter.droppedMalformed - ptBefore.droppedMalformed,
      unknown: ptAfter.droppedUnknown - ptBefore.droppedUnknown,
    };
    // Longest time between two samples that saw framesDecoded go up.
    let longestStall = 0;
    let lastRise = samples[0];
    for (const sample of samples) {
      longestStall = Math.max(longestStall, sample.at - lastRise.at);
      if (sample.framesDecoded > lastRise.framesDecoded) lastRise = sample;
    }
    const first = samples[0]?.framesDecoded ?? 0;
    const lastCount = samples.at(-1)?.framesDecoded ?? 0;
    const seconds = ((samples.at(-1)?.at ?? samplingFrom) - samplingFrom) / 1000;
    const stAfter = call.st.getStats().media;
    t.diagnostic(
      `publish transport: ${JSON.stringify(spray)}; subscribe transport: ${JSON.stringify(stSpray)}; ` +
        `subscribe transport drops +${dropped(stAfter) - dropped(stBefore)}; ` +
        `datagrams the attacker socket got back: ${received.length} ` +
        `(${received.filter(isRtpOrRtcp).length} RTP/RTCP, STUN types ` +
        `${[...new Set(received.filter((m) => m[0] < 4).map((m) => m.readUInt16BE(0).toString(16)))]}); ` +
        `publish transport drops: auth ${drops.auth}, malformed ${drops.malformed}, ` +
        `unknown ${drops.unknown}; B framesDecoded ${first} -> ${lastCount} over ${seconds.toFixed(1)} s, ` +
        `longest stall ${longestStall} ms; rtpPacketsIn +${ptAfter.rtpPacketsIn - rtpInBefore}`,
    );
    assert.ok(
      dropped(ptAfter) - dropped(ptBefore) >= expected,
      `drops ${JSON.stringify(drops)} < ${expected} datagrams sent`,
    );
    assert.ok(drops.auth >= spray.fakeSrtp, `fake SRTP must fail auth: ${JSON.stringify(drops)}`);
    assert.ok(
      dropped(stAfter) - dropped(stBefore) >= stSpray.mediaRange,
      `subscribe transport drops ${dropped(stAfter) - dropped(stBefore)} < ${stSpray.mediaRange}`,
    );
    assert.equal(received.filter(isRtpOrRtcp).length, 0, "no media was sent to the attacker");
    assert.ok(samples.length >= 20, `only ${samples.length} samples`);
    assert.ok(lastCount - first >= 40, `B decoded ${lastCount - first} frames during the attack`);
    if (longestStall >= 1_000) {
      const timeline = samples.map((x) => `+${x.at - samplingFrom}:${x.framesDecoded}`).join(" ");
      const v = videoStat(await call.b.inbound());
      assert.fail(
        `B stalled ${longestStall} ms. Marks: ${marks.join(", ")}. Samples: ${timeline}. ` +
          `B video: ${JSON.stringify(v)}. Publisher: ${JSON.stringify(call.video.getStats())}. ` +
          `Subscribers: ${JSON.stringify(call.st.getStats().subscribers)}. ` +
          `Transports: pt ${call.pt.connectionState}, st ${call.st.connectionState} ` +
          `(${call.link.states.join(", ")}). B: ${(await call.b.stateLog()).join(", ")}. ` +
          `Link errors: ${call.link.errors.join("; ")}`,
      );
    }
    assert.ok(ptAfter.rtpPacketsIn > rtpInBefore, "the real stream kept arriving");
    assert.equal(call.pt.connectionState, "connected");
    assert.equal(call.st.connectionState, "connected");
    assert.deepEqual(call.link.errors, []);
  } finally {
    socket.close();
    await call.close();
  }
});
