// TURN with a real coturn for a client whose network lets out nothing but TCP to port 443 (a
// hotel or corporate network that allows only HTTPS): test/helpers/topology.ts's client and
// server hosts plus a TURN host, all behind one router. The embedded process (edge + media node)
// serves HTTP on 443 on the server host and hands out TURN REST API credentials
// (WEIR_TURN_URLS / WEIR_TURN_SECRET); coturn on the TURN host listens on TLS 443 only and relays
// only to the media node's address. nftables inside the client namespace drops everything but TCP
// to port 443, so the client's media can only go through coturn. Two Chromiums publish and decode
// through the Room client, which reports `relay` over `tls`; a WHIP publisher and a WHEP viewer
// written from RFC 9725 alone take their TURN servers from the responses' Link headers.
import assert from "node:assert/strict";
import { test } from "node:test";
import { BrowserHarness, browserUnavailable, type WeirPage } from "../helpers/browser.ts";
import { type Coturn, coturnUnavailable, startCoturn } from "../helpers/coturn.ts";
import {
  devToken,
  type Embedded,
  injectRfc9725,
  publishAndView,
  roomPath,
  startEmbedded,
  whepFromPage,
  whipFromPage,
} from "../helpers/system.ts";
import { allowOnlyTcpPort, buildTopology, topologyUnavailable } from "../helpers/topology.ts";

const skip = browserUnavailable() ?? topologyUnavailable() ?? coturnUnavailable();
const SECRET = "turn-test-token-secret-0123456789abcdef";
const TURN_SECRET = "turn-test-static-auth-secret-0123";
/** The one port the client's network lets out: HTTPS's. The edge and coturn both listen on it. */
const PORT = 443;

