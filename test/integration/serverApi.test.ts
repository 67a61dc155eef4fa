// The server API over the real path: a real nats-server, the edge app (Node server, NATS over
// TCP) and two spawned media node processes, with room "span" on both (node A takes 2 sessions,
// the rest spill to node B). Every call is made over HTTP with an admin token and checked on the
// participants' WebSockets: list rooms (counted across nodes), get a room, mute a track on A heard
// by a subscriber on B through the relay (its packets stop, then resume), promote a viewer on B
// to publisher without reconnecting, data to the room and to some identities, remove a
// participant on each node (close code 4410 with the reason, the others see them leave), close
// the room. Wrong grants are 403, unknown rooms and identities 404, bad bodies 400.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { WebSocket } from "ws";
import { signToken } from "../../edge/src/auth/jwt.ts";
import { createNodeEdge, type NodeEdge } from "../../edge/src/node.ts";
import { ServerApi } from "../../edge/src/serverApi.ts";
import { connectNatsBus, type NatsBusHandle } from "../../shared/bus/adapter/node/nats.ts";
import type { Grant } from "../../shared/token.ts";
import { WS_CLOSE_REMOVED } from "../../shared/ws.ts";
import { MediaSource } from "../helpers/mediaSource.ts";
import { type NatsServer, startNatsServer } from "../helpers/natsServer.ts";
import { type MediaNodeProc, startMediaNode } from "../helpers/system.ts";
import { until, WeriftSubscriber, weriftPublisher } from "../helpers/weriftPeer.ts";

const SECRET = "weir-server-api-test-secret-0123456789abcdef";
const ROOM = "span";
const closers: (() => unknown)[] = [];
let nats: NatsServer;
let edgeBus: NatsBusHandle;
let edge: NodeEdge;
let nodeA: MediaNodeProc;
let nodeB: MediaNodeProc;

type Msg = Record<string, unknown> & { type: string };

function token(sub: string, grants: Grant[], room = ROOM): Promise<string> {
  return signToken({ sub, room, grants, exp: Math.floor(Date.now() / 1000) + 600 }, SECRET);
}

/** A participant's WebSocket: requests by id, pushed messages, and how the socket closed. */
class Client {
  readonly pushed: Msg[] = [];
  readonly #waiting = new Map<string, (m: Msg) => void>();
  #n = 0;
  welcome!: Msg;
  closed: { code: number; reason: string } | null = null;
  private constructor(readonly ws: WebSocket) {}

  static async open(identity: string, grants: Grant[], room = ROOM): Promise<Client> {
    const url = `${edge.url.replace(/^http/, "ws")}/v1/rooms/${room}/ws`;
    const ws = new WebSocket(url, ["weir", await token(identity, grants, room)]);
    closers.push(() => ws.close());
    const c = new Client(ws);
    ws.on("close", (code, reason) => {
      c.closed = { code, reason: reason.toString() };
    });
    c.welcome = await new Promise<Msg>((resolve, reject) => {
      ws.on("message", (data) => {
        const m = JSON.parse(data.toString()) as Msg;
        if (m.type === "welcome") return resolve(m);
        const w = typeof m.id === "string" ? c.#waiting.get(m.id) : undefined;
        if (w) {
          c.#waiting.delete(m.id as string);
          w(m);
        } else c.pushed.push(m);
      });
      ws.on("error", reject);
    });
    return c;
  }

