// The distributed system end to end: a real nats-server (TCP for the nodes, WebSocket for the
// edge), the edge Worker bundle in miniflare, two media node processes, and headless Chromium
// pages served from a 127.0.0.1 origin reaching the edge at its own URL (CORS / cross-origin
// WebSocket). (a) WHIP + WHEP, (b) the WebSocket protocol through the client Room, (c) the Room
// reconnects after its node is killed.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { connectNatsBus, type NatsBusHandle } from "../../shared/bus/adapter/node/nats.ts";
import { NODE_STALE_MS } from "../../shared/bus/bus.ts";
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
  type InboundSummary,
  injectRfc9725,
  type MediaNodeProc,
  roomInbound,
  roomStates,
  startMediaNode,
  startRoomApp,
  untilDecoding,
} from "../helpers/system.ts";

const SECRET = "weir-system-e2e-secret-0123456789abcdef";
const skip = browserUnavailable();
const opts = { skip: skip ?? false };

let nats: NatsServer | undefined;
let edge: EdgeWorker | undefined;
let reg: NatsBusHandle | undefined;
let harness: BrowserHarness | undefined;
const nodes = new Map<string, MediaNodeProc>();
const pages: WeirPage[] = [];

before(async () => {
  if (skip) return;
  const t0 = performance.now();
  const browser = BrowserHarness.launch();
  nats = await startNatsServer();
  const [e, r, a, b] = await Promise.all([
    startEdgeWorker({ natsWsUrl: nats.wsUrl, secret: SECRET }),
    connectNatsBus(nats.url, { name: "system-e2e" }),
    startMediaNode(nats.url, "node-a"),
    startMediaNode(nats.url, "node-b"),
  ]);
  edge = e;
  reg = r;
  nodes.set(a.id, a);
  nodes.set(b.id, b);
  harness = await browser;
  // Both nodes are registered and live before any placement.
  await pollUntil(
    async () => {
      const now = Date.now();
      const live = (await r.registry.list()).filter((n) => now - n.heartbeatAt <= NODE_STALE_MS);
      return live.length === 2;
    },
    10_000,
    () => "two live media nodes",
  );
  console.log(
    `  setup (nats, Worker bundle, 2 nodes, Chromium): ${Math.round(performance.now() - t0)} ms`,
  );
});

after(async () => {
  await harness?.close();
  await Promise.all([...nodes.values()].map((n) => n.stop(2000)));
  await edge?.stop();
  await reg?.close();
  await nats?.stop();
});

async function newPage(name: string): Promise<WeirPage> {
  const p = await harness!.newPage(name);
  pages.push(p);
  return p;
}

function diag(): string {
  const logs = [...nodes.values()].map((n) => `--- ${n.id}\n${n.log().slice(-1500)}`);
  return `${logs.join("\n")}\n${pages.flatMap((p) => p.logs).join("\n")}`;
}

test("(a) WHIP publish + WHEP play from Chromium through the Worker edge", opts, async () => {
  const room = "sys-whip";
  const [pubPage, viewPage] = await Promise.all([newPage("whip"), newPage("whep")]);
  await Promise.all([injectRfc9725(pubPage.page), injectRfc9725(viewPage.page)]);
  const pubToken = await devToken(room, "cam", ["publish"], SECRET);
  const viewToken = await devToken(room, "viewer", ["subscribe"], SECRET);
  const t0 = performance.now();
  const pub = await pubPage.page.evaluate(([e, t]) => window.rfc9725.publish(e, t), [
    `${edge!.url}/v1/rooms/${room}/whip`,
    pubToken,
  ] as const);
  assert.equal(pub.status, 201, `${pub.body}\n${diag()}`);
  assert.match(pub.location ?? "", /^\/v1\/sessions\/node-[ab]\./);
  assert.match(pub.etag ?? "", /^"[^"]+"$/);
  const trickled = await pubPage.page.evaluate((id) => window.rfc9725.trickle(id), pub.id);
  assert.equal(trickled.status, 204, trickled.body);

  const view = await viewPage.page.evaluate(([e, t]) => window.rfc9725.play(e, t), [
    `${edge!.url}/v1/rooms/${room}/whep`,
    viewToken,
  ] as const);
  assert.equal(view.status, 201, `${view.body}\n${diag()}`);
  assert.match(view.location ?? "", /^\/v1\/sessions\/node-[ab]\./);
  assert.equal(
    view.location?.split(".")[0],
    pub.location?.split(".")[0],
    "the viewer is on the room's node",
  );
  let last: InboundSummary | null = null;
  const s = await pollUntil(
    async () => {
      last = await viewPage.page.evaluate((id) => window.rfc9725.inbound(id), view.id);
      return last.videoFramesDecoded > 30 && last.audioPackets > 30 ? last : null;
    },
    20_000,
    () => `WHEP viewer decodes: ${JSON.stringify(last)}\n${diag()}`,
    200,
  );
  console.log(
    `  WHEP via the Worker: ${s.videoFramesDecoded} frames (${s.frameWidth} px wide), ${s.audioPackets} audio packets, ${Math.round(performance.now() - t0)} ms after the WHIP POST`,
  );
  assert.equal(await viewPage.page.evaluate((id) => window.rfc9725.remove(id), view.id), 200);
  assert.equal(await pubPage.page.evaluate((id) => window.rfc9725.remove(id), pub.id), 200);
  await Promise.all([pubPage.close(), viewPage.close()]);
});

