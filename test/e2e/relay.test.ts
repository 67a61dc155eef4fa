// Cascading end to end: nats-server, the edge Worker in miniflare, two media node processes.
// Node A takes one participant (--max-sessions 1), so the room spills to node B: a Chromium
// publisher on A, a Chromium subscriber on B that decodes A's video and audio through a relay.
// Then A is SIGKILLed: B's subscriber gets trackended within 6 s (the relay times out).
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { connectNatsBus, type NatsBusHandle } from "../../media-node/src/service/bus/natsBus.ts";
import { NODE_STALE_MS, type NodeInfo } from "../../shared/bus.ts";
import {
  BrowserHarness,
  browserUnavailable,
  pollUntil,
  type WeirPage,
} from "../helpers/browser.ts";
import { type EdgeWorker, startEdgeWorker } from "../helpers/miniflare.ts";
import { type NatsServer, startNatsServer } from "../helpers/natsServer.ts";
import {
  devToken,
  type MediaNodeProc,
  startMediaNode,
  startRoomApp,
  untilDecoding,
} from "../helpers/system.ts";

const SECRET = "weir-relay-e2e-secret-0123456789abcdef";
const ROOM = "relay-room";
const skip = browserUnavailable();
const opts = { skip: skip ?? false };

let nats: NatsServer | undefined;
let edge: EdgeWorker | undefined;
let reg: NatsBusHandle | undefined;
let harness: BrowserHarness | undefined;
const nodes: MediaNodeProc[] = [];
const pages: WeirPage[] = [];

before(async () => {
  if (skip) return;
  const browser = BrowserHarness.launch();
  nats = await startNatsServer();
  [edge, reg] = await Promise.all([
    startEdgeWorker({ natsWsUrl: nats.wsUrl, secret: SECRET }),
    connectNatsBus(nats.url, { name: "relay-e2e" }),
  ]);
  harness = await browser;
});

after(async () => {
  for (const p of pages) await p.close().catch(() => {});
  await harness?.close();
  await Promise.all(nodes.map((n) => n.stop(2000)));
  await edge?.stop();
  await reg?.close();
  await nats?.stop();
});

async function liveNode(nodeId: string, check: (n: NodeInfo) => boolean = () => true) {
  await pollUntil(
    async () => {
      const n = (await reg!.registry.list()).find((x) => x.nodeId === nodeId);
      return n && Date.now() - n.heartbeatAt <= NODE_STALE_MS && check(n) ? n : null;
    },
    10_000,
    () => `node ${nodeId} in the registry`,
  );
}

function diag(): string {
  const logs = nodes.map((n) => `--- ${n.id}\n${n.log().slice(-2000)}`);
  return `${logs.join("\n")}\n${pages.flatMap((p) => p.logs).join("\n")}`;
}

async function newPage(name: string): Promise<WeirPage> {
  const p = await harness!.newPage(name);
  pages.push(p);
  return p;
}

test(
  "a Chromium subscriber on node B decodes a Chromium publisher on node A through a relay; killing A ends B's tracks",
  opts,
  async () => {
    // Only node A exists when Alice joins: the room is A's.
    nodes.push(await startMediaNode(nats!.url, "node-a", ["--max-sessions", "1"]));
    await liveNode("node-a");
    const alice = await newPage("alice");
    await startRoomApp(alice.page, {
      edgeUrl: edge!.url,
      token: await devToken(ROOM, "alice", ["publish"], SECRET),
      publish: true,
    });
    nodes.push(await startMediaNode(nats!.url, "node-b"));
    await liveNode("node-a", (n) => n.sessions === 1);
    await liveNode("node-b");
    // A is full: Bob's session spills to B, and his subscriptions to Alice's tracks relay from A.
    const bob = await newPage("bob");
    const t0 = performance.now();
    await startRoomApp(bob.page, {
      edgeUrl: edge!.url,
      token: await devToken(ROOM, "bob", ["subscribe"], SECRET),
      publish: false,
    });
    await bob.page.evaluate(() => {
      const w = window as unknown as {
        weirRoom: { on(e: string, f: (x: { publisherId: string }) => void): void };
        ended: number[];
      };
      w.ended = [];
      w.weirRoom.on("trackended", () => w.ended.push(performance.now()));
    });
    const s = await untilDecoding(bob.page, "B decodes A through the relay", {
      frames: 30,
      audioPackets: 30,
      timeoutMs: 30_000,
    }).catch((err: Error) => {
      throw new Error(`${err.message}\n${diag()}`);
    });
    assert.ok(s.frameWidth > 0);
    const [a, b] = await Promise.all([reg!.registry.list()]).then(([l]) =>
      ["node-a", "node-b"].map((id) => l.find((n) => n.nodeId === id)!),
    );
    assert.equal(a.sessions, 1, "Alice on node A");
    assert.equal(b.sessions, 1, "Bob on node B");
    assert.match(a.relayAddress ?? "", /^127\.0\.0\.1:\d+$/);
    console.log(
      `  relay A -> B: Bob decoded ${s.videoFramesDecoded} frames (${s.frameWidth} px wide), ${s.audioPackets} audio packets, ${Math.round(performance.now() - t0)} ms after joining`,
    );

    // Node A dies without a word: B's relays time out and Bob's tracks end.
    const killedAt = await bob.page.evaluate(() => performance.now());
    nodes[0].child.kill("SIGKILL");
    const endedAt = await pollUntil(
      () =>
        bob.page.evaluate(() => {
          const ended = (window as unknown as { ended: number[] }).ended;
          return ended.length >= 2 ? ended[1] : null;
        }),
      10_000,
      () => `trackended on B\n${diag()}`,
      100,
    );
    const ms = Math.round(endedAt - killedAt);
    console.log(`  SIGKILL node A: Bob's two tracks ended after ${ms} ms`);
    assert.ok(ms < 6000, `tracks ended after ${ms} ms`);
  },
);
