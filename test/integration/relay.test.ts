import assert from "node:assert/strict";
import { createSocket } from "node:dgram";
import { after, before, test } from "node:test";
import { DEFAULT_CODECS, Publisher, Router, Subscriber } from "../../media-node/src/index.ts";
import { RelayServer } from "../../media-node/src/relay/RelayServer.ts";
import { relayContext } from "../../media-node/src/relay/relayKeys.ts";
import { parseRtp, RtpView, seqDiff } from "../../media-node/src/rtp/rtpPacket.ts";
import { MediaSource } from "../helpers/mediaSource.ts";
import { until, WeriftSubscriber, weriftPublisher } from "../helpers/weriftPeer.ts";

// Two "nodes" in one process: routers A and B, each with its own relay port on loopback.
const transport = { listenIps: ["127.0.0.1"] };
const routerA = new Router({ id: "room", transport });
const routerB = new Router({ id: "room", transport });
const relayA = new RelayServer({ port: 0, listenIp: "127.0.0.1", timeoutMs: 2000 });
const relayB = new RelayServer({ port: 0, listenIp: "127.0.0.1", timeoutMs: 2000 });
let video: Publisher;
let audio: Publisher;
let source: MediaSource;
let publisherPlis = 0;
/** B's werift subscriber of the relayed audio and video. */
let relayed: WeriftSubscriber;
const cleanup: (() => unknown)[] = [];

before(async () => {
  await Promise.all([relayA.listen(), relayB.listen()]);
  const pub = await weriftPublisher(["audio", "video"]);
  const pt = routerA.createPublishTransport();
  const offered = new Map<string, string>();
  pt.on("track", (t) => offered.set(t.kind, t.trackId));
  await pub.pc.setRemoteDescription(await pt.getAnswer(pub.offer));
  audio = pt.publish(offered.get("audio")!);
  video = pt.publish(offered.get("video")!);
  source = new MediaSource(pub.tracks[1], pub.tracks[0], { videoBitrate: 2_000_000 });
  pub.pc.getTransceivers()[1].sender.onRtcp.subscribe((rtcp) => {
    if (rtcp.type !== 206) return;
    publisherPlis++;
    source.keyframe();
  });
  source.start();
  cleanup.push(
    () => source.stop(),
    () => pt.close(),
    () => pub.pc.close(),
  );
});

after(async () => {
  for (const f of cleanup.reverse()) await f();
  await Promise.all([routerA.close(), routerB.close()]);
  await Promise.all([relayA.close(), relayB.close()]);
});

/** What the node service does over NATS: B asks, A answers, B connects. */
function openRelay(publisherId: string) {
  const downstream = relayB.createDownstream(routerB, publisherId);
  const origin = relayA.createOrigin(routerA, downstream.request);
  downstream.connect(origin.answer);
  return { downstream, origin };
}

async function subscribe(router: Router, publishers: Publisher[]) {
  const sub = new WeriftSubscriber();
  const st = router.createSubscribeTransport();
  for (const p of publishers) {
    const { offer } = await st.subscribe(p.id);
    await st.setAnswer(await sub.answer(offer));
  }
  cleanup.push(
    () => st.close(),
    () => sub.pc.close(),
  );
  return { sub, st };
}

const hex = (b: Buffer) => b.toString("hex");

test("a werift subscriber on B receives A's audio and video through the relay, bytes equal", async () => {
  const direct = await subscribe(routerA, [video, audio]);
  await until(() => direct.sub.total() > 20, 10_000, "direct media on A");
  const v = openRelay(video.id);
  const a = openRelay(audio.id);
  assert.equal(routerB.getPublisher(video.id), v.downstream.publisher);
  const { sub } = await subscribe(routerB, [v.downstream.publisher!, a.downstream.publisher!]);
  relayed = sub;
  await until(
    () => (sub.counts.get(video.id) ?? 0) > 150 && (sub.counts.get(audio.id) ?? 0) > 50,
    10_000,
    "relayed media on B",
  );
  const seen = new Set<string>();
  for (const list of direct.sub.received.values()) for (const p of list) seen.add(hex(p.payload));
  for (const id of [video.id, audio.id]) {
    const relayed = sub.received.get(id)!;
    const missing = relayed.filter((p) => !seen.has(hex(p.payload)));
    assert.equal(missing.length, 0, `${id}: every relayed payload equals one sent on A`);
  }
  // Video starts on a keyframe (VP8 S=1, P=0 in the payload header).
  const first = sub.received.get(video.id)![0].payload;
  assert.equal(first[0] & 0x10, 0x10);
  assert.equal(first[4] & 0x01, 0);
  const s = relayA.getStats();
  assert.equal(s.relays, 2);
  assert.ok(s.transports.every((t) => t.rtpPacketsOut > 0 && t.role === "origin"));
  const b = relayB.getStats();
  assert.ok(b.transports.every((t) => t.rtpPacketsIn > 0 && t.rtcpPacketsIn > 0));
  assert.equal(b.droppedAuth + b.droppedUnknownSource + b.droppedMalformed, 0);
  // one relay per publisher, however many subscribers B has
  await subscribe(routerB, [v.downstream.publisher!]);
  assert.equal(relayB.getStats().relays, 2);
});

