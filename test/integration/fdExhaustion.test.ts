// A media node process out of file descriptors (issue 22, defect 5): its limit is lowered with
// prlimit to just above what it holds, so werift's ICE socket binds fail with EMFILE. New sessions
// get a clear error, the werift pair already there keeps its media, the process stays up.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { after, test } from "node:test";
import { connectNatsBus } from "../../shared/bus/adapter/node/nats.ts";
import { WeirApiError } from "../../shared/errors.ts";
import { callNode } from "../../shared/nodeClient.ts";
import type { NodeCommand, NodeOp } from "../../shared/rpc.ts";
import { openFds, startPair, watchGrowth } from "../helpers/edgePair.ts";
import { freePort, startNatsServer } from "../helpers/natsServer.ts";
import { startMediaNode } from "../helpers/system.ts";
import { weriftPublisher } from "../helpers/weriftPeer.ts";

const closers: (() => unknown)[] = [];
after(async () => {
  for (const close of closers.reverse()) await close();
});

/** Room for a few more descriptors: a session takes one UDP socket per host address. */
const HEADROOM = 4;

test("EMFILE at an ICE socket bind: clear error for new sessions, others keep media, process up", async () => {
  const nats = await startNatsServer();
  closers.push(() => nats.stop());
  const metricsPort = await freePort();
  const node = await startMediaNode(nats.url, "fd-node", [], {
    WEIR_METRICS_PORT: String(metricsPort),
  });
  closers.push(() => node.stop());
  const conn = await connectNatsBus(nats.url, { name: "fd-test" });
  closers.push(() => conn.close());
  const call = <Op extends NodeOp>(command: Extract<NodeCommand, { op: Op }>) =>
    callNode(conn.bus, "fd-node", command);

  const pair = await startPair(async (kind, identity, sdp) => {
    const room = "steady";
    const r = await (kind === "whip"
      ? call({ op: "whip.create", room, identity, sdp })
      : call({ op: "whep.create", room, identity, sdp }));
    return r.sdp;
  });
  closers.push(() => pair.close());
  const watch = watchGrowth(pair.videoReceived);

  const pid = node.child.pid as number;
  const limit = openFds(pid).total + HEADROOM;
  execFileSync("prlimit", ["--pid", String(pid), `--nofile=${limit}:${limit}`]);

  // concurrent: several gatherings read the interface list while a descriptor is still free,
  // then race for it at bind (the bind that loses was the unhandled 'error' that ended the node)
  const offers = await Promise.all(
    Array.from({ length: 4 * HEADROOM }, async () => {
      const pub = await weriftPublisher(["audio"]);
      closers.push(() => pub.pc.close());
      return pub.offer.sdp;
    }),
  );
  const results = await Promise.allSettled(
    offers.map((sdp, i) => call({ op: "whip.create", room: "fill", identity: `u${i}`, sdp })),
  );
  const opened = results.flatMap((r) => (r.status === "fulfilled" ? [r.value.sessionId] : []));
  const refused = results.flatMap((r) => (r.status === "rejected" ? [r.reason as Error] : []));
  assert.ok(
    refused.length > 0,
    `a session was refused (${opened.length} opened under ${limit} fds)`,
  );
  for (const err of refused) {
    assert.ok(err instanceof WeirApiError, String(err));
    assert.equal(err.code, "no_node_available");
    assert.match(err.message, /could not open a UDP socket for ICE: .*EMFILE/);
  }
  assert.match(node.log(), /"msg":"no ICE socket for a new session"/, "the node logs it");
  assert.equal(node.child.exitCode, null, "the node process is up");
  const steady = await call({ op: "room.get", room: "steady" });
  assert.equal(steady.participants.length, 2, "the node still answers commands");

  const videoBefore = pair.videoReceived();
  await new Promise((r) => setTimeout(r, 500));
  const stalled = watch.stop();
  assert.ok(pair.videoReceived() > videoBefore, "the pair keeps its media");
  assert.ok(stalled < 1000, `the viewer's video stood still for ${stalled} ms`);

  // descriptors back: the node takes sessions again and has counted the failed bind
  for (const sessionId of opened)
    await call({ op: "session.delete", sessionId, identity: "operator", admin: true });
  const pub = await weriftPublisher(["audio"]);
  closers.push(() => pub.pc.close());
  await call({ op: "whip.create", room: "fill", identity: "again", sdp: pub.offer.sdp });
  const metrics = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
  const failures = /^weir_socket_failures_total\{phase="open"\} (\d+)$/m.exec(metrics);
  assert.ok(Number(failures?.[1]) >= 1, `bind failures counted:\n${metrics}`);
  console.log(
    `fd limit ${limit}: ${opened.length} sessions opened, ${refused.length} refused:`,
    [...new Set(refused.map((e) => e.message))],
    `video stood still at most ${stalled} ms`,
  );
});
