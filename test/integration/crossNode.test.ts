// A room spanning two media nodes over a real nats-server, behind the edge app (Node server,
// NATS over TCP): node A is a spawned process holding at most 2 sessions, node B runs in this
// process so its room directory and data bridge can be inspected. Capacity placement spills the
// second participant to B; B's welcome and GET /v1/rooms list A's tracks and DataChannel; a
// werift DataChannel on A reaches a werift subscriber on B through NATS, in order, strings as
// strings, 256 KiB intact; SIGKILL of A ends A's publishers for B's client within 6 s and leaves
// nothing of A in B's state.
import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { after, before, test } from "node:test";
import type { RTCDataChannel, RTCPeerConnection } from "werift";
import { WebSocket } from "ws";
import { signToken } from "../../edge/src/auth/jwt.ts";
import { createNodeEdge, type NodeEdge } from "../../edge/src/node.ts";
import { NodeService } from "../../media-node/service/NodeService.ts";
import { connectNatsBus, type NatsBusHandle } from "../../shared/bus/adapter/node/nats.ts";
import type { Grant } from "../../shared/token.ts";
import { dataPeer } from "../helpers/dataPeer.ts";
import { MediaSource } from "../helpers/mediaSource.ts";
import { type NatsServer, startNatsServer } from "../helpers/natsServer.ts";
import { type MediaNodeProc, startMediaNode } from "../helpers/system.ts";
import { noStun, until, waitGathered, weriftPublisher } from "../helpers/weriftPeer.ts";

const SECRET = "weir-cross-node-test-secret-0123456789abcdef";
const ROOM = "span";
const closers: (() => unknown)[] = [];
let nats: NatsServer;
let edgeBus: NatsBusHandle;
let bBus: NatsBusHandle;
let edge: NodeEdge;
let nodeA: MediaNodeProc;
let nodeB: NodeService;

type Msg = Record<string, unknown> & { type: string };

function token(sub: string, grants: Grant[]): Promise<string> {
  return signToken({ sub, room: ROOM, grants, exp: Math.floor(Date.now() / 1000) + 600 }, SECRET);
}

/** A WebSocket client of the edge: requests by id, pushed messages kept with arrival times. */
class WsClient {
  readonly pushed: { at: number; m: Msg }[] = [];
  readonly #waiting = new Map<string, (m: Msg) => void>();
  #n = 0;
  welcome!: Msg;
  onPush: (m: Msg) => void = () => {};
  private constructor(readonly ws: WebSocket) {}

  static async open(identity: string, grants: Grant[]): Promise<WsClient> {
    const url = `${edge.url.replace(/^http/, "ws")}/v1/rooms/${ROOM}/ws`;
    const ws = new WebSocket(url, ["weir", await token(identity, grants)]);
    closers.push(() => ws.close());
    const c = new WsClient(ws);
    const welcome = new Promise<Msg>((resolve, reject) => {
      ws.on("message", (data) => {
        const m = JSON.parse(data.toString()) as Msg;
        if (m.type === "welcome") return resolve(m);
        const id = typeof m.id === "string" ? m.id : undefined;
        const w = id === undefined ? undefined : c.#waiting.get(id);
        if (w && id !== undefined) {
          c.#waiting.delete(id);
          return w(m);
        }
        c.pushed.push({ at: Date.now(), m });
        c.onPush(m);
      });
      ws.on("error", reject);
    });
    c.welcome = await welcome;
    return c;
  }

