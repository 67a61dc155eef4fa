/**
 * Relay benchmark: what one relay hop between two media nodes adds. One process, two routers
 * and two relay ports on loopback (run inside the netns: `npm run bench:relay`). A synthetic
 * VP8 publisher on A (PACKETS_PER_S packets of 1200 bytes, a keyframe every second) is
 * forwarded to a measuring subscriber on A (direct) and, through the relay, to one on B. Each
 * packet carries its injection time, so both paths are timed in the same run:
 * added latency = relayed - direct (median and p99).
 * CPU: process CPU per injected packet in three phases (no subscriber; direct subscriber;
 * direct + relay + B's subscriber), interleaved over ROUNDS rounds, median per phase; the relay
 * hop (origin send + downstream receive) is relay - direct - (direct - base), i.e. minus one
 * subscriber's forwarding cost. Latency is recorded in the relay phases.
 * Env: PACKETS_PER_S (default 2000), SECONDS per phase (default 3), ROUNDS (default 3).
 */
import { DEFAULT_CODECS } from "../media-node/src/codecs.ts";
import { Publisher } from "../media-node/src/Publisher.ts";
import { Router } from "../media-node/src/Router.ts";
import { RelayServer } from "../media-node/src/relay/RelayServer.ts";
import { parseRtp, RtpView } from "../media-node/src/rtp/rtpPacket.ts";
import { Subscriber, type SubscriberHost } from "../media-node/src/Subscriber.ts";

const RATE = Number(process.env.PACKETS_PER_S ?? 2000);
const SECONDS = Number(process.env.SECONDS ?? 3);
const ROUNDS = Number(process.env.ROUNDS ?? 3);
const TICK_MS = 10;
const PACKET = 1200;
const VP8 = DEFAULT_CODECS.find((c) => c.mimeType === "video/VP8")!;

/** A subscriber host that records each packet's age (now - the time written in its payload). */
class Probe implements SubscriberHost {
  readonly mediaReady = true;
  readonly ages: number[] = [];
  recording = false;
  sendRtp(plain: Uint8Array, _len: number, headerLen: number): boolean {
    if (this.recording) {
      const view = new DataView(plain.buffer, plain.byteOffset + headerLen + 8, 8);
      this.ages.push(performance.now() - view.getFloat64(0));
    }
    return true;
  }
}

function probe(publisher: Publisher, host: Probe): Subscriber {
  const sub = new Subscriber({
    id: `probe-${publisher.id}-${Math.random()}`,
    publisher,
    ssrc: 0x1000 + Math.floor(Math.random() * 1e6),
    payloadType: VP8.payloadType,
    extMap: new Uint8Array(256),
    host,
  });
  publisher.addSubscriber(sub);
  return sub;
}

let seq = 0;
let ts = 0;
const view = new RtpView();

/** One synthetic VP8 packet: descriptor (keyframe start or not), then the send time. */
function packet(key: boolean): Buffer {
  const b = Buffer.alloc(PACKET, 0x55);
  b[0] = 0x80;
  b[1] = 96;
  b.writeUInt16BE(seq++ & 0xffff, 2);
  b.writeUInt32BE(ts >>> 0, 4);
  b.writeUInt32BE(0xabcdef01, 8);
  b[12] = key ? 0x10 : 0x00; // VP8 descriptor: S on keyframe starts
  b[13] = 0; // payload header byte: P=0 (keyframe)
  if (key) Buffer.from([0, 0, 0x9d, 0x01, 0x2a, 0x80, 0x02, 0x68, 0x01]).copy(b, 14);
  else b[13] = 0x01;
  b.writeDoubleBE(performance.now(), 12 + 8);
  return b;
}

