// A network that blocks UDP (test/helpers/topology.ts, nftables inside the client namespace):
// the embedded process on the server host listens on one UDP port and one TCP port
// (WEIR_UDP_PORT, WEIR_TCP_PORT); one Chromium publishes and another decodes through the Room
// client, whose media can only go over ICE-TCP, and the Room reports `tcp` for both paths.
import assert from "node:assert/strict";
import { test } from "node:test";
import { BrowserHarness, browserUnavailable, type WeirPage } from "../helpers/browser.ts";
import { type Embedded, publishAndView, roomPath, startEmbedded } from "../helpers/system.ts";
import { buildTopology, dropUdp, topologyUnavailable } from "../helpers/topology.ts";

const skip = browserUnavailable() ?? topologyUnavailable();
const SECRET = "ice-tcp-test-secret-0123456789abcdef";
const PORTS = { http: 8080, udp: 40000, tcp: 40001, metrics: 9464 };

test("UDP blocked: Chromium publishes and another Chromium decodes over ICE-TCP on one port", {
  skip: skip ?? false,
}, async (t) => {
  const topology = await buildTopology("routed");
  let embedded: Embedded | undefined;
  const harnesses: BrowserHarness[] = [];
  const pages: WeirPage[] = [];
  try {
    embedded = await startEmbedded({
      env: {
        WEIR_HOST: "0.0.0.0",
        PORT: String(PORTS.http),
        WEIR_SECRET: SECRET,
        WEIR_UDP_PORT: String(PORTS.udp),
        WEIR_TCP_PORT: String(PORTS.tcp),
        WEIR_METRICS_PORT: String(PORTS.metrics),
      },
      enter: topology.server.enter,
    });
    const dropped = dropUdp(topology.client);
    const base = `http://${topology.serverAddress}:${PORTS.http}`;
    const diag = () =>
      `${embedded?.log().slice(-1500)}\n${pages.flatMap((p) => p.logs).join("\n")}`;
    for (const name of ["publisher", "viewer"]) {
      const h = await BrowserHarness.launch({
        loopback: false,
        enter: topology.client.enter,
        secureOrigin: base,
      });
      harnesses.push(h);
      pages.push(await h.newPage(name, `${base}/`));
    }
    const [publisher, viewer] = pages;
    await publishAndView(publisher.page, viewer.page, {
      edgeUrl: base,
      room: "ice-tcp",
      secret: SECRET,
      what: "the viewer decodes over ICE-TCP",
      diag,
    });
    for (const [who, page, path] of [
      ["publisher", publisher, "publish"],
      ["viewer", viewer, "subscribe"],
    ] as const) {
      const { path: p, media } = await roomPath(page.page, path);
      assert.ok(p, `${who}: the Room reports its ${path} path: ${JSON.stringify(media)}`);
      assert.equal(p.transport, "tcp", `${who}: ${JSON.stringify(p)}`);
      assert.equal(p.remoteAddress, topology.serverAddress);
      t.diagnostic(`${who} ${path} path: ${JSON.stringify(p)}`);
    }
    assert.ok(dropped.read() > 0, "the client's UDP was really dropped");
    const metrics = await fetchMetrics(topology.server.enter, PORTS.metrics);
    assert.match(metrics, /^weir_tcp_mux_connections [1-9]/m, metrics);
    t.diagnostic(`client UDP packets dropped: ${dropped.read()}`);
  } finally {
    for (const h of harnesses) await h.close();
    await embedded?.stop();
    topology.close();
  }
});

/** GET /metrics from inside the server's namespace, on its loopback-only metrics port. */
async function fetchMetrics(enter: string[], port: number): Promise<string> {
  const { execFileSync } = await import("node:child_process");
  const [cmd, ...args] = enter;
  return execFileSync(
    cmd,
    [
      ...args,
      process.execPath,
      "-e",
      `fetch("http://127.0.0.1:${port}/metrics").then(r=>r.text()).then(t=>process.stdout.write(t))`,
    ],
    { encoding: "utf8" },
  );
}
