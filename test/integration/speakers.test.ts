// Active speakers and track mute in a room that spans two media nodes (two NodeServices on one
// bus, each with its relay port), over the WebSocket protocol's node commands. werift publishers
// write the RFC 6464 audio level extension with levels the test chooses: alice on node A; bob
// (speaker) and carol (silent) on node B; dave (subscriber) on B sees alice through a relay.
// - `speakers` pushes on both nodes follow who makes sound, loudest first, only on a change;
//   the silent participant never appears; a late joiner's welcome lists the speakers.
// - mute: everyone (the owner too) gets track.muted; the relay stops carrying the track (node
//   stats and dave's packets); a muted speaker leaves the list; unmute resumes with a keyframe
//   the node asked for (the source sends keyframes only on PLI here).
import assert from "node:assert/strict";
import { after, test } from "node:test";
import { NodeService } from "../../media-node/service/NodeService.ts";
import { RelayServer } from "../../media-node/src/relay/RelayServer.ts";
import { vp8IsKeyframe } from "../../media-node/src/rtp/codecs/vp8.ts";
import { MemoryBus, MemoryRegistry } from "../../shared/bus/memoryBus.ts";
import { callNode } from "../../shared/nodeClient.ts";
import type { NodeCommand, NodeOp } from "../../shared/rpc.ts";
import { subjects } from "../../shared/subjects.ts";
import type { Grant } from "../../shared/token.ts";
import type { ServerMessage } from "../../shared/ws.ts";
import { audioLevelExtId, MediaSource } from "../helpers/mediaSource.ts";
import { until, WeriftSubscriber, weriftPublisher } from "../helpers/weriftPeer.ts";

const closers: (() => unknown)[] = [];
after(async () => {
  for (const close of closers.reverse()) await close();
});

const ROOM = "talk";
const bus = new MemoryBus();
const registry = new MemoryRegistry();

async function node(nodeId: string) {
  const relay = new RelayServer({ port: 0, listenIp: "127.0.0.1" });
  await relay.listen();
  const service = new NodeService({
    nodeId,
    bus,
    registry,
    transport: { listenIps: ["127.0.0.1"] },
    relay,
  });
  await service.start();
  closers.push(
    () => relay.close(),
    () => service.stop(),
  );
  return { service, relay };
}

const a = await node("node-a");
const b = await node("node-b");

const call = <Op extends NodeOp>(nodeId: string, command: Extract<NodeCommand, { op: Op }>) =>
  callNode(bus, nodeId, command);

type Speakers = Extract<ServerMessage, { type: "speakers" }>;

/** A WebSocket session on one node, its pushed messages kept with arrival times. */
async function join(nodeId: string, identity: string, grants: Grant[]) {
  const opened = await call(nodeId, { op: "ws.open", room: ROOM, identity, grants });
  const pushed: { at: number; m: ServerMessage }[] = [];
  const sub = bus.subscribe(subjects.sessionEvents(opened.sessionId), (d) =>
    pushed.push({ at: Date.now(), m: JSON.parse(d) as ServerMessage }),
  );
  closers.push(() => sub.unsubscribe());
  let n = 0;
  const session = {
    nodeId,
    identity,
    sessionId: opened.sessionId,
    welcome: opened.welcome as Extract<ServerMessage, { type: "welcome" }>,
    pushed,
    send: async (message: Record<string, unknown>) => {
      const r = await call(nodeId, {
        op: "ws.message",
        sessionId: opened.sessionId,
        message: { id: `${identity}-${++n}`, ...message } as never,
      });
      if (!r.reply) throw new Error(`no reply to ${message.type}`);
      return r.reply;
    },
    speakers: () => pushed.filter((p) => p.m.type === "speakers").map((p) => p.m as Speakers),
    /** The identities of the last `speakers` push. */
    order: () =>
      session
        .speakers()
        .at(-1)
        ?.speakers.map((s) => s.identity) ?? [],
  };
  return session;
}
type Session = Awaited<ReturnType<typeof join>>;

