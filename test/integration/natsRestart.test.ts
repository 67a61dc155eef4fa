// Issue 12 defect 2 on the real path: an edge (Node server, NATS over TCP) and a media node
// process on a real nats-server that is restarted on the same ports, once with its JetStream
// store kept and once with an empty store_dir (a container without a persistent volume). The
// KV buckets are re-created: /healthz, a WHIP POST and a WebSocket join work again within 10 s
// of NATS being back, and the pair connected before the restart keeps receiving video.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { createNodeEdge, type NodeEdge } from "../../edge/src/node.ts";
import { connectNatsBus, type NatsBusHandle } from "../../shared/bus/adapter/node/nats.ts";
import { pollUntil } from "../helpers/browser.ts";
import { type EdgePair, edgeToken, postOffer, startEdgePair } from "../helpers/edgePair.ts";
import { type NatsServer, startNatsServer } from "../helpers/natsServer.ts";
import { type MediaNodeProc, startMediaNode } from "../helpers/system.ts";
import { until, weriftPublisher } from "../helpers/weriftPeer.ts";
import { WsClient } from "../helpers/wsClient.ts";

const SECRET = "weir-nats-restart-test-secret-0123456789abcdef";
const RECOVERY_MS = 10_000;
let nats: NatsServer;
let edgeBus: NatsBusHandle;
let edge: NodeEdge;
let node: MediaNodeProc;
let pair: EdgePair;
const closers: (() => unknown)[] = [];

before(async () => {
  nats = await startNatsServer();
  edgeBus = await connectNatsBus(nats.url, { name: "restart-edge" });
  edge = await createNodeEdge({
    bus: edgeBus.bus,
    registry: edgeBus.registry,
    secret: SECRET,
    port: 0,
  });
  node = await startMediaNode(nats.url, "node-r");
  await pollUntil(
    async () => (await health()).nodes === 1,
    10_000,
    () => "the node in /healthz",
  );
  pair = await startEdgePair(edge.url, SECRET, "before");
});

after(async () => {
  for (const close of closers.reverse()) await close();
  await pair?.close();
  await node?.stop();
  await edge?.close();
  await edgeBus?.close();
  await nats?.stop();
});

async function health(): Promise<{ status: number; nodes: number }> {
  const res = await fetch(`${edge.url}/healthz`);
  const body = (await res.json()) as { nodes?: number };
  return { status: res.status, nodes: body.nodes ?? 0 };
}

/** A WHIP POST of a werift offer to `room`; the status. */
async function whipStatus(room: string): Promise<number> {
  const pub = await weriftPublisher(["audio", "video"]);
  closers.push(() => pub.pc.close());
  const token = await edgeToken(SECRET, room, "late-publisher", ["publish"]);
  const res = await postOffer(edge.url, room, "whip", token, pub.offer.sdp);
  await res.body?.cancel();
  return res.status;
}

/** Restarts NATS, then waits (at most RECOVERY_MS) for /healthz, a WHIP and a join to work. */
async function restartAndRecover(emptyStore: boolean, room: string): Promise<void> {
  const before = pair.videoReceived();
  await nats.restart({ emptyStore });
  const back = performance.now();
  let last = "";
  await pollUntil(
    async () => {
      const h = await health();
      last = `healthz ${h.status} nodes ${h.nodes}`;
      return h.status === 200 && h.nodes === 1;
    },
    RECOVERY_MS,
    () => `/healthz after the restart (${last})`,
  );
  // /healthz can answer before every JetStream call does again: meanwhile a WHIP gets 503 (a
  // client retries it), so the WHIP is polled too, within the same bound
  let whip = 0;
  await pollUntil(
    async () => {
      whip = await whipStatus(room);
      return whip === 201;
    },
    Math.max(0, RECOVERY_MS - (performance.now() - back)),
    () => `WHIP after the restart: ${whip}`,
    500,
  );
  const token = await edgeToken(SECRET, room, "late-viewer", ["subscribe"]);
  const ws = await WsClient.open(edge.url, room, token);
  closers.push(() => ws.close());
  const joined = ws.welcome.participants as { identity: string }[];
  assert.ok(
    joined.some((p) => p.identity === "late-publisher"),
    JSON.stringify(joined),
  );
  const took = Math.round(performance.now() - back);
  assert.ok(took <= RECOVERY_MS, `recovered ${took} ms after NATS was back`);
  console.log(`# NATS restart (emptyStore=${emptyStore}): healthz + WHIP + join in ${took} ms`);
  await until(() => pair.videoReceived() > before + 100, 10_000, "the old pair's video");
}

test("NATS restarted with the same store: healthz, WHIP and join recover; media flows", async () => {
  await restartAndRecover(false, "after-same");
});

test("NATS restarted with an empty store: the KV buckets are re-created; all recover", async () => {
  await restartAndRecover(true, "after-empty");
});
