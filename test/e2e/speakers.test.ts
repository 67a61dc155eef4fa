// Active speakers and track mute from Chromium through the edge (the edge app in Node and a
// media node on the in-process bus, in this process, so the node's stats can be read):
// 1. werift publishers write the RFC 6464 audio level with chosen levels (two speakers and a
//    silent one); a Chromium Room sees `activespeakers` follow them, loudest first.
// 2. Real Chromium audio: three pages publish a WebAudio tone at chosen gains (one silent) with
//    the client Room; Chromium computes the level it writes, and every page sees the order
//    follow the gains.
// 3. Mute: Chromium publishes camera + microphone, another Chromium decodes them; setMuted stops
//    the packets (the node's subscriber counters stand still), the other page gets the events,
//    and after unmute it decodes a keyframe again: the time to its first decoded frame is
//    measured and printed.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import type { Publisher } from "../../media-node/src/index.ts";
import {
  BrowserHarness,
  browserUnavailable,
  pollUntil,
  sleep,
  type WeirPage,
} from "../helpers/browser.ts";
import { edgeToken } from "../helpers/edgePair.ts";
import { audioLevelExtId, MediaSource } from "../helpers/mediaSource.ts";
import { type EmbeddedSystem, startEmbedded } from "../helpers/nodeEdge.ts";
import { roomInbound, startRoomApp, untilDecoding } from "../helpers/system.ts";
import { weriftPublisher } from "../helpers/weriftPeer.ts";
import { WsClient } from "../helpers/wsClient.ts";

const SECRET = "weir-speakers-e2e-secret-0123456789abcdef";
const skip = browserUnavailable();
const opts = { skip: skip ?? false };
let sys: EmbeddedSystem | undefined;
let harness: BrowserHarness | undefined;
const closers: (() => unknown)[] = [];

before(async () => {
  if (skip) return;
  [sys, harness] = await Promise.all([
    startEmbedded(SECRET),
    // WebAudio runs without a user gesture
    BrowserHarness.launch({ args: ["--autoplay-policy=no-user-gesture-required"] }),
  ]);
});

after(async () => {
  for (const close of closers.reverse()) await close();
  await harness?.close();
  await sys?.close();
});

/**
 * The page side, plain JavaScript: a Room that logs `activespeakers` and mute events, and with a
 * gain publishes a 300 Hz WebAudio tone at that gain (0 = silence) as its microphone.
 */
const SPEAKER_APP = `
window.speakerApp = {
  log: [], mutes: [], errors: [],
  async connect(edgeUrl, token, gain) {
    const { Room } = await import("/weir-client.js");
    const room = new Room();
    this.room = room;
    room.on("activespeakers", (l) => this.log.push({
      at: Date.now(), ids: l.map((s) => s.identity), levels: l.map((s) => s.level),
    }));
    room.on("error", (e) => this.errors.push(String(e)));
    await room.connect(edgeUrl, token);
    if (gain === null) return;
    const ctx = new AudioContext();
    await ctx.resume();
    const osc = ctx.createOscillator();
    osc.frequency.value = 300;
    this.gain = ctx.createGain();
    this.gain.gain.value = gain;
    const dest = ctx.createMediaStreamDestination();
    osc.connect(this.gain);
    this.gain.connect(dest);
    osc.start();
    this.ctx = ctx;
    await room.publish(dest.stream.getAudioTracks()[0]);
  },
  setGain(g) { this.gain.gain.setValueAtTime(g, this.ctx.currentTime); },
  order() { return (this.log.at(-1) || { ids: [] }).ids; },
};
`;

async function speakerPage(name: string, room: string, gain: number | null): Promise<WeirPage> {
  const p = await harness!.newPage(name);
  await p.page.evaluate(SPEAKER_APP);
  const grants =
    gain === null ? ["subscribe" as const] : ["publish" as const, "subscribe" as const];
  const token = await edgeToken(SECRET, room, name, grants);
  await p.page.evaluate(
    `window.speakerApp.connect(${JSON.stringify(sys!.edge.url)}, "${token}", ${gain})`,
  );
  return p;
}

function app<T>(p: WeirPage, expr: string): Promise<T> {
  return p.page.evaluate(`window.speakerApp.${expr}`) as Promise<T>;
}

