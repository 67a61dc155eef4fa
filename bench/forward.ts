// Forwarding benchmark: one publisher (about 1.5 Mbps: VP8 ~1.4 Mbps at 30 fps in ~1100-byte
// packets + Opus at 50 packets/s) fanned out to N werift subscribers, for Weir and for werift's
// plain forwarding. SFU, publisher and subscribers each run in a process of their own; the SFU's
// CPU is measured alone over a fixed window. See bench/README.md.
//
//   npm run bench -- [--n 10,50,100] [--seconds 10] [--sfu weir,weir-mux,werift] [--warmup 3]
//                    [--concurrency 8] [--subs-per-proc 50] [--idle-wait 30] [--out /tmp/weir-bench]
//                    [--prof] [--video-kbps 1400]
import { type ChildProcess, fork } from "node:child_process";
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { cpus, loadavg } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { log } from "./lib/log.ts";
import {
  printRecordTable,
  printTables,
  type RecordWindow,
  type RunInput,
  type RunResult,
  recordComparison,
  summarize,
} from "./lib/report.ts";
import { mapLimit, Rpc, withTimeout } from "./lib/rpc.ts";
import type {
  MemorySample,
  PeersWindow,
  PublisherWindow,
  Sdp,
  SfuCounters,
  SfuWindow,
  SubscribersStatus,
} from "./lib/types.ts";

const { values } = parseArgs({
  options: {
    n: { type: "string", default: "10,50,100" },
    seconds: { type: "string", default: "10" },
    sfu: { type: "string", default: "weir,werift" },
    warmup: { type: "string", default: "3" },
    concurrency: { type: "string", default: "8" },
    "subs-per-proc": { type: "string", default: "50" },
    out: { type: "string", default: "/tmp/weir-bench" },
    prof: { type: "boolean", default: false },
    "idle-wait": { type: "string", default: "30" },
    "video-kbps": { type: "string", default: "1400" },
    // bench:record: after the main window, pairs of windows without and with a Recorder
    "record-pairs": { type: "string", default: "0" },
    "record-seconds": { type: "string", default: "5" },
  },
});
const RECORD_PAIRS = Number.parseInt(values["record-pairs"], 10);
const RECORD_SECONDS = Number(values["record-seconds"]);
const NS = values.n.split(",").map((s) => Number.parseInt(s, 10));
const SECONDS = Number(values.seconds);
const WARMUP_S = Number(values.warmup);
const CONCURRENCY = Number.parseInt(values.concurrency, 10);
/** One werift subscriber costs the client side about as much as the SFU: spread them out. */
const SUBS_PER_PROC = Number.parseInt(values["subs-per-proc"], 10);
/** Before each run, wait up to this many seconds for other work on the machine to calm down. */
const IDLE_WAIT_S = Number(values["idle-wait"]);
const SFUS = values.sfu.split(",").map((s) => s.trim());
for (const s of SFUS) {
  if (s !== "weir" && s !== "weir-mux" && s !== "werift") usage(`unknown SFU "${s}"`);
}
if (
  NS.some((n) => !(n > 0)) ||
  !(SECONDS > 0) ||
  !(WARMUP_S >= 0) ||
  !(CONCURRENCY > 0) ||
  !(SUBS_PER_PROC > 0) ||
  !(IDLE_WAIT_S >= 0) ||
  !(RECORD_PAIRS >= 0) ||
  !(RECORD_SECONDS > 0)
) {
  usage("bad --n, --seconds, --warmup, --concurrency or --subs-per-proc");
}
/** The whole run stops (with what it has) after this long. */
const RUN_BUDGET_MS = 9.5 * 60_000;

function usage(msg: string): never {
  console.error(
    `forward: ${msg}\nusage: forward.ts [--n 10,50,100] [--seconds 10] [--sfu weir,werift] ` +
      "[--warmup 3] [--concurrency 8] [--subs-per-proc 50] [--idle-wait 30] [--out DIR] [--prof]",
  );
  process.exit(2);
}

