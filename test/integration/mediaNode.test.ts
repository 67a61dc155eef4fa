// The media node service behind the node command protocol: real werift peers, commands sent with
// callNode over the in-process MemoryBus (and once over a real nats-server).
import assert from "node:assert/strict";
import { after, describe, test } from "node:test";
import type { RTCPeerConnection } from "werift";
import { NodeService } from "../../media-node/service/NodeService.ts";
import { connectNatsBus } from "../../shared/bus/adapter/node/nats.ts";
import type { Bus, NodeRegistry } from "../../shared/bus/bus.ts";
import { MemoryBus, MemoryRegistry } from "../../shared/bus/memoryBus.ts";
import { WeirApiError } from "../../shared/errors.ts";
import { callNode } from "../../shared/nodeClient.ts";
import type { NodeCommand, NodeOp } from "../../shared/rpc.ts";
import { subjects } from "../../shared/subjects.ts";
import type { ServerMessage } from "../../shared/ws.ts";
import { MediaSource } from "../helpers/mediaSource.ts";
import { startNatsServer } from "../helpers/natsServer.ts";
import {
  until,
  WeriftSubscriber,
  waitGathered,
  weriftPublisher,
  weriftViewer,
} from "../helpers/weriftPeer.ts";

const closers: (() => unknown)[] = [];
after(async () => {
  for (const close of closers.reverse()) await close();
});

const TRANSPORT = { listenIps: ["127.0.0.1"] };

function nodeOn(bus: Bus, registry: NodeRegistry, nodeId: string, extra = {}) {
  const service = new NodeService({
    nodeId,
    bus,
    registry,
    transport: TRANSPORT,
    heartbeatMs: 100,
    ...extra,
  });
  closers.push(() => service.stop());
  return service;
}

const bus = new MemoryBus();
const registry = new MemoryRegistry();
const service = nodeOn(bus, registry, "node-a");
await service.start();

const call = <Op extends NodeOp>(
  command: Extract<NodeCommand, { op: Op }>,
  b: Bus = bus,
  nodeId = "node-a",
) => callNode(b, nodeId, command);

async function codeOf(p: Promise<unknown>): Promise<string> {
  return p.then(
    () => "no error",
    (e: unknown) => (e instanceof WeirApiError ? e.code : `untyped: ${String(e)}`),
  );
}

/** A werift publisher sending synthetic audio+video into a WHIP session. */
async function whipPublisher(room: string, identity: string, b: Bus = bus, nodeId = "node-a") {
  const pub = await weriftPublisher(["audio", "video"]);
  const created = await call({ op: "whip.create", room, identity, sdp: pub.offer.sdp }, b, nodeId);
  await pub.pc.setRemoteDescription({ type: "answer", sdp: created.sdp });
  const source = new MediaSource(pub.tracks[1], pub.tracks[0]);
  pub.pc.getTransceivers()[1].sender.onRtcp.subscribe((rtcp) => {
    if (rtcp.type === 206) source.keyframe();
  });
  source.start();
  closers.push(
    () => source.stop(),
    () => pub.pc.close(),
  );
  return { ...created, pub, source };
}

/** A WHEP-style werift client (recvonly audio + video), closed after the tests. */
async function whepClient() {
  const viewer = await weriftViewer();
  closers.push(() => viewer.pc.close());
  return { ...viewer, offer: viewer.offer.sdp };
}

function publisherStats(room: string, s: NodeService = service) {
  return s.node.router(room)?.getStats().publishers ?? [];
}

function iceOf(sdp: string) {
  return {
    ufrag: /^a=ice-ufrag:(\S+)/m.exec(sdp)![1],
    pwd: /^a=ice-pwd:(\S+)/m.exec(sdp)![1],
  };
}

/** Collects what the node pushes to one WebSocket session. */
function sessionEvents(sessionId: string, b: Bus = bus) {
  const events: ServerMessage[] = [];
  const sub = b.subscribe(subjects.sessionEvents(sessionId), (data) => {
    events.push(JSON.parse(data));
  });
  closers.push(() => sub.unsubscribe());
  return events;
}

