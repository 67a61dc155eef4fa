// `npm run soak`: the embedded process (`npm start`) under churn for a long time. One werift
// publisher (WHIP, synthetic VP8 + Opus) and N werift viewers (WHEP) that each watch for a few
// seconds, leave (DELETE) and join again, over and over. Every few seconds the node's /metrics
// gives its resident memory, V8 heap, file descriptors, timers, handles and sessions; each minute
// prints their medians. The verdict: after the warm-up, none of them grows more than 10 %
// (the peak over the last minute against the peak over the warm-up's last minute). The heap is
// read after a full collection (bench/lib/gcOnSignal.ts: SIGUSR2 before each sample), so it is
// what the node retains; timers are counted by a preload, bench/lib/countTimers.ts, unref'd too.
//
//   npm run soak -- [--minutes 30] [--subscribers 20] [--warmup 5] [--video-kbps 500]
//                   [--out /tmp/weir-soak]
import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { signToken } from "../edge/src/auth/jwt.ts";
import type { Grant } from "../shared/token.ts";
import { MediaSource } from "../test/helpers/mediaSource.ts";
import { freePort } from "../test/helpers/natsServer.ts";
import { until, weriftPublisher, weriftViewer } from "../test/helpers/weriftPeer.ts";
import { log } from "./lib/log.ts";

const { values } = parseArgs({
  options: {
    minutes: { type: "string", default: "30" },
    subscribers: { type: "string", default: "20" },
    warmup: { type: "string", default: "5" },
    "video-kbps": { type: "string", default: "500" },
    out: { type: "string", default: "/tmp/weir-soak" },
  },
});
const MINUTES = Number(values.minutes);
const SUBSCRIBERS = Number.parseInt(values.subscribers, 10);
const WARMUP_MIN = Number(values.warmup);
const VIDEO_BPS = Number(values["video-kbps"]) * 1000;
if (!(MINUTES > WARMUP_MIN && WARMUP_MIN > 0 && SUBSCRIBERS > 0 && VIDEO_BPS > 0)) {
  console.error("usage: npm run soak -- [--minutes M > --warmup W > 0] [--subscribers N > 0]");
  process.exit(2);
}
const SAMPLE_MS = 10_000;
/** After SIGUSR2, time for the node to run its collection before /metrics is read. */
const GC_SETTLE_MS = 500;
/** How long a viewer stays, then leaves and joins again. */
const STAY_MS: [number, number] = [3_000, 15_000];
const GROWTH_LIMIT = 0.1;
const ROOM = "soak";
const SECRET = randomBytes(32).toString("hex");

/** The gauges watched for growth, by their /metrics names. */
const WATCHED = {
  rss: "process_resident_memory_bytes",
  heap: "nodejs_heap_size_used_bytes",
  fds: "process_open_fds",
  timers: "nodejs_active_timers",
  handles: "nodejs_active_handles",
} as const;
type Watched = keyof typeof WATCHED;
type Sample = Record<Watched | "sessions", number> & { at: number };

const counts = { joins: 0, failed: 0, leaves: 0 };
let stopping = false;

async function main(): Promise<void> {
  const node = await startNode();
  try {
    await publish(node.url);
    const viewers = Array.from({ length: SUBSCRIBERS }, (_, i) => viewerLoop(node.url, i));
    const samples = await sampleFor(node, MINUTES * 60_000);
    stopping = true;
    await Promise.all(viewers);
    report(samples);
  } finally {
    node.proc.kill("SIGTERM");
  }
}

async function startNode(): Promise<Node> {
  const port = await freePort();
  const args = ["--expose-gc", "--import", "tsx", "--import", "./bench/lib/countTimers.ts"];
  args.push("--import", "./bench/lib/gcOnSignal.ts");
  const proc = spawn(process.execPath, [...args, "media-node/embedded/main.ts"], {
    env: { ...process.env, PORT: String(port), WEIR_SECRET: SECRET },
    stdio: ["ignore", "pipe", "inherit"],
  });
  let out = "";
  proc.stdout?.on("data", (d: Buffer) => {
    out += d.toString();
  });
  await until(() => /Weir is running/.test(out) || proc.exitCode !== null, 60_000, "node start");
  if (proc.exitCode !== null) throw new Error(`the node exited: ${out}`);
  log(`node started (pid ${proc.pid}) on port ${port}`);
  return { url: `http://127.0.0.1:${port}`, proc };
}

function token(identity: string, grants: Grant[]): Promise<string> {
  return signToken(
    { sub: identity, room: ROOM, grants, exp: Math.floor(Date.now() / 1000) + 3600 * 24 },
    SECRET,
  );
}

async function post(url: string, kind: "whip" | "whep", identity: string, sdp: string) {
  const grant: Grant = kind === "whip" ? "publish" : "subscribe";
  const res = await fetch(`${url}/v1/rooms/${ROOM}/${kind}`, {
    method: "POST",
    body: sdp,
    headers: {
      authorization: `Bearer ${await token(identity, [grant])}`,
      "content-type": "application/sdp",
    },
  });
  const body = await res.text();
  if (res.status !== 201) throw new Error(`${kind} ${res.status}: ${body}`);
  return { answer: body, location: res.headers.get("location") ?? "" };
}

async function publish(url: string): Promise<void> {
  const pub = await weriftPublisher(["audio", "video"]);
  const { answer } = await post(url, "whip", "publisher", pub.offer.sdp);
  await pub.pc.setRemoteDescription({ type: "answer", sdp: answer });
  const source = new MediaSource(pub.tracks[1], pub.tracks[0], { videoBitrate: VIDEO_BPS });
  pub.pc.getTransceivers()[1].sender.onRtcp.subscribe((rtcp) => {
    if (rtcp.type === 206) source.keyframe();
  });
  source.start();
  await until(() => pub.pc.connectionState === "connected", 60_000, "publisher connected");
  log(`publisher connected (${VIDEO_BPS / 1000} kbps video)`);
}

