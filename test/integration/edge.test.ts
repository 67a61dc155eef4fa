// The edge Worker in miniflare (workerd) in front of real media node processes over a real
// nats-server (WebSocket for the Worker, TCP for the nodes): WHIP/WHEP from werift peers,
// sessions, rooms, WebSocket signaling, every auth and body failure, placement over two nodes
// and failover when one is killed.
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { createHmac } from "node:crypto";
import { existsSync } from "node:fs";
import { after, before, test } from "node:test";
import type { RTCPeerConnection } from "werift";
import { WebSocket } from "ws";
import { signToken } from "../../edge/src/auth/jwt.ts";
import { connectNatsBus, type NatsBusHandle } from "../../shared/bus/adapter/node/nats.ts";
import { NODE_STALE_MS, type NodeInfo } from "../../shared/bus/bus.ts";
import type { Grant } from "../../shared/token.ts";
import { killWithParent } from "../helpers/children.ts";
import { MediaSource } from "../helpers/mediaSource.ts";
import { type EdgeWorker, readBundle, startEdgeWorker } from "../helpers/miniflare.ts";
import { type NatsServer, startNatsServer } from "../helpers/natsServer.ts";
import { until, weriftPublisher, weriftViewer } from "../helpers/weriftPeer.ts";

const SECRET = "weir-edge-integration-test-secret-0123456789";
/** TURN settings of the Worker: every client gets a credential for coturn's use-auth-secret. */
const TURN = {
  WEIR_TURN_URLS: "turns:turn.example.test:443?transport=tcp,turn:turn.example.test:3478",
  WEIR_TURN_SECRET: "edge-test-turn-static-auth-secret",
  WEIR_TURN_TTL: "3600",
};
const NODE_MAIN = existsSync("media-node/service/main.ts")
  ? "media-node/service/main.ts"
  : (process.env.WEIR_NODE_MAIN ?? "media-node/service/main.ts");

let nats: NatsServer;
let edge: EdgeWorker;
let reg: NatsBusHandle;
const nodes = new Map<string, ChildProcess>();
const closers: (() => unknown)[] = [];

// --- helpers -------------------------------------------------------------------------------

