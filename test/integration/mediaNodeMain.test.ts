// `npm run media-node`: config parsing, and the process on a real nats-server (start, register,
// serve, SIGTERM drains with goaway and exits 0).
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { createSocket } from "node:dgram";
import { after, describe, test } from "node:test";
import { embeddedConfig } from "../../media-node/embedded/config.ts";
import { ConfigError, loadConfig, transportOptions } from "../../media-node/service/config.ts";
import { connectNatsBus } from "../../shared/bus/adapter/node/nats.ts";
import { callNode } from "../../shared/nodeClient.ts";
import { subjects } from "../../shared/subjects.ts";
import type { ServerMessage } from "../../shared/ws.ts";
import { freePort, startNatsServer } from "../helpers/natsServer.ts";
import { until } from "../helpers/weriftPeer.ts";

const closers: (() => unknown)[] = [];
after(async () => {
  for (const close of closers.reverse()) await close();
});

describe("config", () => {
  test("defaults, environment, and flags over environment", () => {
    const d = loadConfig([], {});
    assert.equal(d.natsUrl, "nats://127.0.0.1:4222");
    assert.match(d.nodeId, /^node-[0-9a-f]{12}$/);
    assert.equal(d.maxSessions, 500);
    assert.equal(d.maxSessionsPerIdentity, 10);
    assert.equal(d.drainGraceMs, 30_000);
    assert.deepEqual(transportOptions(d), {});

    const env = {
      NATS_URL: "nats://nats:4222",
      WEIR_NODE_ID: "env-node",
      WEIR_LISTEN_IPS: "10.0.0.5",
      WEIR_ANNOUNCED_IP: "203.0.113.7",
      WEIR_PORT_RANGE: "40000-49999",
      WEIR_MAX_SESSIONS: "100",
      WEIR_MAX_SESSIONS_PER_IDENTITY: "4",
    };
    const e = loadConfig([], env);
    assert.deepEqual(
      { ...e, drainGraceMs: undefined },
      {
        natsUrl: "nats://nats:4222",
        nodeId: "env-node",
        listenIps: ["10.0.0.5"],
        announcedIps: { "10.0.0.5": "203.0.113.7" },
        portRange: [40000, 49999],
        maxSessions: 100,
        maxSessionsPerIdentity: 4,
        drainGraceMs: undefined,
        recordings: {},
      },
    );
    assert.deepEqual(transportOptions(e), {
      listenIps: ["10.0.0.5"],
      announcedIps: { "10.0.0.5": "203.0.113.7" },
      portRange: [40000, 49999],
    });
    const f = loadConfig(
      [
        ...["--node-id", "flag-node", "--listen-ip", "127.0.0.1, 10.0.0.5", "--max-sessions", "3"],
        ...["--max-sessions-per-identity", "2"],
      ],
      { ...env, WEIR_ANNOUNCED_IP: "" },
    );
    assert.equal(f.nodeId, "flag-node");
    assert.deepEqual(f.listenIps, ["127.0.0.1", "10.0.0.5"]);
    assert.equal(f.maxSessions, 3);
    assert.equal(f.maxSessionsPerIdentity, 2);
    // NAT 1:1 per family; loopback is never announced; one UDP port for every client.
    const g = loadConfig(["--listen-ip", "127.0.0.1,10.0.0.5,fd00::5", "--udp-port", "40000"], {
      WEIR_ANNOUNCED_IP: "203.0.113.7, 2001:db8::7",
    });
    assert.deepEqual(g.announcedIps, { "10.0.0.5": "203.0.113.7", "fd00::5": "2001:db8::7" });
    assert.equal(g.udpPort, 40000);
    assert.equal(loadConfig(["--udp-port", "0"], {}).udpPort, 0);
    assert.equal(loadConfig(["--udp-port", "0", "--tcp-port", "40001"], {}).tcpPort, 40001);
  });

  test("recordings: off by default; a directory (made absolute) and a free-space floor by flag or variable", () => {
    assert.deepEqual(loadConfig([], {}).recordings, {});
    const env = { WEIR_RECORDINGS_DIR: "/var/rec", WEIR_RECORDINGS_MIN_FREE_MB: "128" };
    assert.deepEqual(loadConfig([], env).recordings, {
      directory: "/var/rec",
      minFreeBytes: 128 * 1048576,
    });
    const flags = loadConfig(["--recordings-dir", "rec", "--recordings-min-free-mb", "0.5"], env);
    assert.deepEqual(flags.recordings, { directory: `${process.cwd()}/rec`, minFreeBytes: 524288 });
    assert.throws(() => loadConfig(["--recordings-min-free-mb", "-1"], {}), ConfigError);
    const embedded = embeddedConfig({}, ["--recordings-dir", "/srv/rec"]);
    assert.equal(embedded.recordings.directory, "/srv/rec");
    assert.equal(embeddedConfig({ WEIR_RECORDINGS_DIR: "/x" }).recordings.directory, "/x");
    assert.deepEqual(embeddedConfig({}).recordings, {});
    assert.throws(() => embeddedConfig({}, ["--nope"]), ConfigError);
  });

  test("bad values are ConfigErrors", () => {
    const bad = [
      ["--port-range", "5000"],
      ["--port-range", "6000-5000"],
      ["--port-range", "1-70000"],
      ["--max-sessions", "0"],
      ["--max-sessions", "lots"],
      ["--max-sessions-per-identity", "0"],
      ["--node-id", "a.b"],
      ["--listen-ip", "not-an-ip"],
      ["--announced-ip", "1.2.3.4"], // needs exactly one listen ip of its family
      ["--announced-ip", "1.2.3.4", "--listen-ip", "10.0.0.5,10.0.0.6"],
      ["--announced-ip", "2001:db8::7", "--listen-ip", "10.0.0.5"],
      ["--announced-ip", "1.2.3.4,1.2.3.5", "--listen-ip", "10.0.0.5"],
      ["--udp-port", "70000"],
      ["--tcp-port", "40001"], // ICE-TCP needs the UDP port
      ["--udp-port", "40000", "--tcp-port", "x"],
      ["--udp-port", "-1"],
      ["--nope"],
    ];
    for (const argv of bad) assert.throws(() => loadConfig(argv, {}), ConfigError, argv.join(" "));
  });
});

