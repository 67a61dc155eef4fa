// DataChannels from Chromium through the real edge and media node (the embedded process: Hono
// edge + media node + in-process bus): page A publishes a channel with the client Room, pages B
// and C subscribe to it over the WebSocket protocol and get 1000 messages in order (strings as
// strings, binary as binary) and a 256 KiB binary message with the same SHA-256 (crypto.subtle in
// the pages). A sees B and C subscribed through `data.subscribers`. Reconnects (the page's
// WebSocket dropped, the Room starts a new session on the same node): the subscriber's and the
// publisher's DataSubscription / DataPublication objects carry on.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import {
  BrowserHarness,
  browserUnavailable,
  pollUntil,
  type WeirPage,
} from "../helpers/browser.ts";
import { devToken, type Embedded, startEmbedded } from "../helpers/system.ts";

const skip = browserUnavailable();
let embedded: Embedded | undefined;
let harness: BrowserHarness | undefined;

before(async () => {
  if (skip) return;
  [embedded, harness] = await Promise.all([startEmbedded(), BrowserHarness.launch()]);
});

after(async () => {
  await harness?.close();
  await embedded?.stop();
});

/**
 * The page side, plain JavaScript (no tsx transform in the page). Received messages are kept
 * compactly: "s:<text>" for strings, "b:<n>" for 4-byte binary, "big:<bytes>:<sha256>".
 */
const PAGE_APP = `
window.dataApp = {
  received: [], subscriberLists: [], announced: [], errors: [], events: [], sockets: [],
  hex: (buf) => [...new Uint8Array(buf)].map((x) => x.toString(16).padStart(2, "0")).join(""),
  async connect(edgeUrl, token) {
    // Keeps the page's WebSockets so that a test can drop the Room's signaling.
    const sockets = this.sockets;
    window.WebSocket = class extends WebSocket {
      constructor(...args) { super(...args); sockets.push(this); }
    };
    const { Room } = await import("/weir-client.js");
    this.room = new Room();
    this.room.on("connectionstatechange", (s) => this.events.push("room:" + s));
    this.room.on("datapublished", (d) => this.announced.push(d));
    this.room.on("error", (e) => this.errors.push(String(e)));
    await this.room.connect(edgeUrl, token);
  },
  async publish(label) {
    this.pub = await this.room.publishData(label);
    this.pub.on("subscribers", (l) => this.subscriberLists.push([...l].sort()));
    this.pub.on("reconnected", (id) => this.events.push("pub:reconnected:" + id));
    return this.pub.dataPublisherId;
  },
  known() {
    const fromWelcome = this.room.participants.flatMap((p) => (p.data ?? []).map((d) => ({ ...d, identity: p.identity })));
    return [...fromWelcome, ...this.announced];
  },
  async subscribe(id) {
    const sub = await this.room.subscribeData(id);
    this.sub = sub;
    sub.on("ended", (r) => this.events.push("sub:ended:" + r));
    sub.on("reconnected", () => this.events.push("sub:reconnected"));
    sub.on("message", (m) => {
      if (typeof m === "string") return void this.received.push("s:" + m);
      if (m.byteLength === 4) return void this.received.push("b:" + new DataView(m).getUint32(0));
      const i = this.received.length;
      this.received.push("big:" + m.byteLength + ":pending");
      crypto.subtle.digest("SHA-256", m).then((h) => { this.received[i] = "big:" + m.byteLength + ":" + this.hex(h); });
    });
    return { label: sub.label, protocol: sub.channel.protocol, ordered: sub.channel.ordered };
  },
  async send(n) {
    const ch = this.pub.channel;
    ch.bufferedAmountLowThreshold = 256 * 1024;
    for (let i = 0; i < n; i++) {
      if (i % 2 === 0) this.pub.send("m" + i);
      else {
        const b = new Uint8Array(4);
        new DataView(b.buffer).setUint32(0, i);
        this.pub.send(b);
      }
      if (ch.bufferedAmount > 1024 * 1024) await new Promise((r) => { ch.onbufferedamountlow = r; });
    }
    const big = new Uint8Array(256 * 1024);
    for (let o = 0; o < big.length; o += 65536) crypto.getRandomValues(big.subarray(o, o + 65536));
    this.pub.send(big);
    return this.hex(await crypto.subtle.digest("SHA-256", big));
  },
  dropSocket() {
    this.sockets.at(-1).close();
  },
};
`;

