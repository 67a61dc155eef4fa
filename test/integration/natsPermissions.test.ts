// Issue 12 defect 6 on the real path: a real nats-server with the two users of
// deploy/nats-users.conf. An edge (weir-edge) and two media node processes (weir-node) work: a
// WHIP publisher on node A and a WHEP viewer spilled to node B get video over a relay between
// the nodes. The edge user is refused every node-only subject (publish and subscribe), and a
// relay.open sent on a node's RPC subject (which edges may use) is a bad_request.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { after, before, test } from "node:test";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { createNodeEdge, type NodeEdge } from "../../edge/src/node.ts";
import { connectNatsBus, type NatsBusHandle } from "../../shared/bus/adapter/node/nats.ts";
import { subjects } from "../../shared/subjects.ts";
import { pollUntil } from "../helpers/browser.ts";
import { edgeToken, postOffer } from "../helpers/edgePair.ts";
import { MediaSource } from "../helpers/mediaSource.ts";
import { type NatsServer, startNatsServer } from "../helpers/natsServer.ts";
import { type MediaNodeProc, startMediaNode } from "../helpers/system.ts";
import { until, WeriftSubscriber, weriftPublisher } from "../helpers/weriftPeer.ts";
import { WsClient } from "../helpers/wsClient.ts";

const SECRET = "weir-nats-permissions-secret-0123456789abcdef";
const EDGE_PW = "edge-pw-0123456789";
const NODE_PW = "node-pw-0123456789";
const ROOM = "guarded";
/** Two nodes on one host: each its own relay port. */
const RELAY_ANY = { WEIR_RELAY_PORT: "0" };
let nats: NatsServer;
let edgeBus: NatsBusHandle;
let edge: NodeEdge;
const nodes: MediaNodeProc[] = [];

function url(user: string, pw: string): string {
  return nats.url.replace("nats://", `nats://${user}:${pw}@`);
}

before(async () => {
  nats = await startNatsServer({
    extraConfig: readFileSync(new URL("../../deploy/nats-users.conf", import.meta.url), "utf8"),
    env: { WEIR_NATS_EDGE_PASSWORD: EDGE_PW, WEIR_NATS_NODE_PASSWORD: NODE_PW },
  });
  edgeBus = await connectNatsBus(url("weir-edge", EDGE_PW), { name: "edge" });
  edge = await createNodeEdge({
    bus: edgeBus.bus,
    registry: edgeBus.registry,
    secret: SECRET,
    port: 0,
  });
  nodes.push(
    await startMediaNode(url("weir-node", NODE_PW), "perm-a", ["--max-sessions", "1"], RELAY_ANY),
  );
});

after(async () => {
  for (const n of nodes) await n.stop();
  await edge?.close();
  await edgeBus?.close();
  await nats?.stop();
});

async function liveNodes(): Promise<number> {
  return (await edgeBus.registry.list()).length;
}