  request(body: Record<string, unknown>): Promise<Msg> {
    const id = `r${++this.#n}`;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no reply to ${body.type}`)), 15_000);
      this.#waiting.set(id, (m) => {
        clearTimeout(timer);
        resolve(m);
      });
      this.ws.send(JSON.stringify({ ...body, id }));
    });
  }

  async call(body: Record<string, unknown>): Promise<Msg> {
    const m = await this.request(body);
    if (m.type === "error") throw new Error(`${body.type}: ${JSON.stringify(m.error)}`);
    return m;
  }

  /** Waits for a pushed message matching `pred`. */
  async pushedMatching(pred: (m: Msg) => boolean, what: string): Promise<Msg> {
    await until(() => this.pushed.some(pred), 10_000, what);
    return this.pushed.find(pred) as Msg;
  }
}

/** An HTTP call to the edge with a token; the status and the JSON body. */
async function api(
  method: string,
  path: string,
  opts: { token?: string; body?: unknown; raw?: string; type?: string } = {},
): Promise<{ status: number; body: Record<string, unknown> }> {
  const headers: Record<string, string> = {};
  if (opts.token !== undefined) headers.authorization = `Bearer ${opts.token}`;
  let body: string | undefined;
  if (opts.raw !== undefined || opts.body !== undefined) {
    body = opts.raw ?? JSON.stringify(opts.body);
    headers["content-type"] = opts.type ?? "application/json";
  }
  const res = await fetch(`${edge.url}${path}`, { method, headers, body });
  const text = await res.text();
  return { status: res.status, body: text ? (JSON.parse(text) as Record<string, unknown>) : {} };
}

const errorCode = (r: { body: Record<string, unknown> }) =>
  (r.body.error as { code?: string } | undefined)?.code;

function withMsid(sdp: string): { sdp: string; trackIds: string[] } {
  const trackIds: string[] = [];
  const out = sdp.replace(/^a=mid:(\S+)$/gm, (line, mid: string) => {
    const id = `track-${mid}-${Math.random().toString(36).slice(2, 8)}`;
    trackIds.push(id);
    return `${line}\r\na=msid:stream ${id}`;
  });
  return { sdp: out, trackIds };
}

/** Publishes werift tracks of `kinds` over `client`'s socket; returns the tracks by kind. */
async function publish(client: Client, kinds: ("audio" | "video")[]) {
  const pub = await weriftPublisher(kinds);
  closers.push(() => pub.pc.close());
  const { sdp, trackIds } = withMsid(pub.offer.sdp);
  const r = await client.call({ type: "publish", offer: sdp, trackIds });
  await pub.pc.setRemoteDescription({ type: "answer", sdp: r.answer as string });
  const tracks = r.tracks as { trackId: string; publisherId: string; kind: string }[];
  return { pub, tracks };
}

let admin: string;
let alice: Client;
let bob: Client;
let carol: Client;
let dave: Client;
let erin: Client;
let aliceVideo = "";
let aliceAudio = "";
const carolSub = new WeriftSubscriber();

before(async () => {
  nats = await startNatsServer();
  edgeBus = await connectNatsBus(nats.url, { name: "server-api-edge" });
  edge = await createNodeEdge({
    bus: edgeBus.bus,
    registry: edgeBus.registry,
    secret: SECRET,
    port: 0,
  });
  nodeA = await startMediaNode(nats.url, "node-a", ["--max-sessions", "2"]);
  admin = await token("ops", ["admin"], "*");
});

after(async () => {
  for (const close of closers.reverse()) {
    try {
      await close();
    } catch {
      // best effort
    }
  }
  carolSub.pc.close();
  await nodeA?.stop();
  await nodeB?.stop();
  await edge?.close();
  await edgeBus?.close();
  await nats?.stop();
});

test("setup: room span on node A (alice publishes, bob watches) and node B (carol, dave); erin alone in room other", async () => {
  alice = await Client.open("alice", ["publish", "subscribe"]);
  const { pub, tracks } = await publish(alice, ["audio", "video"]);
  aliceAudio = tracks.find((t) => t.kind === "audio")?.publisherId ?? "";
  aliceVideo = tracks.find((t) => t.kind === "video")?.publisherId ?? "";
  const source = new MediaSource(pub.tracks[1], pub.tracks[0]);
  pub.pc.getTransceivers()[1].sender.onRtcp.subscribe((rtcp) => {
    if (rtcp.type === 206) source.keyframe();
  });
  source.start();
  closers.push(() => source.stop());
  bob = await Client.open("bob", ["subscribe"]);
  // node A is full now: the room spills to node B
  nodeB = await startMediaNode(nats.url, "node-b");
  carol = await Client.open("carol", ["subscribe", "data"]);
  dave = await Client.open("dave", ["subscribe"]);
  erin = await Client.open("erin", ["publish", "subscribe"], "other");
  assert.deepEqual((await edgeBus.registry.roomMembers(ROOM)).sort(), ["node-a", "node-b"]);
  assert.deepEqual(await edgeBus.registry.roomMembers("other"), ["node-b"]);

  // carol on B subscribes to alice's video on A: it comes through the relay
  // (B learns A's tracks from A's snapshot; on a loaded machine that may take a retry)
  let r = await carol.request({ type: "subscribe", publisherId: aliceVideo });
  for (let i = 0; r.type === "error" && i < 20; i++) {
    await new Promise((res) => setTimeout(res, 250));
    r = await carol.request({ type: "subscribe", publisherId: aliceVideo });
  }
  assert.equal(r.type, "subscribed", JSON.stringify(r));
  const answer = await carolSub.answer({ type: "offer", sdp: r.offer as string });
  await carol.call({ type: "answer", answer: answer.sdp });
  await until(() => (carolSub.counts.get(aliceVideo) ?? 0) > 30, 10_000, "carol gets video");
});

test("GET /v1/rooms lists every room across nodes with participant and track counts", async () => {
  const r = await api("GET", "/v1/rooms", { token: admin });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  const rooms = r.body.rooms as {
    room: string;
    participants: number;
    tracks: number;
    nodes: string[];
    startedAt: number;
  }[];
  assert.deepEqual(
    rooms.map((x) => [x.room, x.participants, x.tracks, x.nodes.sort()]),
    [
      ["other", 1, 0, ["node-b"]],
      ["span", 4, 2, ["node-a", "node-b"]],
    ],
  );
  assert.ok(rooms.every((x) => x.startedAt > Date.now() - 120_000 && x.startedAt <= Date.now()));

  // a room-bound admin token lists its room only; the SDK's ServerApi gives the same answer
  const bound = await api("GET", "/v1/rooms", { token: await token("ops", ["admin"]) });
  assert.deepEqual(
    (bound.body.rooms as { room: string }[]).map((x) => x.room),
    [ROOM],
  );
  const sdk = await new ServerApi({ bus: edgeBus.bus, registry: edgeBus.registry }).listRooms();
  assert.deepEqual(sdk.rooms, rooms);
});

test("GET /v1/rooms/:room lists the participants of both nodes", async () => {
  const r = await api("GET", `/v1/rooms/${ROOM}`, { token: admin });
  assert.equal(r.status, 200);
  const parts = r.body.participants as { identity: string; tracks: unknown[] }[];
  assert.deepEqual(parts.map((p) => p.identity).sort(), ["alice", "bob", "carol", "dave"]);
  assert.equal(parts.find((p) => p.identity === "alice")?.tracks.length, 2);
});

test("wrong grants are 403, no token 401, unknown rooms and identities 404, bad input 400", async () => {
  const viewer = await token("bob", ["subscribe", "publish", "data"]);
  const otherAdmin = await token("ops", ["admin"], "other");
  const calls: [string, string, unknown?][] = [
    ["GET", "/v1/rooms"],
    ["DELETE", `/v1/rooms/${ROOM}`],
    ["DELETE", `/v1/rooms/${ROOM}/participants/bob`],
    ["PATCH", `/v1/rooms/${ROOM}/participants/dave`, { grants: ["publish"] }],
    ["POST", `/v1/rooms/${ROOM}/participants/alice/tracks/${aliceVideo}/mute`, { muted: true }],
    ["POST", `/v1/rooms/${ROOM}/data`, { data: "x" }],
  ];
  for (const [method, path, body] of calls) {
    const none = await api(method, path, { body });
    assert.equal(none.status, 401, `${method} ${path} without a token`);
    const r = await api(method, path, { token: viewer, body });
    assert.equal(r.status, 403, `${method} ${path} without admin: ${JSON.stringify(r.body)}`);
    assert.equal(errorCode(r), "forbidden");
    if (path === "/v1/rooms") continue;
    const o = await api(method, path, { token: otherAdmin, body });
    assert.equal(o.status, 403, `${method} ${path} with another room's admin token`);
  }
  // unknown room: 404 room_not_found on every command
  for (const [method, path, body] of calls.slice(1)) {
    const r = await api(
      method,
      path.replace(`/${ROOM}/`, "/nowhere/").replace(/\/span$/, "/nowhere"),
      {
        token: admin,
        body,
      },
    );
    assert.equal(r.status, 404, `${method} ${path} in an unknown room: ${JSON.stringify(r.body)}`);
    assert.equal(errorCode(r), "room_not_found");
  }
  // unknown identity: 404 participant_not_found
  for (const [method, path, body] of [
    ["DELETE", `/v1/rooms/${ROOM}/participants/zed`],
    ["PATCH", `/v1/rooms/${ROOM}/participants/zed`, { grants: ["publish"] }],
    ["POST", `/v1/rooms/${ROOM}/participants/zed/tracks/${aliceVideo}/mute`, { muted: true }],
    ["POST", `/v1/rooms/${ROOM}/data`, { data: "x", identities: ["zed", "yan"] }],
  ] as [string, string, unknown?][]) {
    const r = await api(method, path, { token: admin, body });
    assert.equal(r.status, 404, `${method} ${path}: ${JSON.stringify(r.body)}`);
    assert.equal(errorCode(r), "participant_not_found");
  }
  // a track that is not the participant's: 404 track_not_found
  const notHers = await api(
    "POST",
    `/v1/rooms/${ROOM}/participants/bob/tracks/${aliceVideo}/mute`,
    {
      token: admin,
      body: { muted: true },
    },
  );
  assert.equal(notHers.status, 404);
  assert.equal(errorCode(notHers), "track_not_found");