const t0 = Date.now();
/** Other work on the machine skews the numbers: recorded with the results. */
const loadAvgAtStart = loadavg();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Machine-wide busy CPU time in µs, from /proc/stat (NaN where there is none). */
function machineBusyUs(): number {
  try {
    const cpu = readFileSync("/proc/stat", "utf8").split("\n")[0].trim().split(/\s+/).slice(1);
    const [user, nice, system, , , irq, softirq, steal] = cpu.map(Number);
    const ticks = user + nice + system + irq + softirq + (steal ?? 0);
    return (ticks * 1e6) / 100; // USER_HZ is 100 on Linux
  } catch {
    return Number.NaN;
  }
}

interface Child {
  name: string;
  proc: ChildProcess;
  rpc: Rpc;
}

const here = import.meta.dirname;
/** Children still running: killed if this process exits early. */
const live = new Set<ChildProcess>();
process.on("exit", () => {
  for (const p of live) p.kill("SIGKILL");
});

function spawn(name: string, file: string, args: string[], extraExecArgv: string[] = []): Child {
  const proc = fork(join(here, file), args, {
    execArgv: ["--import", "tsx", "--expose-gc", ...extraExecArgv],
    stdio: ["ignore", "inherit", "inherit", "ipc"],
  });
  const rpc = new Rpc(proc, name);
  live.add(proc);
  proc.on("exit", (code, signal) => {
    live.delete(proc);
    rpc.failAll(`process exited (${signal ?? code})`);
  });
  return { name, proc, rpc };
}

async function stop(children: Child[]): Promise<void> {
  await Promise.all(
    children.map(async (c) => {
      if (c.proc.exitCode !== null || c.proc.signalCode !== null) return;
      const exited = new Promise<void>((r) => c.proc.once("exit", () => r()));
      await c.rpc.call("close", {}, 5_000).catch(() => {});
      await withTimeout(exited, 3_000, `${c.name} exit`).catch(() => {
        c.proc.kill("SIGKILL");
      });
    }),
  );
}

