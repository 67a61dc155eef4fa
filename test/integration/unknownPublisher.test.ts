// Issue 12 defect 7 on the real path: an edge and four media nodes (each with its relay port) on
// a real nats-server. A WebSocket subscribe to a publisher id nobody has answers not_found
// without asking the nodes that do not host the room: the room directory bounds the search.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { createNodeEdge, type NodeEdge } from "../../edge/src/node.ts";
import { NodeService } from "../../media-node/service/NodeService.ts";
import { RelayServer } from "../../media-node/src/relay/RelayServer.ts";
import { connectNatsBus, type NatsBusHandle } from "../../shared/bus/adapter/node/nats.ts";
import { safeJson } from "../../shared/nodeClient.ts";
import { pollUntil } from "../helpers/browser.ts";
import { edgeToken } from "../helpers/edgePair.ts";
import { type NatsServer, startNatsServer } from "../helpers/natsServer.ts";
import { WsClient } from "../helpers/wsClient.ts";

const SECRET = "weir-unknown-publisher-secret-0123456789abcdef";
const ROOM = "lonely";
const NODES = ["node-1", "node-2", "node-3", "node-4"];
let nats: NatsServer;
let edgeBus: NatsBusHandle;
let nodeBus: NatsBusHandle;
let edge: NodeEdge;
const closers: (() => unknown)[] = [];
/** Node ops seen on every node's RPC subject. */
const seen: string[] = [];

before(async () => {
  nats = await startNatsServer();
  edgeBus = await connectNatsBus(nats.url, { name: "edge" });
  nodeBus = await connectNatsBus(nats.url, { name: "nodes" });
  const watch = await connectNatsBus(nats.url, { name: "watcher" });
  closers.push(() => watch.close());
  watch.bus.subscribe("weir.node.*.rpc", (data) => {
    seen.push(String((safeJson(data) as { op?: string } | undefined)?.op));
  });
  for (const nodeId of NODES) {
    const relay = new RelayServer({ port: 0, listenIp: "127.0.0.1" });
    await relay.listen();
    const service = new NodeService({
      nodeId,
      bus: nodeBus.bus,
      registry: nodeBus.registry,
      transport: { listenIps: ["127.0.0.1"] },
      relay,
    });
    await service.start();
    closers.push(
      () => relay.close(),
      () => service.stop(),
    );
  }
  edge = await createNodeEdge({
    bus: edgeBus.bus,
    registry: edgeBus.registry,
    secret: SECRET,
    port: 0,
  });
});

after(async () => {
  // sockets first: the edge's server waits for open WebSockets
  for (const close of closers.reverse()) await close();
  await edge?.close();
  await nodeBus?.close();
  await edgeBus?.close();
  await nats?.stop();
});

test("a subscribe to an unknown publisher id asks no node outside the room", async () => {
  const token = await edgeToken(SECRET, ROOM, "viewer", ["subscribe"]);
  const ws = await WsClient.open(edge.url, ROOM, token);
  closers.push(() => ws.close());
  assert.deepEqual(await edgeBus.registry.roomMembers(ROOM), [
    await edgeBus.registry.getRoomNode(ROOM),
  ]);
  seen.length = 0;
  for (let i = 0; i < 5; i++) {
    assert.equal(
      await ws.errorCode({ type: "subscribe", publisherId: `nobody-${i}` }),
      "not_found",
    );
  }
  // the five ws.message commands to the room's node, and no room.get to the three others
  assert.deepEqual(
    seen.filter((op) => op !== "ws.message"),
    [],
  );
});

test("weir-rooms forgets the room when its last session leaves", async () => {
  const room = "short-lived";
  const token = await edgeToken(SECRET, room, "visitor", ["subscribe"]);
  const ws = await WsClient.open(edge.url, room, token);
  const node = await edgeBus.registry.getRoomNode(room);
  assert.ok(node !== null);
  assert.deepEqual(await edgeBus.registry.roomMembers(room), [node]);
  ws.close();
  await pollUntil(
    async () => (await edgeBus.registry.getRoomNode(room)) === null,
    10_000,
    () => "the room's placement cleared",
  );
  assert.deepEqual(await edgeBus.registry.roomMembers(room), []);
});