  // bad bodies and names: 400 (415 for a body that is not JSON at all)
  const bad: [string, string, { body?: unknown; raw?: string; type?: string }, number][] = [
    ["PATCH", `/v1/rooms/${ROOM}/participants/dave`, { body: { grants: ["fly"] } }, 400],
    [
      "PATCH",
      `/v1/rooms/${ROOM}/participants/dave`,
      { body: { grants: ["publish", "publish"] } },
      400,
    ],
    ["PATCH", `/v1/rooms/${ROOM}/participants/dave`, {}, 400],
    ["POST", `/v1/rooms/${ROOM}/participants/alice/tracks/x/mute`, { body: { muted: "yes" } }, 400],
    [
      "POST",
      `/v1/rooms/${ROOM}/participants/alice/tracks/x/mute`,
      { raw: "{muted", type: "application/json" },
      400,
    ],
    ["POST", `/v1/rooms/${ROOM}/data`, { body: {} }, 400],
    ["POST", `/v1/rooms/${ROOM}/data`, { body: { data: "%%%", binary: true } }, 400],
    ["POST", `/v1/rooms/${ROOM}/data`, { body: { data: "x", identities: [] } }, 400],
    ["POST", `/v1/rooms/${ROOM}/data`, { body: { data: "x".repeat(60_000) } }, 400],
    ["POST", `/v1/rooms/${ROOM}/data`, { raw: "data=x", type: "text/plain" }, 415],
    ["DELETE", `/v1/rooms/${ROOM}/participants/bob`, { body: { reason: 42 } }, 400],
    ["DELETE", `/v1/rooms/${ROOM}`, { body: { reason: "" } }, 400],
    ["DELETE", "/v1/rooms/bad.name", {}, 400],
  ];
  for (const [method, path, opts, status] of bad) {
    const r = await api(method, path, { token: admin, ...opts });
    assert.equal(
      r.status,
      status,
      `${method} ${path} ${JSON.stringify(opts).slice(0, 80)}: ${JSON.stringify(r.body)}`,
    );
  }
  // an identity with a control character in the path
  const ctl = await api("DELETE", `/v1/rooms/${ROOM}/participants/a%01b`, { token: admin });
  assert.equal(ctl.status, 400);
  // nothing of that reached anyone
  assert.equal(bob.closed, null);
  assert.ok(!carol.pushed.some((m) => m.type === "data" || m.type === "track.muted"));
});