/** werift offers carry no a=msid; a browser's do. Adds one per m-line (`ids`, or new ones). */
function withMsid(sdp: string, ids?: string[]): { sdp: string; trackIds: string[] } {
  const trackIds: string[] = [];
  const out = sdp.replace(/^a=mid:(\S+)$/gm, (line, mid: string) => {
    const id = ids?.[trackIds.length] ?? `track-${mid}-${Math.random().toString(36).slice(2, 8)}`;
    trackIds.push(id);
    return `${line}\r\na=msid:stream ${id}`;
  });
  return { sdp: out, trackIds };
}

describe("WHIP and WHEP", () => {
  test("whip.create answers, publishes every offered track, media reaches the publishers", async () => {
    const { sessionId, sdp, etag } = await whipPublisher("whip-room", "alice");
    assert.match(sessionId, /^[A-Za-z0-9_-]{1,64}$/);
    assert.match(sdp, /^a=candidate:\S+ 1 udp \d+ 127\.0\.0\.1 /m);
    assert.match(etag, /^"[A-Za-z0-9_-]+"$/);
    await until(
      () => publisherStats("whip-room").every((p) => p.packetsReceived >= 30),
      10_000,
      "media on both publishers",
    );
    const info = await call({ op: "room.get", room: "whip-room" });
    assert.equal(info.room, "whip-room");
    assert.deepEqual(
      info.participants.map((p) => [p.identity, p.tracks.map((t) => t.kind).sort()]),
      [["alice", ["audio", "video"]]],
    );
    assert.deepEqual(await call({ op: "room.get", room: "nobody-here" }), {
      room: "nobody-here",
      participants: [],
    });
  });

  test("whep.create: a recvonly werift client receives the room's audio and video", async () => {
    await whipPublisher("whep-room", "alice");
    const client = await whepClient();
    const created = await call({
      op: "whep.create",
      room: "whep-room",
      identity: "viewer",
      sdp: client.offer,
      participant: "alice",
    });
    await client.pc.setRemoteDescription({ type: "answer", sdp: created.sdp });
    await until(
      () => client.counts.video >= 60 && client.counts.audio >= 20,
      10_000,
      "WHEP client receives media",
    );
    // Someone who publishes nothing, and a room with no one, are not_found.
    const other = await whepClient();
    for (const cmd of [
      { room: "whep-room", participant: "viewer" },
      { room: "empty-room", participant: undefined },
    ]) {
      const r = call({ op: "whep.create", identity: "v2", sdp: other.offer, ...cmd });
      assert.equal(await codeOf(r), "not_found");
    }
    // A caller whose token is for another room cannot touch the session.
    const foreign = { sessionId: created.sessionId, identity: "viewer", room: "someone-else" };
    assert.equal(await codeOf(call({ op: "session.delete", ...foreign })), "session_not_found");
    assert.equal(
      await codeOf(call({ op: "session.patch", sdpfrag: "", ...foreign })),
      "session_not_found",
    );
    // Another identity of the room cannot either; an admin (or the owner) can.
    const mine = { sessionId: created.sessionId, identity: "viewer" };
    const mallory = { ...mine, identity: "mallory", room: "whep-room" };
    assert.equal(await codeOf(call({ op: "session.delete", ...mallory })), "forbidden");
    assert.equal(await codeOf(call({ op: "session.patch", sdpfrag: "", ...mallory })), "forbidden");
    await call({ op: "session.delete", ...mallory, admin: true });
    assert.equal(await codeOf(call({ op: "session.delete", ...mine })), "session_not_found");
  });

  test("session.patch: trickle keeps the ETag; an ICE restart answers a fragment and a new ETag", async () => {
    await whipPublisher("patch-room", "alice");
    const client = await whepClient();
    const created = await call({
      op: "whep.create",
      room: "patch-room",
      identity: "viewer",
      sdp: client.offer,
    });
    await client.pc.setRemoteDescription({ type: "answer", sdp: created.sdp });
    await until(() => client.counts.video >= 30, 10_000, "media before the restart");
    const clientIce = iceOf(client.offer);
    const mid = /^a=mid:(\S+)/m.exec(client.offer)![1];

    // Trickle: same ufrag, a candidate and end-of-candidates.
    const trickle = await call({
      op: "session.patch",
      sessionId: created.sessionId,
      identity: "viewer",
      sdpfrag: `a=ice-ufrag:${clientIce.ufrag}\r\na=ice-pwd:${clientIce.pwd}\r\nm=audio 9 UDP/TLS/RTP/SAVPF 0\r\na=mid:${mid}\r\na=candidate:9 1 udp 2130706431 127.0.0.1 9 typ host\r\na=end-of-candidates\r\n`,
      ifMatch: created.etag,
    });
    assert.deepEqual(trickle, { etag: created.etag });

    // A stale If-Match, and a garbage fragment, are typed errors.
    const stale = call({
      op: "session.patch",
      sessionId: created.sessionId,
      identity: "viewer",
      sdpfrag: "a=end-of-candidates",
      ifMatch: '"stale"',
    });
    assert.equal(await codeOf(stale), "precondition_failed");
    const garbage = call({
      op: "session.patch",
      sessionId: created.sessionId,
      identity: "viewer",
      sdpfrag: "hello",
    });
    assert.equal(await codeOf(garbage), "bad_request");

    // ICE restart: the client's new credentials in, the node's new ones out.
    client.pc.restartIce();
    await client.pc.setLocalDescription(await client.pc.createOffer());
    await waitGathered(client.pc);
    const next = iceOf(client.pc.localDescription!.sdp);
    const restart = await call({
      op: "session.patch",
      sessionId: created.sessionId,
      identity: "viewer",
      sdpfrag: `a=ice-ufrag:${next.ufrag}\r\na=ice-pwd:${next.pwd}\r\n`,
      ifMatch: "*",
    });
    assert.notEqual(restart.etag, created.etag);
    const frag = restart.sdpfrag ?? "";
    const node = iceOf(frag);
    assert.notEqual(node.ufrag, iceOf(created.sdp).ufrag);
    assert.match(frag, /^a=candidate:\S+ 1 udp \d+ 127\.0\.0\.1 \d+ typ host/m);
    assert.match(frag, /^a=end-of-candidates/m);
    await restartClient(client.pc, created.sdp, frag);
    const before = client.counts.video;
    await until(() => client.counts.video >= before + 60, 10_000, "media after the ICE restart");
  });
});