/** A werift publisher on `s` with synthetic media writing the audio level extension. */
async function publish(s: Session, kinds: ("audio" | "video")[]) {
  const pub = await weriftPublisher(kinds);
  closers.push(() => pub.pc.close());
  const trackIds: string[] = [];
  const sdp = pub.offer.sdp.replace(/^a=mid:(\S+)$/gm, (line, mid: string) => {
    const id = `${s.identity}-${mid}`;
    trackIds.push(id);
    return `${line}\r\na=msid:${s.identity} ${id}`;
  });
  const reply = await s.send({ type: "publish", offer: sdp, trackIds });
  if (reply.type !== "published") assert.fail(JSON.stringify(reply));
  // the node answers the extension with the offer's id (werift numbers its own 1, 2, ...)
  const levelId = audioLevelExtId(reply.answer);
  assert.equal(levelId, audioLevelExtId(sdp), "the answer keeps the offered audio level id");
  assert.ok(levelId > 0, "the node negotiates the audio level extension");
  await pub.pc.setRemoteDescription({ type: "answer", sdp: reply.answer });
  const audio = pub.tracks[kinds.indexOf("audio")];
  const videoAt = kinds.indexOf("video");
  const source = new MediaSource(pub.tracks[videoAt], audio, {
    audioLevelExtId: levelId,
    keyframeIntervalMs: 600_000, // keyframes only when the node asks (PLI)
  });
  if (videoAt >= 0) {
    pub.pc.getTransceivers()[videoAt].sender.onRtcp.subscribe((rtcp) => {
      if (rtcp.type === 206) source.keyframe();
    });
  }
  source.start();
  closers.push(() => source.stop());
  const id = (kind: string) => reply.tracks.find((t) => t.kind === kind)?.publisherId ?? "";
  return { source, audioId: id("audio"), videoId: id("video") };
}

const alice = await join("node-a", "alice", ["publish", "subscribe"]);
const bob = await join("node-b", "bob", ["publish", "subscribe"]);
const carol = await join("node-b", "carol", ["publish"]);
const dave = await join("node-b", "dave", ["subscribe"]);
const aliceMedia = await publish(alice, ["audio", "video"]);
const bobMedia = await publish(bob, ["audio"]);
const carolMedia = await publish(carol, ["audio"]); // level 127 throughout: silent

async function untilOrder(who: Session[], order: string[], what: string): Promise<number> {
  const t0 = Date.now();
  await until(
    () => who.every((s) => s.order().join() === order.join()),
    5000,
    `${what}: ${who.map((s) => `${s.identity} sees [${s.order()}]`).join("; ")}`,
  );
  return Date.now() - t0;
}

test("speakers across two nodes follow who makes sound, loudest first, pushed only on change", async () => {
  const took: number[] = [];
  aliceMedia.source.audioLevel = 10; // -10 dBov
  bobMedia.source.audioLevel = 25;
  took.push(await untilOrder([alice, dave, carol], ["alice", "bob"], "alice louder"));
  const pair = dave.speakers().at(-1)!.speakers;
  assert.ok(pair[0].level > pair[1].level, JSON.stringify(pair));
  assert.ok(Math.abs(pair[0].level - 10 ** (-10 / 20)) < 0.02, `alice's level ${pair[0].level}`);

  // a late joiner hears who is speaking in its welcome
  const erin = await join("node-a", "erin", ["subscribe"]);
  assert.deepEqual(
    erin.welcome.speakers?.map((s) => s.identity),
    ["alice", "bob"],
  );

  aliceMedia.source.audioLevel = 25;
  bobMedia.source.audioLevel = 10;
  took.push(await untilOrder([alice, dave, erin], ["bob", "alice"], "bob louder"));
  aliceMedia.source.audioLevel = 127;
  took.push(await untilOrder([alice, dave, erin], ["bob"], "alice silent"));
  bobMedia.source.audioLevel = 127;
  took.push(await untilOrder([alice, dave, erin], [], "nobody"));
  console.log(`  speaker changes seen on both nodes after ${took.join(", ")} ms`);

  for (const s of [alice, bob, carol, dave]) {
    const lists = s.speakers().map((m) => m.speakers.map((x) => x.identity).join());
    assert.ok(!lists.some((l) => l.includes("carol")), `carol never speaks (${s.identity})`);
    for (let i = 1; i < lists.length; i++)
      assert.notEqual(lists[i], lists[i - 1], `${s.identity}: pushed only on a change`);
  }
  // the SDK view on node A: bob's track is not there (no relay), alice's is metered
  const routerA = a.service.node.router(ROOM)!;
  assert.deepEqual(routerA.activeSpeakers, []);
  assert.equal(routerA.getPublisher(aliceMedia.audioId)?.getStats().speaking, false);
  assert.equal(carolMedia.audioId.length > 0, true);
});

