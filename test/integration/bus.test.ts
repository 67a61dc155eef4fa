/**
 * One behaviour suite for every Bus/NodeRegistry adapter: MemoryBus, NATS over TCP and NATS
 * over WebSocket against a real nats-server (JetStream KV). Plus edge(WS) <-> node(TCP) and a
 * check that the WebSocket adapter bundles for workerd without `node:` imports.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { build } from "esbuild";
import { Miniflare } from "miniflare";
import { WebSocket as UndiciWebSocket } from "undici";
import { connectNatsBus } from "../../shared/bus/adapter/node/nats.ts";
import { connectNatsWsBus, withNatsBus } from "../../shared/bus/adapter/worker/nats.ts";
import {
  type Bus,
  BusError,
  liveNodes,
  NODE_STALE_MS,
  type NodeInfo,
  type NodeRegistry,
} from "../../shared/bus/bus.ts";
import { MemoryBus, MemoryRegistry } from "../../shared/bus/memoryBus.ts";
import { type NatsServer, startNatsServer } from "../helpers/natsServer.ts";

const T = { timeout: 15_000 };

/** Node 20 has no global WebSocket; Workers, browsers and Node >= 22 do. */
const WebSocketImpl = (globalThis as { WebSocket?: unknown }).WebSocket
  ? undefined
  : UndiciWebSocket;

interface Fixture {
  /** requester side (an edge) */
  a: Bus;
  /** responder side (a media node); the same bus as `a` for MemoryBus */
  b: Bus;
  registry: NodeRegistry;
  close(): Promise<void>;
}

let server: NatsServer | undefined;
before(async () => {
  server = await startNatsServer();
});
after(async () => {
  await server?.stop();
});
const nats = (): NatsServer => {
  assert.ok(server, "nats-server not started");
  return server;
};

const adapters: { name: string; open(): Promise<Fixture> }[] = [
  {
    name: "MemoryBus",
    async open() {
      const bus = new MemoryBus();
      return { a: bus, b: bus, registry: new MemoryRegistry(), close: () => bus.close() };
    },
  },
  {
    name: "NATS TCP",
    async open() {
      const a = await connectNatsBus(nats().url, { name: "test-a" });
      const b = await connectNatsBus(nats().url, { name: "test-b" });
      return {
        a: a.bus,
        b: b.bus,
        registry: a.registry,
        close: async () => {
          await a.close();
          await b.close();
        },
      };
    },
  },
  {
    name: "NATS WebSocket",
    async open() {
      const opts = { WebSocket: WebSocketImpl };
      const a = await connectNatsWsBus(nats().wsUrl, opts);
      const b = await connectNatsWsBus(nats().wsUrl, opts);
      return {
        a: a.bus,
        b: b.bus,
        registry: b.registry,
        close: async () => {
          await a.close();
          await b.close();
        },
      };
    },
  },
];

let seq = 0;
/** A subject prefix no other test uses. */
function prefix(): string {
  return `t${Date.now().toString(36)}x${++seq}`;
}

/**
 * Waits until the server has processed `bus`'s earlier SUBs: a round trip on the same
 * connection (a request nobody answers comes back as "no responders" after them).
 */
async function synced(bus: Bus): Promise<void> {
  await bus.request(`sync.${prefix()}`, "", 2000).catch(() => {});
}