test("with the edge and node users: WHIP on node A, a WebSocket viewer on node B gets video over a relay", async () => {
  const pub = await weriftPublisher(["audio", "video"]);
  const source = new MediaSource(pub.tracks[1], pub.tracks[0]);
  const viewer = new WeriftSubscriber();
  try {
    const publish = await edgeToken(SECRET, ROOM, "camera", ["publish"]);
    const res = await postOffer(edge.url, ROOM, "whip", publish, pub.offer.sdp);
    assert.equal(res.status, 201, await res.clone().text());
    assert.match(res.headers.get("location") ?? "", /\/perm-a\./);
    await pub.pc.setRemoteDescription({ type: "answer", sdp: await res.text() });
    source.start();
    // node A is full now: the viewer lands on B, which relays the track from A
    nodes.push(await startMediaNode(url("weir-node", NODE_PW), "perm-b", [], RELAY_ANY));
    await pollUntil(
      async () => (await liveNodes()) === 2,
      10_000,
      () => "node B registered",
    );
    const ws = await WsClient.open(
      edge.url,
      ROOM,
      await edgeToken(SECRET, ROOM, "viewer", ["subscribe"]),
    );
    try {
      const parts = ws.welcome.participants as {
        tracks: { publisherId: string; kind: string }[];
      }[];
      const video = parts.flatMap((p) => p.tracks).find((t) => t.kind === "video");
      assert.ok(video, JSON.stringify(parts));
      const sub = await ws.call({ type: "subscribe", publisherId: video.publisherId });
      const answer = await viewer.answer({ type: "offer", sdp: sub.offer as string });
      await ws.call({ type: "answer", answer: answer.sdp });
      await until(
        () => (viewer.counts.get(video.publisherId) ?? 0) > 50,
        15_000,
        "the viewer on node B gets video from node A",
      );
      assert.deepEqual((await edgeBus.registry.roomMembers(ROOM)).sort(), ["perm-a", "perm-b"]);
    } finally {
      ws.close();
    }
  } finally {
    source.stop();
    await Promise.all([pub.pc.close(), viewer.pc.close()]);
  }
});

/** Permission violations the server reported to `nc`, as `<operation> <subject>`. */
function violations(nc: NatsConnection): string[] {
  const out: string[] = [];
  void (async () => {
    for await (const s of nc.status()) {
      if (s.type !== "error") continue;
      const e = s.error as { name?: string; operation?: string; subject?: string };
      if (e.name === "PermissionViolationError") out.push(`${e.operation} ${e.subject}`);
    }
  })();
  return out;
}

test("the edge user is refused every node-only subject; relay.open on a node's RPC is refused", async () => {
  const forged = [
    subjects.nodePeer("perm-a"),
    subjects.nodeRelay("perm-a"),
    subjects.roomEvents(ROOM),
    subjects.roomSpeakers(ROOM),
    subjects.dataMessages(ROOM, "dp1"),
    subjects.sessionEvents("s1"),
    "$KV.weir-nodes.forged",
  ];
  const snooped = [
    subjects.nodeRpc("perm-a"),
    subjects.roomEvents(ROOM),
    subjects.roomSpeakers(ROOM),
    "weir.data.>",
    "weir.node.*.relay",
  ];
  // a node-user observer: none of the forged messages may arrive
  const observer = await connect({ servers: nats.url, user: "weir-node", pass: NODE_PW });
  const arrived: string[] = [];
  observer.subscribe("weir.>", {
    callback: (_e, m) => {
      if (m.string() === "forged") arrived.push(m.subject);
    },
  });
  await observer.flush();

  const nc = await connect({ servers: nats.url, user: "weir-edge", pass: EDGE_PW });
  const refused = violations(nc);
  for (const s of forged) nc.publish(s, "forged");
  for (const s of snooped) nc.subscribe(s);
  await nc.flush();
  const want = [...forged.map((s) => `publish ${s}`), ...snooped.map((s) => `subscription ${s}`)];
  await pollUntil(
    async () => want.every((w) => refused.includes(w)),
    10_000,
    () => `refused ${JSON.stringify(refused)}`,
  );
  await observer.flush();
  assert.deepEqual(arrived, []);
  assert.ok(!(await edgeBus.registry.list()).some((n) => n.nodeId === "forged"));

  const open = JSON.stringify({
    op: "relay.open",
    room: ROOM,
    nodeId: "perm-b",
    publisherId: "p",
    address: { ip: "127.0.0.1", port: 9 },
    ssrcs: [5],
    key: { key: Buffer.alloc(16).toString("base64"), salt: Buffer.alloc(14).toString("base64") },
  });
  const reply = await nc.request(subjects.nodeRpc("perm-a"), open, { timeout: 5000 });
  assert.equal((reply.json() as { error: { code: string } }).error.code, "bad_request");
  await nc.close();
  await observer.close();
});