async function dataPage(name: string, room = "data-e2e"): Promise<WeirPage> {
  const p = await harness!.newPage(name);
  await p.page.evaluate(PAGE_APP);
  const token = await devToken(room, name, ["data"]);
  await p.page
    .evaluate(`window.dataApp.connect(${JSON.stringify(embedded!.url)}, "${token}")`)
    .catch((err: Error) => {
      throw new Error(`${name} could not connect: ${err.message}\n${embedded!.log().slice(-3000)}`);
    });
  return p;
}

/** Runs `window.dataApp.<expr>` in the page. */
function app<T>(p: WeirPage, expr: string): Promise<T> {
  return p.page.evaluate(`window.dataApp.${expr}`) as Promise<T>;
}

test("Chromium: A publishes a DataChannel, B and C get 1000 messages in order and 256 KiB intact", {
  skip: skip ?? false,
}, async () => {
  const a = await dataPage("alice");
  const b = await dataPage("bob");
  const diag = async () =>
    `${embedded!.log().slice(-3000)}\n${[a, b].flatMap((p) => p.logs).join("\n")}`;
  const id = await app<string>(a, 'publish("chat")').catch(async (err: Error) => {
    throw new Error(`publish failed: ${err.message}\n${await diag()}`);
  });
  // B was in the room: the room event announces the channel like a track.
  const announced = await pollUntil(
    () =>
      app<{ dataPublisherId: string; label: string; ordered: boolean; identity: string }[]>(
        b,
        "known()",
      ).then((l) => l.find((d) => d.dataPublisherId === id)),
    10_000,
    () => "B never heard of A's channel",
  );
  assert.deepEqual(announced, {
    identity: "alice",
    dataPublisherId: id,
    label: "chat",
    ordered: true,
  });
  // C joins later: the welcome lists the channel.
  const c = await dataPage("carol");
  const known = await app<{ dataPublisherId: string }[]>(c, "known()");
  assert.ok(
    known.some((d) => d.dataPublisherId === id),
    JSON.stringify(known),
  );

  for (const p of [b, c]) {
    const info = await app<{ label: string; protocol: string; ordered: boolean }>(
      p,
      `subscribe(${JSON.stringify(id)})`,
    );
    assert.deepEqual(info, { label: "chat", protocol: id, ordered: true });
  }
  const lists = await pollUntil(
    () => app<string[][]>(a, "subscriberLists").then((l) => (l.at(-1)?.length === 2 ? l : null)),
    10_000,
    () => "A never saw two subscribers",
  );
  assert.deepEqual(lists.at(-1), ["bob", "carol"]);

  const t0 = performance.now();
  const hash = await app<string>(a, "send(1000)");
  const want = [
    ...Array.from({ length: 1000 }, (_, i) => (i % 2 === 0 ? `s:m${i}` : `b:${i}`)),
    `big:${256 * 1024}:${hash}`,
  ];
  for (const p of [b, c]) {
    const got = await pollUntil(
      () =>
        app<string[]>(p, "received").then((r) =>
          r.length === want.length && !r[1000].endsWith("pending") ? r : null,
        ),
      60_000,
      async () =>
        `${p.name}: ${(await app<string[]>(p, "received")).length} messages\n${await diag()}`,
      200,
    );
    assert.deepEqual(got, want);
  }
  const ms = Math.round(performance.now() - t0);
  console.log(`  1000 messages + 256 KiB to B and C through the node in ${ms} ms`);
  assert.deepEqual(await app<string[]>(b, "errors"), []);

  // Unpublishing ends both subscriptions and tells the publisher's room.
  await app(a, `room.unpublishData(${JSON.stringify(id)})`);
  await pollUntil(
    () => app<string>(b, "sub.readyState").then((s) => s === "closed"),
    10_000,
    () => "B's channel did not close after unpublish",
  );
});

