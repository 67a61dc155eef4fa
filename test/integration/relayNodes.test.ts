// Relays opened and closed by the node service: two NodeServices on one bus, each with its own
// relay port; a participant on node B subscribes to a publisher on node A over the WebSocket
// protocol, and the relay comes and goes with the subscription.
import assert from "node:assert/strict";
import { after, test } from "node:test";
import { NodeService } from "../../media-node/service/NodeService.ts";
import { RelayServer } from "../../media-node/src/relay/RelayServer.ts";
import { MemoryBus, MemoryRegistry } from "../../shared/bus/memoryBus.ts";
import { callNode } from "../../shared/nodeClient.ts";
import type { NodeCommand, NodeOp } from "../../shared/rpc.ts";
import { subjects } from "../../shared/subjects.ts";
import type { ServerMessage } from "../../shared/ws.ts";
import { MediaSource } from "../helpers/mediaSource.ts";
import { until, WeriftSubscriber, weriftPublisher } from "../helpers/weriftPeer.ts";

const closers: (() => unknown)[] = [];
after(async () => {
  for (const close of closers.reverse()) await close();
});

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

function withMsid(sdp: string): { sdp: string; trackIds: string[] } {
  const trackIds: string[] = [];
  const out = sdp.replace(/^a=mid:(\S+)$/gm, (line, mid: string) => {
    const id = `track-${mid}-${Math.random().toString(36).slice(2, 8)}`;
    trackIds.push(id);
    return `${line}\r\na=msid:stream ${id}`;
  });
  return { sdp: out, trackIds };
}

test("a subscription on node B to a publisher on node A opens a relay; the last unsubscribe closes it", async () => {
  const room = "span";
  const alice = await call("node-a", {
    op: "ws.open",
    room,
    identity: "alice",
    grants: ["publish"],
  });
  const pub = await weriftPublisher(["audio", "video"]);
  closers.push(() => pub.pc.close());
  const { sdp, trackIds } = withMsid(pub.offer.sdp);
  const published = await call("node-a", {
    op: "ws.message",
    sessionId: alice.sessionId,
    message: { type: "publish", id: "p", offer: sdp, trackIds },
  });
  if (published.reply?.type !== "published") assert.fail(JSON.stringify(published.reply));
  await pub.pc.setRemoteDescription({ type: "answer", sdp: published.reply.answer });
  const source = new MediaSource(pub.tracks[1], pub.tracks[0]);
  pub.pc.getTransceivers()[1].sender.onRtcp.subscribe((rtcp) => {
    if (rtcp.type === 206) source.keyframe();
  });
  source.start();
  closers.push(() => source.stop());

  const bob = await call("node-b", {
    op: "ws.open",
    room,
    identity: "bob",
    grants: ["subscribe"],
  });
  const events: ServerMessage[] = [];
  const sub = bus.subscribe(subjects.sessionEvents(bob.sessionId), (d) =>
    events.push(JSON.parse(d)),
  );
  closers.push(() => sub.unsubscribe());
  const client = new WeriftSubscriber();
  closers.push(() => client.pc.close());
  const subscriberIds = new Map<string, string>();
  for (const t of published.reply.tracks) {
    const r = await call("node-b", {
      op: "ws.message",
      sessionId: bob.sessionId,
      message: { type: "subscribe", id: t.kind, publisherId: t.publisherId },
    });
    if (r.reply?.type !== "subscribed") assert.fail(JSON.stringify(r.reply));
    subscriberIds.set(t.kind, r.reply.subscriberId);
    const answer = await client.answer({ type: "offer", sdp: r.reply.offer });
    await call("node-b", {
      op: "ws.message",
      sessionId: bob.sessionId,
      message: { type: "answer", id: `a-${t.kind}`, answer: answer.sdp },
    });
  }
  const video = published.reply.tracks.find((t) => t.kind === "video")!;
  const audio = published.reply.tracks.find((t) => t.kind === "audio")!;
  await until(
    () =>
      (client.counts.get(video.publisherId) ?? 0) > 100 &&
      (client.counts.get(audio.publisherId) ?? 0) > 50,
    10_000,
    "bob on node B gets alice's media from node A",
  );
  assert.equal(a.relay.getStats().relays, 2, "two origin relays on A");
  assert.equal(b.relay.getStats().relays, 2, "two downstream relays on B");
  assert.ok(b.service.node.router(room)?.getPublisher(video.publisherId));
  const info = await registry.list();
  assert.match(info.find((n) => n.nodeId === "node-b")?.relayAddress ?? "", /^127\.0\.0\.1:\d+$/);

  // Bob unsubscribes from the video: its relay closes on both nodes, the audio one stays.
  const r = await call("node-b", {
    op: "ws.message",
    sessionId: bob.sessionId,
    message: { type: "unsubscribe", id: "u", subscriberId: subscriberIds.get("video")! },
  });
  assert.equal(r.reply?.type, "unsubscribed");
  await until(() => a.relay.getStats().relays === 1, 5000, "video relay closed on A");
  assert.equal(b.relay.getStats().relays, 1);
  assert.equal(a.relay.relays[0].publisherId, audio.publisherId);
  assert.equal(b.service.node.router(room)?.getPublisher(video.publisherId), undefined);

  // Bob leaves: the room on B closes, and with it the last relay.
  await call("node-b", { op: "ws.close", sessionId: bob.sessionId });
  await until(() => a.relay.getStats().relays === 0, 5000, "audio relay closed on A");
  assert.equal(b.relay.getStats().relays, 0);
  const publisherStats = a.service.node.router(room)!.getStats().publishers;
  assert.ok(
    publisherStats.every((p) => p.subscribers === 0),
    "no relay subscriber left on A",
  );
});

test("relay commands are validated: a malformed or unknown one is a typed error", async () => {
  const bad = await bus.request(
    subjects.nodeRelay("node-a"),
    JSON.stringify({ op: "relay.open", room: "span", nodeId: "x" }),
    2000,
  );
  assert.equal(JSON.parse(bad).error.code, "bad_request");
  const open = JSON.stringify({
    op: "relay.open",
    room: "nowhere",
    nodeId: "node-b",
    publisherId: "p",
    address: { ip: "127.0.0.1", port: 9 },
    ssrcs: [5],
    key: { key: Buffer.alloc(16).toString("base64"), salt: Buffer.alloc(14).toString("base64") },
  });
  const missing = await bus.request(subjects.nodeRelay("node-a"), open, 2000);
  assert.equal(JSON.parse(missing).error.code, "not_found");
  // relay.* is not an edge command: the node's RPC subject refuses it
  const onRpc = await bus.request(subjects.nodeRpc("node-a"), open, 2000);
  assert.equal(JSON.parse(onRpc).error.code, "bad_request");
});