  request(body: Record<string, unknown>): Promise<Msg> {
    const id = `r${++this.#n}`;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no reply to ${body.type}`)), 15_000);
      this.#waiting.set(id, (m) => {
        clearTimeout(timer);
        if (m.type === "error") reject(new Error(`${body.type}: ${JSON.stringify(m.error)}`));
        else resolve(m);
      });
      this.ws.send(JSON.stringify({ ...body, id }));
    });
  }
}

async function gathered(pc: RTCPeerConnection, make: () => Promise<{ sdp: string }>) {
  noStun(pc);
  await pc.setLocalDescription(await make());
  await waitGathered(pc);
  return pc.localDescription?.sdp ?? "";
}

before(async () => {
  nats = await startNatsServer();
  edgeBus = await connectNatsBus(nats.url, { name: "cross-node-edge" });
  edge = await createNodeEdge({
    bus: edgeBus.bus,
    registry: edgeBus.registry,
    secret: SECRET,
    port: 0,
  });
  nodeA = await startMediaNode(nats.url, "node-a", ["--max-sessions", "2"]);
});

after(async () => {
  for (const close of closers.reverse()) {
    try {
      await close();
    } catch {
      // best effort
    }
  }
  await nodeB?.stop();
  nodeA?.child.kill("SIGKILL");
  await edge?.close();
  await bBus?.close();
  await edgeBus?.close();
  await nats?.stop();
});

let alice: WsClient;
let chat: RTCDataChannel;
let chatId = "";
const trackIds: string[] = [];

test("capacity: node A takes 2 sessions; the room's third session spills to node B", async () => {
  // alice on A: a WHIP audio+video publisher and a WebSocket session with a DataChannel
  const pub = await weriftPublisher(["audio", "video"]);
  closers.push(() => pub.pc.close());
  const res = await fetch(`${edge.url}/v1/rooms/${ROOM}/whip`, {
    method: "POST",
    body: pub.offer.sdp,
    headers: {
      authorization: `Bearer ${await token("alice", ["publish"])}`,
      "content-type": "application/sdp",
    },
  });
  assert.equal(res.status, 201, await res.clone().text());
  assert.match(res.headers.get("location") ?? "", /^\/v1\/sessions\/node-a\./);
  await pub.pc.setRemoteDescription({ type: "answer", sdp: await res.text() });
  const source = new MediaSource(pub.tracks[1], pub.tracks[0]);
  source.start();
  closers.push(() => source.stop());

  alice = await WsClient.open("alice", ["publish", "data"]);
  const pc = dataPeer();
  closers.push(() => pc.close());
  chat = pc.createDataChannel("chat");
  const offer = await gathered(pc, () => pc.createOffer());
  const published = await alice.request({ type: "publish", offer, trackIds: [] });
  await pc.setRemoteDescription({ type: "answer", sdp: published.answer as string });
  await until(() => chat.readyState === "open", 10_000, "alice's channel open");
  const dp = await alice.request({ type: "publishData", label: "chat" });
  chatId = dp.dataPublisherId as string;
  const whep = alice.welcome.participants as { tracks: unknown[] }[];
  assert.equal(whep.length, 1, "alice sees herself (her WHIP session)");

  // node B joins; A reports 2 of 2 sessions at once (no 2 s heartbeat wait)
  bBus = await connectNatsBus(nats.url, { name: "cross-node-b" });
  nodeB = new NodeService({
    nodeId: "node-b",
    bus: bBus.bus,
    registry: bBus.registry,
    transport: { listenIps: ["127.0.0.1"] },
  });
  await nodeB.start();
  const a = (await edgeBus.registry.list()).find((n) => n.nodeId === "node-a");
  assert.equal(a?.sessions, 2);
  assert.equal(await edgeBus.registry.getRoomNode(ROOM), "node-a");
  assert.deepEqual((await edgeBus.registry.roomMembers(ROOM)).sort(), ["node-a"]);
});

let bob: WsClient;

test("node B's welcome and GET /v1/rooms list node A's tracks and DataChannel", async () => {
  bob = await WsClient.open("bob", ["subscribe", "data"]);
  assert.equal(nodeB.node.sessionCount, 1, "bob was placed on node B");
  assert.equal(await edgeBus.registry.getRoomNode(ROOM), "node-a", "the room keeps its node");
  assert.deepEqual((await edgeBus.registry.roomMembers(ROOM)).sort(), ["node-a", "node-b"]);
  const parts = bob.welcome.participants as {
    identity: string;
    tracks: { publisherId: string; kind: string }[];
    data?: { dataPublisherId: string; label: string }[];
  }[];
  const a = parts.find((p) => p.identity === "alice");
  assert.ok(a, `alice in bob's welcome: ${JSON.stringify(parts)}`);
  assert.deepEqual(a.tracks.map((t) => t.kind).sort(), ["audio", "video"]);
  for (const t of a.tracks) trackIds.push(t.publisherId);
  assert.deepEqual(
    a.data?.map((d) => [d.dataPublisherId, d.label]),
    [[chatId, "chat"]],
  );
  assert.equal(nodeB.crossNode.directory.hostOf(ROOM, chatId)?.nodeId, "node-a");
  assert.deepEqual(nodeB.crossNode.directory.hostOf(ROOM, trackIds[0]), {
    nodeId: "node-a",
    kind: "media",
  });

  // the edge asks the room's node (A), whose directory now holds bob on B
  const res = await fetch(`${edge.url}/v1/rooms/${ROOM}`, {
    headers: { authorization: `Bearer ${await token("carol", ["subscribe"])}` },
  });
  const info = (await res.json()) as { participants: { identity: string }[] };
  // alice's WHIP and WebSocket sessions on A are one participant
  assert.deepEqual(info.participants.map((p) => p.identity).sort(), ["alice", "bob"]);
});