test("a client that may only reach TCP 443: Room and WHIP/WHEP media through coturn over TLS", {
  skip: skip ?? false,
}, async (t) => {
  const topology = await buildTopology("routed", { turnHost: true });
  const turnHost = topology.turn;
  assert.ok(turnHost);
  let coturn: Coturn | undefined;
  let embedded: Embedded | undefined;
  const harnesses: BrowserHarness[] = [];
  const pages: WeirPage[] = [];
  try {
    coturn = await startCoturn({
      enter: turnHost.ns.enter,
      ip: turnHost.address,
      port: PORT,
      protocol: "tls",
      secret: TURN_SECRET,
      allowedPeers: [topology.serverAddress],
    });
    embedded = await startEmbedded({
      env: {
        WEIR_HOST: "0.0.0.0",
        PORT: String(PORT),
        WEIR_SECRET: SECRET,
        WEIR_TURN_URLS: coturn.url,
        WEIR_TURN_SECRET: TURN_SECRET,
      },
      enter: topology.server.enter,
    });
    allowOnlyTcpPort(topology.client, PORT);
    const base = `http://${topology.serverAddress}:${PORT}`;
    const turnLog = coturn.log;
    const diag = () =>
      `${embedded?.log().slice(-1500)}\ncoturn:\n${turnLog().slice(-3000)}\n${pages
        .flatMap((p) => p.logs)
        .join("\n")}`;
    // Chromium checks a TURN server's TLS certificate: pin the test certificate's key.
    const launch = async () => {
      const h = await BrowserHarness.launch({
        loopback: false,
        enter: topology.client.enter,
        secureOrigin: base,
        args: [`--ignore-certificate-errors-spki-list=${coturn?.spki}`],
      });
      harnesses.push(h);
      return h;
    };
    const [first, second] = [await launch(), await launch()];
    const publisher = await first.newPage("publisher", `${base}/`);
    const viewer = await second.newPage("viewer", `${base}/`);
    pages.push(publisher, viewer);

    // --- the Room client: one Chromium publishes, the other decodes -------------------------
    await publishAndView(publisher.page, viewer.page, {
      edgeUrl: base,
      room: "turn-room",
      secret: SECRET,
      what: "the Room viewer decodes through TURN",
      diag,
    });
    for (const [who, page, path] of [
      ["publisher", publisher, "publish"],
      ["viewer", viewer, "subscribe"],
    ] as const) {
      const { path: p, media } = await roomPath(page.page, path);
      assert.ok(p, `${who}: the Room reports its ${path} path: ${JSON.stringify(media)}`);
      assert.equal(p.transport, "relay", `${who}: ${JSON.stringify(p)}`);
      assert.equal(p.relayProtocol, "tls", `${who}: ${JSON.stringify(p)}`);
      assert.equal(p.remoteAddress, topology.serverAddress);
      assert.equal(media.now?.transport, "relay");
      assert.ok(
        media.events.some((e) => e?.[path]?.transport === "relay"),
        `${who}: mediaconnectionchange told of the relay: ${JSON.stringify(media.events)}`,
      );
      t.diagnostic(`${who} ${path} path: ${JSON.stringify(p)}`);
    }

    // --- WHIP / WHEP written from RFC 9725: ICE servers from the Link headers ----------------
    const whipPage = await first.newPage("whip", `${base}/`);
    const whepPage = await second.newPage("whep", `${base}/`);
    pages.push(whipPage, whepPage);
    await Promise.all([injectRfc9725(whipPage.page), injectRfc9725(whepPage.page)]);
    const whipRoom = "turn-whip";
    const published = await whipFromPage(
      whipPage.page,
      `${base}/v1/rooms/${whipRoom}/whip`,
      await devToken(whipRoom, "whip-pub", ["publish"], SECRET),
      { useLinkServers: true, diag },
    );
    assert.match(published.link ?? "", /rel="ice-server"/);
    assert.deepEqual(
      published.iceServers.map((s) => s.urls),
      [coturn.url],
      `the page read the Link header: ${published.link}`,
    );
    const played = await whepFromPage(
      whepPage.page,
      `${base}/v1/rooms/${whipRoom}/whep`,
      await devToken(whipRoom, "whep-view", ["subscribe"], SECRET),
      { useLinkServers: true, diag },
    );
    for (const [who, page, id] of [
      ["WHIP publisher", whipPage, published.id],
      ["WHEP viewer", whepPage, played.id],
    ] as const) {
      const pair = await page.page.evaluate((i) => window.rfc9725.selectedPair(i), id);
      assert.ok(pair, `${who} has a selected pair`);
      assert.equal(pair.candidateType, "relay", `${who}: ${JSON.stringify(pair)}`);
      assert.equal(pair.relayProtocol, "tls", `${who}: ${JSON.stringify(pair)}`);
      assert.equal(pair.remote, topology.serverAddress);
    }

    // --- coturn saw it: an allocation and a permission per client, each with its credential ---
    const log = turnLog();
    for (const identity of ["alice", "bob", "whip-pub", "whep-view"]) {
      const user = new RegExp(
        `user <\\d+:${identity}>: incoming packet ALLOCATE processed, success`,
      );
      assert.match(log, user, `coturn allocated for ${identity}\n${log.slice(-3000)}`);
    }
    assert.match(log, /CREATE_PERMISSION processed, success/);
    const allocations = log.match(/ALLOCATE processed, success/g)?.length ?? 0;
    // The firewall held: the client's UDP went nowhere (its counter of dropped UDP packets).
    const dropped = Number(
      /udp counter packets (\d+)/.exec(
        topology.client.sh("nft list chain inet weir_client out"),
      )?.[1] ?? 0,
    );
    assert.ok(dropped > 0, "Chromium's direct UDP checks to the media node were dropped");
    t.diagnostic(`coturn allocations: ${allocations}; client UDP packets dropped: ${dropped}`);
  } finally {
    for (const h of harnesses) await h.close();
    await embedded?.stop();
    await coturn?.stop();
    topology.close();
  }
});
