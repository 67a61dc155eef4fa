import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { createSocket } from "node:dgram";
import { after, test } from "node:test";
import { type DataSubscriber, Router } from "../../media-node/src/index.ts";
import { type ChannelInit, DataHarness, sendPaced } from "../helpers/dataPeer.ts";
import { until } from "../helpers/weriftPeer.ts";

const router = new Router({ transport: { listenIps: ["127.0.0.1"] } });
const h = new DataHarness(router);
after(async () => {
  await h.close();
  await router.close();
});

const KiB = 1024;
const publishChannels = (channels: Record<string, ChannelInit>) => h.publishChannels(channels);

const sha256 = (b: Buffer) => createHash("sha256").update(b).digest("hex");

test("1000 messages in order to two subscribers, strings stay strings, 256 KiB intact", async () => {
  const { dcs, publishers } = await publishChannels({ chat: {}, bin: {} });
  const chat = publishers.chat;
  assert.equal(router.getDataPublisher(chat.id), chat);
  assert.deepEqual(chat.options, {
    label: "chat",
    ordered: true,
    maxRetransmits: undefined,
    maxPacketLifeTime: undefined,
    protocol: "",
  });
  const added: string[] = [];
  chat.on("subscriberadded", (s) => added.push(s.id));
  const a = h.client();
  const b = h.client();
  const first = await a.subscribe(chat.id);
  assert.ok(first.offer, "the first DataChannel needs an offer (m=application)");
  assert.match(first.offer.sdp, /^m=application /m);
  const second = await a.subscribe(publishers.bin.id);
  assert.equal(second.offer, undefined, "later DataChannels ride the SCTP association");
  await b.subscribe(chat.id);
  await b.subscribe(publishers.bin.id);
  assert.deepEqual(
    chat.subscribers.map((s) => s.id),
    added,
  );
  assert.equal(added.length, 2);

  const start = performance.now();
  await sendPaced(dcs.chat, 1000, (i) =>
    i % 2 === 0 ? `message ${i}` : Buffer.from(`binary ${i}`),
  );
  const big = Buffer.alloc(256 * KiB);
  for (let i = 0; i < big.length; i++) big[i] = (i * 7 + (i >> 8)) & 0xff;
  dcs.bin.send(big);
  await until(() => chat.getStats().messagesIn === 1000, 30_000, "node received all");
  const inMs = performance.now() - start;
  for (const c of [a, b]) {
    await until(
      () => c.got("chat").length === 1000 && c.got("bin").length === 1,
      30_000,
      "all messages",
    );
  }
  const ms = performance.now() - start;
  for (const c of [a, b]) {
    const got = c.got("chat");
    for (let i = 0; i < 1000; i++) {
      const m = got[i];
      if (i % 2 === 0) assert.equal(m, `message ${i}`);
      else {
        assert.ok(Buffer.isBuffer(m), `message ${i} is binary`);
        assert.equal(m.toString(), `binary ${i}`);
      }
    }
    const bin = c.got("bin")[0];
    assert.ok(Buffer.isBuffer(bin));
    assert.equal(bin.length, 256 * KiB);
    assert.equal(sha256(bin), sha256(big));
  }
  const stats = chat.getStats();
  assert.equal(stats.messagesIn, 1000);
  assert.equal(stats.subscribers, 2);
  for (const s of chat.subscribers as DataSubscriber[]) {
    assert.equal(s.getStats().messagesOut, 1000);
    assert.equal(s.getStats().dropped, 0);
  }
  console.log(
    `fan-out: 1000 msgs + 256 KiB to 2 subscribers in ${ms.toFixed(0)} ms ` +
      `(the node had received the 1000 after ${inMs.toFixed(0)} ms)`,
  );
});