test("a PLI from B's subscriber reaches A's publisher", async () => {
  const origin = relayA.relays.find((r) => r.publisherId === video.id)!;
  const st = routerB.getStats().subscribeTransports[0];
  const mediaSsrc = st.subscribers.find((s) => s.publisherId === video.id)!.ssrc;
  // B's subscribers all sending: none still asks for its first keyframe (sharing the throttle)
  const relayedVideo = routerB.getPublisher(video.id)!;
  await until(() => relayedVideo.subscribers.every((x) => x.currentLayers.spatial >= 0), 5000, "");
  await new Promise((r) => setTimeout(r, 600)); // past the publisher's keyframe-request throttle
  const plis = publisherPlis;
  const requested = video.getStats().keyframesRequested;
  const rtcpIn = origin.getStats().rtcpPacketsIn;
  const transceiver = relayed.pc.getTransceivers().find((t) => t.kind === "video")!;
  await transceiver.receiver.sendRtcpPLI(mediaSsrc);
  const downstream = routerB.getPublisher(video.id)!;
  await until(
    () => publisherPlis > plis && video.getStats().keyframesRequested > requested,
    3000,
    "PLI at A's publisher",
  ).catch((err: Error) => {
    const b = JSON.stringify(downstream.getStats());
    const o = JSON.stringify(origin.getStats());
    throw new Error(`${err.message}\nB publisher ${b}\norigin relay ${o}`);
  });
  assert.ok(origin.getStats().rtcpPacketsIn > rtcpIn);
});

/**
 * Loss seen by the subscriber over packets [from, to - tail): distinct sequence numbers. A packet
 * older than the first one (one lost just before the window, repaired inside it) is not counted.
 */
function lossOf(packets: { header: { sequenceNumber: number } }[], tail: number) {
  const first = packets[0].header.sequenceNumber;
  const seen = new Set<number>();
  for (const p of packets) {
    const d = seqDiff(first, p.header.sequenceNumber);
    if (d >= 0) seen.add(d);
  }
  const span = Math.max(...seen) + 1 - tail;
  let got = 0;
  for (const d of seen) if (d < span) got++;
  return { span, lost: span - got };
}

test("with 5% loss on the relay leg, NACK repair keeps the subscriber's loss below 0.5%", async () => {
  const list = relayed.received.get(video.id)!;
  const start = list.length;
  const downstream = routerB.getPublisher(video.id)!;
  const before = downstream.getStats();
  relayA.dropRate = 0.05;
  // 1500 packets at the subscriber (about 7 s; longer on a loaded machine)
  await until(() => list.length - start >= 1500, 25_000, "1500 packets under loss");
  relayA.dropRate = 0;
  await new Promise((r) => setTimeout(r, 300));
  const { span, lost } = lossOf(list.slice(start), 30);
  const after = downstream.getStats();
  const dropped = relayA.getStats().transports.reduce((n, t) => n + t.droppedByTest, 0);
  const relayLost = after.packetsLost - before.packetsLost;
  const repaired = after.packetsRepaired - before.packetsRepaired;
  console.log(
    `loss test: ${span} packets at the subscriber, ${lost} lost (${((100 * lost) / span).toFixed(3)}%); ` +
      `relay dropped ${dropped}, B saw ${relayLost} missing, ${repaired} repaired by NACK`,
  );
  assert.ok(span > 1000, `enough packets (${span})`);
  assert.ok(relayLost > span * 0.03, "the hook really dropped packets on the relay leg");
  assert.ok(lost / span < 0.005, `subscriber loss ${lost}/${span} under 0.5%`);
});