/** What a WHEP client does with the restart fragment: its last answer with the new ICE values. */
async function restartClient(pc: RTCPeerConnection, answer: string, frag: string) {
  const node = iceOf(frag);
  const candidates = frag.match(/^a=candidate:.*$/gm) ?? [];
  const out: string[] = [];
  for (const line of answer.split("\r\n")) {
    if (line.startsWith("a=candidate:")) continue;
    if (line.startsWith("a=ice-ufrag:")) out.push(`a=ice-ufrag:${node.ufrag}`);
    else if (line.startsWith("a=ice-pwd:")) out.push(`a=ice-pwd:${node.pwd}`, ...candidates);
    else out.push(line);
  }
  await pc.setRemoteDescription({ type: "answer", sdp: out.join("\r\n") });
  // werift's connect() skips ICE while DTLS is up: start the client's ICE agent by hand.
  for (const t of pc.iceTransports) if (!t.connection.nominated) void t.start().catch(() => {});
}

describe("WebSocket sessions", () => {
  test("publish and subscribe between two sessions; room events reach the other participant", async () => {
    const room = "ws-room";
    const grants = ["publish", "subscribe"] as ("publish" | "subscribe")[];
    const a = await call({ op: "ws.open", room, identity: "alice", grants });
    const aEvents = sessionEvents(a.sessionId);
    assert.equal(a.welcome.type, "welcome");
    const b = await call({ op: "ws.open", room, identity: "bob", grants });
    const bEvents = sessionEvents(b.sessionId);
    if (b.welcome.type !== "welcome") assert.fail("welcome");
    assert.deepEqual(
      b.welcome.participants.map((p) => p.identity),
      ["alice", "bob"],
    );
    await until(
      () => aEvents.some((e) => e.type === "participant.joined" && e.identity === "bob"),
      2000,
      "alice hears bob join",
    );

    // Alice publishes audio+video.
    const pub = await weriftPublisher(["audio", "video"]);
    closers.push(() => pub.pc.close());
    const { sdp: offer, trackIds } = withMsid(pub.offer.sdp);
    assert.equal(trackIds.length, 2);
    const published = await call({
      op: "ws.message",
      sessionId: a.sessionId,
      message: { type: "publish", id: "p1", offer, trackIds },
    });
    if (published.reply?.type !== "published") assert.fail(JSON.stringify(published.reply));
    assert.equal(published.reply.id, "p1");
    assert.deepEqual(published.reply.tracks.map((t) => t.trackId).sort(), [...trackIds].sort());
    await pub.pc.setRemoteDescription({ type: "answer", sdp: published.reply.answer });
    const source = new MediaSource(pub.tracks[1], pub.tracks[0]);
    pub.pc.getTransceivers()[1].sender.onRtcp.subscribe((rtcp) => {
      if (rtcp.type === 206) source.keyframe();
    });
    source.start();
    closers.push(() => source.stop());
    await until(
      () => bEvents.filter((e) => e.type === "track.published").length === 2,
      2000,
      "bob hears both tracks published",
    );
    assert.ok(!aEvents.some((e) => e.type === "track.published"), "alice hears not her own");

    // Bob subscribes to both, answering each offer.
    const sub = new WeriftSubscriber();
    closers.push(() => sub.pc.close());
    const video = published.reply.tracks.find((t) => t.kind === "video")!;
    for (const [i, t] of published.reply.tracks.entries()) {
      const r = await call({
        op: "ws.message",
        sessionId: b.sessionId,
        message: { type: "subscribe", id: `s${i}`, publisherId: t.publisherId },
      });
      if (r.reply?.type !== "subscribed") assert.fail(JSON.stringify(r.reply));
      const answer = await sub.answer({ type: "offer", sdp: r.reply.offer });
      const ok = await call({
        op: "ws.message",
        sessionId: b.sessionId,
        message: { type: "answer", id: `a${i}`, answer: answer.sdp },
      });
      assert.deepEqual(ok.reply, { type: "ok", id: `a${i}` });
    }
    await until(() => (sub.counts.get(video.publisherId) ?? 0) >= 60, 10_000, "bob gets video");

    const pong = await call({
      op: "ws.message",
      sessionId: b.sessionId,
      message: { type: "ping", id: "x" },
    });
    assert.deepEqual(pong.reply, { type: "pong", id: "x" });
    // Subscribing without the grant is forbidden; an unknown publisher is not_found.
    const viewer = await call({ op: "ws.open", room, identity: "carol", grants: [] });
    const denied = await call({
      op: "ws.message",
      sessionId: viewer.sessionId,
      message: { type: "subscribe", id: "d", publisherId: video.publisherId },
    });
    assert.equal(denied.reply?.type === "error" && denied.reply.error.code, "forbidden");
    const missing = await call({
      op: "ws.message",
      sessionId: b.sessionId,
      message: { type: "subscribe", id: "m", publisherId: "nobody" },
    });
    assert.deepEqual(
      missing.reply?.type === "error" && [missing.reply.id, missing.reply.error.code],
      ["m", "not_found"],
    );
    await call({ op: "ws.close", sessionId: viewer.sessionId });

    // Alice leaves: bob hears her tracks go, then her, and gets a renegotiation offer.
    await call({ op: "ws.close", sessionId: a.sessionId });
    await until(
      () => bEvents.some((e) => e.type === "participant.left" && e.identity === "alice"),
      2000,
      "bob hears alice leave",
    );
    const kinds = bEvents.map((e) => e.type);
    assert.equal(kinds.filter((k) => k === "track.unpublished").length, 2);
    const aliceLeft = bEvents.findIndex(
      (e) => e.type === "participant.left" && e.identity === "alice",
    );
    assert.ok(kinds.lastIndexOf("track.unpublished") < aliceLeft, kinds.join());
    await until(() => bEvents.some((e) => e.type === "offer"), 5000, "renegotiation offer");
    const info = await call({ op: "room.get", room });
    assert.deepEqual(
      info.participants.map((p) => p.identity),
      ["bob"],
    );
    await call({ op: "ws.close", sessionId: b.sessionId });
    assert.equal(service.node.router(room), undefined, "the room's router closed with it");
  });

  test("unsubscribe renegotiates the subscriber; unpublish answers and tells the room", async () => {
    const room = "ws-unpub";
    const a = await call({ op: "ws.open", room, identity: "alice", grants: ["publish"] });
    const b = await call({ op: "ws.open", room, identity: "bob", grants: ["subscribe"] });
    const bEvents = sessionEvents(b.sessionId);
    const pub = await weriftPublisher(["audio", "video"]);
    closers.push(() => pub.pc.close());
    const { sdp: offer, trackIds } = withMsid(pub.offer.sdp);
    // Candidates trickled ahead of the publish offer are kept, not refused.
    const early = /^a=(candidate:.*)$/m.exec(offer)![1];
    for (const target of ["publish", "subscribe"] as const) {
      const r = await call({
        op: "ws.message",
        sessionId: a.sessionId,
        message: { type: "ice", target, candidate: { candidate: early, sdpMid: "0" } },
      });
      assert.equal(r.reply, undefined);
    }
    const published = await call({
      op: "ws.message",
      sessionId: a.sessionId,
      message: { type: "publish", id: "p", offer, trackIds },
    });
    if (published.reply?.type !== "published") assert.fail(JSON.stringify(published.reply));
    await pub.pc.setRemoteDescription({ type: "answer", sdp: published.reply.answer });
    const audio = published.reply.tracks.find((t) => t.kind === "audio")!;

    const sub = new WeriftSubscriber();
    closers.push(() => sub.pc.close());
    const subscribed = await call({
      op: "ws.message",
      sessionId: b.sessionId,
      message: { type: "subscribe", id: "s", publisherId: audio.publisherId },
    });
    if (subscribed.reply?.type !== "subscribed") assert.fail(JSON.stringify(subscribed.reply));
    const answer = async (sdp: string, id: string) => {
      const ans = await sub.answer({ type: "offer", sdp });
      return call({
        op: "ws.message",
        sessionId: b.sessionId,
        message: { type: "answer", id, answer: ans.sdp },
      });
    };
    await answer(subscribed.reply.offer, "a1");
    const unsubscribed = await call({
      op: "ws.message",
      sessionId: b.sessionId,
      message: { type: "unsubscribe", id: "u", subscriberId: subscribed.reply.subscriberId },
    });
    if (unsubscribed.reply?.type !== "unsubscribed")
      assert.fail(JSON.stringify(unsubscribed.reply));
    assert.match(unsubscribed.reply.offer, /^a=inactive/m);
    assert.deepEqual((await answer(unsubscribed.reply.offer, "a2")).reply, {
      type: "ok",
      id: "a2",
    });
    await new Promise((r) => setTimeout(r, 50));
    assert.ok(
      !bEvents.some((e) => e.type === "offer"),
      "no extra offer for an explicit unsubscribe",
    );

    // Alice stops sending audio: a renegotiation offer plus unpublish.
    pub.pc.removeTrack(pub.pc.getTransceivers()[0].sender);
    await pub.pc.setLocalDescription(await pub.pc.createOffer());
    const reoffer = withMsid(pub.pc.localDescription!.sdp, trackIds).sdp;
    const unpublished = await call({
      op: "ws.message",
      sessionId: a.sessionId,
      message: { type: "unpublish", id: "x", offer: reoffer, trackId: audio.trackId },
    });
    if (unpublished.reply?.type !== "answer") assert.fail(JSON.stringify(unpublished.reply));
    assert.equal(unpublished.reply.id, "x");
    await until(
      () =>
        bEvents.some((e) => e.type === "track.unpublished" && e.publisherId === audio.publisherId),
      2000,
      "bob hears the audio unpublished",
    );
    const info = await call({ op: "room.get", room });
    assert.deepEqual(
      info.participants.find((p) => p.identity === "alice")?.tracks.map((t) => t.kind),
      ["video"],
    );
    await call({ op: "ws.close", sessionId: a.sessionId });
    await call({ op: "ws.close", sessionId: b.sessionId });
  });

  test("room events cross nodes over the bus", async () => {
    const other = nodeOn(bus, registry, "node-b");
    await other.start();
    const room = "spanning";
    const a = await call({ op: "ws.open", room, identity: "alice", grants: ["publish"] });
    const b = await call(
      { op: "ws.open", room, identity: "bob", grants: ["subscribe"] },
      bus,
      "node-b",
    );
    const bEvents = sessionEvents(b.sessionId);
    await whipPublisher(room, "dave");
    await until(
      () =>
        bEvents.some((e) => e.type === "participant.joined" && e.identity === "dave") &&
        bEvents.filter((e) => e.type === "track.published").length === 2,
      2000,
      "node-b's session hears node-a's events",
    );
    assert.ok(!bEvents.some((e) => e.type === "participant.joined" && e.identity === "bob"));
    await call({ op: "ws.close", sessionId: a.sessionId });
    await call({ op: "ws.close", sessionId: b.sessionId }, bus, "node-b");
    await other.stop();
  });
});