test("a stalled subscriber overflows and closes (reliable) without slowing the others", async () => {
  const { dcs, publishers } = await publishChannels({ feed: {} });
  const feed = publishers.feed;
  const fast1 = h.client();
  const fast2 = h.client();
  const slow = h.client();
  await fast1.subscribe(feed.id);
  await fast2.subscribe(feed.id);
  const { dataSubscriber: stalled } = await slow.subscribe(feed.id, 512 * KiB);
  const removed: string[] = [];
  feed.on("subscriberremoved", (s) => removed.push(s.id));
  let overflow = 0;
  stalled.on("overflow", () => overflow++);
  slow.stall();

  const N = 300;
  const payload = Buffer.alloc(8 * KiB, 1);
  const start = performance.now();
  await sendPaced(dcs.feed, N, (i) => {
    payload.writeUInt32BE(i, 0);
    return Buffer.from(payload);
  });
  for (const c of [fast1, fast2]) await until(() => c.got("feed").length === N, 60_000, "fast");
  const ms = performance.now() - start;
  for (const c of [fast1, fast2]) {
    const got = c.got("feed");
    for (let i = 0; i < N; i++) assert.equal((got[i] as Buffer).readUInt32BE(0), i);
  }
  await until(() => stalled.closed, 10_000, "stalled subscriber closed");
  const st = stalled.getStats();
  assert.equal(overflow, 1);
  assert.equal(st.overflowed, 1);
  assert.ok(st.dropped > 0, "dropped counted");
  assert.ok(st.messagesOut < N);
  assert.deepEqual(removed, [stalled.id]);
  assert.equal(feed.subscribers.length, 2);
  console.log(
    `stalled: ${N} x 8 KiB to 2 fast subscribers in ${ms.toFixed(0)} ms; stalled one took ` +
      `${st.messagesOut} into SCTP, dropped ${st.dropped}, overflowed ${st.overflowed}`,
  );
});

test("an unordered channel's stalled subscriber drops oldest and stays open", async () => {
  const { dcs, publishers } = await publishChannels({ pos: { ordered: false } });
  const pos = publishers.pos;
  assert.equal(pos.options.ordered, false);
  const fast = h.client();
  const slow = h.client();
  await fast.subscribe(pos.id);
  const { dataSubscriber: stalled } = await slow.subscribe(pos.id, 256 * KiB);
  assert.equal(fast.channels.get("pos")?.ordered, false);
  slow.stall();
  const N = 250;
  await sendPaced(dcs.pos, N, (i) => Buffer.alloc(8 * KiB, i & 0xff));
  await until(() => fast.got("pos").length === N, 60_000, "fast unordered");
  const st = stalled.getStats();
  assert.equal(stalled.closed, false);
  assert.ok(st.dropped > 0 && st.overflowed > 0, JSON.stringify(st));
  assert.ok(st.queuedBytes <= 256 * KiB);
  console.log(`unordered stalled: dropped ${st.dropped}, queued ${st.queuedBytes} B`);
});

test("an oversized message and garbage are dropped and counted while others flow", async () => {
  const { pc, dcs, transport, publishers, answer } = await publishChannels({ ctl: {} });
  const ctl = publishers.ctl;
  const sub = h.client();
  await sub.subscribe(ctl.id);
  // A misbehaving client ignores the node's a=max-message-size.
  (pc.sctpTransport as unknown as { remoteMaxMessageSize: number }).remoteMaxMessageSize = 0;
  const sizes: number[] = [];
  ctl.on("oversized", (n) => sizes.push(n));
  dcs.ctl.send("before");
  dcs.ctl.send(Buffer.alloc(256 * KiB + 1));
  dcs.ctl.send("after");
  // Unknown PPID (werift's receive path would throw on it) and a message on an unpublished stream.
  const sctp = pc.sctpTransport?.sctp as unknown as {
    send(id: number, ppid: number, data: Buffer): Promise<void>;
  };
  await sctp.send(dcs.ctl.id as number, 99, Buffer.from("junk"));
  // Garbage datagrams at the node's port: random bytes, forged DTLS application data. From an
  // address that is not the nominated pair werift's ICE drops them (uncounted); the point here
  // is that the association, the node and the subscriber carry on.
  const port = Number(/^a=candidate:\S+ \d+ udp \d+ \S+ (\d+) typ host/m.exec(answer.sdp)?.[1]);
  const sock = createSocket("udp4");
  const forged = Buffer.concat([Buffer.from([23, 0xfe, 0xfd, 0, 1]), randomBytes(8)]);
  for (let i = 0; i < 50; i++) {
    const junk = i % 2 ? randomBytes(1 + (i % 1200)) : forged;
    sock.send(junk, port, "127.0.0.1");
  }
  await new Promise((r) => setTimeout(r, 200));
  sock.close();
  dcs.ctl.send("last");
  await until(() => sub.got("ctl").length === 3, 20_000, "small messages");
  assert.deepEqual(sub.got("ctl"), ["before", "after", "last"]);
  assert.deepEqual(sizes, [256 * KiB + 1]);
  const stats = ctl.getStats();
  assert.equal(stats.droppedOversized, 1);
  assert.equal(stats.messagesIn, 3);
  assert.equal(transport.getStats().data?.malformed, 1);
  assert.equal(transport.connectionState, "connected");
});
