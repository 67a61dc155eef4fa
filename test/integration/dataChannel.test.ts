import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { after, test } from "node:test";
import { type RTCDataChannel, RTCPeerConnection } from "werift";
import {
  type DataPublisher,
  type DataSubscriber,
  Router,
  type SubscribeTransport,
} from "../../media-node/src/index.ts";
import { CLIENT_CODECS, noStun, until, waitGathered } from "../helpers/weriftPeer.ts";

const router = new Router({ transport: { listenIps: ["127.0.0.1"] } });
const closers: (() => unknown)[] = [];
after(async () => {
  for (const close of closers.reverse()) await close();
  await router.close();
});

const KiB = 1024;

/** A werift client announcing 256 KiB messages (Chromium's value; werift's default is 64 KiB). */
function dataPeer(): RTCPeerConnection {
  const pc = new RTCPeerConnection({
    iceServers: [],
    iceAdditionalHostAddresses: ["127.0.0.1"],
    iceUseIpv6: false,
    iceUseTcp: false,
    iceTcpPassive: false,
    bundlePolicy: "max-bundle",
    codecs: CLIENT_CODECS,
    maxMessageSize: 256 * KiB,
  });
  closers.push(() => pc.close());
  return pc;
}

type ChannelInit = { ordered?: boolean; maxRetransmits?: number; maxPacketLifeTime?: number };

/** A werift publisher with DataChannels opened before its offer, all published on the node. */
async function publishChannels(channels: Record<string, ChannelInit>) {
  const pc = dataPeer();
  const dcs: Record<string, RTCDataChannel> = {};
  for (const [label, init] of Object.entries(channels))
    dcs[label] = pc.createDataChannel(label, init);
  noStun(pc);
  await pc.setLocalDescription(await pc.createOffer());
  await waitGathered(pc);
  const transport = router.createPublishTransport();
  closers.push(() => transport.close());
  const offered: string[] = [];
  transport.on("datachannel", (o) => offered.push(o.label));
  const answer = await transport.getAnswer({ type: "offer", sdp: pc.localDescription?.sdp ?? "" });
  assert.match(answer.sdp, /^m=application /m);
  assert.match(answer.sdp, /^a=max-message-size:262144/m);
  await pc.setRemoteDescription(answer);
  const labels = Object.keys(channels);
  await until(() => labels.every((l) => offered.includes(l)), 10_000, "datachannel events");
  await until(() => labels.every((l) => dcs[l].readyState === "open"), 10_000, "channels open");
  const publishers: Record<string, DataPublisher> = {};
  for (const label of labels) publishers[label] = transport.publishData(label);
  return { pc, dcs, transport, publishers };
}

/** A werift subscriber: answers the node's offers, records messages per channel label. */
class DataClient {
  readonly pc = dataPeer();
  readonly messages = new Map<string, (string | Buffer)[]>();
  readonly channels = new Map<string, RTCDataChannel>();
  readonly transport: SubscribeTransport = router.createSubscribeTransport();

  constructor() {
    closers.push(() => this.transport.close());
    this.pc.onDataChannel.subscribe((channel) => {
      this.channels.set(channel.label, channel);
      const list: (string | Buffer)[] = [];
      this.messages.set(channel.label, list);
      channel.onMessage.subscribe((m) => list.push(m));
    });
  }

  got(label: string): (string | Buffer)[] {
    return this.messages.get(label) ?? [];
  }

  /** Subscribes to a data publisher, answering the node's offer when there is one. */
  async subscribe(dataPublisherId: string, maxQueueBytes?: number) {
    const { dataSubscriber, offer } = await this.transport.subscribeData(dataPublisherId, {
      maxQueueBytes,
    });
    if (offer) {
      await this.pc.setRemoteDescription(offer);
      noStun(this.pc);
      await this.pc.setLocalDescription(await this.pc.createAnswer());
      await waitGathered(this.pc);
      await this.transport.setAnswer({ type: "answer", sdp: this.pc.localDescription?.sdp ?? "" });
    }
    const label = dataSubscriber.label;
    await until(() => this.channels.get(label)?.readyState === "open", 10_000, `${label} open`);
    return { dataSubscriber, offer };
  }

  /** Stops processing SCTP: no SACKs, no delivery (a client that stalled or vanished). */
  stall(): void {
    const dtls = this.pc.sctpTransport?.dtlsTransport as unknown as { dataReceiver: unknown };
    dtls.dataReceiver = () => {};
  }
}

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
  const a = new DataClient();
  const b = new DataClient();
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
  for (let i = 0; i < 1000; i++) {
    if (i % 2 === 0) dcs.chat.send(`message ${i}`);
    else dcs.chat.send(Buffer.from(`binary ${i}`));
  }
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
  const fast1 = new DataClient();
  const fast2 = new DataClient();
  const slow = new DataClient();
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
  for (let i = 0; i < N; i++) {
    payload.writeUInt32BE(i, 0);
    dcs.feed.send(Buffer.from(payload));
    if (i % 50 === 49) await new Promise((r) => setImmediate(r));
  }
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
  const fast = new DataClient();
  const slow = new DataClient();
  await fast.subscribe(pos.id);
  const { dataSubscriber: stalled } = await slow.subscribe(pos.id, 256 * KiB);
  assert.equal(fast.channels.get("pos")?.ordered, false);
  slow.stall();
  const N = 250;
  for (let i = 0; i < N; i++) {
    dcs.pos.send(Buffer.alloc(8 * KiB, i & 0xff));
    if (i % 50 === 49) await new Promise((r) => setImmediate(r));
  }
  await until(() => fast.got("pos").length === N, 60_000, "fast unordered");
  const st = stalled.getStats();
  assert.equal(stalled.closed, false);
  assert.ok(st.dropped > 0 && st.overflowed > 0, JSON.stringify(st));
  assert.ok(st.queuedBytes <= 256 * KiB);
  console.log(`unordered stalled: dropped ${st.dropped}, queued ${st.queuedBytes} B`);
});

test("an oversized message and garbage are dropped and counted while others flow", async () => {
  const { pc, dcs, transport, publishers } = await publishChannels({ ctl: {} });
  const ctl = publishers.ctl;
  const sub = new DataClient();
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