/** Injects RATE packets/s for `seconds`; returns CPU µs per packet. */
async function phase(publisher: Publisher, seconds: number, during?: () => void): Promise<number> {
  const perTick = Math.max(1, Math.round((RATE * TICK_MS) / 1000));
  let sent = 0;
  let cpu0 = process.cpuUsage();
  let started = false;
  const start = performance.now();
  await new Promise<void>((resolve) => {
    const timer = setInterval(() => {
      const elapsed = performance.now() - start;
      if (!started && elapsed > 1000) {
        // one second of warm-up (JIT, first keyframe through the relay)
        started = true;
        cpu0 = process.cpuUsage();
        sent = 0;
        during?.();
      }
      if (elapsed > (seconds + 1) * 1000) {
        clearInterval(timer);
        resolve();
        return;
      }
      ts += 3000;
      for (let i = 0; i < perTick; i++) {
        const key = i === 0 && seq % RATE < perTick;
        const buf = packet(key);
        parseRtp(buf, buf.length, view);
        publisher.receive(buf, view, performance.now());
        sent++;
      }
    }, TICK_MS);
  });
  const cpu = process.cpuUsage(cpu0);
  return (cpu.user + cpu.system) / sent;
}

const med = (xs: number[]) => pct(xs, 50);

function pct(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
}

const routerA = new Router({ id: "bench" });
const routerB = new Router({ id: "bench" });
const relayA = new RelayServer({ port: 0, listenIp: "127.0.0.1" });
const relayB = new RelayServer({ port: 0, listenIp: "127.0.0.1" });
await Promise.all([relayA.listen(), relayB.listen()]);
const publisher = new Publisher({
  id: "cam",
  kind: "video",
  mid: "0",
  codec: VP8,
  sourcePayloadType: 96,
  headerExtensions: [],
  host: { rtcpSsrc: 1, firNegotiated: false, sendRtcp() {} },
});
routerA.addPublisher(publisher);

console.log(
  `relay bench: ${RATE} packets/s of ${PACKET} B, ${ROUNDS} rounds of ${SECONDS} s per phase`,
);
const direct = new Probe();
const directSub = probe(publisher, direct);
const downstream = relayB.createDownstream(routerB, publisher.id);
const origin = relayA.createOrigin(routerA, downstream.request);
downstream.connect(origin.answer);
const relayed = new Probe();
probe(downstream.publisher!, relayed);
// Phases interleaved round by round, so load changes on a shared machine hit each alike.
const cpu = { base: [] as number[], direct: [] as number[], relay: [] as number[] };
for (let round = 0; round < ROUNDS; round++) {
  for (const name of ["base", "direct", "relay"] as const) {
    directSub.setPaused(name === "base");
    origin.subscribers[0].setPaused(name !== "relay");
    const record = name === "relay";
    cpu[name].push(
      await phase(publisher, SECONDS, () => {
        direct.recording = record;
        relayed.recording = record;
      }),
    );
  }
}
direct.recording = false;
relayed.recording = false;
const cpuBase = med(cpu.base);
const cpuDirect = med(cpu.direct);
const cpuRelay = med(cpu.relay);
const perSub = cpuDirect - cpuBase;
const hop = cpuRelay - cpuDirect - perSub;
console.log(
  `latency direct: median ${med(direct.ages).toFixed(3)} ms, p99 ${pct(direct.ages, 99).toFixed(3)} ms (${direct.ages.length} packets)`,
);
console.log(
  `latency relayed: median ${med(relayed.ages).toFixed(3)} ms, p99 ${pct(relayed.ages, 99).toFixed(3)} ms (${relayed.ages.length} packets)`,
);
console.log(
  `added by one relay hop: median ${(med(relayed.ages) - med(direct.ages)).toFixed(3)} ms, p99 ${(pct(relayed.ages, 99) - pct(direct.ages, 99)).toFixed(3)} ms`,
);
console.log(
  `CPU per packet: inject ${cpuBase.toFixed(1)} µs, one subscriber ${perSub.toFixed(1)} µs, relay hop (send + receive) ${hop.toFixed(1)} µs`,
);
const s = relayB.getStats();
console.log(
  `relay B: ${s.packetsIn} datagrams in, dropped auth ${s.droppedAuth} / malformed ${s.droppedMalformed} / unknown ${s.droppedUnknownSsrc + s.droppedUnknownSource}`,
);
await Promise.all([relayA.close(), relayB.close()]);
await Promise.all([routerA.close(), routerB.close()]);
