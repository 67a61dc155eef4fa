// DataChannel benchmark: 1 werift publisher -> one media node (Router) -> N werift subscribers,
// the peers in a process of their own (bench/dataPeers.ts). For small and large messages it
// prints messages/s and MB/s delivered (all subscribers together) and sent by the publisher,
// the median of --runs, and a direct werift-to-werift channel as the baseline.
//
//   npm run bench:data -- [--subscribers 10] [--runs 3]
import { fork } from "node:child_process";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { Router } from "../media-node/src/index.ts";
import { until } from "../test/helpers/weriftPeer.ts";
import { Rpc } from "./lib/rpc.ts";

const { values } = parseArgs({
  options: {
    subscribers: { type: "string", default: "10" },
    runs: { type: "string", default: "3" },
  },
});
const SUBS = Number.parseInt(values.subscribers, 10);
const RUNS = Number.parseInt(values.runs, 10);
/** Bounded in count; each send waits at most a minute for delivery. */
const CASES = [
  { name: "100 B", size: 100, count: 500 },
  { name: "16 KiB", size: 16 * 1024, count: 100 },
];

const here = dirname(fileURLToPath(import.meta.url));
const child = fork(join(here, "dataPeers.ts"), [], {
  execArgv: ["--import", "tsx"],
  stdio: ["ignore", "inherit", "inherit", "ipc"],
});
const peers = new Rpc(child, "data-peers");
const router = new Router({ transport: { listenIps: ["127.0.0.1"] } });

async function setup(): Promise<void> {
  const pt = router.createPublishTransport();
  let label = "";
  pt.on("datachannel", (o) => {
    label = o.label;
  });
  const answer = await pt.getAnswer({
    type: "offer",
    sdp: await peers.call<string>("publisher.offer"),
  });
  await peers.call("publisher.answer", { sdp: answer.sdp });
  await until(() => label === "bench", 10_000, "the publisher's channel on the node");
  const dp = pt.publishData("bench");
  for (let i = 0; i < SUBS; i++) {
    const st = router.createSubscribeTransport();
    const { offer } = await st.subscribeData(dp.id);
    const sdp = await peers.call<string>("subscriber.answer", { offer: offer?.sdp });
    await st.setAnswer({ type: "answer", sdp });
  }
  await peers.call("subscribers.open");
}

interface Result {
  deliveredMsgsPerS: number;
  deliveredMBps: number;
  sentMsgsPerS: number;
}

async function once(size: number, count: number): Promise<Result> {
  const { sendMs } = await peers.call<{ sendMs: number }>("send", { size, count }, 120_000);
  type Count = { count: number; bytes: number; lastAt: number };
  let counts: Count[] = [];
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    counts = await peers.call<Count[]>("counts");
    if (counts.every((c) => c.count === count)) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  const ms = Math.max(...counts.map((c) => c.lastAt));
  const msgs = counts.reduce((a, c) => a + c.count, 0);
  const bytes = counts.reduce((a, c) => a + c.bytes, 0);
  return {
    deliveredMsgsPerS: (msgs / ms) * 1000,
    deliveredMBps: bytes / ms / 1000,
    sentMsgsPerS: (count / sendMs) * 1000,
  };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

try {
  await setup();
  console.log(
    `1 publisher -> 1 node -> ${SUBS} subscribers (werift peers), median of ${RUNS} runs`,
  );
  for (const c of CASES) {
    const rs: Result[] = [];
    for (let i = 0; i < RUNS; i++) rs.push(await once(c.size, c.count));
    const base: number[] = [];
    for (let i = 0; i < RUNS; i++)
      base.push((await peers.call<{ msgsPerS: number }>("baseline", c, 120_000)).msgsPerS);
    const d = median(rs.map((r) => r.deliveredMsgsPerS));
    const mb = median(rs.map((r) => r.deliveredMBps));
    const sent = median(rs.map((r) => r.sentMsgsPerS));
    const b = median(base);
    console.log(
      `${c.name.padStart(6)} x ${c.count}: delivered ${d.toFixed(0)} msgs/s, ${mb.toFixed(2)} MB/s ` +
        `(all subscribers); publisher sent ${sent.toFixed(0)} msgs/s, ` +
        `${((sent * c.size) / 1e6).toFixed(2)} MB/s; baseline werift->werift ` +
        `${b.toFixed(0)} msgs/s, ${((b * c.size) / 1e6).toFixed(2)} MB/s`,
    );
  }
  const stats = router.getStats().dataPublishers?.[0];
  console.log(`node: ${JSON.stringify(stats)}`);
} finally {
  await peers.call("close").catch(() => {});
  child.kill();
  await router.close();
}
