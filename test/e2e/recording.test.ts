// Recording end-to-end: headless Chromium publishes its fake camera (VP8) and microphone (Opus)
// through the client SDK into a media node Router; a Recorder writes one WebM per track for
// 20 s; ffprobe (Debian's ffmpeg, an independent decoder) counts the frames and reads the
// durations; 5 % loss is injected with nftables in the test's own network namespace.
// Run alone: node scripts/test.mjs test/e2e/recording.test.ts
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import {
  type Publisher,
  type PublishTransport,
  Recorder,
  type RecordingFile,
  Router,
} from "../../media-node/src/index.ts";
import {
  BrowserHarness,
  CHROMIUM,
  pollUntil,
  publishTrack,
  sleep,
  udpCandidate,
  type WeirPage,
} from "../helpers/browser.ts";
import { probe } from "../helpers/ffprobe.ts";

const RECORD_MS = 20_000;
const PARTICIPANT_MS = 10_000;
const VP9_MS = 8000;
const H264_MS = 10_000;
const AV1_MS = 8000;
const LOSS_MS = 15_000;
const skip = existsSync(CHROMIUM) ? false : `no Chromium at ${CHROMIUM}`;
const router = new Router({ transport: { listenIps: ["127.0.0.1"] } });
const dir = mkdtempSync(join(tmpdir(), "weir-rec-e2e-"));
let browser: BrowserHarness | undefined;
let page: WeirPage | undefined;
let pt: PublishTransport | undefined;
/** The publisher's tracks, published by the first test. */
let tracks: { video: Publisher; audio: Publisher } | undefined;

before(async () => {
  if (!skip) browser = await BrowserHarness.launch();
});

after(async () => {
  await page?.close();
  await pt?.close();
  await browser?.close();
  await router.close();
  rmSync(dir, { recursive: true, force: true });
});

async function videoFramesEncoded(p: WeirPage): Promise<number> {
  const v = (await p.outbound()).find((s) => s.kind === "video");
  return v?.framesEncoded ?? 0;
}

test("a Chromium VP8 + Opus publisher recorded 20 s: frame count and duration match", {
  skip,
}, async () => {
  assert.ok(browser);
  page = await browser.newPage("publisher");
  pt = router.createPublishTransport();
  const local = await page.getMedia(640, 480);
  await page.openPublisher();
  const video = (await publishTrack(page, pt, local.video, "video/VP8")).publisher;
  const audio = (await publishTrack(page, pt, local.audio, "audio/opus")).publisher;
  await pollUntil(
    async () => video.getStats().packetsReceived > 50 && audio.getStats().packetsReceived > 50,
    15_000,
    () => "media reaches the node",
  );
  tracks = { video, audio };

  const encodedBefore = await videoFramesEncoded(page);
  const startedAt = performance.now();
  const rec = new Recorder({ publishers: [video, audio], directory: dir });
  const files: RecordingFile[] = [];
  rec.on("filecreated", (f) => files.push(f));
  rec.on("error", (e) => assert.fail(e));
  await sleep(RECORD_MS);
  const encodedAfter = await videoFramesEncoded(page);
  const wallS = (performance.now() - startedAt) / 1000;
  const stats = rec.getStats();
  await rec.stop();
  console.log(`  recorder stats ${JSON.stringify(stats.tracks)}`);

  assert.equal(files.length, 2);
  const v = probe(files.find((f) => f.tracks[0].kind === "video")?.path ?? "");
  const a = probe(files.find((f) => f.tracks[0].kind === "audio")?.path ?? "");
  const sent = encodedAfter - encodedBefore;
  console.log(
    `  video: ${v.streams[0].frames} frames decoded of ${sent} encoded in the window, ${v.duration} s; audio: ${a.streams[0].frames} frames, ${a.duration} s; wall ${wallS.toFixed(3)} s`,
  );
  assert.equal(v.streams[0].codec, "vp8");
  assert.equal(a.streams[0].codec, "opus");
  assert.equal(v.decodeErrors, "");
  assert.equal(a.decodeErrors, "");
  assert.ok(sent > 100, `Chromium encoded ${sent} frames`);
  assert.ok(
    Math.abs(v.streams[0].frames - sent) <= sent * 0.05,
    `video frames ${v.streams[0].frames} vs sent ${sent}`,
  );
  assert.ok(Math.abs(v.duration - wallS) <= wallS * 0.02, `video ${v.duration} s vs ${wallS}`);
  assert.ok(Math.abs(a.duration - wallS) <= wallS * 0.02, `audio ${a.duration} s vs ${wallS}`);
  for (const t of stats.tracks) assert.equal(t.gaps, 0, `${t.publisherId} had no unrepaired loss`);
});