async function waitFor(
  what: string,
  timeoutMs: number,
  check: () => Promise<boolean>,
): Promise<void> {
  const start = Date.now();
  while (!(await check())) {
    if (Date.now() - start > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms: ${what}`);
    await sleep(200);
  }
}

/** One subscribers' window from several processes: sums, CPU summed, elapsed averaged. */
function mergePeers(ws: PeersWindow[]): PeersWindow {
  const kind = (k: "audio" | "video") => ({
    received: ws.reduce((a, w) => a + w.perKind[k].received, 0),
    lost: ws.reduce((a, w) => a + w.perKind[k].lost, 0),
    duplicates: ws.reduce((a, w) => a + w.perKind[k].duplicates, 0),
  });
  return {
    cpuUs: ws.reduce((a, w) => a + w.cpuUs, 0),
    elapsedMs: ws.reduce((a, w) => a + w.elapsedMs, 0) / ws.length,
    received: ws.reduce((a, w) => a + w.received, 0),
    lost: ws.reduce((a, w) => a + w.lost, 0),
    duplicates: ws.reduce((a, w) => a + w.duplicates, 0),
    perKind: { audio: kind("audio"), video: kind("video") },
    starved: ws.reduce((a, w) => a + w.starved, 0),
  };
}

/** Logs what client and SFU know about up to five subscribers that get no media. */
async function diagnose(sfu: Child, subProcs: Child[]): Promise<void> {
  const hungry = (
    await Promise.all(subProcs.map((c) => c.rpc.call<{ id: number }[]>("hungry", {}, 5_000)))
  ).flat();
  for (const h of hungry.slice(0, 5)) {
    const atSfu = await sfu.rpc.call("describe", { id: h.id }, 5_000);
    log(`  subscriber ${h.id}: client ${JSON.stringify(h)} sfu ${JSON.stringify(atSfu)}`);
  }
}

/**
 * Waits (up to IDLE_WAIT_S) until the machine, with none of this run's processes alive, is
 * less than half a core busy over 2 s: other people's tests skew every number here.
 */
async function waitIdle(): Promise<void> {
  const start = Date.now();
  let warned = false;
  while (Date.now() - start < IDLE_WAIT_S * 1000) {
    const b0 = machineBusyUs();
    await sleep(2000);
    const busyPct = (100 * (machineBusyUs() - b0)) / 2e6;
    if (!(busyPct >= 50)) return;
    if (!warned)
      log(`machine busy (${busyPct.toFixed(0)} % of a core): waiting up to ${IDLE_WAIT_S} s`);
    warned = true;
  }
  log("machine still busy: measuring anyway (see the other CPU % column)");
}

async function runOne(sfuName: string, n: number): Promise<RunResult> {
  if (IDLE_WAIT_S > 0) await waitIdle();
  // --prof: a V8 CPU profile of the SFU process (whole life, setup included) under --out.
  const prof = values.prof ? ["--cpu-prof", `--cpu-prof-dir=${join(values.out, "prof")}`] : [];
  const sfu = spawn(`sfu(${sfuName})`, "lib/sfuProcess.ts", [sfuName], prof);
  const pub = spawn("publisher", "forwardPeers.ts", ["publisher", values["video-kbps"]]);
  const subProcs = Array.from({ length: Math.ceil(n / SUBS_PER_PROC) }, (_, i) =>
    spawn(`subscribers#${i}`, "forwardPeers.ts", ["subscribers"]),
  );
  const subsOf = (id: number) => subProcs[id % subProcs.length];
  const children = [sfu, pub, ...subProcs];
  try {
    await Promise.all(children.map((c) => c.rpc.call("ping", {}, 20_000)));
    sfu.rpc.handle("negotiate", ({ id, offer }: { id: number; offer: Sdp }) =>
      subsOf(id).rpc.call<Sdp>("answer", { id, offer }, 20_000),
    );

    // Publisher up and media flowing into the SFU.
    const offer = await pub.rpc.call<Sdp>("offer", {}, 15_000);
    const answer = await sfu.rpc.call<Sdp>("publish", { offer }, 15_000);
    await pub.rpc.call("setAnswer", { answer }, 20_000);
    await waitFor("media at the SFU", 15_000, async () => {
      const c = await sfu.rpc.call<SfuCounters>("counters", {}, 5_000);
      return c.audioIn > 0 && c.videoIn > 0;
    });
    await sleep(500);
    const memBefore = await sfu.rpc.call<MemorySample>("memory", {}, 10_000);
    log(`${sfuName} N=${n}: publisher connected; adding ${n} subscribers`);

    // Subscribers, `CONCURRENCY` negotiations in flight.
    let added = 0;
    const setupStart = Date.now();
    await withTimeout(
      mapLimit(
        Array.from({ length: n }, (_, i) => i),
        CONCURRENCY,
        async (id) => {
          await sfu.rpc.call("addSubscriber", { id }, 45_000);
          added++;
          if (added % 10 === 0 || added === n) log(`${sfuName} N=${n}: ${added}/${n} negotiated`);
        },
      ),
      60_000 + n * 1_000,
      `negotiating ${n} subscribers`,
    );
    const setupMs = Date.now() - setupStart;
    let status: SubscribersStatus = { subscribers: 0, receivingBoth: 0 };
    await waitFor(`media at all ${n} subscribers`, 20_000 + n * 200, async () => {
      const all = await Promise.all(
        subProcs.map((c) => c.rpc.call<SubscribersStatus>("status", {}, 5_000)),
      );
      status = {
        subscribers: all.reduce((a, x) => a + x.subscribers, 0),
        receivingBoth: all.reduce((a, x) => a + x.receivingBoth, 0),
      };
      return status.receivingBoth === n;
    }).catch(async (err: Error) => {
      log(`${sfuName} N=${n}: WARNING ${err.message} (${status.receivingBoth}/${n} receive both)`);
      await diagnose(sfu, subProcs).catch((e: Error) => log(`  (diagnosis failed: ${e.message})`));
      if (status.receivingBoth === 0) throw new Error("no subscriber receives media");
    });
    const udpSockets = await sfu.rpc.call<number>("udpSockets", {}, 10_000);
    log(
      `${sfuName} N=${n}: ${status.receivingBoth}/${n} receiving, SFU holds ${udpSockets} UDP sockets; warm-up ${WARMUP_S} s`,
    );
    await sleep(WARMUP_S * 1000);
    const memAfter = await sfu.rpc.call<MemorySample>("memory", {}, 10_000);
    await sleep(500);

    // The measuring window.
    log(`${sfuName} N=${n}: measuring ${SECONDS} s`);
    const busy0 = machineBusyUs();
    await Promise.all([
      sfu.rpc.call("windowStart", {}, 5_000),
      pub.rpc.call("windowStart", {}, 5_000),
      ...subProcs.map((c) => c.rpc.call("windowStart", {}, 5_000)),
    ]);
    await sleep(SECONDS * 1000);
    const [sfuWin, pubWin, subsWins] = await Promise.all([
      sfu.rpc.call<SfuWindow>("windowEnd", {}, 10_000),
      pub.rpc.call<PublisherWindow>("windowEnd", {}, 10_000),
      Promise.all(subProcs.map((c) => c.rpc.call<PeersWindow>("windowEnd", {}, 10_000))),
    ]);
    const machineBusy = machineBusyUs() - busy0;
    const subsWin = mergePeers(subsWins);
    const input: RunInput = {
      sfu: sfuName,
      n,
      setupMs,
      receivingBoth: status.receivingBoth,
      memBefore,
      memAfter,
      sfuWin,
      pubWin,
      subsWin,
      subscriberProcesses: subProcs.length,
      loadAvg1: loadavg()[0],
      machineBusyUs: machineBusy,
      udpSockets,
    };
    const result = summarize(input);
    if (RECORD_PAIRS > 0 && sfuName !== "werift") {
      result.record = recordComparison(await recordWindows(sfuName, n, sfu, pub, subProcs, input));
    }
    log(
      `${sfuName} N=${n}: ${result.forwardedPps.toFixed(0)} pkt/s forwarded, ` +
        `${result.cpuUsPerPacket.toFixed(1)} µs CPU/pkt, loss ${result.lossPct.toFixed(2)} %, ` +
        `ELD p99 ${result.eldP99Ms.toFixed(1)} ms`,
    );
    return result;
  } finally {
    await stop(children);
  }
}

/**
 * bench:record: RECORD_PAIRS pairs of windows, one without and one with a Recorder on both
 * tracks (order alternating per pair, so a drift in the machine's load falls on both), same
 * processes and subscribers. The recorder starts 1.5 s before its window (its file opens on
 * the first keyframe) and stops after it (finishing the file is outside the window).
 */
async function recordWindows(
  sfuName: string,
  n: number,
  sfu: Child,
  pub: Child,
  subProcs: Child[],
  base: RunInput,
): Promise<RecordWindow[]> {
  const dir = join(values.out, "record", `${sfuName}-${n}-${process.pid}`);
  const out: RecordWindow[] = [];
  type Rec = { packets: number; frames: number; bytes: number };
  for (let pair = 0; pair < RECORD_PAIRS; pair++) {
    const order = pair % 2 === 0 ? [false, true] : [true, false];
    for (const recording of order) {
      if (recording) {
        await sfu.rpc.call("recordStart", { dir }, 10_000);
        await sleep(1500);
      }
      await Promise.all([
        sfu.rpc.call("windowStart", {}, 5_000),
        pub.rpc.call("windowStart", {}, 5_000),
        ...subProcs.map((c) => c.rpc.call("windowStart", {}, 5_000)),
      ]);
      const rec0 = recording ? await sfu.rpc.call<Rec>("recordStats", {}, 5_000) : null;
      await sleep(RECORD_SECONDS * 1000);
      const rec1 = recording ? await sfu.rpc.call<Rec>("recordStats", {}, 5_000) : null;
      const [sfuWin, pubWin, subsWins] = await Promise.all([
        sfu.rpc.call<SfuWindow>("windowEnd", {}, 10_000),
        pub.rpc.call<PublisherWindow>("windowEnd", {}, 10_000),
        Promise.all(subProcs.map((c) => c.rpc.call<PeersWindow>("windowEnd", {}, 10_000))),
      ]);
      if (recording) await sfu.rpc.call("recordStop", {}, 20_000);
      const r = summarize({ ...base, sfuWin, pubWin, subsWin: mergePeers(subsWins) });
      const w: RecordWindow = {
        pair,
        recording,
        cpuUs: sfuWin.cpuUserUs + sfuWin.cpuSystemUs,
        elapsedMs: sfuWin.elapsedMs,
        cpuUsPerPacket: r.cpuUsPerPacket,
        forwardedPps: r.forwardedPps,
        eldP99Ms: r.eldP99Ms,
        lossPct: r.lossPct,
        recordedPackets: rec0 && rec1 ? rec1.packets - rec0.packets : 0,
        framesWritten: rec0 && rec1 ? rec1.frames - rec0.frames : 0,
      };
      out.push(w);
      log(
        `${sfuName} N=${n}: pair ${pair} ${recording ? "with" : "without"} a recorder: ` +
          `${w.cpuUsPerPacket.toFixed(2)} µs CPU/forwarded pkt, ELD p99 ${w.eldP99Ms.toFixed(1)} ms` +
          (recording ? `, ${w.recordedPackets} packets recorded, ${w.framesWritten} frames` : ""),
      );
    }
  }
  rmSync(dir, { recursive: true, force: true });
  return out;
}

async function main(): Promise<void> {
  log(
    `forward bench: SFUs ${SFUS.join(",")}, N ${NS.join(",")}, window ${SECONDS} s, ` +
      `warm-up ${WARMUP_S} s, ${cpus().length} CPUs, node ${process.version}, ` +
      `load average ${loadAvgAtStart.map((x) => x.toFixed(2)).join(" ")}`,
  );
  const results: RunResult[] = [];
  const failures: { sfu: string; n: number; error: string }[] = [];
  outer: for (const n of NS) {
    for (const sfuName of SFUS) {
      if (Date.now() - t0 > RUN_BUDGET_MS) {
        log(`run budget spent; skipping the rest`);
        break outer;
      }
      const budget = Math.max(10_000, RUN_BUDGET_MS - (Date.now() - t0));
      try {
        results.push(await withTimeout(runOne(sfuName, n), budget, `${sfuName} N=${n}`));
      } catch (err) {
        const msg = (err as Error).message;
        log(`${sfuName} N=${n}: FAILED: ${msg}`);
        for (const p of live) p.kill("SIGKILL"); // a step that timed out may have left them
        failures.push({ sfu: sfuName, n, error: msg });
      }
    }
  }
  printTables(results, failures);
  if (RECORD_PAIRS > 0) printRecordTable(results);
  mkdirSync(values.out, { recursive: true });
  const date = new Date().toISOString().replaceAll(":", "-").replace(/\..*$/, "");
  const path = join(values.out, `forward-${date}.json`);
  const meta = {
    date: new Date().toISOString(),
    node: process.version,
    cpus: cpus().length,
    cpuModel: cpus()[0]?.model,
    seconds: SECONDS,
    warmupSeconds: WARMUP_S,
    subscribersPerProcess: SUBS_PER_PROC,
    loadAvgAtStart: loadAvgAtStart,
  };
  writeFileSync(path, `${JSON.stringify({ meta, results, failures }, null, 2)}\n`);
  console.log(`\nJSON: ${path}`);
  process.exitCode = failures.length > 0 ? 1 : 0;
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