/** Waits until every page's last `activespeakers` is `order`; returns how long it took. */
async function untilOrder(pages: WeirPage[], order: string[], what: string): Promise<number> {
  const t0 = Date.now();
  let seen: string[][] = [];
  await pollUntil(
    async () => {
      seen = await Promise.all(pages.map((p) => app<string[]>(p, "order()")));
      return seen.every((o) => o.join() === order.join());
    },
    8000,
    () => `${what}: ${pages.map((p, i) => `${p.name} sees [${seen[i]}]`).join("; ")}`,
  );
  return Date.now() - t0;
}

/** A werift audio publisher through the edge's WebSocket, writing the audio level extension. */
async function leveledPublisher(room: string, identity: string): Promise<MediaSource> {
  const c = await WsClient.open(
    sys!.edge.url,
    room,
    await edgeToken(SECRET, room, identity, ["publish"]),
  );
  closers.push(() => c.close());
  const pub = await weriftPublisher(["audio"]);
  closers.push(() => pub.pc.close());
  const trackId = `${identity}-mic`;
  const offer = pub.offer.sdp.replace(/^(a=mid:\S+)$/m, `$1\r\na=msid:${identity} ${trackId}`);
  const reply = await c.call({ type: "publish", offer, trackIds: [trackId] });
  const answer = reply.answer as string;
  await pub.pc.setRemoteDescription({ type: "answer", sdp: answer });
  const source = new MediaSource(undefined, pub.tracks[0], {
    audioLevelExtId: audioLevelExtId(answer),
  });
  source.start();
  closers.push(() => source.stop());
  return source;
}

test(
  "werift speakers at chosen levels: a Chromium Room's activespeakers follow them",
  opts,
  async () => {
    const room = "speakers-werift";
    const dave = await speakerPage("dave", room, null);
    const [alice, bob, carol] = await Promise.all(
      ["alice", "bob", "carol"].map((id) => leveledPublisher(room, id)),
    );
    carol.audioLevel = 127; // the silent participant, publishing all along
    const took: number[] = [];
    alice.audioLevel = 10;
    bob.audioLevel = 25;
    took.push(await untilOrder([dave], ["alice", "bob"], "alice loudest"));
    alice.audioLevel = 25;
    bob.audioLevel = 10;
    took.push(await untilOrder([dave], ["bob", "alice"], "bob loudest"));
    alice.audioLevel = 127;
    took.push(await untilOrder([dave], ["bob"], "alice silent"));
    bob.audioLevel = 127;
    took.push(await untilOrder([dave], [], "nobody"));
    const log = await app<{ ids: string[]; levels: number[] }[]>(dave, "log");
    assert.deepEqual(
      log.map((e) => e.ids.join()),
      ["alice,bob", "bob,alice", "bob", ""],
      "one event per change, in this order",
    );
    const first = log[0].levels;
    assert.ok(Math.abs(first[0] - 10 ** (-10 / 20)) < 0.03, `alice at -10 dBov: ${first[0]}`);
    assert.ok(Math.abs(first[1] - 10 ** (-25 / 20)) < 0.03, `bob at -25 dBov: ${first[1]}`);
    console.log(`  Chromium saw each change ${took.join(", ")} ms after the levels changed`);
    assert.deepEqual(await app(dave, "errors"), []);
  },
);