test("per participant: VP8 + Opus in one WebM, in sync from sender reports", { skip }, async () => {
  assert.ok(tracks, "the first test published");
  const startedAt = performance.now();
  const rec = new Recorder({
    publishers: [tracks.video, tracks.audio],
    directory: dir,
    layout: "participant",
  });
  const files: RecordingFile[] = [];
  rec.on("filecreated", (f) => files.push(f));
  rec.on("error", (e) => assert.fail(e));
  await sleep(PARTICIPANT_MS);
  const wallS = (performance.now() - startedAt) / 1000;
  await rec.stop();

  assert.equal(files.length, 1);
  assert.deepEqual(
    files[0].tracks.map((t) => t.kind),
    ["video", "audio"],
  );
  const p = probe(files[0].path);
  const [v, a] = p.streams;
  console.log(
    `  one file: video ${v.frames} frames from ${v.startTime} s, audio ${a.frames} frames from ${a.startTime} s, ${p.duration} s for ${wallS.toFixed(3)} s wall`,
  );
  assert.deepEqual(
    p.streams.map((s) => s.codec),
    ["vp8", "opus"],
  );
  assert.equal(p.decodeErrors, "");
  assert.ok(Math.abs(v.startTime - a.startTime) < 0.1, "audio/video start offset under 100 ms");
  assert.ok(Math.abs(p.duration - wallS) <= wallS * 0.02, `${p.duration} s vs ${wallS} s wall`);
  assert.ok(a.frames >= wallS * 50 * 0.95, `${a.frames} audio frames of 20 ms`);
});

test("a Chromium VP9 publisher records to a WebM that decodes", { skip }, async () => {
  assert.ok(browser);
  const vp9Page = await browser.newPage("vp9");
  const vp9Transport = router.createPublishTransport();
  try {
    const local = await vp9Page.getMedia(640, 480);
    await vp9Page.openPublisher();
    const { publisher } = await publishTrack(vp9Page, vp9Transport, local.video, "video/VP9");
    await pollUntil(
      async () => publisher.getStats().packetsReceived > 50,
      15_000,
      () => "VP9 reaches the node",
    );
    const before = await videoFramesEncoded(vp9Page);
    const rec = new Recorder({ publishers: [publisher], directory: dir });
    const files: RecordingFile[] = [];
    rec.on("filecreated", (f) => files.push(f));
    rec.on("error", (e) => assert.fail(e));
    await sleep(VP9_MS);
    const sent = (await videoFramesEncoded(vp9Page)) - before;
    await rec.stop();
    assert.equal(files.length, 1);
    const p = probe(files[0].path);
    console.log(`  VP9: ${p.streams[0].frames} frames decoded of ${sent} encoded, ${p.duration} s`);
    assert.equal(p.streams[0].codec, "vp9");
    assert.equal(p.decodeErrors, "");
    assert.ok(
      Math.abs(p.streams[0].frames - sent) <= sent * 0.05,
      `${p.streams[0].frames}/${sent}`,
    );
  } finally {
    await vp9Page.close();
    await vp9Transport.close();
  }
});

test("a Chromium AV1 publisher records to a WebM that decodes", { skip }, async () => {
  assert.ok(browser);
  const av1Page = await browser.newPage("av1");
  const av1Transport = router.createPublishTransport();
  try {
    const local = await av1Page.getMedia(640, 480);
    await av1Page.openPublisher();
    const { publisher } = await publishTrack(av1Page, av1Transport, local.video, "video/AV1");
    await pollUntil(
      async () => publisher.getStats().packetsReceived > 50,
      15_000,
      () => "AV1 reaches the node",
    );
    const before = await videoFramesEncoded(av1Page);
    const rec = new Recorder({ publishers: [publisher], directory: dir });
    const files: RecordingFile[] = [];
    rec.on("filecreated", (f) => files.push(f));
    rec.on("error", (e) => assert.fail(e));
    await sleep(AV1_MS);
    const sent = (await videoFramesEncoded(av1Page)) - before;
    await rec.stop();
    assert.equal(files.length, 1);
    const p = probe(files[0].path);
    console.log(`  AV1: ${p.streams[0].frames} frames decoded of ${sent} encoded, ${p.duration} s`);
    assert.equal(p.streams[0].codec, "av1");
    assert.equal(p.decodeErrors, "");
    assert.ok(
      Math.abs(p.streams[0].frames - sent) <= sent * 0.05,
      `${p.streams[0].frames}/${sent}`,
    );
  } finally {
    await av1Page.close();
    await av1Transport.close();
  }
});