test("mute from the server: alice's video on A stops reaching carol on B, everyone hears it; unmute resumes", async () => {
  const path = `/v1/rooms/${ROOM}/participants/alice/tracks/${aliceVideo}/mute`;
  const r = await api("POST", path, { token: admin, body: { muted: true } });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  assert.deepEqual(r.body, { publisherId: aliceVideo, muted: true });
  for (const c of [alice, bob, carol, dave]) {
    await c.pushedMatching(
      (m) => m.type === "track.muted" && m.publisherId === aliceVideo,
      "track.muted heard",
    );
  }
  await new Promise((res) => setTimeout(res, 300));
  const before = carolSub.counts.get(aliceVideo) ?? 0;
  await new Promise((res) => setTimeout(res, 1000));
  assert.equal(carolSub.counts.get(aliceVideo) ?? 0, before, "no video packet while muted");
  const info = await api("GET", `/v1/rooms/${ROOM}`, { token: admin });
  const tracks = (
    info.body.participants as {
      identity: string;
      tracks: { publisherId: string; muted?: boolean }[];
    }[]
  ).find((p) => p.identity === "alice")?.tracks;
  assert.equal(tracks?.find((t) => t.publisherId === aliceVideo)?.muted, true);
  assert.equal(tracks?.find((t) => t.publisherId === aliceAudio)?.muted, undefined);

  const u = await api("POST", path, { token: admin, body: { muted: false } });
  assert.deepEqual(u.body, { publisherId: aliceVideo, muted: false });
  await carol.pushedMatching((m) => m.type === "track.unmuted", "track.unmuted heard");
  await until(
    () => (carolSub.counts.get(aliceVideo) ?? 0) > before + 20,
    5000,
    "video flows again after unmute",
  );
});

