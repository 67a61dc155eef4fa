// DataChannels over the WebSocket protocol through the real edge app (Hono on Node, as the
// embedded mode serves it) and a media node on the in-process bus, with werift clients: the
// `data` grant (each data message refused without it; a data-only token negotiates a channel
// but cannot publish or subscribe media), subscribe / unsubscribe with the publisher's
// `data.subscribers` list, a message over 256 KiB dropped and counted in the node's stats while
// the channel carries on, unknown ids, and malformed or oversized WS messages that leave the
// session working.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import type { RTCDataChannel, RTCPeerConnection } from "werift";
import { signToken } from "../../edge/src/auth/jwt.ts";
import type { Grant } from "../../shared/token.ts";
import { dataPeer } from "../helpers/dataPeer.ts";
import { type EmbeddedSystem, startEmbedded } from "../helpers/nodeEdge.ts";
import { noStun, until, waitGathered } from "../helpers/weriftPeer.ts";
import { type Msg, WsClient } from "../helpers/wsClient.ts";

const SECRET = "weir-data-ws-test-secret-0123456789abcdef";
const ROOM = "data-ws";
let system: EmbeddedSystem;
const closers: (() => unknown)[] = [];

before(async () => {
  system = await startEmbedded(SECRET);
});

after(async () => {
  for (const close of closers.reverse()) await close();
  await system?.close();
});

async function client(identity: string, grants: Grant[]): Promise<WsClient> {
  const exp = Math.floor(Date.now() / 1000) + 600;
  const token = await signToken({ sub: identity, room: ROOM, grants, exp }, SECRET);
  const c = await WsClient.open(system.edge.url, ROOM, token);
  closers.push(() => c.close());
  return c;
}

function peer(): RTCPeerConnection {
  const pc = dataPeer();
  closers.push(() => pc.close());
  noStun(pc);
  return pc;
}

async function gathered(pc: RTCPeerConnection, make: () => Promise<{ sdp: string }>) {
  await pc.setLocalDescription(await make());
  await waitGathered(pc);
  return pc.localDescription?.sdp ?? "";
}

/** Waits for a pushed message matching `match`. */
async function pushed(c: WsClient, what: string, match: (m: Msg) => boolean): Promise<Msg> {
  await until(() => c.pushed.some(match), 10_000, what);
  return c.pushed.find(match)!;
}

const subscribersOf = (c: WsClient) =>
  c.pushed.filter((m) => m.type === "data.subscribers").map((m) => m.subscribers as string[]);

let alice: WsClient;
let chat: RTCDataChannel;
let alicePc: RTCPeerConnection;
let chatId = "";

test("without the data grant every data message is forbidden", async () => {
  const c = await client("mallory", ["publish", "subscribe"]);
  const messages = [
    { type: "publishData", label: "chat" },
    { type: "unpublishData", dataPublisherId: "dp-x" },
    { type: "subscribeData", dataPublisherId: "dp-x" },
    { type: "unsubscribeData", dataSubscriberId: "ds-x" },
  ];
  for (const m of messages) assert.equal(await c.errorCode(m), "forbidden", m.type);
  assert.equal((await c.request({ type: "ping" })).type, "pong");
});

test("a data-only token negotiates and publishes a channel but no media", async () => {
  alice = await client("alice", ["data"]);
  const pc = peer();
  alicePc = pc;
  chat = pc.createDataChannel("chat");
  const offer = await gathered(pc, () => pc.createOffer());
  const published = await alice.call({ type: "publish", offer, trackIds: [] });
  assert.deepEqual(published.tracks, []);
  await pc.setRemoteDescription({ type: "answer", sdp: published.answer as string });
  await until(() => chat.readyState === "open", 10_000, "alice's channel open");
  const dp = await alice.call({ type: "publishData", label: "chat" });
  chatId = dp.dataPublisherId as string;
  assert.deepEqual(
    { ...dp, id: undefined, dataPublisherId: undefined },
    {
      type: "dataPublished",
      id: undefined,
      dataPublisherId: undefined,
      label: "chat",
      ordered: true,
    },
  );
  // Media stays out of reach: publish with tracks, subscribe, layers.
  assert.equal(await alice.errorCode({ type: "publish", offer, trackIds: ["t1"] }), "forbidden");
  assert.equal(await alice.errorCode({ type: "subscribe", publisherId: "p1" }), "forbidden");
  assert.equal(await alice.errorCode({ type: "unpublish", offer, trackId: "t1" }), "forbidden");
});