describe("bad input", () => {
  test("bad commands get typed errors while another session keeps forwarding", async () => {
    await whipPublisher("steady", "alice");
    await until(() => publisherStats("steady").length === 2, 5000, "publishers");
    const video = () => publisherStats("steady").find((p) => p.kind === "video")!.packetsReceived;
    const before = video();

    const raw = async (data: string) =>
      JSON.parse(await bus.request(subjects.nodeRpc("node-a"), data, 5000));
    assert.equal((await raw("{not json")).error.code, "bad_request");
    assert.equal((await raw(JSON.stringify({ op: "nope" }))).error.code, "bad_request");
    assert.equal((await raw(JSON.stringify([1, 2]))).error.code, "bad_request");
    const tooLong = JSON.stringify({ op: "room.get", room: "x".repeat(500) });
    assert.equal((await raw(tooLong)).error.code, "bad_request");

    const bad = [
      call({ op: "whip.create", room: "steady", identity: "eve", sdp: "hello" }),
      call({ op: "whip.create", room: "steady", identity: "eve", sdp: "v=0\r\nm=video 9 x\r\n" }),
      call({ op: "session.patch", sessionId: "nope", identity: "eve", sdpfrag: "" }),
      call({ op: "session.delete", sessionId: "nope", identity: "eve" }),
      call({ op: "ws.message", sessionId: "nope", message: { type: "ping", id: "1" } }),
      call({ op: "ws.close", sessionId: "nope" }),
    ];
    assert.deepEqual(await Promise.all(bad.map(codeOf)), [
      "invalid_sdp",
      "invalid_sdp",
      "session_not_found",
      "session_not_found",
      "session_not_found",
      "session_not_found",
    ]);
    // A bad SDP inside a WebSocket session is an error reply with the request's id.
    const ws = await call({ op: "ws.open", room: "steady", identity: "eve", grants: ["publish"] });
    const r = await call({
      op: "ws.message",
      sessionId: ws.sessionId,
      message: { type: "publish", id: "bad", offer: "v=0", trackIds: [] },
    });
    assert.deepEqual(r.reply?.type === "error" && [r.reply.id, r.reply.error.code], [
      "bad",
      "invalid_sdp",
    ]);
    const noSub = await call({
      op: "ws.message",
      sessionId: ws.sessionId,
      message: { type: "answer", id: "a", answer: "v=0" },
    });
    assert.equal(noSub.reply?.type === "error" && noSub.reply.error.code, "conflict");
    await call({ op: "ws.close", sessionId: ws.sessionId });

    await until(() => video() >= before + 60, 10_000, "the steady publisher still receives");
    assert.equal(
      (await call({ op: "room.get", room: "steady" })).participants.length,
      1,
      "failed sessions left no one behind",
    );
  });

  test("a full node answers node_full", async () => {
    const small = nodeOn(bus, registry, "node-small", { maxSessions: 1 });
    await small.start();
    const first = await call(
      { op: "ws.open", room: "r", identity: "a", grants: [] },
      bus,
      "node-small",
    );
    const second = call({ op: "ws.open", room: "r", identity: "b", grants: [] }, bus, "node-small");
    assert.equal(await codeOf(second), "node_full");
    await call({ op: "ws.close", sessionId: first.sessionId }, bus, "node-small");
    await small.stop();
  });
});