test("forged and garbled datagrams at the relay port are dropped and counted; the relay carries on", async () => {
  const forger = createSocket("udp4");
  await new Promise<void>((r) => forger.bind(0, "127.0.0.1", () => r()));
  const send = (b: Buffer) =>
    new Promise<void>((r) => forger.send(b, relayB.address.port, "127.0.0.1", () => r()));
  const real = relayB.relays.find((r) => r.publisherId === video.id)!;
  // a relay whose peer is the forger's socket, to reach the SRTP check from the right source
  const fake = relayB.createDownstream(routerB, "forged-publisher");
  const { port } = forger.address();
  const originKey = relayContext(fake.request.key);
  fake.connect({
    address: { ip: "127.0.0.1", port },
    ssrc: 1234,
    key: fake.request.key,
    kind: "audio",
    codec: { mimeType: "audio/opus", clockRate: 48000, channels: 2, payloadType: 111 },
    rids: [],
  });
  const before = relayB.getStats();
  const count = relayed.counts.get(video.id)!;
  const rtp = (ssrc: number, seq: number) => {
    const b = Buffer.alloc(112, 7);
    b[0] = 0x80;
    b[1] = 111;
    b.writeUInt16BE(seq, 2);
    b.writeUInt32BE(ssrc, 8);
    return b;
  };
  for (let i = 0; i < 20; i++) {
    const garbage = Buffer.from(
      Array.from({ length: 50 + i * 30 }, () => (Math.random() * 256) | 0),
    );
    garbage[0] &= 0x3f; // not version 2
    await send(garbage);
    await send(rtp(0xdeadbeef, i)); // well-formed RTP, unknown SSRC
    await send(rtp(real.receiveSsrc, i)); // the real relay's SSRC from the wrong address
    const srtp = originKey.encryptRtp(rtp(fake.receiveSsrc, 100 + i), 112, 12);
    srtp[40] ^= 0xff; // garbled in flight: the tag no longer matches
    await send(srtp);
    await send(Buffer.from([0x80, 0xc8, 0, 1])); // truncated RTCP
  }
  await until(() => relayB.getStats().packetsIn >= before.packetsIn + 100, 3000, "forgeries in");
  const s = relayB.getStats();
  assert.equal(s.droppedMalformed - before.droppedMalformed, 40);
  assert.equal(s.droppedUnknownSsrc - before.droppedUnknownSsrc, 20);
  assert.equal(s.droppedUnknownSource - before.droppedUnknownSource, 20);
  assert.equal(s.droppedAuth - before.droppedAuth, 20);
  // an authentic packet from the fake peer goes through: the drops above were the checks' doing
  await send(originKey.encryptRtp(rtp(fake.receiveSsrc, 500), 112, 12));
  await until(() => fake.getStats().rtpPacketsIn === 1, 2000, "authentic packet accepted");
  fake.close();
  forger.close();
  await until(() => relayed.counts.get(video.id)! > count + 100, 5000, "relay still carries");
});

test("an origin relay whose downstream node went silent times out and leaks nothing", async () => {
  const silent = createSocket("udp4");
  await new Promise<void>((r) => silent.bind(0, "127.0.0.1", () => r()));
  const subscribersBefore = video.subscribers.length;
  const origin = relayA.createOrigin(routerA, {
    publisherId: video.id,
    address: { ip: "127.0.0.1", port: silent.address().port },
    ssrcs: [4242],
    key: relayB.createDownstream(routerB, "unused").request.key,
  });
  relayB.relays.find((r) => r.publisherId === "unused")!.close();
  assert.equal(video.subscribers.length, subscribersBefore + 1);
  const reason = await new Promise((r) => origin.on("closed", r));
  assert.equal(reason, "timeout");
  assert.equal(video.subscribers.length, subscribersBefore);
  silent.close();
});

test("closing the downstream relay closes the origin side (BYE); no relay state is left", async () => {
  for (const r of relayB.relays) r.close();
  await until(() => relayA.getStats().relays === 0, 3000, "origin relays closed");
  assert.equal(relayB.getStats().relays, 0);
  assert.equal(routerB.getPublisher(video.id), undefined);
  assert.equal(routerB.getPublisher(audio.id), undefined);
  // only the direct subscriber on A is left on each publisher
  assert.equal(video.subscribers.length, 1);
  assert.equal(audio.subscribers.length, 1);
});