test("update grants: dave, a viewer on B, publishes after the server grants it, without reconnecting", async () => {
  const pub0 = await weriftPublisher(["audio"]);
  closers.push(() => pub0.pc.close());
  const { sdp, trackIds } = withMsid(pub0.offer.sdp);
  const refused = await dave.request({ type: "publish", offer: sdp, trackIds });
  assert.equal((refused.error as { code: string }).code, "forbidden");

  const r = await api("PATCH", `/v1/rooms/${ROOM}/participants/dave`, {
    token: admin,
    body: { grants: ["publish", "subscribe"] },
  });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  assert.deepEqual(r.body, { sessions: 1 });
  const g = await dave.pushedMatching((m) => m.type === "grants", "grants pushed");
  assert.deepEqual(g.grants, ["publish", "subscribe"]);
  const { tracks } = await publish(dave, ["audio"]);
  assert.equal(tracks.length, 1);
  await alice.pushedMatching(
    (m) => m.type === "track.published" && m.identity === "dave",
    "alice (node A) sees dave's track",
  );
  assert.equal(dave.closed, null, "same socket");

  // and back: revoking publish unpublishes dave's track
  const back = await api("PATCH", `/v1/rooms/${ROOM}/participants/dave`, {
    token: admin,
    body: { grants: ["subscribe"] },
  });
  assert.equal(back.status, 200);
  await alice.pushedMatching(
    (m) => m.type === "track.unpublished" && m.identity === "dave",
    "dave's track unpublished when publish is revoked",
  );
});