describe("registry and drain", () => {
  test("the heartbeat keeps the node's NodeInfo fresh with its load", async () => {
    const ws = await call({ op: "ws.open", room: "hb", identity: "a", grants: [] });
    const first = (await registry.list()).find((n) => n.nodeId === "node-a");
    assert.ok(first, "node-a is registered");
    await new Promise((r) => setTimeout(r, 250));
    const later = (await registry.list()).find((n) => n.nodeId === "node-a")!;
    assert.ok(later.heartbeatAt > first.heartbeatAt, "heartbeat refreshed");
    assert.equal(later.draining, false);
    assert.ok(later.sessions >= 1);
    assert.equal(later.load, later.sessions / later.maxSessions);
    await call({ op: "ws.close", sessionId: ws.sessionId });
  });

  test("drain: goaway to WebSocket sessions, new sessions refused, the node leaves the registry", async () => {
    const node = nodeOn(bus, registry, "node-drain");
    await node.start();
    const ws = await call(
      { op: "ws.open", room: "d", identity: "a", grants: [] },
      bus,
      "node-drain",
    );
    const events = sessionEvents(ws.sessionId);
    const drained = node.drain(10_000);
    await until(() => events.some((e) => e.type === "goaway"), 2000, "goaway");
    const info = (await registry.list()).find((n) => n.nodeId === "node-drain");
    assert.equal(info?.draining, true);
    const refused = call(
      { op: "ws.open", room: "d", identity: "b", grants: [] },
      bus,
      "node-drain",
    );
    assert.equal(await codeOf(refused), "draining");
    // The client goes away; the drain ends without waiting out the grace period.
    const t0 = Date.now();
    await call({ op: "ws.close", sessionId: ws.sessionId }, bus, "node-drain");
    await drained;
    assert.ok(Date.now() - t0 < 2000);
    assert.equal(
      (await registry.list()).find((n) => n.nodeId === "node-drain"),
      undefined,
    );
    const gone = call({ op: "room.get", room: "d" }, bus, "node-drain");
    assert.equal(await codeOf(gone), "node_unavailable");
  });

  test("drain closes sessions left after the grace period", async () => {
    const node = nodeOn(bus, registry, "node-drain2");
    await node.start();
    await whipPublisher("d2", "alice", bus, "node-drain2");
    await node.drain(200);
    assert.equal(node.node.sessionCount, 0);
    assert.equal(node.node.router("d2"), undefined);
  });
});