/** A probe subscriber on B that records the encoding marker (source byte 52) of what it gets. */
function probeSubscriber(publisher: Publisher, ssrc: number) {
  const seen: number[] = [];
  const sub = new Subscriber({
    id: `probe-${ssrc}`,
    publisher,
    ssrc,
    payloadType: 96,
    extMap: new Uint8Array(256),
    host: {
      mediaReady: true,
      sendRtp(plain, _len, headerLen) {
        seen.push(plain[headerLen + 40]);
        return true;
      },
    },
  });
  publisher.addSubscriber(sub);
  return { sub, seen };
}

/** A synthetic VP8 simulcast publisher on A: SSRC 0x1000 + encoding, byte 52 = encoding. */
function syntheticSimulcast(rids: string[]) {
  const vp8 = DEFAULT_CODECS.find((c) => c.mimeType === "video/VP8")!;
  const sim = new Publisher({
    id: "simulcast-cam",
    kind: "video",
    mid: "9",
    codec: vp8,
    sourcePayloadType: 96,
    headerExtensions: [],
    rids,
    host: { rtcpSsrc: 1, firNegotiated: false, sendRtcp() {} },
  });
  routerA.addPublisher(sim);
  const view = new RtpView();
  let frame = 0;
  // a keyframe on each encoding every 10 frames; larger packets for higher encodings
  const timer = setInterval(() => {
    const now = performance.now();
    for (let enc = 0; enc < rids.length; enc++) {
      const b = Buffer.alloc(200 + 300 * enc, 0x55);
      b[0] = 0x80;
      b[1] = 96;
      b.writeUInt16BE(frame & 0xffff, 2);
      b.writeUInt32BE(frame * 3000, 4);
      b.writeUInt32BE(0x1000 + enc, 8);
      const key = frame % 10 === 0;
      b[12] = 0x10;
      b[13] = key ? 0x00 : 0x01;
      if (key) Buffer.from([0, 0, 0x9d, 0x01, 0x2a, 0x80, 0x02, 0x68, 0x01]).copy(b, 14);
      b[52] = enc;
      parseRtp(b, b.length, view);
      sim.receive(b, view, now, enc);
    }
    sim.tick(now);
    frame++;
  }, 10);
  cleanup.push(() => clearInterval(timer));
  return sim;
}

const all = (xs: number[], v: number) => xs.length > 0 && xs.every((e) => e === v);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

test("simulcast: B's subscribers each get their own encoding through one relay; unwanted ones stop", async () => {
  const sim = syntheticSimulcast(["q", "h", "f"]);
  const { downstream, origin } = openRelay(sim.id);
  const relayedPub = downstream.publisher!;
  assert.equal(relayedPub.encodings.length, 3, "B's relayed publisher is simulcast too");
  assert.deepEqual(
    relayedPub.encodings.map((e) => e.rid),
    ["q", "h", "f"],
  );
  const lo = probeSubscriber(relayedPub, 701);
  const hi = probeSubscriber(relayedPub, 702);
  lo.sub.setPreferredLayers({ spatial: 0 });
  hi.sub.setPreferredLayers({ spatial: 2 });
  // What B wants goes to the origin (RelayManager sends it as relay.layers).
  assert.deepEqual(downstream.wantedLayers().encodings, [0, 2]);
  origin.setLayers(downstream.wantedLayers());
  await until(() => all(lo.seen.slice(-30), 0) && all(hi.seen.slice(-30), 2), 5000, "0 and 2");
  assert.ok(all(lo.seen, 0), "the low subscriber only ever got encoding 0");
  assert.ok(all(hi.seen.slice(hi.seen.indexOf(2)), 2), "the high one stays on 2 once there");
  // each encoding arrives at B on its own relay SSRC, all through one relay
  const ssrcs = downstream.request.ssrcs;
  assert.equal(relayedPub.encodings[0].ssrc, ssrcs[0]);
  assert.equal(relayedPub.encodings[2].ssrc, ssrcs[2]);
  assert.equal(relayB.relays.filter((r) => r.publisherId === sim.id).length, 1);
  await sleep(200); // packets in flight when encoding 1 was paused
  const count = () => relayedPub.encodings.map((e) => e.packetsReceived);
  const c0 = count();
  await sleep(1000);
  const c1 = count();
  console.log(`relayed per encoding in 1 s (wanted 0 and 2): ${c1.map((c, i) => c - c0[i])}`);
  assert.ok(c1[0] - c0[0] > 50 && c1[2] - c0[2] > 50, "encodings 0 and 2 relayed");
  assert.equal(c1[1], c0[1], "encoding 1, wanted by nobody on B, is not relayed");

  // one subscriber switches; the other keeps its encoding
  const hiFrom = hi.seen.length;
  lo.sub.setPreferredLayers({ spatial: 1 });
  origin.setLayers(downstream.wantedLayers());
  await until(() => all(lo.seen.slice(-30), 1), 5000, "low subscriber switched to 1");
  assert.ok(all(lo.seen.slice(lo.seen.indexOf(1)), 1), "no encoding 0 after the switch");
  assert.ok(all(hi.seen.slice(hiFrom), 2), "the other subscriber stayed on encoding 2");
  assert.equal(lo.sub.getStats().layerSwitches, 1);
  assert.deepEqual(downstream.wantedLayers().encodings, [1, 2]);
  origin.setLayers(downstream.wantedLayers());
  await sleep(200);
  const d0 = count();
  await sleep(600);
  assert.equal(count()[0], d0[0], "encoding 0 stopped once nobody wanted it");
  assert.ok(origin.subscribers[0].paused && !origin.subscribers[1].paused);

  // keyframe requests and NACKs from B act on the right origin encoding
  await sleep(600); // past the per-encoding keyframe-request throttle
  const kf = sim.encodings.map((e) => e.stats.keyframesRequested);
  relayedPub.requestKeyframe(performance.now(), 1);
  await until(() => sim.encodings[1].stats.keyframesRequested > kf[1], 2000, "PLI on encoding 1");
  assert.equal(sim.encodings[0].stats.keyframesRequested, kf[0]);
  const repaired = relayedPub.encodings.map((e) => e.stats.packetsRepaired);
  const retransmitted = origin.subscribers.map((s) => s.getStats().packetsRetransmitted);
  relayA.dropRate = 0.1;
  await sleep(1500);
  relayA.dropRate = 0;
  await sleep(300);
  for (const i of [1, 2]) {
    assert.ok(relayedPub.encodings[i].stats.packetsRepaired > repaired[i], `repaired on ${i}`);
    const r = origin.subscribers[i].getStats().packetsRetransmitted;
    assert.ok(r > retransmitted[i], `retransmitted by origin encoding ${i}`);
  }
  downstream.close();
  sim.close();
});