const ROOM = "sys-room";
let alice: WeirPage;
let bob: WeirPage;

test(
  "(b) WebSocket protocol: page A publishes camera + mic, page B subscribes and decodes",
  opts,
  async () => {
    [alice, bob] = await Promise.all([newPage("A"), newPage("B")]);
    const t0 = performance.now();
    await startRoomApp(alice.page, {
      edgeUrl: edge!.url,
      token: await devToken(ROOM, "alice", ["publish", "subscribe"], SECRET),
      publish: true,
    });
    await startRoomApp(bob.page, {
      edgeUrl: edge!.url,
      token: await devToken(ROOM, "bob", ["subscribe"], SECRET),
      publish: false,
    });
    const s = await untilDecoding(bob.page, "B decodes A", { frames: 30, audioPackets: 30 }).catch(
      (err: Error) => {
        throw new Error(`${err.message}\n${diag()}`);
      },
    );
    assert.equal(s.state, "connected");
    assert.equal(s.connectionState, "connected");
    assert.ok(s.frameWidth > 0);
    console.log(
      `  Room via the Worker: B decoded ${s.videoFramesDecoded} frames (${s.frameWidth} px wide), ${s.audioPackets} audio packets, ${Math.round(performance.now() - t0)} ms after A connected`,
    );
  },
);

test("(c) the Room reconnects after its node is SIGKILLed and B decodes again", opts, async () => {
  const victim = await reg!.registry.getRoomNode(ROOM);
  assert.ok(victim !== null && nodes.has(victim), `room on ${victim}`);
  const survivor = [...nodes.keys()].find((id) => id !== victim)!;
  // Mark B's current subscribe connection so that "the new connection" can be told apart.
  await bob.page.evaluate(() => {
    const w = window as unknown as { weirRoom: { subscribeTransport: { peerConnection: object } } };
    (w.weirRoom.subscribeTransport.peerConnection as { weirOld?: boolean }).weirOld = true;
  });
  const statesBefore = (await roomStates(bob.page)).length;
  const killedAt = performance.now();
  nodes.get(victim)!.child.kill("SIGKILL");

  const stateSince = async (want: string) => {
    const states = (await roomStates(bob.page)).slice(statesBefore);
    return states.some((s) => s.endsWith(` ${want}`));
  };
  await pollUntil(
    () => stateSince("reconnecting"),
    45_000,
    async () => `B reconnecting: ${await roomStates(bob.page)}\n${diag()}`,
    100,
  );
  const reconnectingAfter = Math.round(performance.now() - killedAt);
  await pollUntil(
    async () => (await reg!.registry.getRoomNode(ROOM)) === survivor,
    NODE_STALE_MS + 20_000,
    () => `room moves to ${survivor}`,
    200,
  );
  const movedAfter = Math.round(performance.now() - killedAt);
  await pollUntil(
    async () =>
      (await stateSince("connected")) && (await roomInbound(bob.page)).state === "connected",
    30_000,
    async () => `B connected again: ${await roomStates(bob.page)}\n${diag()}`,
    100,
  );
  const connectedAfter = Math.round(performance.now() - killedAt);
  await untilDecoding(bob.page, "B decodes a first frame of A again", {
    frames: 1,
    audioPackets: 1,
    timeoutMs: 30_000,
  }).catch((err: Error) => {
    throw new Error(`${err.message}\n${diag()}`);
  });
  const firstFrameAfter = Math.round(performance.now() - killedAt);
  const s = await untilDecoding(bob.page, "B decodes A again", {
    frames: 30,
    audioPackets: 30,
    timeoutMs: 30_000,
  }).catch((err: Error) => {
    throw new Error(`${err.message}\n${diag()}`);
  });
  const decodingAfter = Math.round(performance.now() - killedAt);
  const fresh = await bob.page.evaluate(() => {
    const w = window as unknown as { weirRoom: { subscribeTransport: { peerConnection: object } } };
    return !(w.weirRoom.subscribeTransport.peerConnection as { weirOld?: boolean }).weirOld;
  });
  assert.ok(fresh, "B decodes on a new subscribe connection");
  // Frames keep rising on the new connection.
  await sleep(1000);
  const later = await roomInbound(bob.page);
  assert.ok(
    later.videoFramesDecoded > s.videoFramesDecoded,
    `${later.videoFramesDecoded} > ${s.videoFramesDecoded}`,
  );
  const aliceStates = await roomStates(alice.page);
  assert.ok(
    aliceStates.some((x) => x.endsWith(" reconnecting")),
    `A: ${aliceStates}`,
  );
  assert.equal((await roomInbound(alice.page)).state, "connected");
  console.log(
    `  SIGKILL ${victim}: B reconnecting after ${reconnectingAfter} ms, room on ${survivor} after ${movedAfter} ms, connected after ${connectedAfter} ms, first frame decoded after ${firstFrameAfter} ms, ${s.videoFramesDecoded} frames after ${decodingAfter} ms (then ${later.videoFramesDecoded})`,
  );
  console.log(`  B states: ${(await roomStates(bob.page)).join(", ")}`);
});