describe("over NATS", () => {
  test("a node on a real nats-server: whip.create, room.get, garbage, heartbeat, drain", async () => {
    const nats = await startNatsServer();
    closers.push(() => nats.stop());
    const nodeConn = await connectNatsBus(nats.url, { name: "node" });
    const edgeConn = await connectNatsBus(nats.url, { name: "edge" });
    closers.push(
      () => nodeConn.close(),
      () => edgeConn.close(),
    );
    const node = nodeOn(nodeConn.bus, nodeConn.registry, "nats-node");
    await node.start();
    const edge = edgeConn.bus;
    const { sessionId } = await whipPublisher("nats-room", "alice", edge, "nats-node");
    await until(
      () => publisherStats("nats-room", node).every((p) => p.packetsReceived >= 30),
      10_000,
      "media over a NATS-created session",
    );
    const info = await call({ op: "room.get", room: "nats-room" }, edge, "nats-node");
    assert.equal(info.participants[0].tracks.length, 2);
    const garbage = await edge.request(subjects.nodeRpc("nats-node"), "\u0000garbage", 5000);
    assert.equal(JSON.parse(garbage).error.code, "bad_request");
    const listed = (await edgeConn.registry.list()).find((n) => n.nodeId === "nats-node");
    assert.equal(listed?.sessions, 1);
    await call({ op: "session.delete", sessionId, identity: "alice" }, edge, "nats-node");
    await node.drain(1000);
    assert.equal(
      (await edgeConn.registry.list()).find((n) => n.nodeId === "nats-node"),
      undefined,
    );
  });
});
