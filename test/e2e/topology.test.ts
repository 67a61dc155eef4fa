// Weir across the network shapes users have (test/helpers/topology.ts): a client host and a
// server host on two subnets with a router namespace between them; the client behind NAT; the
// server behind 1:1 NAT with WEIR_ANNOUNCED_IP, also with only its HTTP port and its one UDP port
// (WEIR_UDP_PORT) forwarded; a dual-stack pair whose router drops IPv4 UDP,
// so media must go over the node's IPv6 candidates. In each, the embedded process runs on the
// server host, a person's Chromium on the client host, and one tab publishes while another
// decodes: through the Room client (WebSocket protocol) and through WHIP/WHEP (RFC 9725).
import assert from "node:assert/strict";
import { test } from "node:test";
import { BrowserHarness, browserUnavailable, type WeirPage } from "../helpers/browser.ts";
import type { SelectedPair } from "../helpers/page/whip.ts";
import {
  devToken,
  type Embedded,
  injectRfc9725,
  roomInbound,
  startEmbedded,
  startRoomApp,
  untilDecoding,
  whepFromPage,
  whipFromPage,
} from "../helpers/system.ts";
import {
  buildTopology,
  ONE_PORT,
  type TopologyKind,
  topologyUnavailable,
} from "../helpers/topology.ts";

const skip = browserUnavailable() ?? topologyUnavailable();
const SECRET = "topology-test-secret-0123456789abcdef";

interface Setup {
  embedded: Embedded;
  harness: BrowserHarness;
  base: string;
  diag: () => string;
}

/** What the selected pair must show in each shape: the node's address as the client sees it. */
const EXPECT: Record<TopologyKind, (p: SelectedPair) => boolean> = {
  routed: (p) => p.remote === "10.1.0.2",
  "client-nat": (p) => p.remote === "10.1.0.2",
  "server-nat": (p) => p.remote === "10.3.0.2",
  "server-nat-one-port": (p) => p.remote === "10.3.0.2" && p.remotePort === ONE_PORT.udp,
  "dual-stack": (p) => p.remote === "fd01::2",
};

const KINDS = ["routed", "client-nat", "server-nat", "server-nat-one-port", "dual-stack"] as const;
for (const kind of KINDS) {
  test(`${kind}: Chromium publishes and another tab decodes, Room client and WHIP/WHEP`, {
    skip: skip ?? false,
  }, async (t) => {
    const topology = await buildTopology(kind);
    let setup: Setup | undefined;
    const pages: WeirPage[] = [];
    try {
      const embedded = await startEmbedded({
        env: { WEIR_HOST: "0.0.0.0", WEIR_SECRET: SECRET, ...topology.serverEnv },
        enter: topology.server.enter,
      });
      const port = new URL(embedded.url).port;
      // Signaling goes over IPv4 in every shape (dual-stack drops only IPv4 UDP).
      const base = `http://${topology.serverAddress}:${port}`;
      const harness = await BrowserHarness.launch({
        loopback: false,
        enter: topology.client.enter,
        secureOrigin: base,
      });
      const diag = () =>
        `${embedded.log().slice(-1500)}\n${pages.flatMap((p) => p.logs).join("\n")}`;
      setup = { embedded, harness, base, diag };
      for (const name of ["publisher", "viewer", "whip", "whep"])
        pages.push(await harness.newPage(name, `${base}/`));
      const pair = await viaRoom(setup, pages[0], pages[1], `${kind}-room`);
      assert.ok(EXPECT[kind](pair), `Room viewer's selected pair ${JSON.stringify(pair)}`);
      const whepPair = await viaWhipWhep(setup, pages[2], pages[3], `${kind}-whip`);
      assert.ok(EXPECT[kind](whepPair), `WHEP viewer's selected pair ${JSON.stringify(whepPair)}`);
      t.diagnostic(
        `selected pairs: Room ${JSON.stringify(pair)}, WHEP ${JSON.stringify(whepPair)}`,
      );
    } finally {
      await setup?.harness.close();
      await setup?.embedded.stop();
      topology.close();
    }
  });
}

async function viaRoom(
  s: Setup,
  publisher: WeirPage,
  viewer: WeirPage,
  room: string,
): Promise<SelectedPair> {
  const edgeUrl = s.base;
  await startRoomApp(publisher.page, {
    edgeUrl,
    token: await devToken(room, "alice", ["publish", "subscribe"], SECRET),
    publish: true,
  });
  await startRoomApp(viewer.page, {
    edgeUrl,
    token: await devToken(room, "bob", ["subscribe"], SECRET),
    publish: false,
  });
  await untilDecoding(viewer.page, "the Room viewer decodes the publisher", {
    frames: 30,
    audioPackets: 30,
    timeoutMs: 30_000,
  }).catch((err: Error) => {
    throw new Error(`${err.message}\n${s.diag()}`);
  });
  assert.equal((await roomInbound(viewer.page)).connectionState, "connected");
  await injectRfc9725(viewer.page);
  const pair = await viewer.page.evaluate(() => {
    const w = window as unknown as {
      weirRoom: { subscribeTransport: { peerConnection: RTCPeerConnection } };
    };
    return window.rfc9725.selectedPairOf(w.weirRoom.subscribeTransport.peerConnection);
  });
  assert.ok(pair, "the Room viewer has a selected pair");
  return pair;
}

async function viaWhipWhep(
  s: Setup,
  publisher: WeirPage,
  viewer: WeirPage,
  room: string,
): Promise<SelectedPair> {
  await Promise.all([injectRfc9725(publisher.page), injectRfc9725(viewer.page)]);
  const whip = `${s.base}/v1/rooms/${room}/whip`;
  const whep = `${s.base}/v1/rooms/${room}/whep`;
  const pubToken = await devToken(room, "whip-pub", ["publish"], SECRET);
  await whipFromPage(publisher.page, whip, pubToken, { diag: s.diag });
  const viewToken = await devToken(room, "whep-view", ["subscribe"], SECRET);
  const played = await whepFromPage(viewer.page, whep, viewToken, { diag: s.diag });
  const pair = await viewer.page.evaluate((id) => window.rfc9725.selectedPair(id), played.id);
  assert.ok(pair, "the WHEP viewer has a selected pair");
  return pair;
}