test("B's relay signals a change of what its subscribers want at once, not on a sweep", async () => {
  const sim = syntheticSimulcast(["q", "h", "f"]);
  const { downstream, origin } = openRelay(sim.id);
  const relayedPub = downstream.publisher!;
  let signals = 0;
  // As RelayManager does: each signal sends relay.layers if the wanted set changed.
  downstream.on("wantedchange", () => {
    signals++;
    origin.setLayers(downstream.wantedLayers());
  });
  // The rest of this turn's microtasks, and nothing else: no timer (a relay tick's sweep, which
  // would count as a second signal) can run before this resolves.
  const turn = () => new Promise<void>((r) => queueMicrotask(r));
  const lo = probeSubscriber(relayedPub, 711);
  lo.sub.setPreferredLayers({ spatial: 0 });
  // A new subscriber is noticed on the next relay tick (20 ms).
  await until(() => signals > 0, 200, "new subscriber signalled");
  await until(() => all(lo.seen.slice(-10), 0), 5000, "on encoding 0");
  await sleep(200);
  assert.ok(origin.subscribers[2].paused, "encoding 2 not relayed while nobody wants it");
  // A preference change is signalled within the same turn, and the origin resumes encoding 2.
  const before = signals;
  lo.sub.setPreferredLayers({ spatial: 2 });
  await turn();
  assert.equal(signals, before + 1, "one coalesced signal for the change");
  assert.ok(!origin.subscribers[2].paused, "encoding 2 resumed at the origin at once");
  const t0 = performance.now();
  await until(() => all(lo.seen.slice(-5), 2), 5000, "switched to encoding 2");
  console.log(`switch 0 -> 2 across the relay: ${Math.round(performance.now() - t0)} ms`);
  // Once switched, encoding 0 is no longer wanted.
  await until(() => origin.subscribers[0].paused, 1000, "encoding 0 paused after the switch");
  // A subscriber leaving is signalled too.
  const hi = probeSubscriber(relayedPub, 712);
  hi.sub.setPreferredLayers({ spatial: 1 });
  await until(() => !origin.subscribers[1].paused, 200, "encoding 1 resumed for the new one");
  hi.sub.close();
  await turn();
  assert.ok(origin.subscribers[1].paused, "encoding 1 paused once its subscriber left");
});