/** One viewer slot: join, see media, stay a while, leave; again until the soak ends. */
async function viewerLoop(url: string, i: number): Promise<void> {
  await sleep(i * 250);
  while (!stopping) {
    const viewer = await weriftViewer(["audio", "video"]);
    let location = "";
    try {
      const r = await post(url, "whep", `viewer-${i}`, viewer.offer.sdp);
      location = r.location;
      await viewer.pc.setRemoteDescription({ type: "answer", sdp: r.answer });
      await until(() => viewer.counts.video > 0, 15_000, `viewer ${i} gets video`);
      counts.joins++;
      await sleep(STAY_MS[0] + Math.random() * (STAY_MS[1] - STAY_MS[0]));
    } catch (err) {
      counts.failed++;
      log(`viewer ${i}: ${(err as Error).message}`);
    }
    if (location) {
      const auth = { authorization: `Bearer ${await token(`viewer-${i}`, ["subscribe"])}` };
      await fetch(`${url}${location}`, { method: "DELETE", headers: auth }).catch(() => null);
      counts.leaves++;
    }
    await viewer.pc.close();
    await sleep(500);
  }
}

type Node = { url: string; proc: ChildProcess };

async function sampleFor(node: Node, ms: number): Promise<Sample[]> {
  const samples: Sample[] = [];
  const t0 = Date.now();
  let minute = 0;
  while (Date.now() - t0 < ms) {
    await sleep(SAMPLE_MS);
    samples.push(await sample(node, Date.now() - t0));
    const m = Math.floor((Date.now() - t0) / 60_000);
    if (m > minute) {
      minute = m;
      const last = samples.filter((s) => s.at > (m - 1) * 60_000);
      log(`minute ${m}/${MINUTES}: ${describe(medianOf(last))}; ${JSON.stringify(counts)}`);
    }
  }
  return samples;
}

async function sample(node: Node, at: number): Promise<Sample> {
  node.proc.kill("SIGUSR2"); // a full collection first: the heap read is what is retained
  await sleep(GC_SETTLE_MS);
  const text = await (await fetch(`${node.url}/metrics`)).text();
  const gauge = (name: string) => Number(new RegExp(`^${name} (\\S+)$`, "m").exec(text)?.[1]);
  const s = { at, sessions: gauge("weir_sessions") } as Sample;
  for (const [k, name] of Object.entries(WATCHED)) s[k as Watched] = gauge(name);
  return s;
}

function medianOf(samples: Sample[]): Sample {
  const med = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  const out = { at: samples.at(-1)?.at ?? 0 } as Sample;
  for (const k of [...Object.keys(WATCHED), "sessions"] as (Watched | "sessions")[])
    out[k] = med(samples.map((s) => s[k]));
  return out;
}

function describe(s: Sample): string {
  const mb = (b: number) => `${(b / 1048576).toFixed(1)} MB`;
  return `rss ${mb(s.rss)}, heap ${mb(s.heap)}, fds ${s.fds}, timers ${s.timers}, handles ${s.handles}, sessions ${s.sessions}`;
}

/** Each gauge over a window, as steady churn makes it steady: the peak. */
function peakOf(samples: Sample[]): Sample {
  const out = { at: samples.at(-1)?.at ?? 0 } as Sample;
  for (const k of [...Object.keys(WATCHED), "sessions"] as (Watched | "sessions")[]) {
    const xs = samples.map((s) => s[k]);
    out[k] = Math.max(...xs);
  }
  return out;
}

function report(samples: Sample[]): void {
  const warmupMs = WARMUP_MIN * 60_000;
  const base = peakOf(samples.filter((s) => s.at > warmupMs - 60_000 && s.at <= warmupMs));
  const end = peakOf(samples.filter((s) => s.at > (samples.at(-1)?.at ?? 0) - 60_000));
  const rows = (Object.keys(WATCHED) as Watched[]).map((k) => {
    const growth = base[k] > 0 ? end[k] / base[k] - 1 : end[k] > 0 ? Number.POSITIVE_INFINITY : 0;
    return { gauge: k, afterWarmup: base[k], end: end[k], growth, ok: growth <= GROWTH_LIMIT };
  });
  const maxSessions = Math.max(...samples.map((s) => s.sessions));
  const result = { minutes: MINUTES, subscribers: SUBSCRIBERS, counts, maxSessions, rows, samples };
  mkdirSync(values.out, { recursive: true });
  const file = join(values.out, `soak-${Date.now()}.json`);
  writeFileSync(file, JSON.stringify(result, null, 2));
  console.log(`\nsoak: ${MINUTES} min, ${SUBSCRIBERS} churning viewers, ${JSON.stringify(counts)}`);
  console.log(`peaks, minute ${WARMUP_MIN}: ${describe(base)}\nlast minute:     ${describe(end)}`);
  for (const r of rows)
    console.log(
      `  ${r.gauge.padEnd(8)} ${(r.growth * 100).toFixed(1).padStart(6)} %  ${r.ok ? "ok" : "GROWS"}`,
    );
  console.log(`sessions at most ${maxSessions} (bound: ${SUBSCRIBERS + 1}); samples in ${file}`);
  const bounded = maxSessions <= SUBSCRIBERS + 1;
  process.exitCode = rows.every((r) => r.ok) && bounded && counts.joins > 0 ? 0 : 1;
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

main().then(
  () => process.exit(process.exitCode ?? 0),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);