test("a DataChannel on node A reaches a subscriber on node B over NATS, in order, intact", async () => {
  const pc = dataPeer();
  closers.push(() => pc.close());
  const got: (string | Buffer)[] = [];
  let channel: RTCDataChannel | undefined;
  pc.onDataChannel.subscribe((c) => {
    channel = c;
    c.onMessage.subscribe((m) => got.push(m));
  });
  const sub = await bob.request({ type: "subscribeData", dataPublisherId: chatId });
  assert.ok(typeof sub.offer === "string", "the first channel comes with an offer");
  await pc.setRemoteDescription({ type: "offer", sdp: sub.offer as string });
  const answer = await gathered(pc, () => pc.createAnswer());
  await bob.request({ type: "answer", answer });
  await until(() => channel?.readyState === "open", 10_000, "bob's channel open");
  assert.equal(nodeB.crossNode.data.getStats().bridges, 1);

  const big = randomBytes(256 * 1024);
  const sent: (string | Buffer)[] = ["hello from A", Buffer.from([0, 1, 2, 255]), big];
  for (let i = 0; i < 200; i++) sent.push(`#${i} ${"é".repeat(i)}`);
  sent.push(Buffer.from("end"));
  for (const m of sent) chat.send(m);
  await until(() => got.length >= sent.length, 30_000, `${sent.length} messages on B`);
  assert.equal(got.length, sent.length);
  for (let i = 0; i < sent.length; i++) {
    assert.equal(typeof got[i], typeof sent[i], `message ${i} kind`);
    if (typeof sent[i] === "string") assert.equal(got[i], sent[i], `message ${i}`);
  }
  const sha = (b: string | Buffer) => createHash("sha256").update(b).digest("hex");
  assert.equal(sha(got[2]), sha(big), "256 KiB binary intact");
  assert.deepEqual(got[1], sent[1]);
  const stats = nodeB.crossNode.data.getStats();
  assert.equal(stats.messagesIn, sent.length);
  assert.equal(stats.gaps, 0);
});

test("SIGKILL of node A: B's client gets A's publishers ended within 6 s; B forgets A", async () => {
  const ended = new Set<string>();
  let leftAt = 0;
  bob.onPush = (m) => {
    if (m.type === "track.unpublished") ended.add(m.publisherId as string);
    if (m.type === "data.unpublished") ended.add(m.dataPublisherId as string);
    if (m.type === "participant.left" && m.identity === "alice") leftAt = Date.now();
  };
  const killedAt = Date.now();
  nodeA.child.kill("SIGKILL");
  await until(
    () => ended.size === 3 && leftAt > 0,
    6_000,
    `track.unpublished x2 + data.unpublished + participant.left (got ${[...ended]})`,
  );
  const took = Math.max(...bob.pushed.filter((p) => p.at >= killedAt).map((p) => p.at)) - killedAt;
  console.log(`# node death noticed on B ${took} ms after SIGKILL`);
  assert.deepEqual([...ended].sort(), [...trackIds, chatId].sort());
  assert.deepEqual(nodeB.crossNode.directory.participants(ROOM), []);
  assert.equal(nodeB.crossNode.directory.hostOf(ROOM, chatId), undefined);
  assert.deepEqual([...nodeB.crossNode.directory.peers()], []);
  const stats = nodeB.crossNode.data.getStats();
  assert.equal(stats.bridges, 0, "the data bridge from A closed");
  assert.equal(nodeB.node.router(ROOM)?.getDataPublisher(chatId), undefined);
  assert.ok(nodeB.crossNode.watcher.isDead("node-a"));
});
