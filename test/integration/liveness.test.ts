// Sessions that never connect are reaped (PeerLiveness.ts): 100 WHIP sessions whose client never
// sends a single ICE check, through the edge app in Node and a media node on the in-process bus.
// 30 s after their offers none is left in the room, and the process's file descriptors and
// timers are back to what they were.
import assert from "node:assert/strict";
import { readdirSync } from "node:fs";
import { after, before, test } from "node:test";
import { signToken } from "../../edge/src/auth/jwt.ts";
import { livenessStats } from "../../media-node/src/PeerLiveness.ts";
import { type EmbeddedSystem, startEmbedded } from "../helpers/nodeEdge.ts";
import { until, weriftPublisher } from "../helpers/weriftPeer.ts";

const SECRET = "weir-liveness-test-secret-0123456789abcdef";
const ROOM = "never-connect";
const SESSIONS = 100;
let system: EmbeddedSystem;

before(async () => {
  system = await startEmbedded(SECRET, { maxSessions: 500 });
});
after(async () => {
  await system?.close();
});

function token(identity: string): Promise<string> {
  const exp = Math.floor(Date.now() / 1000) + 600;
  return signToken({ sub: identity, room: ROOM, grants: ["publish", "subscribe"], exp }, SECRET);
}

async function participants(): Promise<number> {
  const res = await fetch(`${system.edge.url}/v1/rooms/${ROOM}`, {
    headers: { authorization: `Bearer ${await token("observer")}` },
  });
  if (res.status === 404) return 0;
  const body = (await res.json()) as { participants?: unknown[] };
  return body.participants?.length ?? 0;
}

const fds = () => readdirSync("/proc/self/fd").length;
const timers = () => process.getActiveResourcesInfo().filter((r) => r === "Timeout").length;

test(`${SESSIONS} WHIP sessions that never connect are closed 30 s after their offers`, async () => {
  // One offer for all: its client is closed at once, so no ICE check ever reaches the node.
  const pub = await weriftPublisher(["audio", "video"]);
  await pub.pc.close();
  await participants(); // warm the edge's first request before the baseline
  const baseline = { fds: fds(), timers: timers(), expired: livenessStats.never_connected };
  const t0 = Date.now();
  for (let i = 0; i < SESSIONS; i++) {
    const res = await fetch(`${system.edge.url}/v1/rooms/${ROOM}/whip`, {
      method: "POST",
      headers: {
        "content-type": "application/sdp",
        authorization: `Bearer ${await token(`p${i}`)}`,
      },
      body: pub.offer.sdp,
    });
    assert.equal(res.status, 201, await res.text());
  }
  const opened = Date.now() - t0;
  assert.equal(await participants(), SESSIONS, "every session is in the room");
  assert.ok(
    fds() >= baseline.fds + SESSIONS,
    `each session holds a socket: ${baseline.fds} -> ${fds()}`,
  );
  // Not reaped early: the timeout counts from each session's creation.
  await new Promise((r) => setTimeout(r, Math.max(0, 20_000 - (Date.now() - t0))));
  assert.equal(await participants(), SESSIONS, "all still there 20 s after the first offer");
  // Gone 35 s after the last offer.
  const deadline = t0 + opened + 35_000;
  while ((await participants()) > 0) {
    assert.ok(Date.now() < deadline, `${await participants()} sessions left 35 s after the offers`);
    await new Promise((r) => setTimeout(r, 250));
  }
  const elapsed = Date.now() - t0;
  await until(() => fds() <= baseline.fds + 3, 5_000, "descriptors back");
  assert.ok(timers() <= baseline.timers + 2, `timers ${timers()} vs ${baseline.timers} before`);
  assert.equal(livenessStats.never_connected - baseline.expired, SESSIONS);
  console.log(
    `  ${SESSIONS} sessions opened in ${opened} ms, room empty ${elapsed} ms after the first; fds ${baseline.fds} -> ${fds()}, timers ${baseline.timers} -> ${timers()}`,
  );
});
