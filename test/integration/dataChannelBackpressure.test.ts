// Backpressure per data subscriber, measured: the throughput two fast subscribers see with a
// third that stopped reading (its werift SCTP is stalled: no SACKs, nothing delivered) against
// the same run without it, in the same process, alternating to spread machine noise. The stalled
// one's overflow is reported by event and stats; the others get every message while it takes
// none and its queue stays bounded (the throughput ratio is printed, not asserted).
// The messages enter through a DataPublisher fed by receive() (the way a bridge from another
// node feeds one) so the figure is the node's fan-out over real SCTP, not a werift client's
// send path (about 100 msgs/s of 4 KiB, and noisy); test/integration/dataChannel.test.ts stalls
// a subscriber behind a real werift publisher.
import assert from "node:assert/strict";
import { after, test } from "node:test";
import { DataPublisher, type DataSubscriber, Router } from "../../media-node/src/index.ts";
import { DataHarness } from "../helpers/dataPeer.ts";
import { until } from "../helpers/weriftPeer.ts";

const router = new Router({ transport: { listenIps: ["127.0.0.1"] } });
const h = new DataHarness(router);
after(async () => {
  await h.close();
  await router.close();
});

const KiB = 1024;
const N = 300;
const SIZE = 4 * KiB;
let runs = 0;

interface Run {
  ms: number;
  msgsPerS: number;
  stalled?: {
    overflowEvents: number;
    /** Messages the stalled client's page-less SCTP handed up after it stalled. */
    received: number;
    stats: ReturnType<DataSubscriber["getStats"]>;
  };
}

/** One publisher -> two fast subscribers (+ one stalled); messages/s at the slower fast one. */
async function run(withStalled: boolean, ordered: boolean): Promise<Run> {
  const feed = h.track(
    new DataPublisher({ id: `feed-${runs++}`, options: { label: "feed", ordered, protocol: "" } }),
  );
  router.addDataPublisher(feed);
  const fast = [h.client(), h.client()];
  for (const c of fast) {
    c.keep = false;
    await c.subscribe(feed.id);
  }
  let stalled: DataSubscriber | undefined;
  let overflowEvents = 0;
  let slowCount = () => 0;
  if (withStalled) {
    const slow = h.client();
    slowCount = () => slow.count;
    // 64 KiB of own queue (after 1 MiB in its SCTP): the run sends 1.2 MB, so it overflows.
    stalled = (await slow.subscribe(feed.id, 64 * KiB)).dataSubscriber;
    stalled.on("overflow", () => overflowEvents++);
    slow.stall();
  }
  const payload = Buffer.alloc(SIZE, 7);
  const t0 = performance.now();
  for (let i = 0; i < N; i++) {
    feed.receive(payload);
    if (i % 32 === 31) await new Promise((r) => setImmediate(r));
  }
  await until(() => fast.every((c) => c.count === N), 60_000, "fast subscribers got all");
  const ms = Math.max(...fast.map((c) => c.lastAt)) - t0;
  const result: Run = { ms, msgsPerS: (N / ms) * 1000 };
  if (stalled)
    result.stalled = { overflowEvents, received: slowCount(), stats: stalled.getStats() };
  await h.close();
  return result;
}

const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);

for (const ordered of [true, false]) {
  const kind = ordered ? "reliable ordered" : "unordered";
  test(`${kind}: a stalled subscriber does not slow the others; its overflow is reported`, async () => {
    await run(false, ordered); // warm-up (JIT, first association)
    const base: Run[] = [];
    const withStalled: Run[] = [];
    for (let i = 0; i < 4; i++) {
      base.push(await run(false, ordered));
      withStalled.push(await run(true, ordered));
    }
    // Runs swing +-30 % on this shared machine (werift's SCTP is timer-bound): compare the
    // throughput over all runs of each kind, interleaved so both see the same conditions.
    const rate = (rs: Run[]) => ((rs.length * N) / sum(rs.map((r) => r.ms))) * 1000;
    const ratio = rate(withStalled) / rate(base);
    const last = withStalled.at(-1)?.stalled;
    const list = (rs: Run[]) => rs.map((r) => r.msgsPerS.toFixed(0)).join(",");
    console.log(
      `${kind}: ${N} x ${SIZE / KiB} KiB to 2 fast subscribers: ${rate(base).toFixed(0)} msgs/s ` +
        `without a stalled one [${list(base)}], ${rate(withStalled).toFixed(0)} with ` +
        `[${list(withStalled)}]: ratio ${ratio.toFixed(2)}; stalled: ${JSON.stringify(last)}`,
    );
    // What "does not slow the others" means here is that the fan-out never waits for the stalled
    // one: every run delivered all N messages to both fast subscribers (run() waits for that)
    // while the stalled one took nothing and its queue stayed bounded. How much CPU werift's SCTP
    // spends on the stalled association is a throughput figure for `npm run bench:data`, not a
    // verdict here (the ratio above moved from 0.76 to 0.96 between runs with the machine's load).
    for (const r of withStalled) {
      assert.ok(r.stalled);
      assert.equal(r.stalled.received, 0, "the stalled subscriber read nothing");
      assert.ok(r.stalled.stats.queuedBytes <= 64 * KiB, "its queue stayed bounded");
    }
    assert.ok(last);
    assert.ok(last.stats.overflowed >= 1, "overflow counted in stats");
    assert.ok(last.stats.dropped > 0, "drops counted in stats");
    if (ordered) {
      assert.equal(last.overflowEvents, 1, "a reliable channel emits overflow once, then closes");
    } else {
      assert.equal(last.overflowEvents, 0, "an unordered channel drops oldest, no close");
      assert.ok(last.stats.queuedBytes <= 64 * KiB);
    }
  });
}
