// Issue 12 (smaller items) on the real path (the edge app in Node, a media node, `ws` clients):
// a WebSocket session ends when its token expires (close 4401, the node session ends) unless the
// client sent a fresh token for the same identity, room and grants; a token of someone else is
// refused and changes nothing.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import type { WebSocket } from "ws";
import { signToken } from "../../edge/src/auth/jwt.ts";
import type { Grant } from "../../shared/token.ts";
import { WS_CLOSE_TOKEN_EXPIRED } from "../../shared/ws.ts";
import { type EmbeddedSystem, startEmbedded } from "../helpers/nodeEdge.ts";
import { until } from "../helpers/weriftPeer.ts";
import { WsClient } from "../helpers/wsClient.ts";

const SECRET = "weir-ws-token-expiry-secret-0123456789abcdef";
const ROOM = "expiring";
const GRANTS: Grant[] = ["subscribe"];
let system: EmbeddedSystem;
const closers: (() => unknown)[] = [];

before(async () => {
  system = await startEmbedded(SECRET);
});

after(async () => {
  for (const close of closers.reverse()) await close();
  await system?.close();
});

function token(sub: string, ttlS: number, grants = GRANTS): Promise<string> {
  return signToken({ sub, room: ROOM, grants, exp: Math.floor(Date.now() / 1000) + ttlS }, SECRET);
}

async function join(sub: string, ttlS: number): Promise<WsClient> {
  const c = await WsClient.open(system.edge.url, ROOM, await token(sub, ttlS));
  closers.push(() => c.close());
  return c;
}

function closeCode(ws: WebSocket): Promise<number> {
  return new Promise((resolve) => ws.on("close", (code) => resolve(code)));
}

test("a socket is closed with 4401 when its token expires; its node session ends", async () => {
  const c = await join("short", 2);
  const closed = closeCode(c.ws);
  assert.equal((await c.request({ type: "ping" })).type, "pong");
  assert.equal(await closed, WS_CLOSE_TOKEN_EXPIRED);
  await until(() => system.service.node.sessionCount === 0, 5000, "the node session ends");
});

test("a fresh token keeps the socket past the first token's expiry; another identity's is refused", async () => {
  const c = await join("refresher", 2);
  let code = 0;
  c.ws.on("close", (n) => {
    code = n;
  });
  const foreign = await c.request({ type: "token", token: await token("someone-else", 600) });
  assert.equal((foreign.error as { code: string }).code, "forbidden");
  const fewer = await c.request({ type: "token", token: await token("refresher", 600, []) });
  assert.equal((fewer.error as { code: string }).code, "forbidden");
  const ok = await c.request({ type: "token", token: await token("refresher", 600) });
  assert.equal(ok.type, "ok", JSON.stringify(ok));
  // past the first token's exp (2 s, whole seconds): still open, still answering
  await new Promise((r) => setTimeout(r, 3500));
  assert.equal(code, 0, "the socket is still open");
  assert.equal((await c.request({ type: "ping" })).type, "pong");
});