test("the media-node process registers, serves commands, and drains on SIGTERM", async () => {
  const nats = await startNatsServer();
  closers.push(() => nats.stop());
  const conn = await connectNatsBus(nats.url, { name: "test-edge" });
  closers.push(() => conn.close());
  const metricsPort = await freePort();
  const child = spawn(
    process.execPath,
    ["--import", "tsx", "media-node/service/main.ts", "--nats-url", nats.url],
    {
      stdio: ["ignore", "ignore", "pipe"],
      env: {
        ...process.env,
        WEIR_NODE_ID: "proc-node",
        WEIR_LISTEN_IPS: "127.0.0.1",
        WEIR_DRAIN_GRACE_S: "20",
        WEIR_LOG_LEVEL: "debug",
        WEIR_METRICS_PORT: String(metricsPort),
      },
    },
  );
  const exited = new Promise<number | null>((resolve) => child.on("exit", resolve));
  closers.push(() => child.kill("SIGKILL"));
  let stderr = "";
  child.stderr.on("data", (d) => {
    stderr += d;
  });
  await until(() => stderr.includes("media node started"), 15_000, "start log line");
  const started = JSON.parse(
    stderr.split("\n").find((l) => l.includes("media node started")) ?? "",
  );
  assert.equal(started.level, "info");
  assert.equal(started.node, "proc-node");

  const metrics = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
  assert.match(metrics, /^# TYPE weir_routers gauge$/m);
  assert.match(metrics, /^weir_routers 0$/m);
  // A garbage datagram at the relay port is dropped and counted in /metrics.
  const relayPort: number = started.relay.port;
  const udp = createSocket("udp4");
  await new Promise((r) => udp.send(Buffer.from("not srtp"), relayPort, "127.0.0.1", r));
  udp.close();
  const malformed = /^weir_relay_dropped_datagrams_total\{reason="malformed"\} 1$/m;
  let relayMetrics = "";
  for (let i = 0; i < 50 && !malformed.test(relayMetrics); i++) {
    await new Promise((r) => setTimeout(r, 100));
    relayMetrics = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
  }
  assert.match(relayMetrics, malformed, "a relay drop is counted in /metrics");
  assert.match(relayMetrics, /^weir_relay_packets_received_total 1$/m);
  assert.match(relayMetrics, /^weir_relays\{role="origin"\} 0$/m);
  const nodes = await conn.registry.list();
  assert.equal(nodes.find((n) => n.nodeId === "proc-node")?.draining, false);

  const ws = await callNode(conn.bus, "proc-node", {
    op: "ws.open",
    room: "r",
    identity: "a",
    grants: [],
  });
  const events: ServerMessage[] = [];
  const sub = conn.bus.subscribe(subjects.sessionEvents(ws.sessionId), (d) => {
    events.push(JSON.parse(d));
  });
  closers.push(() => sub.unsubscribe());
  // A round trip on the same connection: NATS has the subscription before SIGTERM goes out.
  await callNode(conn.bus, "proc-node", {
    op: "ws.message",
    sessionId: ws.sessionId,
    message: { type: "ping", id: "sync" },
  });

  child.kill("SIGTERM");
  await until(() => events.some((e) => e.type === "goaway"), 5000, "goaway on SIGTERM");
  const refused = callNode(conn.bus, "proc-node", {
    op: "ws.open",
    room: "r",
    identity: "b",
    grants: [],
  });
  await assert.rejects(refused, { code: "draining" });
  await callNode(conn.bus, "proc-node", { op: "ws.close", sessionId: ws.sessionId });
  assert.equal(await exited, 0);
  assert.equal(
    (await conn.registry.list()).find((n) => n.nodeId === "proc-node"),
    undefined,
  );
  const lines = stderr
    .trim()
    .split("\n")
    .map((l) => JSON.parse(l));
  assert.ok(lines.some((l) => l.msg === "session opened" && l.level === "debug"));
});
