// Issue 12 (smaller items) on the real path (the edge app in Node, a media node, `ws` clients):
// two WebSocket clients of the same identity in a room do not merge into one participant; the
// newer replaces the older, which gets `replaced` and close 4409. Other identities are untouched.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { WS_CLOSE_REPLACED } from "../../shared/ws.ts";
import { edgeToken } from "../helpers/edgePair.ts";
import { type EmbeddedSystem, startEmbedded } from "../helpers/nodeEdge.ts";
import { until } from "../helpers/weriftPeer.ts";
import { WsClient } from "../helpers/wsClient.ts";

const SECRET = "weir-ws-replaced-secret-0123456789abcdef";
const ROOM = "twice";
let system: EmbeddedSystem;
const closers: (() => unknown)[] = [];

before(async () => {
  system = await startEmbedded(SECRET);
});

after(async () => {
  for (const close of closers.reverse()) await close();
  await system?.close();
});

async function join(identity: string): Promise<WsClient> {
  const token = await edgeToken(SECRET, ROOM, identity, ["subscribe"]);
  const c = await WsClient.open(system.edge.url, ROOM, token);
  closers.push(() => c.close());
  return c;
}

test("a second socket of the same identity replaces the first: replaced, close 4409", async () => {
  const other = await join("bystander");
  const first = await join("twin");
  let code = 0;
  first.ws.on("close", (n) => {
    code = n;
  });
  const second = await join("twin");
  await until(() => code !== 0, 5000, "the first socket closed");
  assert.equal(code, WS_CLOSE_REPLACED);
  assert.ok(
    first.pushed.some((m) => m.type === "replaced"),
    JSON.stringify(first.pushed),
  );
  assert.equal((await second.request({ type: "ping" })).type, "pong");
  assert.equal((await other.request({ type: "ping" })).type, "pong");
  await until(() => system.service.node.sessionCount === 2, 5000, "two sessions on the node");
  const ids = system.service.node.localParticipants(ROOM).map((p) => p.identity);
  assert.deepEqual(ids.sort(), ["bystander", "twin"]);
});