test("subscribeData delivers, an oversized message is dropped and counted, unsubscribeData stops delivery", async () => {
  const bob = await client("bob", ["data"]);
  const announced = (
    bob.welcome.participants as { identity: string; data?: { dataPublisherId: string }[] }[]
  )
    .find((p) => p.identity === "alice")
    ?.data?.map((d) => d.dataPublisherId);
  assert.deepEqual(announced, [chatId]);
  assert.equal(
    await bob.errorCode({ type: "subscribeData", dataPublisherId: "dp-unknown" }),
    "not_found",
  );

  const pc = peer();
  const got: string[] = [];
  let channel: RTCDataChannel | undefined;
  pc.onDataChannel.subscribe((c) => {
    channel = c;
    c.onMessage.subscribe((m) => got.push(String(m)));
  });
  const sub = await bob.call({ type: "subscribeData", dataPublisherId: chatId });
  assert.equal(sub.label, "chat");
  const answer = await gathered(pc, async () => {
    await pc.setRemoteDescription({ type: "offer", sdp: sub.offer as string });
    return pc.createAnswer();
  });
  await bob.call({ type: "answer", answer });
  await until(() => channel?.readyState === "open", 10_000, "bob's channel open");
  assert.equal(channel?.protocol, chatId);
  await until(() => subscribersOf(alice).length > 0, 10_000, "data.subscribers to alice");
  assert.deepEqual(subscribersOf(alice).at(-1), ["bob"]);
  chat.send("one");
  await until(() => got.includes("one"), 10_000, "bob gets 'one'");
  // Over 256 KiB (a client ignoring a=max-message-size): dropped and counted, the rest flows.
  (alicePc.sctpTransport as unknown as { remoteMaxMessageSize: number }).remoteMaxMessageSize = 0;
  chat.send(Buffer.alloc(256 * 1024 + 1));
  chat.send("one more");
  await until(() => got.length === 2, 10_000, "bob gets 'one more'");
  assert.deepEqual(got, ["one", "one more"]);
  const stats = system.service.node
    .router(ROOM)
    ?.getStats()
    .dataPublishers?.find((d) => d.id === chatId);
  assert.equal(stats?.droppedOversized, 1);
  assert.equal(stats?.messagesIn, 2);

  const ok = await bob.call({ type: "unsubscribeData", dataSubscriberId: sub.dataSubscriberId });
  assert.equal(ok.type, "ok");
  await until(() => subscribersOf(alice).at(-1)?.length === 0, 10_000, "alice sees no one");
  chat.send("two");
  await new Promise((r) => setTimeout(r, 500));
  assert.deepEqual(got, ["one", "one more"]);
  // Bob ended it himself: no data.ended for him.
  assert.ok(!bob.pushed.some((m) => m.type === "data.ended"), JSON.stringify(bob.pushed));
  assert.equal(
    await bob.errorCode({ type: "unsubscribeData", dataSubscriberId: sub.dataSubscriberId }),
    "not_found",
  );
});

test("malformed and oversized data messages get clear errors; the session carries on", async () => {
  const c = await client("carol", ["data"]);
  const bad = [
    { type: "publishData", label: "x".repeat(2000) },
    { type: "subscribeData", dataPublisherId: "" },
    { type: "subscribeData" },
    { type: "unsubscribeData", dataSubscriberId: 42 },
  ];
  for (const m of bad)
    assert.equal(await c.errorCode(m), "bad_request", JSON.stringify(m).slice(0, 60));
  // Too big to parse: refused before JSON, so no id to answer to.
  c.ws.send(JSON.stringify({ type: "publishData", id: "big", label: "y".repeat(200 * 1024) }));
  c.ws.send("{not json");
  const tooLarge = await pushed(c, "payload_too_large", (m) => m.type === "error");
  assert.equal((tooLarge.error as { code: string }).code, "payload_too_large");
  await pushed(c, "invalid_json", (m) => (m.error as { code?: string })?.code === "invalid_json");
  // publishData before any publish negotiation: a conflict, not a crash.
  assert.equal(await c.errorCode({ type: "publishData", label: "chat" }), "conflict");
  // Still a working session: it subscribes to alice's channel.
  const sub = await c.call({ type: "subscribeData", dataPublisherId: chatId });
  assert.equal(sub.type, "dataSubscribed");
  assert.equal((await c.request({ type: "ping" })).type, "pong");
});