test("a Chromium H.264 + Opus publisher recorded per participant: one Matroska file, in sync, every frame", {
  skip,
}, async () => {
  assert.ok(browser);
  const h264Page = await browser.newPage("h264");
  const h264Transport = router.createPublishTransport();
  try {
    const local = await h264Page.getMedia(640, 480);
    await h264Page.openPublisher();
    const video = (await publishTrack(h264Page, h264Transport, local.video, "video/H264"))
      .publisher;
    const audio = (await publishTrack(h264Page, h264Transport, local.audio, "audio/opus"))
      .publisher;
    await pollUntil(
      async () => video.getStats().packetsReceived > 50 && audio.getStats().packetsReceived > 50,
      15_000,
      () => "H.264 and Opus reach the node",
    );
    const before = await videoFramesEncoded(h264Page);
    const startedAt = performance.now();
    const rec = new Recorder({ publishers: [video, audio], directory: dir, layout: "participant" });
    const files: RecordingFile[] = [];
    rec.on("filecreated", (f) => files.push(f));
    rec.on("error", (e) => assert.fail(e));
    await sleep(H264_MS);
    const sent = (await videoFramesEncoded(h264Page)) - before;
    const wallS = (performance.now() - startedAt) / 1000;
    await rec.stop();
    assert.equal(files.length, 1);
    assert.match(files[0].path, /\.mkv$/);
    const p = probe(files[0].path);
    const [v, a] = p.streams;
    console.log(
      `  H.264: ${v.frames} frames decoded of ${sent} encoded, video from ${v.startTime} s, audio ${a.frames} frames from ${a.startTime} s, ${p.duration} s for ${wallS.toFixed(3)} s wall`,
    );
    assert.deepEqual(
      p.streams.map((s) => s.codec),
      ["h264", "opus"],
    );
    assert.equal(v.width, 640);
    assert.equal(p.decodeErrors, "");
    assert.ok(Math.abs(v.frames - sent) <= sent * 0.05, `${v.frames}/${sent}`);
    assert.ok(Math.abs(v.startTime - a.startTime) < 0.1, "audio/video start offset under 100 ms");
    assert.ok(Math.abs(p.duration - wallS) <= wallS * 0.02, `${p.duration} s vs ${wallS} s wall`);
  } finally {
    await h264Page.close();
    await h264Transport.close();
  }
});

test("a simulcast publisher whose top layer stops and comes back: the recording switches at keyframes and decodes throughout", {
  skip,
}, async () => {
  // A browser of its own: the fake camera is shared by a browser's pages, and the others hold
  // it at 640x480 (1280x720 then fails with OverconstrainedError).
  const own = await BrowserHarness.launch();
  const scPage = await own.newPage("simulcast");
  const scTransport = router.createPublishTransport();
  try {
    const local = await scPage.getMedia(1280, 720);
    await scPage.openPublisher();
    const { publisher } = await publishTrack(scPage, scTransport, local.video, "video/VP8", {
      simulcast: true,
    });
    await pollUntil(
      async () =>
        publisher.getStats().encodings.every((e) => e.bitrate > 0 && e.keyframesReceived > 0),
      20_000,
      () => `three layers reach the node: ${JSON.stringify(publisher.getStats().encodings)}`,
    );
    const rec = new Recorder({ publishers: [publisher], directory: dir });
    const files: RecordingFile[] = [];
    rec.on("filecreated", (f) => files.push(f));
    rec.on("error", (e) => assert.fail(e));
    const encoding = () => rec.getStats().tracks[0].encoding;
    /** The sender's top encoding on or off, as a sender under congestion does by itself. */
    const setTop = (active: boolean) =>
      scPage.page.evaluate(async (on) => {
        type Harness = { pub: { peerConnection: RTCPeerConnection } };
        const pc = (window as unknown as { weir: Harness }).weir.pub.peerConnection;
        const sender = pc.getSenders().find((x) => x.track?.kind === "video");
        if (!sender) throw new Error("no video sender");
        const params = sender.getParameters();
        params.encodings[params.encodings.length - 1].active = on;
        await sender.setParameters(params);
      }, active);
    const startedAt = performance.now();
    await sleep(4000);
    assert.equal(encoding(), 2, "the top layer is recorded first");
    await setTop(false);
    await pollUntil(
      async () => encoding() < 2,
      10_000,
      () => "switches down",
    );
    await sleep(3000);
    await setTop(true);
    await pollUntil(
      async () => encoding() === 2,
      15_000,
      () => "switches back up",
    );
    await sleep(3000);
    const wallS = (performance.now() - startedAt) / 1000;
    await rec.stop();
    // read after stop: frames still queued or held at stop are written (and counted) by it
    const stats = rec.getStats().tracks[0];
    assert.equal(files.length, 1);
    const p = probe(files[0].path);
    const frames = execFileSync("ffprobe", [
      ...["-v", "error", "-show_entries", "frame=pts_time,width", "-of", "csv=p=0"],
      files[0].path,
    ])
      .toString()
      .trim()
      .split("\n")
      .map((l) => {
        const [pts, width] = l.split(",").map(Number);
        return { pts, width };
      });
    const widths = new Set(frames.map((f) => f.width));
    let gap = 0;
    for (let i = 1; i < frames.length; i++) gap = Math.max(gap, frames[i].pts - frames[i - 1].pts);
    console.log(
      `  simulcast: ${stats.encodingSwitches} switches, ${p.streams[0].frames} frames decoded of ${stats.framesWritten} written, widths ${[...widths].join("/")}, longest gap ${gap.toFixed(3)} s, ${p.duration} s for ${wallS.toFixed(3)} s wall`,
    );
    assert.equal(p.decodeErrors, "");
    assert.ok(stats.encodingSwitches >= 2, `${stats.encodingSwitches} switches`);
    assert.ok(widths.has(1280) && widths.has(640), `both layers in the file: ${[...widths]}`);
    // ffmpeg may count a frame or so more per resolution switch (a decoder re-init); none fewer
    assert.ok(
      p.streams[0].frames >= stats.framesWritten - 1 &&
        p.streams[0].frames <= stats.framesWritten + 1 + stats.encodingSwitches,
      `every written frame decodes: ${p.streams[0].frames} decoded of ${stats.framesWritten}`,
    );
    // the switch down waits for the top layer to fall silent (1 s) and the next one's keyframe
    assert.ok(gap < 2.5, `longest gap between frames ${gap} s`);
  } finally {
    await scPage.close();
    await scTransport.close();
    await own.close();
  }
});