async function eventually(cond: () => Promise<boolean>, ms: number, what: string): Promise<void> {
  const start = Date.now();
  while (!(await cond())) {
    if (Date.now() - start > ms) throw new Error(`timed out after ${ms} ms: ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

function token(
  room: string,
  grants: Grant[],
  opts: { sub?: string; exp?: number; secret?: string } = {},
): Promise<string> {
  return signToken(
    {
      sub: opts.sub ?? "alice",
      room,
      grants,
      exp: opts.exp ?? Math.floor(Date.now() / 1000) + 3600,
    },
    opts.secret ?? SECRET,
  );
}

async function liveNodeIds(): Promise<string[]> {
  const now = Date.now();
  return (await reg.registry.list())
    .filter((n) => now - n.heartbeatAt <= NODE_STALE_MS)
    .map((n) => n.nodeId)
    .sort();
}

async function nodeInfo(id: string): Promise<NodeInfo | undefined> {
  return (await reg.registry.list()).find((n) => n.nodeId === id);
}

async function spawnNode(id: string): Promise<ChildProcess> {
  const child = spawn(
    process.execPath,
    [
      "--import",
      "tsx",
      NODE_MAIN,
      "--nats-url",
      nats.url,
      "--listen-ip",
      "127.0.0.1",
      "--node-id",
      id,
    ],
    { stdio: ["ignore", "pipe", "pipe"] },
  );
  killWithParent(child);
  let log = "";
  const keep = (chunk: Buffer) => {
    log = (log + chunk.toString()).slice(-4000);
  };
  child.stdout?.on("data", keep);
  child.stderr?.on("data", keep);
  nodes.set(id, child);
  try {
    await eventually(async () => (await liveNodeIds()).includes(id), 30_000, `node ${id} up`);
  } catch (err) {
    throw new Error(`${(err as Error).message}\n${log}`);
  }
  return child;
}

function edgeFetch(path: string, init: RequestInit = {}): Promise<Response> {
  return fetch(`${edge.url}${path}`, init);
}

async function errorCode(res: Response): Promise<string> {
  assert.match(res.headers.get("content-type") ?? "", /application\/json/);
  const body = (await res.json()) as { error?: { code?: string; message?: string } };
  assert.equal(typeof body.error?.message, "string");
  return body.error?.code ?? "";
}

/**
 * A TURN credential as coturn's use-auth-secret checks it: `<expiry>:<identity>` with the expiry
 * WEIR_TURN_TTL from now, and the base64 HMAC-SHA1 of it (computed here with node:crypto).
 */
function assertTurnCredential(username: string, credential: string, identity: string): void {
  const [expiry, who] = username.split(":");
  assert.equal(who, identity);
  const left = Number(expiry) - Date.now() / 1000;
  assert.ok(left > 3500 && left <= 3600, `expires in ${left} s`);
  const mac = createHmac("sha1", TURN.WEIR_TURN_SECRET).update(username).digest("base64");
  assert.equal(credential, mac);
}

async function expectError(res: Response, status: number, code: string, what: string) {
  assert.equal(res.status, status, `${what}: status`);
  assert.equal(await errorCode(res), code, `${what}: code`);
}

function post(path: string, body: BodyInit | null, headers: Record<string, string>) {
  return edgeFetch(path, { method: "POST", body, headers });
}

/** WHIP-publishes a werift audio+video peer with synthetic media to `room`. */
async function whipPublish(room: string, sub = "alice") {
  const pub = await weriftPublisher(["audio", "video"]);
  const res = await post(`/v1/rooms/${room}/whip`, pub.offer.sdp, {
    authorization: `Bearer ${await token(room, ["publish"], { sub })}`,
    "content-type": "application/sdp",
  });
  const source = new MediaSource(pub.tracks[1], pub.tracks[0]);
  closers.push(
    () => source.stop(),
    () => pub.pc.close(),
  );
  if (res.status !== 201)
    return { res, pub, source, location: "", etag: "", answer: "", error: await res.text() };
  const answer = await res.text();
  await pub.pc.setRemoteDescription({ type: "answer", sdp: answer });
  pub.pc.getTransceivers()[1].sender.onRtcp.subscribe((rtcp) => {
    if (rtcp.type === 206) source.keyframe();
  });
  source.start();
  return {
    res,
    pub,
    source,
    answer,
    location: res.headers.get("location") ?? "",
    etag: res.headers.get("etag") ?? "",
    error: "",
  };
}

/** A WHEP werift client (recvonly audio + video), closed after the tests. */
async function whepClient() {
  const viewer = await weriftViewer();
  closers.push(() => viewer.pc.close());
  return { ...viewer, sdp: viewer.offer.sdp };
}

function connected(pc: RTCPeerConnection, what: string) {
  return until(() => pc.connectionState === "connected", 15_000, `${what} connected`);
}

async function roomNodeOf(room: string): Promise<string | null> {
  return reg.registry.getRoomNode(room);
}

/** Opens a WebSocket to the edge; resolves with the socket and its first message. */
function openWs(
  path: string,
  protocols?: string[],
): Promise<{ ws: WebSocket; next: () => Promise<Record<string, unknown>> }> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`${edge.url.replace(/^http/, "ws")}${path}`, protocols);
    const queue: Record<string, unknown>[] = [];
    const waiters: ((m: Record<string, unknown>) => void)[] = [];
    ws.on("message", (data) => {
      const m = JSON.parse(data.toString()) as Record<string, unknown>;
      const w = waiters.shift();
      if (w) w(m);
      else queue.push(m);
    });
    const next = () =>
      new Promise<Record<string, unknown>>((res, rej) => {
        const m = queue.shift();
        if (m) return res(m);
        const timer = setTimeout(() => rej(new Error("no WebSocket message in 10 s")), 10_000);
        waiters.push((msg) => {
          clearTimeout(timer);
          res(msg);
        });
      });
    ws.on("open", () => resolve({ ws, next }));
    ws.on("unexpected-response", (_req, res) =>
      reject(
        Object.assign(new Error(`upgrade refused: ${res.statusCode}`), { status: res.statusCode }),
      ),
    );
    ws.on("error", reject);
    closers.push(() => ws.close());
  });
}

// --- setup ---------------------------------------------------------------------------------

before(async () => {
  nats = await startNatsServer();
  reg = await connectNatsBus(nats.url, { name: "edge-test" });
  edge = await startEdgeWorker({ natsWsUrl: nats.wsUrl, secret: SECRET, vars: TURN });
  await Promise.all([spawnNode("node-a"), spawnNode("node-b")]);
});

after(async () => {
  for (const close of closers.reverse()) {
    try {
      await close();
    } catch {
      // best effort
    }
  }
  for (const child of nodes.values()) if (child.exitCode === null) child.kill("SIGKILL");
  await edge?.stop();
  await reg?.close();
  await nats?.stop();
});

// --- tests ---------------------------------------------------------------------------------

test("the Worker bundle has no werift and no node: imports", async () => {
  const bundle = await readBundle();
  assert.doesNotMatch(bundle, /werift/i);
  assert.doesNotMatch(bundle, /["'`]node:[a-z_/]+["'`]/);
  assert.doesNotMatch(bundle, /require\(["'](?:fs|net|dgram|child_process|os)["']\)/);
});

test("GET /healthz counts live nodes; unknown routes are JSON 404s", async () => {
  const res = await edgeFetch("/healthz");
  assert.equal(res.status, 200);
  assert.deepEqual(await res.json(), { ok: true, nodes: 2 });
  await expectError(await edgeFetch("/nope"), 404, "not_found", "unknown route");
  await expectError(await edgeFetch("/v1/nope"), 404, "not_found", "unknown route");
  await expectError(await edgeFetch("/v1/rooms"), 401, "unauthorized", "the server API's list");
});

let main: Awaited<ReturnType<typeof whipPublish>>;
let viewer: Awaited<ReturnType<typeof whepClient>>;
let viewerLocation = "";

test("WHIP from a werift publisher: 201, Location, ETag, answer; media connects", async () => {
  main = await whipPublish("main");
  assert.equal(main.res.status, 201);
  assert.match(
    main.location,
    /^\/v1\/sessions\/[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]{22}$/,
  );
  assert.match(main.etag, /^"[^"]+"$/);
  assert.equal(main.res.headers.get("content-type"), "application/sdp");
  assert.match(main.answer, /^v=0\r\n/);
  // RFC 9725 section 4.6: one Link per TURN URL with this client's credential.
  const links = (main.res.headers.get("link") ?? "").split(/,\s*(?=<)/);
  assert.equal(links.length, 2, main.res.headers.get("link") ?? "no Link header");
  const urls = TURN.WEIR_TURN_URLS.split(",");
  for (const [i, link] of links.entries()) {
    const m =
      /^<([^>]+)>; rel="ice-server"; username="([^"]+)"; credential="([^"]+)"; credential-type="password"$/.exec(
        link,
      );
    assert.ok(m, link);
    assert.equal(m[1], urls[i]);
    assertTurnCredential(m[2], m[3], "alice");
  }
  await connected(main.pub.pc, "WHIP publisher");
  assert.ok((await roomNodeOf("main")) !== null, "room placed on a node");
});

test("WHEP from a werift recvonly client receives the room's audio and video", async () => {
  viewer = await whepClient();
  const res = await post("/v1/rooms/main/whep?participant=alice", viewer.sdp, {
    authorization: `Bearer ${await token("main", ["subscribe"], { sub: "viewer" })}`,
    "content-type": "application/sdp",
  });
  assert.equal(res.status, 201, await res.clone().text());
  viewerLocation = res.headers.get("location") ?? "";
  assert.match(viewerLocation, /^\/v1\/sessions\//);
  assert.match(
    res.headers.get("link") ?? "",
    /^<turns:[^>]+>; rel="ice-server"; username="\d+:viewer"/,
  );
  assert.ok(res.headers.get("etag"));
  await viewer.pc.setRemoteDescription({ type: "answer", sdp: await res.text() });
  await connected(viewer.pc, "WHEP viewer");
  await until(
    () => viewer.counts.video > 30 && viewer.counts.audio > 30,
    15_000,
    "WHEP viewer receives audio and video",
  );
});

test("every auth failure is a 401/403 with a JSON code", async () => {
  const sdp = "v=0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\n";
  const good = await token("main", ["publish", "subscribe"]);
  const cases: [string, Record<string, string>, number, string][] = [
    ["missing", {}, 401, "unauthorized"],
    ["not bearer", { authorization: `Basic ${btoa("a:b")}` }, 401, "unauthorized"],
    ["malformed", { authorization: "Bearer not-a-jwt" }, 401, "unauthorized"],
    [
      "bad signature",
      {
        authorization: `Bearer ${await token("main", ["publish"], { secret: "another-secret-another-secret-0123456789" })}`,
      },
      401,
      "unauthorized",
    ],
    [
      "tampered",
      { authorization: `Bearer ${good.slice(0, -2)}${good.endsWith("AA") ? "BB" : "AA"}` },
      401,
      "unauthorized",
    ],
    [
      "expired",
      {
        authorization: `Bearer ${await token("main", ["publish"], { exp: Math.floor(Date.now() / 1000) - 3600 })}`,
      },
      401,
      "token_expired",
    ],
    [
      "wrong room",
      { authorization: `Bearer ${await token("other", ["publish", "subscribe"])}` },
      403,
      "forbidden",
    ],
  ];
  for (const [what, auth, status, code] of cases) {
    const headers = { ...auth, "content-type": "application/sdp" };
    await expectError(
      await post("/v1/rooms/main/whip", sdp, headers),
      status,
      code,
      `WHIP ${what}`,
    );
    await expectError(
      await post("/v1/rooms/main/whep", sdp, headers),
      status,
      code,
      `WHEP ${what}`,
    );
    await expectError(await edgeFetch("/v1/rooms/main", { headers }), status, code, `room ${what}`);
    if (what !== "wrong room") {
      const h = { ...auth, "content-type": "application/trickle-ice-sdpfrag" };
      await expectError(
        await edgeFetch(main.location, {
          method: "PATCH",
          body: "a=end-of-candidates\r\n",
          headers: h,
        }),
        status,
        code,
        `PATCH ${what}`,
      );
      await expectError(
        await edgeFetch(main.location, { method: "DELETE", headers: auth }),
        status,
        code,
        `DELETE ${what}`,
      );
    }
  }
  // Missing grants.
  const subOnly = { authorization: `Bearer ${await token("main", ["subscribe"])}` };
  const pubOnly = { authorization: `Bearer ${await token("main", ["publish"])}` };
  const dataOnly = { authorization: `Bearer ${await token("main", ["data"])}` };
  const ct = { "content-type": "application/sdp" };
  await expectError(
    await post("/v1/rooms/main/whip", sdp, { ...subOnly, ...ct }),
    403,
    "forbidden",
    "WHIP without publish",
  );
  await expectError(
    await post("/v1/rooms/main/whep", sdp, { ...pubOnly, ...ct }),
    403,
    "forbidden",
    "WHEP without subscribe",
  );
  await expectError(
    await edgeFetch("/v1/rooms/main", { headers: pubOnly }),
    403,
    "forbidden",
    "room without subscribe/admin",
  );
  await expectError(
    await edgeFetch(main.location, { method: "DELETE", headers: dataOnly }),
    403,
    "forbidden",
    "DELETE without publish/subscribe",
  );
  // WebSocket: bad token in the subprotocol, in the query, none at all.
  for (const [path, protocols] of [
    ["/v1/rooms/main/ws", ["weir", "not-a-jwt"]],
    ["/v1/rooms/main/ws?token=not-a-jwt", undefined],
    ["/v1/rooms/main/ws", undefined],
    [`/v1/rooms/main/ws?token=${await token("other", ["subscribe"])}`, undefined],
  ] as const) {
    await assert.rejects(
      openWs(path, protocols ? [...protocols] : undefined),
      (err: Error & { status?: number }) => {
        assert.ok(err.status === 401 || err.status === 403, `${path}: ${err.message}`);
        return true;
      },
    );
  }
  assert.equal(main.pub.pc.connectionState, "connected");
});

test("bad bodies get clear errors while the WHIP session keeps flowing", async () => {
  const auth = { authorization: `Bearer ${await token("main", ["publish", "subscribe"])}` };
  const before = viewer.counts.video;
  const whip = (body: BodyInit | null, headers: Record<string, string>) =>
    post("/v1/rooms/main/whip", body, { ...auth, ...headers });
  await expectError(
    await whip("v=0\r\n", { "content-type": "text/plain" }),
    415,
    "unsupported_media_type",
    "text/plain",
  );
  await expectError(await whip("v=0\r\n", {}), 415, "unsupported_media_type", "no content type");
  await expectError(
    await whip("hello", { "content-type": "application/sdp" }),
    400,
    "invalid_sdp",
    "not SDP",
  );
  await expectError(
    await whip("", { "content-type": "application/sdp" }),
    400,
    "invalid_sdp",
    "empty",
  );
  const big = `v=0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 0\r\n${"a=x-pad:".padEnd(1000, "x")}\r\n`.repeat(
    1050,
  );
  await expectError(
    await whip(big, { "content-type": "application/sdp" }),
    413,
    "payload_too_large",
    "1 MB SDP",
  );
  // The same megabyte streamed without a Content-Length: the edge counts what it reads.
  const chunk = new TextEncoder().encode(big.slice(0, 64 * 1024));
  let sent = 0;
  const stream = new ReadableStream<Uint8Array>({
    pull(ctl) {
      if (sent >= 16) return ctl.close();
      sent++;
      ctl.enqueue(chunk);
    },
  });
  // The edge answers 413 as soon as the limit is passed and may close the connection while
  // the client still writes: a reset on write is the same refusal.
  const streamed = await fetch(`${edge.url}/v1/rooms/main/whip`, {
    method: "POST",
    body: stream,
    headers: { ...auth, "content-type": "application/sdp" },
    duplex: "half",
  } as RequestInit).catch((err: Error) => {
    const code = (err.cause as { code?: string } | undefined)?.code;
    assert.ok(
      code === "ECONNRESET" || code === "EPIPE",
      `streamed 1 MB SDP: ${err.message} ${code}`,
    );
    return null;
  });
  if (streamed) await expectError(streamed, 413, "payload_too_large", "streamed 1 MB SDP");
  // Valid-looking SDP the node cannot use.
  const res = await whip("v=0\r\nm=audio 9 RTP/AVP 0\r\n", { "content-type": "application/sdp" });
  assert.ok(res.status >= 400 && res.status < 500, `garbage SDP: ${res.status}`);
  await errorCode(res);
  const nobody = await whepClient();
  await expectError(
    await post("/v1/rooms/main/whep?participant=nobody", nobody.sdp, {
      ...auth,
      "content-type": "application/sdp",
    }),
    404,
    "not_found",
    "WHEP of a participant who publishes nothing",
  );
  await expectError(
    await post("/v1/rooms/bad.room/whip", "v=0\r\n", {
      ...auth,
      "content-type": "application/sdp",
    }),
    400,
    "bad_request",
    "room name with a dot",
  );
  // Sessions: wrong content type, forged and garbage ids (answered without the bus).
  const frag = { ...auth, "content-type": "application/trickle-ice-sdpfrag" };
  await expectError(
    await edgeFetch(main.location, {
      method: "PATCH",
      body: "a=end-of-candidates\r\n",
      headers: { ...auth, "content-type": "application/sdp" },
    }),
    415,
    "unsupported_media_type",
    "PATCH as SDP",
  );
  const [nodeId, localId] = main.location.split("/").pop()!.split(".");
  for (const id of [
    `${nodeId}.${localId}.AAAAAAAAAAAAAAAAAAAAAA`,
    `${nodeId}.otherLocalId.${main.location.split(".").pop()}`,
    "garbage",
    "a.b.c",
  ]) {
    await expectError(
      await edgeFetch(`/v1/sessions/${id}`, {
        method: "PATCH",
        body: "a=end-of-candidates\r\n",
        headers: frag,
      }),
      404,
      "session_not_found",
      `PATCH ${id}`,
    );
    await expectError(
      await edgeFetch(`/v1/sessions/${id}`, { method: "DELETE", headers: auth }),
      404,
      "session_not_found",
      `DELETE ${id}`,
    );
  }
  await expectError(
    await edgeFetch(main.location, { method: "PATCH", body: "x".repeat(20_000), headers: frag }),
    413,
    "payload_too_large",
    "huge sdpfrag",
  );
  // The good session is untouched.
  const mark = viewer.counts.video;
  assert.ok(mark > before);
  await until(() => viewer.counts.video > mark + 30, 10_000, "media keeps flowing");
  assert.equal(main.pub.pc.connectionState, "connected");
});

test("PATCH: trickle 204 with ETag, If-Match mismatch 412, ICE restart 200 with a new ETag", async () => {
  const auth = { authorization: `Bearer ${await token("main", ["publish"])}` };
  const ufrag = /a=ice-ufrag:(\S+)/.exec(main.pub.offer.sdp)![1];
  const pwd = /a=ice-pwd:(\S+)/.exec(main.pub.offer.sdp)![1];
  const trickle = `a=ice-ufrag:${ufrag}\r\na=ice-pwd:${pwd}\r\nm=audio 9 UDP/TLS/RTP/SAVPF 0\r\na=mid:0\r\na=end-of-candidates\r\n`;
  const headers = { ...auth, "content-type": "application/trickle-ice-sdpfrag" };
  const res = await edgeFetch(main.location, {
    method: "PATCH",
    body: trickle,
    headers: { ...headers, "if-match": main.etag },
  });
  assert.equal(res.status, 204, await res.clone().text());
  assert.equal(res.headers.get("etag"), main.etag);
  await expectError(
    await edgeFetch(main.location, {
      method: "PATCH",
      body: trickle,
      headers: { ...headers, "if-match": '"stale"' },
    }),
    412,
    "precondition_failed",
    "If-Match mismatch",
  );
  assert.equal(main.pub.pc.connectionState, "connected");

  // ICE restart on a throwaway session in another room.
  const other = await whipPublish("restart-room", "bob");
  assert.equal(other.res.status, 201);
  const bobAuth = {
    authorization: `Bearer ${await token("restart-room", ["publish"], { sub: "bob" })}`,
  };
  const restart =
    "a=ice-ufrag:newU\r\na=ice-pwd:newpasswordnewpasswordnew1\r\nm=audio 9 UDP/TLS/RTP/SAVPF 0\r\na=mid:0\r\n";
  const r2 = await edgeFetch(other.location, {
    method: "PATCH",
    body: restart,
    headers: {
      ...bobAuth,
      "content-type": "application/trickle-ice-sdpfrag",
      "if-match": other.etag,
    },
  });
  assert.equal(r2.status, 200, await r2.clone().text());
  assert.equal(r2.headers.get("content-type"), "application/trickle-ice-sdpfrag");
  assert.match(await r2.text(), /a=ice-ufrag:/);
  const newEtag = r2.headers.get("etag");
  assert.ok(newEtag && newEtag !== other.etag, "ETag changes with an ICE restart");
  const del = await edgeFetch(other.location, { method: "DELETE", headers: bobAuth });
  assert.equal(del.status, 200);
});

test("GET /v1/rooms/:room lists participants and tracks; an empty room has none", async () => {
  const sub = { authorization: `Bearer ${await token("main", ["subscribe"], { sub: "carol" })}` };
  const res = await edgeFetch("/v1/rooms/main", { headers: sub });
  assert.equal(res.status, 200);
  const info = (await res.json()) as {
    room: string;
    participants: { identity: string; tracks: { kind: string }[] }[];
  };
  assert.equal(info.room, "main");
  const alice = info.participants.find((p) => p.identity === "alice");
  assert.ok(alice, JSON.stringify(info));
  assert.deepEqual(alice.tracks.map((t) => t.kind).sort(), ["audio", "video"]);
  const admin = { authorization: `Bearer ${await token("*", ["admin"], { sub: "ops" })}` };
  const empty = await edgeFetch("/v1/rooms/nobody-here", { headers: admin });
  assert.equal(empty.status, 200);
  assert.deepEqual(await empty.json(), { room: "nobody-here", participants: [] });
});

test("the server API runs in the Worker too: list rooms, 403 without admin, 404, 400", async () => {
  const admin = { authorization: `Bearer ${await token("*", ["admin"], { sub: "ops" })}` };
  const list = await edgeFetch("/v1/rooms", { headers: admin });
  assert.equal(list.status, 200, await list.clone().text());
  const rooms = ((await list.json()) as { rooms: { room: string; tracks: number }[] }).rooms;
  assert.ok(
    rooms.some((r) => r.room === "main" && r.tracks >= 2),
    JSON.stringify(rooms),
  );
  const sub = { authorization: `Bearer ${await token("main", ["subscribe"], { sub: "carol" })}` };
  await expectError(await edgeFetch("/v1/rooms", { headers: sub }), 403, "forbidden", "no admin");
  const json = { ...admin, "content-type": "application/json" };
  const nobody = await edgeFetch("/v1/rooms/main/data", {
    method: "POST",
    headers: json,
    body: JSON.stringify({ data: "hi", identities: ["nobody"] }),
  });
  await expectError(nobody, 404, "participant_not_found", "data to nobody");
  const bad = await edgeFetch("/v1/rooms/main/participants/alice", {
    method: "PATCH",
    headers: json,
    body: JSON.stringify({ grants: "all" }),
  });
  await expectError(bad, 400, "bad_request", "grants not a list");
  const gone = await edgeFetch("/v1/rooms/nobody-here", { method: "DELETE", headers: admin });
  await expectError(gone, 404, "room_not_found", "close an unknown room");
});

test("WebSocket signaling: welcome, ping, bad frames answered, grants enforced, close", async () => {
  const t = await token("main", ["subscribe"], { sub: "wsuser" });
  const { ws, next } = await openWs("/v1/rooms/main/ws", ["weir", t]);
  assert.equal(ws.protocol, "weir");
  const welcome = await next();
  assert.equal(welcome.type, "welcome");
  assert.equal(welcome.room, "main");
  assert.equal(welcome.identity, "wsuser");
  assert.ok(Array.isArray(welcome.participants));
  const iceServers = welcome.iceServers as {
    urls: string[];
    username: string;
    credential: string;
  }[];
  assert.equal(iceServers.length, 1);
  assert.deepEqual(iceServers[0].urls, TURN.WEIR_TURN_URLS.split(","));
  assertTurnCredential(iceServers[0].username, iceServers[0].credential, "wsuser");

  ws.send("{not json");
  const e1 = await next();
  assert.equal(e1.type, "error");
  assert.equal((e1.error as { code: string }).code, "invalid_json");
  ws.send(JSON.stringify({ type: "nope", id: "x1" }));
  const e2 = await next();
  assert.equal((e2.error as { code: string }).code, "bad_request");
  assert.equal(e2.id, "x1");
  ws.send(JSON.stringify({ type: "publish", id: "p1", offer: "v=0\r\n", trackIds: [] }));
  const e3 = await next();
  assert.equal((e3.error as { code: string }).code, "forbidden");
  assert.equal(e3.id, "p1");
  ws.send(JSON.stringify({ type: "ping", id: "x".repeat(100 * 1024) }));
  const e4 = await next();
  assert.equal((e4.error as { code: string }).code, "payload_too_large");
  ws.send(JSON.stringify({ type: "ping", id: "k1" }));
  assert.deepEqual(await next(), { type: "pong", id: "k1" });

  // Token in the query works too; the room sees both participants while connected.
  const q = await openWs(
    `/v1/rooms/main/ws?token=${await token("main", ["publish"], { sub: "wsq" })}`,
  );
  assert.equal((await q.next()).type, "welcome");
  const admin = { authorization: `Bearer ${await token("main", ["admin"], { sub: "ops" })}` };
  const listed = async () =>
    (
      (await (await edgeFetch("/v1/rooms/main", { headers: admin })).json()) as {
        participants: { identity: string }[];
      }
    ).participants.map((p) => p.identity);
  assert.ok((await listed()).includes("wsuser"));
  ws.close();
  q.ws.close();
  await eventually(
    async () => !(await listed()).includes("wsuser"),
    10_000,
    "ws.close reaches the node",
  );
  assert.equal(main.pub.pc.connectionState, "connected");
});

test("DELETE ends WHIP/WHEP sessions (200), then they are gone (404)", async () => {
  const auth = { authorization: `Bearer ${await token("main", ["subscribe"], { sub: "viewer" })}` };
  const res = await edgeFetch(viewerLocation, { method: "DELETE", headers: auth });
  assert.equal(res.status, 200);
  await expectError(
    await edgeFetch(viewerLocation, { method: "DELETE", headers: auth }),
    404,
    "session_not_found",
    "second DELETE",
  );
});

test("two nodes: new rooms spread over both", async () => {
  const used = new Set<string>();
  for (const room of ["spread-1", "spread-2", "spread-3"]) {
    const p = await whipPublish(room, `pub-${room}`);
    assert.equal(p.res.status, 201, p.error);
    const placedAt = Date.now();
    used.add((await roomNodeOf(room))!);
    // Let every node heartbeat once more, so placement sees the new session count.
    await eventually(
      async () => {
        const infos = await Promise.all([...nodes.keys()].map(nodeInfo));
        return infos.every((n) => n !== undefined && n.heartbeatAt > placedAt);
      },
      5_000,
      "a heartbeat after the placement",
    );
  }
  assert.deepEqual([...used].sort(), ["node-a", "node-b"]);
});

test("kill a node: its entry is stale within 6 s and its rooms move to the survivor", async () => {
  const victim = (await roomNodeOf("main"))!;
  const survivor = victim === "node-a" ? "node-b" : "node-a";
  const killedAt = Date.now();
  nodes.get(victim)!.kill("SIGKILL");
  await eventually(
    async () => !(await liveNodeIds()).includes(victim),
    NODE_STALE_MS + 2_000,
    "victim goes stale",
  );
  const staleAfter = Date.now() - killedAt;
  assert.ok(staleAfter <= NODE_STALE_MS + 500, `stale after ${staleAfter} ms`);
  const health = (await (await edgeFetch("/healthz")).json()) as { nodes: number };
  assert.equal(health.nodes, 1);

  // The dead node's room and a new room both go to the survivor.
  const again = await whipPublish("main", "alice2");
  assert.equal(again.res.status, 201, again.error);
  assert.equal(await roomNodeOf("main"), survivor);
  assert.ok(again.location.includes(`/${survivor}.`));
  const fresh = await whipPublish("after-kill", "dave");
  assert.equal(fresh.res.status, 201, fresh.error);
  assert.equal(await roomNodeOf("after-kill"), survivor);
  await connected(fresh.pub.pc, "publisher on the survivor");

  // A session on the dead node: its id still verifies but nobody answers.
  const auth = { authorization: `Bearer ${await token("main", ["publish"])}` };
  const res = await edgeFetch(main.location, { method: "DELETE", headers: auth });
  assert.equal(res.status, 503);
  assert.equal(await errorCode(res), "node_unavailable");
});
