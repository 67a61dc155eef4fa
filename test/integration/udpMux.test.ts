import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { after, before, test } from "node:test";
import { type Publisher, Router, UdpMux } from "../../media-node/src/index.ts";
import { publishSyntheticVideo } from "../helpers/syntheticPublisher.ts";
import { until, WeriftSubscriber } from "../helpers/weriftPeer.ts";

// The node side listens on the host's non-loopback address only (the veth of scripts/netns.mjs);
// the werift clients sit on 127.0.0.1, so every UDP socket on HOST is the node's.
const HOST = process.env.WEIR_HOST_IPV4 ?? "127.0.0.1";
const HOST6 = process.env.WEIR_HOST_IPV6;
const closers: (() => unknown)[] = [];
let mux: UdpMux;
let router: Router;

before(async () => {
  mux = await UdpMux.open({ port: 0, listenIps: HOST6 ? [HOST, HOST6] : [HOST] });
  router = new Router({ transport: { udpMux: mux } });
});

after(async () => {
  for (const close of closers.reverse()) await close();
  await router.close();
  await mux.close();
});

/** UDP sockets bound on `ip` in this network namespace (`ss -uan`). */
function socketsOn(ip: string): string[] {
  const out = execFileSync("ss", ["-uanH"], { encoding: "utf8" });
  return out
    .split("\n")
    .map((line) => line.trim().split(/\s+/)[3] ?? "")
    .filter((local) => local.startsWith(`${ip}:`) || local.startsWith(`[${ip}]:`));
}

async function subscribe(publisher: Publisher, on = router): Promise<WeriftSubscriber> {
  const sub = new WeriftSubscriber();
  sub.keep = false;
  const transport = on.createSubscribeTransport();
  closers.push(
    () => sub.pc.close(),
    () => transport.close(),
  );
  const { offer } = await transport.subscribe(publisher.id);
  await transport.setAnswer(await sub.answer(offer));
  return sub;
}

test("one port for every session: candidates name the mux port, media flows, no socket per session", async () => {
  assert.equal(new Set(mux.sockets.map((s) => s.port)).size, 1, "every address on one port");
  const before = socketsOn(HOST);
  assert.deepEqual(before, [`${HOST}:${mux.port}`]);

  const { publisher, answerSdp } = await publishSyntheticVideo(router, closers);
  const candidates = answerSdp.match(/^a=candidate:.*$/gm) ?? [];
  assert.ok(candidates.length >= 1);
  for (const c of candidates) assert.equal(c.split(" ")[5], String(mux.port), c);
  assert.ok(candidates.some((c) => c.split(" ")[4] === HOST));

  const subs: WeriftSubscriber[] = [];
  for (let i = 0; i < 5; i++) subs.push(await subscribe(publisher));
  await until(() => subs.every((s) => s.total() >= 20), 20_000, "every subscriber gets video");

  assert.deepEqual(socketsOn(HOST), before, "the node's sockets do not grow with sessions");
  assert.equal(mux.stats.sessions, 6);
  assert.ok(mux.stats.tuples >= 6, `tuples ${mux.stats.tuples}`);
});

test("datagrams from sources no session authenticated are dropped and counted", async () => {
  const { createSocket } = await import("node:dgram");
  const stranger = createSocket("udp4");
  closers.push(() => stranger.close());
  const before = { ...mux.stats };
  const rtp = Buffer.alloc(100);
  rtp[0] = 0x80;
  const stun = Buffer.alloc(20);
  stun.writeUInt16BE(0x0001, 0);
  stun.writeUInt32BE(0x2112a442, 4);
  for (let i = 0; i < 10; i++) stranger.send(rtp, mux.port, HOST);
  for (let i = 0; i < 10; i++) stranger.send(stun, mux.port, HOST);
  await until(
    () =>
      mux.stats.droppedUnknownSource >= before.droppedUnknownSource + 10 &&
      mux.stats.droppedStun >= before.droppedStun + 10,
    5_000,
    "strangers counted",
  );
  assert.equal(mux.stats.tuples, before.tuples, "no tuple for a stranger");
});

test("the liveness sweep reaps sessions on the mux: a client gone silent, one never connected", async () => {
  const quick = new Router({
    transport: { udpMux: mux, connectTimeoutMs: 2_000, consentTimeoutMs: 2_000 },
  });
  closers.push(() => quick.close());
  const { publisher } = await publishSyntheticVideo(quick, closers);
  const silent = await subscribe(publisher, quick);
  await until(() => silent.total() >= 20, 10_000, "the subscriber gets video");
  const before = { sessions: mux.stats.sessions, tuples: mux.stats.tuples };

  await silent.pc.close(); // no more checks or SRTCP from it: consent lapses after 2 s
  await until(() => mux.stats.sessions === before.sessions - 1, 10_000, "silent session reaped");
  assert.ok(
    mux.stats.tuples < before.tuples,
    `its tuples go: ${before.tuples} -> ${mux.stats.tuples}`,
  );

  const never = quick.createSubscribeTransport();
  await never.subscribe(publisher.id); // an offer on the mux that nobody answers
  assert.equal(mux.stats.sessions, before.sessions);
  await until(
    () => mux.stats.sessions === before.sessions - 1,
    10_000,
    "unanswered session reaped",
  );
  assert.equal(never.getStats().state, "closed");
});