/** Drops one in 20 UDP datagrams to `port` in this test's network namespace (nftables). */
function injectLoss(port: number): () => void {
  const nft = (...args: string[]) => execFileSync("nft", args);
  nft("add", "table", "inet", "weir_rec_loss");
  nft("add", "chain", "inet", "weir_rec_loss", "in", "{ type filter hook input priority 0; }");
  nft(
    ...["add", "rule", "inet", "weir_rec_loss", "in", "udp", "dport", `${port}`],
    ...["numgen", "random", "mod", "20", "==", "0", "counter", "drop"],
  );
  return () => nft("delete", "table", "inet", "weir_rec_loss");
}

test("5 % loss toward the node: NACK repair, and no undecodable frame written", {
  skip,
}, async () => {
  assert.ok(browser);
  const lossPage = await browser.newPage("lossy");
  const transport = router.createPublishTransport();
  let removeLoss: (() => void) | undefined;
  try {
    const local = await lossPage.getMedia(640, 480);
    await lossPage.openPublisher();
    const { publisher, answer } = await publishTrack(lossPage, transport, local.video, "video/VP8");
    await pollUntil(
      async () => publisher.getStats().packetsReceived > 50,
      15_000,
      () => "VP8 reaches the node",
    );
    removeLoss = injectLoss(udpCandidate(answer.sdp).port);
    const before = await videoFramesEncoded(lossPage);
    const rec = new Recorder({ publishers: [publisher], directory: dir });
    const files: RecordingFile[] = [];
    rec.on("filecreated", (f) => files.push(f));
    await sleep(LOSS_MS);
    const sent = (await videoFramesEncoded(lossPage)) - before;
    await rec.stop();
    const stats = rec.getStats().tracks[0];
    removeLoss();
    removeLoss = undefined;
    const pub = publisher.getStats();
    const p = probe(files[0].path);
    console.log(
      `  5 % loss: ${pub.packetsLost} lost, ${pub.packetsRepaired} repaired by NACK; recorded ${stats.framesWritten} frames (${p.streams[0].frames} decode) of ${sent} encoded, ${stats.gaps} gaps, ${stats.framesDropped} dropped, ${stats.keyframeRequests} keyframe requests`,
    );
    assert.ok(pub.packetsLost > 0, "the loss was injected");
    assert.ok(pub.packetsRepaired > 0, "NACK repaired some of it");
    assert.equal(p.decodeErrors, "", "every written frame decodes");
    assert.equal(p.streams[0].frames, stats.framesWritten);
    assert.ok(stats.framesWritten > sent / 2, `${stats.framesWritten} of ${sent}`);
  } finally {
    removeLoss?.();
    await lossPage.close();
    await transport.close();
  }
});
