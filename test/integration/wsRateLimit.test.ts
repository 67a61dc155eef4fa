// Issue 12 defect 5 on the real path (the edge app in Node, a media node, the in-process bus,
// `ws` clients): a socket over the message rate (invalid frames count) or the in-flight limit of
// shared/limits.ts is closed with WS_CLOSE_RATE_LIMITED, and another participant's ping in the
// same room still answers.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import type { WebSocket } from "ws";
import { MemoryBus } from "../../shared/bus/memoryBus.ts";
import { WS_CLOSE_RATE_LIMITED, WS_LIMITS } from "../../shared/limits.ts";
import { edgeToken } from "../helpers/edgePair.ts";
import { type EmbeddedSystem, startEmbedded } from "../helpers/nodeEdge.ts";
import { until } from "../helpers/weriftPeer.ts";
import { WsClient } from "../helpers/wsClient.ts";

const SECRET = "weir-ws-rate-test-secret-0123456789abcdef";
const ROOM = "flood";

/** The in-process bus; while `holding`, node commands wait until `release()` (a slow node). */
class HoldingBus extends MemoryBus {
  holding = false;
  #held: (() => void)[] = [];

  override async request(subject: string, data: string, timeoutMs: number): Promise<string> {
    if (this.holding && data.includes('"ws.message"')) {
      await new Promise<void>((resolve) => this.#held.push(resolve));
    }
    return super.request(subject, data, timeoutMs);
  }

  release(): void {
    this.holding = false;
    for (const go of this.#held.splice(0)) go();
  }
}

const bus = new HoldingBus();
let system: EmbeddedSystem;
const closers: (() => unknown)[] = [];

before(async () => {
  system = await startEmbedded(SECRET, {}, bus);
});

after(async () => {
  bus.release();
  for (const close of closers.reverse()) await close();
  await system?.close();
});

async function join(identity: string): Promise<WsClient> {
  const token = await edgeToken(SECRET, ROOM, identity, ["subscribe"]);
  const c = await WsClient.open(system.edge.url, ROOM, token);
  closers.push(() => c.close());
  return c;
}

/** The socket's close code and reason; rejects if it is still open after 10 s. */
function closed(ws: WebSocket): Promise<{ code: number; reason: string }> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error("the socket is still open after 10 s")),
      10_000,
    );
    ws.on("close", (code, reason) => {
      clearTimeout(timer);
      resolve({ code, reason: reason.toString() });
    });
  });
}

test("a socket flooding invalid frames is closed with 4429; another socket's ping answers", async () => {
  const calm = await join("calm");
  const flooder = await join("flooder");
  const end = closed(flooder.ws);
  const frames = WS_LIMITS.burst * 5;
  for (let i = 0; i < frames; i++) flooder.ws.send("not json");
  const { code, reason } = await end;
  assert.equal(code, WS_CLOSE_RATE_LIMITED);
  assert.match(reason, /messages per second/);
  const pong = await calm.request({ type: "ping" });
  assert.equal(pong.type, "pong", JSON.stringify(pong));
  await until(() => system.service.node.sessionCount === 1, 5000, "the flooder's session ends");
});

test("a socket over the in-flight limit is closed with 4429; another socket's ping answers", async () => {
  const calm = await join("calm-2");
  const eager = await join("eager");
  const end = closed(eager.ws);
  bus.holding = true;
  // within the rate burst, over the in-flight limit while the node is slow
  for (let i = 0; i <= WS_LIMITS.inFlight; i++) {
    eager.ws.send(JSON.stringify({ type: "ping", id: `p${i}` }));
  }
  const { code, reason } = await end;
  bus.release();
  assert.equal(code, WS_CLOSE_RATE_LIMITED);
  assert.match(reason, /in flight/);
  const pong = await calm.request({ type: "ping" });
  assert.equal(pong.type, "pong", JSON.stringify(pong));
});

test("a client within the limits is never closed: a burst of pings all answer", async () => {
  const ok = await join("within");
  const replies = await Promise.all(
    Array.from({ length: WS_LIMITS.inFlight }, () => ok.request({ type: "ping" })),
  );
  assert.equal(replies.filter((r) => r.type === "pong").length, WS_LIMITS.inFlight);
});