test("data: to the whole room across both nodes, and to some identities only", async () => {
  const all = await api("POST", `/v1/rooms/${ROOM}/data`, {
    token: admin,
    body: { data: "hello room", topic: "news" },
  });
  assert.equal(all.status, 200, JSON.stringify(all.body));
  assert.deepEqual((all.body.recipients as string[]).sort(), ["alice", "bob", "carol", "dave"]);
  for (const c of [alice, bob, carol, dave]) {
    const m = await c.pushedMatching((x) => x.type === "data", "data message");
    assert.deepEqual(m, { type: "data", data: "hello room", topic: "news" });
  }
  assert.ok(!erin.pushed.some((m) => m.type === "data"), "another room hears nothing");

  const bytes = Buffer.from([0, 1, 2, 250, 255]).toString("base64");
  const some = await api("POST", `/v1/rooms/${ROOM}/data`, {
    token: admin,
    body: { data: bytes, binary: true, identities: ["bob", "carol", "zed"] },
  });
  assert.equal(some.status, 200);
  assert.deepEqual((some.body.recipients as string[]).sort(), ["bob", "carol"]);
  for (const c of [bob, carol]) {
    await until(() => c.pushed.filter((m) => m.type === "data").length === 2, 5000, "second");
    const m = c.pushed.filter((x) => x.type === "data")[1];
    assert.deepEqual(m, { type: "data", data: bytes, binary: true });
  }
  await new Promise((res) => setTimeout(res, 200));
  for (const c of [alice, dave]) assert.equal(c.pushed.filter((m) => m.type === "data").length, 1);
});

test("remove a participant on each node: removed with the reason, close 4410, the others see them leave", async () => {
  const r = await api("DELETE", `/v1/rooms/${ROOM}/participants/bob`, {
    token: admin,
    body: { reason: "be nice" },
  });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  assert.deepEqual(r.body, { sessions: 1 });
  const removed = await bob.pushedMatching((m) => m.type === "removed", "bob removed");
  assert.deepEqual(removed, { type: "removed", cause: "removed", reason: "be nice" });
  await until(() => bob.closed !== null, 5000, "bob's socket closed");
  assert.deepEqual(bob.closed, { code: WS_CLOSE_REMOVED, reason: "removed: be nice" });
  await carol.pushedMatching(
    (m) => m.type === "participant.left" && m.identity === "bob",
    "carol on B sees bob (A) leave",
  );

  // dave on B, with no body (the default reason)
  const d = await api("DELETE", `/v1/rooms/${ROOM}/participants/dave`, { token: admin });
  assert.equal(d.status, 200);
  await until(() => dave.closed !== null, 5000, "dave's socket closed");
  assert.equal(dave.closed?.code, WS_CLOSE_REMOVED);
  await alice.pushedMatching(
    (m) => m.type === "participant.left" && m.identity === "dave",
    "alice on A sees dave (B) leave",
  );
  const again = await api("DELETE", `/v1/rooms/${ROOM}/participants/dave`, { token: admin });
  assert.equal(again.status, 404);
  const info = await api("GET", `/v1/rooms/${ROOM}`, { token: admin });
  const ids = (info.body.participants as { identity: string }[]).map((p) => p.identity).sort();
  assert.deepEqual(ids, ["alice", "carol"]);
});

test("close the room: every session on both nodes ends with room_closed; the room is gone", async () => {
  const r = await api("DELETE", `/v1/rooms/${ROOM}`, {
    token: admin,
    body: { reason: "meeting over" },
  });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  assert.deepEqual(r.body, { sessions: 2 });
  for (const c of [alice, carol]) {
    const m = await c.pushedMatching((x) => x.type === "removed", "removed");
    assert.deepEqual(m, { type: "removed", cause: "room_closed", reason: "meeting over" });
    await until(() => c.closed !== null, 5000, "socket closed");
    assert.equal(c.closed?.code, WS_CLOSE_REMOVED);
  }
  const deadline = Date.now() + 5000;
  let rooms: { room: string }[] = [];
  while (Date.now() < deadline) {
    rooms = (await api("GET", "/v1/rooms", { token: admin })).body.rooms as { room: string }[];
    if (!rooms.some((x) => x.room === ROOM)) break;
    await new Promise((res) => setTimeout(res, 100));
  }
  assert.deepEqual(
    rooms.map((x) => x.room),
    ["other"],
  );
  const again = await api("DELETE", `/v1/rooms/${ROOM}`, { token: admin });
  assert.equal(again.status, 404);
  assert.equal(erin.closed, null, "the other room goes on");
});
