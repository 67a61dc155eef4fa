// Session limits (issue 22, defect 6) through the edge (Node, in-process bus) to a media node
// with werift peers: per identity in a room (429 too_many_sessions) and per node (503 node_full),
// while the sessions already there keep their media.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import {
  type EdgePair,
  edgeToken,
  postOffer,
  startEdgePair,
  watchGrowth,
} from "../helpers/edgePair.ts";
import { type EmbeddedSystem, startEmbedded } from "../helpers/nodeEdge.ts";
import { weriftPublisher } from "../helpers/weriftPeer.ts";

const SECRET = "weir-limits-test-secret-0123456789abcdef";
let system: EmbeddedSystem;
let pair: EdgePair;
const peers: { close(): Promise<void> }[] = [];

before(async () => {
  system = await startEmbedded(SECRET, { maxSessions: 5, maxSessionsPerIdentity: 2 });
  pair = await startEdgePair(system.edge.url, SECRET, "steady"); // 2 sessions
});

after(async () => {
  for (const p of peers) await p.close();
  await pair?.close();
  await system?.close();
});

/** A WHIP POST of a fresh werift offer as `identity` in room "busy". */
async function whip(identity: string): Promise<{ res: Response; token: string }> {
  const pub = await weriftPublisher(["audio"]);
  peers.push(pub.pc);
  const token = await edgeToken(SECRET, "busy", identity, ["publish"]);
  return { res: await postOffer(system.edge.url, "busy", "whip", token, pub.offer.sdp), token };
}

async function expectError(res: Response, status: number, code: string): Promise<string> {
  const body = (await res.json()) as { error: { code: string; message: string } };
  assert.equal(res.status, status, JSON.stringify(body));
  assert.equal(body.error.code, code);
  return body.error.message;
}

test("per identity 429 too_many_sessions, per node 503 node_full; existing sessions keep media", async () => {
  const watch = watchGrowth(pair.videoReceived);
  const first = await whip("alice");
  assert.equal(first.res.status, 201);
  assert.equal((await whip("alice")).res.status, 201);
  const message = await expectError((await whip("alice")).res, 429, "too_many_sessions");
  assert.match(message, /alice already has 2 sessions in room busy; the limit is 2/);

  assert.equal((await whip("bob")).res.status, 201, "another identity still gets in");
  assert.equal(system.service.node.sessionCount, 5, "the node is at its limit");
  await expectError((await whip("carol")).res, 503, "node_full");
  // the node itself says so too when asked past placement (a race between edges)
  const direct = await system.service.node.handle({
    op: "whip.create",
    room: "other",
    identity: "dave",
    sdp: "v=0",
  });
  assert.equal(!direct.ok && direct.error.code, "node_full");

  const videoBefore = pair.videoReceived();
  await new Promise((r) => setTimeout(r, 500));
  const stalled = watch.stop();
  assert.ok(pair.videoReceived() > videoBefore, "the pair keeps its media at the limit");
  assert.ok(stalled < 1000, `the viewer's video stood still for ${stalled} ms`);

  const del = await fetch(`${system.edge.url}${first.res.headers.get("location")}`, {
    method: "DELETE",
    headers: { authorization: `Bearer ${first.token}` },
  });
  assert.equal(del.status, 200);
  assert.equal((await whip("alice")).res.status, 201, "a freed place is taken again");
});
