// ICE-TCP on one TCP port (RFC 6544 passive, RFC 4571 framing) beside the one UDP port: werift
// clients that see only the node's TCP candidates (their UDP candidates are cut from the offer)
// receive video through the TcpMux; a client that stops reading its TCP socket loses its own
// packets, counted, while another TCP client keeps everything the publisher sends.
import assert from "node:assert/strict";
import type { Socket } from "node:net";
import { after, before, test } from "node:test";
import { type Publisher, Router, TcpMux, UdpMux } from "../../media-node/src/index.ts";
import { publishSyntheticVideo } from "../helpers/syntheticPublisher.ts";
import { until, WeriftSubscriber } from "../helpers/weriftPeer.ts";

const HOST = process.env.WEIR_HOST_IPV4 ?? "127.0.0.1";
const closers: (() => unknown)[] = [];
let udp: UdpMux;
let tcp: TcpMux;
let router: Router;

before(async () => {
  udp = await UdpMux.open({ port: 0, listenIps: [HOST] });
  tcp = await TcpMux.open({ port: 0, listenIps: [HOST], maxQueueBytes: 64 * 1024 }, udp);
  router = new Router({ transport: { udpMux: udp, tcpMux: tcp } });
});

after(async () => {
  for (const close of closers.reverse()) await close();
  await router.close();
  await tcp.close();
  await udp.close();
});

/** A werift subscriber that can only use the node's TCP candidate. */
async function tcpSubscriber(publisher: Publisher): Promise<WeriftSubscriber> {
  const sub = new WeriftSubscriber({ iceUseTcp: true, iceTcpPassive: false });
  sub.keep = false;
  const transport = router.createSubscribeTransport();
  closers.push(
    () => sub.pc.close(),
    () => transport.close(),
  );
  const { offer } = await transport.subscribe(publisher.id);
  assert.match(
    offer.sdp,
    new RegExp(`a=candidate:\\S+ 1 tcp \\d+ ${HOST} ${tcp.port} typ host tcptype passive`),
  );
  const tcpOnly = offer.sdp.replace(/^a=candidate:\S+ 1 udp .*\r\n/gm, "");
  await transport.setAnswer(await sub.answer({ type: "offer", sdp: tcpOnly }));
  return sub;
}

/** The client's TCP sockets (werift's active ICE-TCP protocol). */
function clientTcpSockets(sub: WeriftSubscriber): Socket[] {
  const protocols = (
    sub.pc.iceTransports[0].connection as unknown as {
      protocols: { sockets?: Map<string, { socket: Socket }> }[];
    }
  ).protocols;
  return protocols.flatMap((p) => [...(p.sockets?.values() ?? [])].map((e) => e.socket));
}

test("werift clients receive video over ICE-TCP on the one TCP port", async () => {
  const { publisher } = await publishSyntheticVideo(router, closers);
  const sub = await tcpSubscriber(publisher);
  await until(() => sub.total() >= 30, 15_000, "video over TCP");
  assert.ok(tcp.stats.connections >= 1);
  assert.ok(clientTcpSockets(sub).length >= 1, "the client really uses TCP");
});

test("a TCP client that stops reading loses its own packets; another gets every packet", async () => {
  const { publisher } = await publishSyntheticVideo(router, closers);
  const [steady, stalled] = [await tcpSubscriber(publisher), await tcpSubscriber(publisher)];
  await until(() => steady.total() >= 30 && stalled.total() >= 30, 15_000, "both get video");
  for (const socket of clientTcpSockets(stalled)) socket.pause();
  const dropped0 = tcp.stats.droppedQueueFull;
  await until(
    () => tcp.stats.droppedQueueFull > dropped0 + 50,
    30_000,
    "the stalled queue overflows",
  );
  // While the stalled client's packets are being dropped, the steady one gets what the node got.
  const inAt = () =>
    router.getStats().publishers.find((p) => p.id === publisher.id)?.packetsReceived ?? 0;
  const [in0, steady0] = [inAt(), steady.total()];
  await until(() => inAt() >= in0 + 200, 15_000, "200 more packets published");
  await until(
    () => steady.total() - steady0 >= inAt() - in0 - 5,
    5_000,
    "the steady client keeps up",
  );
  assert.ok(tcp.stats.droppedQueueFull > dropped0 + 50);
});