test(
  "Chromium's own audio: tones at chosen gains order the speakers; silence never speaks",
  opts,
  async () => {
    const room = "speakers-chromium";
    const alice = await speakerPage("alice", room, 0.5);
    const bob = await speakerPage("bob", room, 0.1);
    const carol = await speakerPage("carol", room, 0);
    const pages = [alice, bob, carol];
    // Chromium offers the audio level extension; the node's answer takes it with the same id
    const sdps = await alice.page.evaluate(`(() => {
      const pc = window.speakerApp.room.publishTransport.peerConnection;
      return [pc.currentLocalDescription.sdp, pc.currentRemoteDescription.sdp];
    })()`);
    const [offered, answered] = (sdps as string[]).map(audioLevelExtId);
    assert.ok(offered > 0, "Chromium offers urn:ietf:params:rtp-hdrext:ssrc-audio-level");
    assert.equal(answered, offered, "the node's answer keeps Chromium's id");
    const took: number[] = [];
    took.push(await untilOrder(pages, ["alice", "bob"], "alice (0.5) over bob (0.1)"));
    const levels = (await app<{ levels: number[] }[]>(carol, "log")).at(-1)!.levels;
    console.log(`  levels Chromium sent, as the Room reports them: ${levels.join(", ")}`);
    // a 0.5 sine is -9 dBov RMS (0.35), a 0.1 sine -23 dBov (0.07)
    assert.ok(levels[0] > 0.2 && levels[0] < 0.5, `alice ${levels[0]}`);
    assert.ok(levels[1] > 0.03 && levels[1] < 0.15, `bob ${levels[1]}`);
    await app(alice, "setGain(0.1)");
    await app(bob, "setGain(0.5)");
    took.push(await untilOrder(pages, ["bob", "alice"], "gains swapped"));
    await app(alice, "setGain(0)");
    took.push(await untilOrder(pages, ["bob"], "alice silent"));
    console.log(`  every page saw each change within ${took.join(", ")} ms`);
    for (const p of pages) {
      const log = await app<{ ids: string[] }[]>(p, "log");
      assert.ok(!log.some((e) => e.ids.includes("carol")), `${p.name}: carol never speaks`);
      assert.deepEqual(await app(p, "errors"), []);
    }
    for (const p of pages) await p.close();
  },
);

type Mute = { type: "muted" | "unmuted"; publisherId: string; identity: string; at: number };

/** Adds a mute event log to a page running startRoomApp (`window.weirRoom`). */
async function logMutes(p: WeirPage): Promise<void> {
  await p.page.evaluate(`(() => {
    window.mutes = [];
    window.weirRoom.on("trackmuted", (e) => window.mutes.push({ type: "muted", ...e, at: Date.now() }));
    window.weirRoom.on("trackunmuted", (e) => window.mutes.push({ type: "unmuted", ...e, at: Date.now() }));
  })()`);
}

/** Runs `room.setMuted(<its published track of kind>, muted)` in a startRoomApp page. */
function setMuted(p: WeirPage, kind: "audio" | "video", muted: boolean): Promise<void> {
  return p.page.evaluate(
    `window.weirRoom.setMuted(window.weirLocal.find((t) => t.kind === "${kind}"), ${muted})`,
  ) as Promise<void>;
}

/** Video frames and keyframes decoded by the page's Room so far. */
function decoded(p: WeirPage): Promise<{ frames: number; keyframes: number }> {
  return p.page.evaluate(async () => {
    const pc = (
      window as unknown as {
        weirRoom: { subscribeTransport: { peerConnection: RTCPeerConnection } };
      }
    ).weirRoom.subscribeTransport.peerConnection;
    const out = { frames: 0, keyframes: 0 };
    (await pc.getStats()).forEach((s) => {
      if (s.type !== "inbound-rtp" || s.kind !== "video") return;
      out.frames += Number(s.framesDecoded ?? 0);
      out.keyframes += Number(s.keyFramesDecoded ?? 0);
    });
    return out;
  });
}

/** Resolves (in the page) with Date.now() when more than `frames` video frames are decoded. */
function nextFrameAt(p: WeirPage, frames: number): Promise<number> {
  return p.page.evaluate(`new Promise((resolve, reject) => {
    const pc = window.weirRoom.subscribeTransport.peerConnection;
    const give = setTimeout(() => { clearInterval(t); reject(new Error("no frame in 10 s")); }, 10000);
    const t = setInterval(async () => {
      let f = 0;
      (await pc.getStats()).forEach((s) => {
        if (s.type === "inbound-rtp" && s.kind === "video") f += s.framesDecoded || 0;
      });
      if (f <= ${frames}) return;
      clearInterval(t);
      clearTimeout(give);
      resolve(Date.now());
    }, 10);
  })`) as Promise<number>;
}