function until(cond: () => boolean, ms = 3000): Promise<void> {
  const deadline = Date.now() + ms;
  return new Promise((resolve, reject) => {
    const tick = (): void => {
      if (cond()) resolve();
      else if (Date.now() > deadline) reject(new Error("condition not met in time"));
      else setTimeout(tick, 10);
    };
    tick();
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function node(nodeId: string, heartbeatAt: number, extra: Partial<NodeInfo> = {}): NodeInfo {
  return {
    nodeId,
    address: "127.0.0.1:7000",
    relayAddress: "127.0.0.1:7001",
    load: 0.25,
    sessions: 3,
    maxSessions: 100,
    draining: false,
    heartbeatAt,
    ...extra,
  };
}

function busError(code: string, reason?: string) {
  return (err: unknown): boolean => {
    assert.ok(err instanceof BusError, `expected BusError, got ${String(err)}`);
    assert.equal(err.code, code);
    if (reason) assert.equal(err.reason, reason);
    return true;
  };
}

for (const adapter of adapters) {
  describe(adapter.name, T, () => {
    let f: Fixture;
    before(async () => {
      f = await adapter.open();
    });
    after(async () => {
      await f?.close();
    });

    test("request/reply", T, async () => {
      const p = prefix();
      const sub = f.b.subscribe(`${p}.rpc`, (data, respond) => {
        assert.ok(respond, "a request must come with respond");
        respond(`echo:${data}`);
      });
      await synced(f.b);
      assert.equal(await f.a.request(`${p}.rpc`, "héllo ✓", 2000), "echo:héllo ✓");
      // a publish to the same subject comes without respond
      let gotRespond: unknown = "unset";
      const sub2 = f.b.subscribe(`${p}.pub`, (_d, respond) => {
        gotRespond = respond;
      });
      await synced(f.b);
      f.a.publish(`${p}.pub`, "x");
      await until(() => gotRespond !== "unset");
      assert.equal(gotRespond, undefined);
      sub.unsubscribe();
      sub2.unsubscribe();
    });

    test("timeout rejects with node_unavailable", T, async () => {
      const p = prefix();
      let seen = 0;
      const sub = f.b.subscribe(`${p}.slow`, () => {
        seen++; // never responds
      });
      await synced(f.b);
      const t0 = Date.now();
      await assert.rejects(
        f.a.request(`${p}.slow`, "x", 300),
        busError("node_unavailable", "timeout"),
      );
      const elapsed = Date.now() - t0;
      assert.ok(elapsed >= 280 && elapsed < 2000, `timed out after ${elapsed} ms`);
      assert.equal(seen, 1);
      sub.unsubscribe();
    });

    test("no responders rejects with node_unavailable, fast", T, async () => {
      const t0 = Date.now();
      await assert.rejects(
        f.a.request(`${prefix()}.nobody`, "x", 5000),
        busError("node_unavailable", "no_responders"),
      );
      assert.ok(Date.now() - t0 < 1000, "no responders must not wait for the timeout");
      // after the only subscriber leaves, nobody responds again
      const p = prefix();
      const sub = f.b.subscribe(`${p}.gone`, (_d, respond) => respond?.("ok"));
      await synced(f.b);
      assert.equal(await f.a.request(`${p}.gone`, "", 2000), "ok");
      sub.unsubscribe();
      await synced(f.b);
      await assert.rejects(
        f.a.request(`${p}.gone`, "", 5000),
        busError("node_unavailable", "no_responders"),
      );
    });

    test("wildcard subscriptions match like NATS", T, async () => {
      const p = prefix();
      const star: string[] = [];
      const tail: string[] = [];
      const s1 = f.b.subscribe(`${p}.*.events`, (d) => star.push(d));
      const s2 = f.b.subscribe(`${p}.>`, (d) => tail.push(d));
      await synced(f.b);
      for (const s of [`${p}.a.events`, `${p}.b.events`, `${p}.a.b.events`, `${p}.a`, `${p}`]) {
        f.a.publish(s, s);
      }
      f.a.publish(`${p}.end`, "end");
      await until(() => tail.includes("end"));
      assert.deepEqual(star, [`${p}.a.events`, `${p}.b.events`]);
      assert.deepEqual(tail, [
        `${p}.a.events`,
        `${p}.b.events`,
        `${p}.a.b.events`,
        `${p}.a`,
        "end",
      ]);
      // a request to a wildcard subscriber gets answered
      const s3 = f.b.subscribe(`${p}.node.*.rpc`, (d, respond) => respond?.(`n:${d}`));
      await synced(f.b);
      assert.equal(await f.a.request(`${p}.node.n1.rpc`, "q", 2000), "n:q");
      s1.unsubscribe();
      s2.unsubscribe();
      s3.unsubscribe();
    });

    test(
      "publish fans out to every subscriber, in order; unsubscribe stops delivery",
      T,
      async () => {
        const p = prefix();
        const got: string[][] = [[], [], []];
        const subs = [
          f.a.subscribe(`${p}.room`, (d) => got[0].push(d)),
          f.b.subscribe(`${p}.room`, (d) => got[1].push(d)),
          f.b.subscribe(`${p}.room`, (d) => got[2].push(d)),
        ];
        await synced(f.a);
        await synced(f.b);
        const sent = Array.from({ length: 50 }, (_, i) => `m${i}`);
        for (const m of sent) f.a.publish(`${p}.room`, m);
        await until(() => got.every((g) => g.length === sent.length));
        for (const g of got) assert.deepEqual(g, sent);
        subs[1].unsubscribe();
        await synced(f.b);
        f.a.publish(`${p}.room`, "after");
        await until(() => got[0].includes("after") && got[2].includes("after"));
        await sleep(50);
        assert.equal(got[1].length, sent.length);
        subs[0].unsubscribe();
        subs[2].unsubscribe();
      },
    );

    test("a throwing handler does not break the bus", T, async () => {
      const p = prefix();
      const sub = f.b.subscribe(`${p}.boom`, (d, respond) => {
        if (d === "throw") throw new Error("handler failure (expected in this test)");
        respond?.("fine");
      });
      await synced(f.b);
      const orig = console.error;
      console.error = () => {};
      try {
        await assert.rejects(f.a.request(`${p}.boom`, "throw", 200), busError("node_unavailable"));
      } finally {
        console.error = orig;
      }
      assert.equal(await f.a.request(`${p}.boom`, "ok", 2000), "fine");
      sub.unsubscribe();
    });

    test("bad subjects and oversized payloads are BusErrors", T, async () => {
      assert.throws(() => f.a.publish("a..b", "x"), busError("invalid_subject"));
      assert.throws(() => f.a.publish("a.*", "x"), busError("invalid_subject"));
      assert.throws(() => f.a.publish("a b", "x"), busError("invalid_subject"));
      assert.throws(() => f.a.subscribe("a.>.b", () => {}), busError("invalid_subject"));
      await assert.rejects(f.a.request("", "x", 100), busError("invalid_subject"));
      const big = "x".repeat(1024 * 1024 + 1);
      assert.throws(() => f.a.publish(`${prefix()}.big`, big), busError("payload_too_large"));
    });

    test("200 concurrent requests are all answered", T, async () => {
      const p = prefix();
      const sub = f.b.subscribe(`${p}.echo`, (d, respond) => {
        // answer out of order to prove replies are matched to their requests
        setTimeout(() => respond?.(`r${d}`), Number(d) % 7);
      });
      await synced(f.b);
      const n = 200;
      const t0 = Date.now();
      const replies = await Promise.all(
        Array.from({ length: n }, (_, i) => f.a.request(`${p}.echo`, String(i), 5000)),
      );
      const elapsed = Date.now() - t0;
      assert.deepEqual(
        replies,
        Array.from({ length: n }, (_, i) => `r${i}`),
      );
      assert.ok(elapsed < 5000, `${n} requests took ${elapsed} ms`);
      sub.unsubscribe();
    });

    test("registry put/list/remove", T, async () => {
      const p = prefix();
      const now = Date.now();
      const mine = async () =>
        (await f.registry.list())
          .filter((n) => n.nodeId.startsWith(p))
          .sort((x, y) => x.nodeId.localeCompare(y.nodeId));
      await f.registry.put(node(`${p}-n1`, now));
      await f.registry.put(node(`${p}-n2`, now, { relayAddress: undefined, load: 0.9 }));
      let nodes = await mine();
      assert.equal(nodes.length, 2);
      assert.deepEqual(nodes[0], node(`${p}-n1`, now));
      assert.equal(nodes[1].load, 0.9);
      assert.equal(nodes[1].relayAddress, undefined);
      // put overwrites (a heartbeat)
      await f.registry.put(node(`${p}-n1`, now + 2000, { sessions: 4 }));
      nodes = await mine();
      assert.equal(nodes.length, 2);
      assert.equal(nodes[0].heartbeatAt, now + 2000);
      assert.equal(nodes[0].sessions, 4);
      await f.registry.remove(`${p}-n1`);
      nodes = await mine();
      assert.deepEqual(
        nodes.map((n) => n.nodeId),
        [`${p}-n2`],
      );
      await f.registry.remove(`${p}-n2`);
      await f.registry.remove(`${p}-never-existed`);
      assert.deepEqual(await mine(), []);
    });

    test("room node set/get/clear", T, async () => {
      const room = `${prefix()}-room`;
      assert.equal(await f.registry.getRoomNode(room), null);
      await f.registry.setRoomNode(room, "node-a");
      assert.equal(await f.registry.getRoomNode(room), "node-a");
      await f.registry.setRoomNode(room, "node-b");
      assert.equal(await f.registry.getRoomNode(room), "node-b");
      await f.registry.clearRoom(room);
      assert.equal(await f.registry.getRoomNode(room), null);
      await f.registry.clearRoom(room);
      // names outside the KV key alphabet still work (encoded)
      const odd = "späce room/#1";
      await f.registry.setRoomNode(odd, "node-c");
      assert.equal(await f.registry.getRoomNode(odd), "node-c");
      assert.equal(await f.registry.getRoomNode("späce room/#2"), null);
      await f.registry.clearRoom(odd);
    });

    test("liveNodes drops stale (> 6 s) and draining nodes", T, async () => {
      const p = prefix();
      const now = Date.now();
      await f.registry.put(node(`${p}-fresh`, now - 1000));
      await f.registry.put(node(`${p}-edge`, now - NODE_STALE_MS));
      await f.registry.put(node(`${p}-stale`, now - 7000));
      await f.registry.put(node(`${p}-draining`, now, { draining: true }));
      const mine = (await f.registry.list()).filter((n) => n.nodeId.startsWith(p));
      assert.equal(mine.length, 4);
      const live = liveNodes(mine, now)
        .map((n) => n.nodeId)
        .sort();
      assert.deepEqual(live, [`${p}-edge`, `${p}-fresh`]);
      // later, the fresh one goes stale too
      assert.deepEqual(
        liveNodes(mine, now + 5001).map((n) => n.nodeId),
        [],
      );
      for (const n of mine) await f.registry.remove(n.nodeId);
    });
  });
}

describe("closed buses", T, () => {
  for (const adapter of adapters) {
    test(`${adapter.name}: close rejects pending requests and refuses new work`, T, async () => {
      const f = await adapter.open();
      const p = prefix();
      f.b.subscribe(`${p}.never`, () => {});
      await synced(f.b);
      const pending = f.a.request(`${p}.never`, "x", 10_000).then(
        () => null,
        (err: unknown) => err,
      );
      await sleep(20);
      const t0 = Date.now();
      await f.close();
      const err = await pending;
      assert.ok(err instanceof BusError, `expected BusError, got ${String(err)}`);
      assert.equal(err.code, "closed");
      assert.ok(Date.now() - t0 < 3000, "pending request must end with the bus");
      assert.throws(() => f.a.publish(`${p}.x`, "x"), busError("closed"));
      assert.throws(() => f.a.subscribe(`${p}.x`, () => {}), busError("closed"));
      await assert.rejects(f.a.request(`${p}.x`, "x", 100), busError("closed"));
      await f.a.close(); // idempotent
    });
  }
});

describe("NATS across adapters", T, () => {
  test("an edge over WebSocket calls a media node over TCP; registry is shared", T, async () => {
    const mediaNode = await connectNatsBus(nats().url, { name: "media-node" });
    try {
      const nodeId = `${prefix()}-node`;
      mediaNode.bus.subscribe(`weir.node.${nodeId}.rpc`, (d, respond) =>
        respond?.(JSON.stringify({ ok: true, got: JSON.parse(d) })),
      );
      await mediaNode.registry.put(node(nodeId, Date.now()));
      await synced(mediaNode.bus);
      const t0 = Date.now();
      const reply = await withNatsBus(
        nats().wsUrl,
        async ({ bus, registry }) => {
          const live = liveNodes(await registry.list(), Date.now());
          assert.ok(live.some((n) => n.nodeId === nodeId));
          await registry.setRoomNode("r1", nodeId);
          return bus.request(`weir.node.${nodeId}.rpc`, JSON.stringify({ op: "ping" }), 2000);
        },
        { WebSocket: WebSocketImpl },
      );
      const perRequest = Date.now() - t0;
      assert.deepEqual(JSON.parse(reply), { ok: true, got: { op: "ping" } });
      assert.equal(await mediaNode.registry.getRoomNode("r1"), nodeId);
      await mediaNode.registry.clearRoom("r1");
      await mediaNode.registry.remove(nodeId);
      assert.ok(perRequest < 3000, `withNatsBus round took ${perRequest} ms`);
    } finally {
      await mediaNode.close();
    }
  });

  test("concurrent TCP and WebSocket connects in one process both work", T, async () => {
    // nats.js keeps one process-wide transport slot; the adapters serialize mixed connects
    const handles = await Promise.all(
      Array.from({ length: 6 }, (_, i) =>
        i % 2
          ? connectNatsBus(nats().url, { timeoutMs: 3000 })
          : connectNatsWsBus(nats().wsUrl, { timeoutMs: 3000, WebSocket: WebSocketImpl }),
      ),
    );
    try {
      const p = prefix();
      handles[1].bus.subscribe(`${p}.ping`, (d, respond) => respond?.(`pong:${d}`));
      await synced(handles[1].bus);
      for (const h of handles) assert.equal(await h.bus.request(`${p}.ping`, "1", 2000), "pong:1");
    } finally {
      for (const h of handles) await h.close();
    }
  });

  test("withNatsBus closes its connection even when fn throws", T, async () => {
    let captured: Bus | undefined;
    await assert.rejects(
      withNatsBus(
        nats().wsUrl,
        ({ bus }) => {
          captured = bus;
          throw new Error("fn failed");
        },
        { WebSocket: WebSocketImpl },
      ),
      /fn failed/,
    );
    assert.ok(captured);
    assert.throws(() => captured?.publish("x.y", "z"), busError("closed"));
  });

  test("connecting to a dead server is a BusError connection_failed", T, async () => {
    await assert.rejects(
      connectNatsBus("nats://127.0.0.1:1", { timeoutMs: 1000, maxReconnectAttempts: 0 }),
      busError("connection_failed"),
    );
    await assert.rejects(
      connectNatsWsBus("ws://127.0.0.1:1", { timeoutMs: 1000, WebSocket: WebSocketImpl }),
      busError("connection_failed"),
    );
  });
});

test("natsWsBus and memoryBus bundle for workerd without node: imports", T, async () => {
  const result = await build({
    entryPoints: ["shared/bus/adapter/worker/nats.ts", "shared/bus/memoryBus.ts"],
    bundle: true,
    write: false,
    outdir: "out",
    format: "esm",
    platform: "browser",
    conditions: ["workerd", "worker", "browser"],
    metafile: true,
    logLevel: "silent",
  });
  const inputs = Object.keys(result.metafile.inputs);
  assert.ok(!inputs.some((i) => i.startsWith("node:")), inputs.join("\n"));
  for (const out of result.outputFiles) {
    assert.ok(!/from\s*["']node:|require\(["']node:/.test(out.text), `${out.path} imports node:`);
  }
});

test("withNatsBus works inside workerd (miniflare): one connection per request", T, async () => {
  const worker = `
    import { withNatsBus } from "./shared/bus/adapter/worker/nats.ts";
    import { liveNodes } from "./shared/bus/bus.ts";
    export default {
      async fetch(req, env) {
        const subject = new URL(req.url).searchParams.get("subject");
        try {
          const out = await withNatsBus(env.NATS_WS, async ({ bus, registry }) => ({
            live: liveNodes(await registry.list(), Date.now()).map((n) => n.nodeId),
            reply: await bus.request(subject, "from-worker", 2000),
          }));
          return Response.json(out);
        } catch (err) {
          return Response.json({ code: err.code, message: String(err) }, { status: 503 });
        }
      },
    };`;
  const bundle = await build({
    stdin: { contents: worker, resolveDir: process.cwd(), sourcefile: "worker.ts", loader: "ts" },
    bundle: true,
    write: false,
    format: "esm",
    platform: "browser",
    conditions: ["workerd", "worker", "browser"],
    logLevel: "silent",
  });
  const mediaNode = await connectNatsBus(nats().url);
  const nodeId = `${prefix()}-wnode`;
  const subject = `weir.node.${nodeId}.rpc`;
  mediaNode.bus.subscribe(subject, (d, respond) => respond?.(`node got ${d}`));
  await mediaNode.registry.put(node(nodeId, Date.now()));
  await synced(mediaNode.bus);
  const mf = new Miniflare({
    modules: true,
    script: bundle.outputFiles[0].text,
    compatibilityDate: "2025-01-01",
    bindings: { NATS_WS: nats().wsUrl },
    cf: false,
  });
  try {
    // several requests in a row: a Worker cannot reuse a connection across requests
    for (let i = 0; i < 3; i++) {
      const res = await mf.dispatchFetch(`http://localhost/?subject=${subject}`);
      const body = (await res.json()) as { live?: string[]; reply?: string };
      assert.equal(res.status, 200, JSON.stringify(body));
      assert.ok(body.live?.includes(nodeId));
      assert.equal(body.reply, "node got from-worker");
    }
    const res = await mf.dispatchFetch(`http://localhost/?subject=${prefix()}.nobody`);
    assert.equal(res.status, 503);
    assert.equal(((await res.json()) as { code?: string }).code, "node_unavailable");
  } finally {
    await mf.dispose();
    await mediaNode.registry.remove(nodeId);
    await mediaNode.close();
  }
});
