// Cascading end to end: nats-server, the edge Worker in miniflare, two media node processes.
// Node A takes one participant (--max-sessions 1), so the room spills to node B: a Chromium
// publisher on A (1280x720 simulcast video, audio, a DataChannel), a Chromium subscriber on B
// that decodes A's video and audio through a relay, switches simulcast layers across it
// (1280 -> 320 -> 1280) and receives A's DataChannel messages over NATS. Then A is SIGKILLed:
// B's subscriber gets trackended within 6 s (the relay times out).
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { connectNatsBus, type NatsBusHandle } from "../../shared/bus/adapter/node/nats.ts";
import { NODE_STALE_MS, type NodeInfo } from "../../shared/bus/bus.ts";
import {
  BrowserHarness,
  browserUnavailable,
  pollUntil,
  sleep,
  type WeirPage,
} from "../helpers/browser.ts";
import { type EdgeWorker, startEdgeWorker } from "../helpers/miniflare.ts";
import { type NatsServer, startNatsServer } from "../helpers/natsServer.ts";
import {
  devToken,
  type MediaNodeProc,
  roomInbound,
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

/** B's subscriber page: Bob. Alice publishes on A. Set by the first test. */
let alice: WeirPage | undefined;
let bob: WeirPage | undefined;

type PageWindow = Window & {
  weirRoom: {
    participants: { tracks: { publisherId: string; kind: string }[] }[];
    on(e: string, f: (x: unknown) => void): void;
    setPreferredLayers(id: string, layers: { spatial?: number }): Promise<void>;
    publishData(label: string): Promise<{ dataPublisherId: string; send(m: unknown): void }>;
    subscribeData(id: string): Promise<{ on(e: string, f: (m: unknown) => void): void }>;
  };
  ended: number[];
  dataPub: { send(m: string | Uint8Array): void };
  dataRx: string[];
};

test(
  "a Chromium subscriber on node B decodes a 1280x720 simulcast publisher on node A through a relay",
  opts,
  async () => {
    // Only node A exists when Alice joins: the room is A's.
    nodes.push(await startMediaNode(nats!.url, "node-a", ["--max-sessions", "1"]));
    await liveNode("node-a");
    alice = await newPage("alice");
    await startRoomApp(alice.page, {
      edgeUrl: edge!.url,
      token: await devToken(ROOM, "alice", ["publish", "data"], SECRET),
      publish: true,
      video: { width: 1280, height: 720 },
      simulcast: true,
    });
    nodes.push(await startMediaNode(nats!.url, "node-b"));
    await liveNode("node-a", (n) => n.sessions === 1);
    await liveNode("node-b");
    // A is full: Bob's session spills to B, and his subscriptions to Alice's tracks relay from A.
    bob = await newPage("bob");
    const t0 = performance.now();
    await startRoomApp(bob.page, {
      edgeUrl: edge!.url,
      token: await devToken(ROOM, "bob", ["subscribe", "data"], SECRET),
      publish: false,
    });
    await bob.page.evaluate(() => {
      const w = window as unknown as PageWindow;
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
    const list = await reg!.registry.list();
    const [a, b] = ["node-a", "node-b"].map((id) => list.find((n) => n.nodeId === id)!);
    assert.equal(a.sessions, 1, "Alice on node A");
    assert.equal(b.sessions, 1, "Bob on node B");
    assert.match(a.relayAddress ?? "", /^127\.0\.0\.1:\d+$/);
    console.log(
      `  relay A -> B: Bob decoded ${s.videoFramesDecoded} frames (${s.frameWidth} px wide), ${s.audioPackets} audio packets, ${Math.round(performance.now() - t0)} ms after joining`,
    );
  },
);

test(
  "a simulcast layer switch on B's subscriber crosses the relay: ~1280 -> ~320 -> ~1280 wide, decoding throughout",
  opts,
  async () => {
    assert.ok(bob, "the first test set up Bob");
    const page = bob.page;
    const publisherId = await page.evaluate(() => {
      const room = (window as unknown as PageWindow).weirRoom;
      const tracks = room.participants.flatMap((p) => p.tracks);
      return tracks.find((t) => t.kind === "video")?.publisherId ?? "";
    });
    assert.ok(publisherId, "Bob knows Alice's video publisher");
    // Frames decoded must keep rising: the longest gap between two rising samples is a stall.
    let lastFrames = 0;
    let lastRiseAt = performance.now();
    let longestStallMs = 0;
    const sample = async () => {
      const s = await roomInbound(page);
      const now = performance.now();
      if (s.videoFramesDecoded > lastFrames) {
        longestStallMs = Math.max(longestStallMs, now - lastRiseAt);
        lastFrames = s.videoFramesDecoded;
        lastRiseAt = now;
      }
      return s;
    };
    const untilWidth = async (what: string, ok: (w: number) => boolean, timeoutMs: number) => {
      const t0 = performance.now();
      let last: unknown = null;
      const s = await pollUntil(
        async () => {
          const s = await sample();
          last = s;
          return ok(s.frameWidth) ? s : null;
        },
        timeoutMs,
        () => `${what}: ${JSON.stringify(last)}\n${diag()}`,
        150,
      );
      const ms = Math.round(performance.now() - t0);
      console.log(`  ${what}: ${s.frameWidth} px wide after ${ms} ms`);
      return ms;
    };
    const setLayers = (spatial: number) =>
      page.evaluate(
        ({ id, spatial }) =>
          (window as unknown as PageWindow).weirRoom.setPreferredLayers(id, { spatial }),
        { id: publisherId, spatial },
      );
    // Chromium sends the top layer once its bandwidth estimate has ramped up.
    await untilWidth("top layer through the relay", (w) => w >= 960, 30_000);
    lastRiseAt = performance.now();
    longestStallMs = 0;
    const framesBefore = lastFrames;
    await setLayers(0);
    const downMs = await untilWidth("setPreferredLayers(0) on B", (w) => w > 0 && w <= 400, 10_000);
    await setLayers(2);
    const upMs = await untilWidth("setPreferredLayers(2) on B", (w) => w >= 960, 15_000);
    // A few more samples after the last switch: decoding goes on.
    const settled = performance.now() + 1000;
    while (performance.now() < settled) await sample().then(() => sleep(150));
    console.log(
      `  ${lastFrames - framesBefore} frames decoded over both switches; longest stall ${Math.round(longestStallMs)} ms`,
    );
    assert.ok(downMs < 10_000 && upMs < 15_000);
    assert.ok(lastFrames - framesBefore > 30, "frames decoded throughout");
    assert.ok(longestStallMs < 3000, `decoding stalled for ${Math.round(longestStallMs)} ms`);
  },
);

test(
  "a DataChannel published on node A reaches the subscriber on node B intact",
  opts,
  async () => {
    assert.ok(alice && bob, "the first test set up Alice and Bob");
    const id = await alice.page.evaluate(async () => {
      const w = window as unknown as PageWindow;
      const pub = await w.weirRoom.publishData("chat");
      w.dataPub = pub;
      return pub.dataPublisherId;
    });
    await bob.page
      .evaluate(async (id) => {
        const w = window as unknown as PageWindow;
        w.dataRx = [];
        const sub = await w.weirRoom.subscribeData(id);
        sub.on("message", (m) => {
          if (typeof m === "string") w.dataRx.push(`s:${m}`);
          else w.dataRx.push(`b:${[...new Uint8Array(m as ArrayBuffer)].join(",")}`);
        });
      }, id)
      .catch((err: Error) => {
        throw new Error(`${err.message}\n${diag()}`);
      });
    await alice.page.evaluate(() => {
      const w = window as unknown as PageWindow;
      w.dataPub.send("hello from node A ✓");
      w.dataPub.send(new Uint8Array([0, 1, 2, 127, 128, 254, 255]));
    });
    const rx = await pollUntil(
      () =>
        bob!.page.evaluate(() => {
          const rx = (window as unknown as PageWindow).dataRx;
          return rx.length >= 2 ? rx : null;
        }),
      10_000,
      () => `Bob's DataChannel messages\n${diag()}`,
      100,
    );
    assert.deepEqual(rx, ["s:hello from node A ✓", "b:0,1,2,127,128,254,255"]);
  },
);

test(
  "SIGKILL node A: B's subscriber gets trackended for both tracks within 6 s",
  opts,
  async () => {
    assert.ok(bob, "the first test set up Bob");
    const page = bob.page;
    // Node A dies without a word: B's relays time out and Bob's tracks end.
    const before = await page.evaluate(() => (window as unknown as PageWindow).ended.length);
    assert.equal(before, 0, "no track ended before the kill");
    const killedAt = await page.evaluate(() => performance.now());
    nodes[0].child.kill("SIGKILL");
    const endedAt = await pollUntil(
      () =>
        page.evaluate((since) => {
          const ended = (window as unknown as PageWindow).ended.filter((t) => t >= since);
          return ended.length >= 2 ? ended[1] : null;
        }, killedAt),
      10_000,
      () => `trackended on B\n${diag()}`,
      100,
    );
    const ms = Math.round(endedAt - killedAt);
    console.log(`  SIGKILL node A: Bob's two tracks ended after ${ms} ms`);
    assert.ok(ms < 6000, `tracks ended after ${ms} ms`);
  },
);