test("mute across nodes: everyone sees it, the relay stops, unmute resumes on a keyframe", async () => {
  // dave on B subscribes to alice's video and audio on A: two relays
  const client = new WeriftSubscriber();
  closers.push(() => client.pc.close());
  for (const id of [aliceMedia.videoId, aliceMedia.audioId]) {
    const r = await dave.send({ type: "subscribe", publisherId: id });
    if (r.type !== "subscribed") assert.fail(JSON.stringify(r));
    const answer = await client.answer({ type: "offer", sdp: r.offer });
    await dave.send({ type: "answer", answer: answer.sdp });
  }
  const got = (id: string) => client.counts.get(id) ?? 0;
  await until(
    () => got(aliceMedia.videoId) > 60 && got(aliceMedia.audioId) > 30,
    10_000,
    "dave gets alice's media over the relay",
  );

  // wrong caller: another participant's track, or no publish grant
  const notOwn = await bob.send({ type: "mute", publisherId: aliceMedia.videoId, muted: true });
  assert.equal(notOwn.type === "error" && notOwn.error.code, "not_found");
  const noGrant = await dave.send({ type: "mute", publisherId: aliceMedia.videoId, muted: true });
  assert.equal(noGrant.type === "error" && noGrant.error.code, "forbidden");

  const mutedAt = Date.now();
  assert.equal(
    (await alice.send({ type: "mute", publisherId: aliceMedia.videoId, muted: true })).type,
    "ok",
  );
  const sawMute = (s: Session, type: string) =>
    s.pushed.some(
      (p) =>
        p.at >= mutedAt &&
        p.m.type === type &&
        "publisherId" in p.m &&
        p.m.publisherId === aliceMedia.videoId &&
        "identity" in p.m &&
        p.m.identity === "alice",
    );
  await until(
    () => [alice, bob, dave].every((s) => sawMute(s, "track.muted")),
    3000,
    "alice (the owner), bob and dave (node B) get track.muted",
  );
  // the welcome of someone joining now shows the track muted
  const fred = await join("node-b", "fred", ["subscribe"]);
  const shown = fred.welcome.participants
    .find((p) => p.identity === "alice")
    ?.tracks.find((t) => t.publisherId === aliceMedia.videoId);
  assert.equal(shown?.muted, true, JSON.stringify(fred.welcome.participants));

  // no packets leave: the relay subscriber on A and dave's count stand still for 1 s
  await new Promise((r) => setTimeout(r, 300));
  const videoStats = () => a.service.node.router(ROOM)!.getPublisher(aliceMedia.videoId)!;
  const relaySent = () =>
    a.relay.relays
      .filter((r) => r.role === "origin" && r.publisherId === aliceMedia.videoId)
      .reduce((n, r) => n + r.getStats().rtpPacketsOut, 0);
  // node B's copy of alice's video (the relay's end)
  const relayedIn = () =>
    b.service.node.router(ROOM)!.getPublisher(aliceMedia.videoId)!.getStats().packetsReceived;
  const before = {
    dave: got(aliceMedia.videoId),
    received: videoStats().getStats().packetsReceived,
    muted: videoStats().getStats().muted,
    relay: relaySent(),
    audio: got(aliceMedia.audioId),
    relayed: relayedIn(),
  };
  await new Promise((r) => setTimeout(r, 1000));
  assert.equal(got(aliceMedia.videoId), before.dave, "dave gets no video while it is muted");
  assert.equal(relaySent(), before.relay, "the relay carries none of it");
  assert.equal(relayedIn(), before.relayed, "node B's relayed copy receives none");
  assert.ok(
    videoStats().getStats().packetsReceived > before.received + 20,
    "node A still receives it",
  );
  assert.equal(before.muted, true);
  assert.ok(before.relay > 60, "the relay had carried the video before");
  assert.ok(got(aliceMedia.audioId) > before.audio + 30, "the unmuted audio flows on");

  // a muted audio track is no speaker, however loud
  assert.equal(
    (await alice.send({ type: "mute", publisherId: aliceMedia.audioId, muted: true })).type,
    "ok",
  );
  aliceMedia.source.audioLevel = 5;
  bobMedia.source.audioLevel = 20;
  await untilOrder([dave, alice], ["bob"], "bob speaks, muted alice does not");
  await new Promise((r) => setTimeout(r, 800));
  assert.deepEqual(dave.order(), ["bob"]);
  await alice.send({ type: "mute", publisherId: aliceMedia.audioId, muted: false });
  await untilOrder([dave, alice], ["alice", "bob"], "alice unmuted and loudest");
  aliceMedia.source.audioLevel = 127;
  bobMedia.source.audioLevel = 127;

  // unmute: the first video packet dave gets is a keyframe, asked for by the node
  const k = client.received.get(aliceMedia.videoId)?.length ?? 0;
  const unmutedAt = Date.now();
  await alice.send({ type: "mute", publisherId: aliceMedia.videoId, muted: false });
  await until(() => got(aliceMedia.videoId) > before.dave, 5000, "video again after unmute");
  const tookMs = Date.now() - unmutedAt;
  const first = client.received.get(aliceMedia.videoId)![k];
  assert.ok(vp8IsKeyframe(first.payload, 0, first.payload.length), "resumes on a keyframe");
  await until(() => [bob, dave].every((s) => sawMute(s, "track.unmuted")), 3000, "unmuted");
  console.log(`  first video packet at dave (node B, through the relay) ${tookMs} ms after unmute`);
  assert.ok(tookMs < 2000, `${tookMs} ms`);
});