/** Waits for `expr`, evaluated with window.dataApp's fields in scope, to be truthy. */
function appUntil<T>(p: WeirPage, expr: string, what: string, ms = 20_000): Promise<T> {
  // new Function bodies are sloppy code: `with` brings the app's fields into scope.
  const body = JSON.stringify(`with (a) { return (${expr}); }`);
  const check = () => p.page.evaluate(`new Function("a", ${body})(window.dataApp)`) as Promise<T>;
  const diag = async () =>
    `${what}; ${p.name} events: ${await app<string[]>(p, "events")}\n${embedded!.log().slice(-2000)}`;
  return pollUntil(check, ms, diag, 100);
}

test("Chromium: data publications and subscriptions carry on after the Room reconnects", {
  skip: skip ?? false,
}, async () => {
  const dave = await dataPage("dave", "data-reconnect");
  const erin = await dataPage("erin", "data-reconnect");
  const id1 = await app<string>(dave, 'publish("rc")');
  await appUntil(
    erin,
    `known().some((d) => d.dataPublisherId === ${JSON.stringify(id1)})`,
    "announced",
  );
  await app(erin, `subscribe(${JSON.stringify(id1)})`);
  const lastReceived = (want: string) => `received.at(-1) === ${JSON.stringify(want)}`;
  await app(dave, 'pub.send("before")');
  await appUntil(erin, lastReceived("s:before"), "erin gets 'before'");

  // Erin's signaling drops: new session, the same DataSubscription gets the channel again.
  const lists = () => app<number>(dave, "subscriberLists.length");
  let seen = await lists();
  await app(erin, "dropSocket()");
  await appUntil(erin, 'events.includes("sub:reconnected")', "erin resubscribed");
  await appUntil(
    dave,
    `subscriberLists.slice(${seen}).some((l) => l.length === 0) && subscriberLists.at(-1).join() === "erin"`,
    "dave sees erin subscribed again",
  );
  await app(dave, 'pub.send("after erin")');
  await appUntil(erin, lastReceived("s:after erin"), "erin gets 'after erin'");

  // Dave's signaling drops: the same DataPublication is published again under a new id; Erin's
  // subscription to the old one ends and the new one is announced.
  await app(dave, "dropSocket()");
  const reconnected = await appUntil<string>(
    dave,
    'events.find((e) => e.startsWith("pub:reconnected:"))',
    "dave republished",
  );
  const id2 = reconnected.slice("pub:reconnected:".length);
  seen = await lists();
  assert.notEqual(id2, id1);
  assert.equal(await app<string>(dave, "pub.dataPublisherId"), id2);
  await appUntil(erin, 'events.includes("sub:ended:unpublished")', "erin's old subscription ends");
  await appUntil(
    erin,
    `known().some((d) => d.dataPublisherId === ${JSON.stringify(id2)})`,
    "new id announced",
  );
  await app(erin, `subscribe(${JSON.stringify(id2)})`);
  await appUntil(
    dave,
    `subscriberLists.length > ${seen} && subscriberLists.at(-1).join() === "erin"`,
    "dave sees erin on the new id",
  );
  await app(dave, 'pub.send("after dave")');
  await appUntil(erin, lastReceived("s:after dave"), "erin gets 'after dave'");
  assert.deepEqual(await app<string[]>(erin, "received"), [
    "s:before",
    "s:after erin",
    "s:after dave",
  ]);
  for (const p of [dave, erin]) {
    const events = await app<string[]>(p, "events");
    assert.ok(events.includes("room:reconnecting"), `${p.name}: ${events}`);
    assert.equal(events.filter((e) => e.startsWith("room:")).at(-1), "room:connected");
    assert.deepEqual(await app<string[]>(p, "errors"), []);
  }
});