test(
  "mute stops the packets, the room sees it, unmute decodes a keyframe again",
  opts,
  async () => {
    const room = "mute-e2e";
    const alice = await harness!.newPage("mute-alice");
    const bob = await harness!.newPage("mute-bob");
    const url = sys!.edge.url;
    const grants = ["publish" as const, "subscribe" as const];
    await startRoomApp(bob.page, {
      edgeUrl: url,
      token: await edgeToken(SECRET, room, "bob", grants),
      publish: false,
    });
    await logMutes(bob);
    await startRoomApp(alice.page, {
      edgeUrl: url,
      token: await edgeToken(SECRET, room, "alice", grants),
      publish: true,
    });
    await logMutes(alice);
    await untilDecoding(bob.page, "bob decodes alice");
    const router = sys!.service.node.router(room)!;
    const track = (kind: string) => router.publishers.find((p) => p.kind === kind) as Publisher;
    const [video, audio] = [track("video"), track("audio")];
    const sent = (p: Publisher) => p.subscribers.reduce((n, s) => n + s.getStats().packetsSent, 0);
    const mutes = (p: WeirPage) => p.page.evaluate("window.mutes") as Promise<Mute[]>;
    const figures: string[] = [];

    for (let round = 1; round <= 2; round++) {
      // mute the camera: bob (and alice, the owner) hear of it, no video packet leaves the node
      const mutedAt = Date.now();
      await setMuted(alice, "video", true);
      const seen = await pollUntil(
        async () => (await mutes(bob)).find((m) => m.at >= mutedAt && m.type === "muted"),
        5000,
        () => "bob gets trackmuted",
      );
      assert.equal(seen.publisherId, video.id);
      assert.equal(seen.identity, "alice");
      assert.ok((await mutes(alice)).some((m) => m.at >= mutedAt && m.type === "muted"));
      const shown = await bob.page.evaluate(`window.weirRoom.participants
      .find((p) => p.identity === "alice").tracks.find((t) => t.kind === "video").muted`);
      assert.equal(shown, true, "bob's participants show the track muted");
      await sleep(300);
      const before = {
        sent: sent(video),
        audio: sent(audio),
        packets: await roomInbound(bob.page),
      };
      await sleep(1000);
      const inbound = await roomInbound(bob.page);
      assert.equal(sent(video), before.sent, "the node sends no video while it is muted");
      assert.equal(inbound.videoPackets, before.packets.videoPackets, "bob receives none");
      assert.ok(sent(audio) > before.audio + 30, "the microphone is still forwarded");
      assert.equal(video.getStats().muted, true);

      // unmute: bob decodes again, from a keyframe the node asked alice's Chromium for
      const k0 = await decoded(bob);
      const frameAt = nextFrameAt(bob, k0.frames);
      const unmutedAt = Date.now();
      await setMuted(alice, "video", false);
      const tookMs = (await frameAt) - unmutedAt;
      const k1 = await decoded(bob);
      assert.ok(
        k1.keyframes > k0.keyframes,
        `a keyframe decoded (${k0.keyframes} -> ${k1.keyframes})`,
      );
      figures.push(`${tookMs} ms`);
      assert.ok(tookMs < 3000, `first decoded frame ${tookMs} ms after unmute`);
      await pollUntil(
        async () => (await mutes(bob)).some((m) => m.at >= unmutedAt && m.type === "unmuted"),
        5000,
        () => "bob gets trackunmuted",
      );
      await sleep(500);
    }
    console.log(
      `  first decoded video frame after unmute: ${figures.join(", ")} (Chromium, 640x480)`,
    );

    // the microphone: muted, its packets stop too; unmuted, they flow again
    const mutedAt = Date.now();
    await setMuted(alice, "audio", true);
    await pollUntil(
      async () =>
        (await mutes(bob)).some(
          (m) => m.at >= mutedAt && m.type === "muted" && m.publisherId === audio.id,
        ),
      5000,
      () => "bob gets trackmuted for the microphone",
    );
    await sleep(300);
    const a0 = sent(audio);
    await sleep(700);
    assert.equal(sent(audio), a0, "no audio forwarded while muted");
    await setMuted(alice, "audio", false);
    await pollUntil(
      async () => sent(audio) > a0 + 10,
      5000,
      () => "audio again after unmute",
    );
    for (const p of [alice, bob]) await p.close();
  },
);
