// Issue 12: one participant per identity holds across nodes. Node A (one session at most) holds
// the identity's first socket; its second spills to node B (capacity placement, real
// nats-server); A hears B's participant.joined and replaces its own older socket: `replaced`,
// close 4409. The room then lists the identity once, and B's socket lives on.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { createNodeEdge, type NodeEdge } from "../../edge/src/node.ts";
import { NodeService } from "../../media-node/service/NodeService.ts";
import { connectNatsBus, type NatsBusHandle } from "../../shared/bus/adapter/node/nats.ts";
import { WS_CLOSE_REPLACED } from "../../shared/ws.ts";
import { edgeToken } from "../helpers/edgePair.ts";
import { type NatsServer, startNatsServer } from "../helpers/natsServer.ts";
import { until } from "../helpers/weriftPeer.ts";
import { WsClient } from "../helpers/wsClient.ts";

const SECRET = "weir-ws-replaced-nodes-secret-0123456789ab";
const ROOM = "twice-across";
const closers: (() => unknown)[] = [];
let nats: NatsServer;
let edge: NodeEdge;

before(async () => {
  nats = await startNatsServer();
  const edgeBus = await connectNatsBus(nats.url, { name: "replaced-edge" });
  closers.push(() => edgeBus.close());
  edge = await createNodeEdge({
    bus: edgeBus.bus,
    registry: edgeBus.registry,
    secret: SECRET,
    port: 0,
  });
  closers.push(() => edge.close());
});

after(async () => {
  for (const close of closers.reverse()) await close();
  await nats?.stop();
});

async function startNode(nodeId: string, maxSessions: number): Promise<NodeService> {
  const handle: NatsBusHandle = await connectNatsBus(nats.url, { name: nodeId });
  const node = new NodeService({
    nodeId,
    bus: handle.bus,
    registry: handle.registry,
    transport: { listenIps: ["127.0.0.1"] },
    maxSessions,
  });
  await node.start();
  closers.push(() => handle.close());
  closers.push(() => node.stop());
  return node;
}

async function join(identity: string): Promise<WsClient> {
  const token = await edgeToken(SECRET, ROOM, identity, ["subscribe"]);
  const c = await WsClient.open(edge.url, ROOM, token);
  closers.push(() => c.close());
  return c;
}

test("a socket of the same identity on another node replaces the older one: replaced, close 4409", async () => {
  const a = await startNode("node-a", 1);
  const first = await join("twin");
  let code = 0;
  first.ws.on("close", (n) => {
    code = n;
  });
  assert.equal(a.node.sessionCount, 1);
  const b = await startNode("node-b", 10);
  const second = await join("twin");
  assert.equal(b.node.sessionCount, 1, "the second socket is on node B");
  await until(() => code !== 0, 10_000, "the first socket closed");
  assert.equal(code, WS_CLOSE_REPLACED);
  assert.ok(
    first.pushed.some((m) => m.type === "replaced"),
    JSON.stringify(first.pushed),
  );
  await until(() => a.node.sessionCount === 0, 5000, "node A ended its session");
  assert.equal((await second.request({ type: "ping" })).type, "pong");
  const viewer = await join("viewer");
  const ids = (viewer.welcome.participants as { identity: string }[]).map((p) => p.identity);
  assert.deepEqual(ids.sort(), ["twin", "viewer"]);
});
