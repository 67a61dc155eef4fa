// The same edge app served in Node (@hono/node-server + ws) over the in-process bus, as the
// embedded mode runs it: WHIP from werift, JSON errors, and WebSocket signaling.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { WebSocket } from "ws";
import { signToken } from "../../edge/src/auth/jwt.ts";
import type { Grant } from "../../shared/token.ts";
import { type EmbeddedSystem, startEmbedded } from "../helpers/nodeEdge.ts";
import { until, weriftPublisher } from "../helpers/weriftPeer.ts";

const SECRET = "weir-node-edge-test-secret-0123456789abcdef";
let system: EmbeddedSystem;
const closers: (() => unknown)[] = [];

function token(room: string, grants: Grant[], sub = "alice"): Promise<string> {
  return signToken({ sub, room, grants, exp: Math.floor(Date.now() / 1000) + 600 }, SECRET);
}

before(async () => {
  system = await startEmbedded(SECRET);
});

after(async () => {
  for (const close of closers.reverse()) await close();
  await system?.close();
});

test("Node edge: healthz, JSON errors, WHIP 201 + DELETE 200", async () => {
  const health = await fetch(`${system.edge.url}/healthz`);
  assert.deepEqual(await health.json(), { ok: true, nodes: 1 });
  const none = await fetch(`${system.edge.url}/v1/rooms/r1/whip`, { method: "POST", body: "v=0" });
  assert.equal(none.status, 401);
  assert.equal(((await none.json()) as { error: { code: string } }).error.code, "unauthorized");

  const pub = await weriftPublisher(["audio", "video"]);
  closers.push(() => pub.pc.close());
  const auth = `Bearer ${await token("r1", ["publish"])}`;
  const res = await fetch(`${system.edge.url}/v1/rooms/r1/whip`, {
    method: "POST",
    body: pub.offer.sdp,
    headers: { authorization: auth, "content-type": "application/sdp" },
  });
  assert.equal(res.status, 201);
  const location = res.headers.get("location")!;
  assert.match(location, /^\/v1\/sessions\/embedded\./);
  await pub.pc.setRemoteDescription({ type: "answer", sdp: await res.text() });
  await until(() => pub.pc.connectionState === "connected", 15_000, "publisher connected");
  const big = await fetch(`${system.edge.url}/v1/rooms/r1/whip`, {
    method: "POST",
    body: "v=0\r\n".padEnd(2 * 1024 * 1024, "x"),
    headers: { authorization: auth, "content-type": "application/sdp" },
  });
  assert.equal(big.status, 413);
  const del = await fetch(`${system.edge.url}${location}`, {
    method: "DELETE",
    headers: { authorization: auth },
  });
  assert.equal(del.status, 200);
});

test("Node edge: WebSocket with the token in the subprotocol; refused upgrade is 401", async () => {
  const t = await token("r2", ["subscribe"], "wsuser");
  const ws = new WebSocket(`${system.edge.url.replace("http", "ws")}/v1/rooms/r2/ws`, ["weir", t]);
  closers.push(() => ws.close());
  const messages: Record<string, unknown>[] = [];
  ws.on("message", (d) => messages.push(JSON.parse(d.toString())));
  await new Promise<void>((resolve, reject) => {
    ws.on("open", () => resolve());
    ws.on("error", reject);
  });
  assert.equal(ws.protocol, "weir");
  await until(() => messages.length >= 1, 5_000, "welcome");
  assert.equal(messages[0].type, "welcome");
  ws.send("nope");
  ws.send(JSON.stringify({ type: "ping", id: "p" }));
  await until(() => messages.length >= 3, 5_000, "replies");
  assert.equal((messages[1].error as { code: string }).code, "invalid_json");
  assert.deepEqual(messages[2], { type: "pong", id: "p" });
  ws.close();
  await until(() => system.service.node.sessionCount === 0, 5_000, "ws.close reaches the node");

  const status = await new Promise<number>((resolve, reject) => {
    const bad = new WebSocket(`${system.edge.url.replace("http", "ws")}/v1/rooms/r2/ws`, [
      "weir",
      "bad",
    ]);
    bad.on("unexpected-response", (_req, res) => resolve(res.statusCode ?? 0));
    bad.on("open", () => reject(new Error("opened with a bad token")));
    bad.on("error", () => {});
  });
  assert.equal(status, 401);
});
