// Turns the raw window measurements of bench/forward.ts into the numbers it prints.
import type { MemorySample, PeersWindow, PublisherWindow, SfuWindow } from "./types.ts";

export interface RunInput {
  sfu: string;
  n: number;
  setupMs: number;
  receivingBoth: number;
  memBefore: MemorySample;
  memAfter: MemorySample;
  sfuWin: SfuWindow;
  pubWin: PublisherWindow;
  subsWin: PeersWindow;
  subscriberProcesses: number;
  /** 1-minute load average at the end of the window (other work on the machine). */
  loadAvg1: number;
  /** Busy CPU time of the whole machine (/proc/stat) over the window, µs. */
  machineBusyUs: number;
  udpSockets: number;
}

/** One bench:record window: the same run's subscribers, without or with a Recorder. */
export interface RecordWindow {
  pair: number;
  recording: boolean;
  /** SFU process CPU (user + system) over the window, µs. */
  cpuUs: number;
  elapsedMs: number;
  cpuUsPerPacket: number;
  forwardedPps: number;
  eldP99Ms: number;
  lossPct: number;
  /** Packets the recorder took in the window (0 without). */
  recordedPackets: number;
  framesWritten: number;
}

/** Medians over the pairs of one run; ratios are with / without, pair by pair. */
export interface RecordComparison {
  pairs: number;
  cpuUsPerPacketWithout: number;
  cpuUsPerPacketWith: number;
  /** Median of the pairs' (with / without) µs per forwarded packet. */
  forwardRatio: number;
  eldP99MsWithout: number;
  eldP99MsWith: number;
  lossPctWithout: number;
  lossPctWith: number;
  /** Median over pairs: (CPU with − CPU without, per second of window) / recorded packets. */
  recorderUsPerPacket: number;
  recordedPps: number;
  windows: RecordWindow[];
}

export function median(xs: number[]): number {
  const s = [...xs].filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (s.length === 0) return Number.NaN;
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

export function recordComparison(windows: RecordWindow[]): RecordComparison {
  const pairs = [...new Set(windows.map((w) => w.pair))];
  const off = windows.filter((w) => !w.recording);
  const on = windows.filter((w) => w.recording);
  const ratios: number[] = [];
  const recorder: number[] = [];
  for (const p of pairs) {
    const a = off.find((w) => w.pair === p);
    const b = on.find((w) => w.pair === p);
    if (!a || !b) continue;
    ratios.push(b.cpuUsPerPacket / a.cpuUsPerPacket);
    // the extra CPU per second of window, over the packets recorded per second
    const extraPerS = b.cpuUs / b.elapsedMs - a.cpuUs / a.elapsedMs;
    const recordedPerMs = b.recordedPackets / b.elapsedMs;
    if (recordedPerMs > 0) recorder.push(extraPerS / recordedPerMs);
  }
  return {
    pairs: pairs.length,
    cpuUsPerPacketWithout: median(off.map((w) => w.cpuUsPerPacket)),
    cpuUsPerPacketWith: median(on.map((w) => w.cpuUsPerPacket)),
    forwardRatio: median(ratios),
    eldP99MsWithout: median(off.map((w) => w.eldP99Ms)),
    eldP99MsWith: median(on.map((w) => w.eldP99Ms)),
    lossPctWithout: median(off.map((w) => w.lossPct)),
    lossPctWith: median(on.map((w) => w.lossPct)),
    recorderUsPerPacket: median(recorder),
    recordedPps: median(on.map((w) => (1000 * w.recordedPackets) / w.elapsedMs)),
    windows,
  };
}

/** bench:record's table: forwarding cost without and with a recorder, the recorder's own cost. */
export function printRecordTable(results: RunResult[]): void {
  const rows = results.filter((r) => r.record);
  if (rows.length === 0) return;
  console.log(
    "\nRecording (bench:record): medians over pairs of windows in the same run, without / with a Recorder on both tracks\n",
  );
  const head = [
    "SFU",
    "N",
    "pairs",
    "fwd µs/pkt without",
    "with",
    "ratio",
    "ELD p99 ms without",
    "with",
    "loss % without",
    "with",
    "recorded pkt/s",
    "recorder µs/recorded pkt",
  ];
  const lines = rows.map((r) => {
    const c = r.record as RecordComparison;
    return [
      r.sfu,
      String(r.n),
      String(c.pairs),
      c.cpuUsPerPacketWithout.toFixed(2),
      c.cpuUsPerPacketWith.toFixed(2),
      c.forwardRatio.toFixed(3),
      c.eldP99MsWithout.toFixed(1),
      c.eldP99MsWith.toFixed(1),
      c.lossPctWithout.toFixed(2),
      c.lossPctWith.toFixed(2),
      c.recordedPps.toFixed(0),
      c.recorderUsPerPacket.toFixed(1),
    ];
  });
  console.log(`| ${head.join(" | ")} |`);
  console.log(`|${head.map(() => "---").join("|")}|`);
  for (const l of lines) console.log(`| ${l.join(" | ")} |`);
}

export interface RunResult {
  /** bench:record: without / with a Recorder, same run. */
  record?: RecordComparison;
  sfu: string;
  n: number;
  /** Subscribers receiving both tracks before the window. */
  subscribersReceiving: number;
  /** Subscribers that got nothing on a track during the window. */
  subscribersStarved: number;
  setupMs: number;
  /** Packets received by all subscribers / window length. */
  forwardedPps: number;
  /** Publisher packets/s x N: what perfect forwarding would deliver. */
  expectedPps: number;
  /** Packets the SFU says it sent / window length. */
  sfuSentPps: number;
  publisherPps: number;
  /** SFU user+system CPU over the window / packets received by subscribers. */
  cpuUsPerPacket: number;
  /** The same, per packet the SFU sent (includes what got lost after it). */
  cpuUsPerSentPacket: number;
  /** SFU CPU as % of one core. */
  sfuCpuPct: number;
  publisherCpuPct: number;
  /**
   * CPU used on the machine during the window by anything but the SFU and its clients (other
   * people's work, the kernel's share not billed to a process), % of one core.
   */
  otherCpuPct: number;
  /** CPU of all subscriber processes together, % of one core. */
  subscribersCpuPct: number;
  /** Sequence gaps at the subscribers / (received + gaps). */
  lossPct: number;
  /** Duplicate packets at the subscribers (NACK retransmissions) / distinct packets received. */
  duplicatePct: number;
  videoLossPct: number;
  audioLossPct: number;
  eldP50Ms: number;
  eldP99Ms: number;
  eldMaxMs: number;
  rssKiBPerSubscriber: number;
  heapKiBPerSubscriber: number;
  /** UDP sockets the SFU process holds with every subscriber connected. */
  udpSockets: number;
  raw: RunInput;
}

const pct = (lost: number, received: number) =>
  lost + received > 0 ? (100 * lost) / (lost + received) : 0;

export function summarize(r: RunInput): RunResult {
  const secs = r.subsWin.elapsedMs / 1000;
  const sfuSecs = r.sfuWin.elapsedMs / 1000;
  const pubSecs = r.pubWin.elapsedMs / 1000;
  const cpuUs = r.sfuWin.cpuUserUs + r.sfuWin.cpuSystemUs;
  const received = r.subsWin.received;
  const sent = r.sfuWin.countersEnd.out - r.sfuWin.countersStart.out;
  const publisherPps = (r.pubWin.audioSent + r.pubWin.videoSent) / pubSecs;
  return {
    sfu: r.sfu,
    n: r.n,
    subscribersReceiving: r.receivingBoth,
    subscribersStarved: r.subsWin.starved,
    setupMs: r.setupMs,
    forwardedPps: received / secs,
    expectedPps: publisherPps * r.n,
    sfuSentPps: sent / sfuSecs,
    publisherPps,
    cpuUsPerPacket: received > 0 ? cpuUs / received : Number.NaN,
    cpuUsPerSentPacket: sent > 0 ? cpuUs / sent : Number.NaN,
    sfuCpuPct: (100 * cpuUs) / (r.sfuWin.elapsedMs * 1000),
    publisherCpuPct: (100 * r.pubWin.cpuUs) / (r.pubWin.elapsedMs * 1000),
    otherCpuPct:
      (100 * (r.machineBusyUs - cpuUs - r.pubWin.cpuUs - r.subsWin.cpuUs)) /
      (r.sfuWin.elapsedMs * 1000),
    subscribersCpuPct: (100 * r.subsWin.cpuUs) / (r.subsWin.elapsedMs * 1000),
    lossPct: pct(r.subsWin.lost, received),
    duplicatePct: received > 0 ? (100 * r.subsWin.duplicates) / received : 0,
    videoLossPct: pct(r.subsWin.perKind.video.lost, r.subsWin.perKind.video.received),
    audioLossPct: pct(r.subsWin.perKind.audio.lost, r.subsWin.perKind.audio.received),
    eldP50Ms: r.sfuWin.eldP50Ms,
    eldP99Ms: r.sfuWin.eldP99Ms,
    eldMaxMs: r.sfuWin.eldMaxMs,
    rssKiBPerSubscriber: (r.memAfter.rss - r.memBefore.rss) / 1024 / r.n,
    heapKiBPerSubscriber: (r.memAfter.heapUsed - r.memBefore.heapUsed) / 1024 / r.n,
    udpSockets: r.udpSockets,
    raw: r,
  };
}

function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]) =>
    `| ${cells.map((c, i) => (i < 2 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join(" | ")} |`;
  const sep = `|${widths.map((w, i) => (i < 2 ? `:${"-".repeat(w + 1)}` : `${"-".repeat(w + 1)}:`)).join("|")}|`;
  return [line(header), sep, ...rows.map(line)].join("\n");
}

const f = (x: number, d = 1) => (Number.isFinite(x) ? x.toFixed(d) : "-");

export function printTables(
  results: RunResult[],
  failures: { sfu: string; n: number; error: string }[],
): void {
  console.log(
    "\nForwarding: 1 publisher (VP8 ~1.4 Mbps 30 fps + Opus 50 pkt/s) -> N subscribers\n",
  );
  console.log(
    table(
      [
        "SFU",
        "N",
        "fwd pkt/s",
        "expected",
        "SFU sent/s",
        "CPU µs/pkt",
        "SFU CPU %",
        "loss %",
        "dup %",
        "ELD p99 ms",
        "RSS KiB/sub",
        "heap KiB/sub",
        "subs CPU %",
        "pub CPU %",
        "ok subs",
        "other CPU %",
        "UDP sockets",
      ],
      results.map((r) => [
        r.sfu,
        String(r.n),
        f(r.forwardedPps, 0),
        f(r.expectedPps, 0),
        f(r.sfuSentPps, 0),
        f(r.cpuUsPerPacket),
        f(r.sfuCpuPct),
        f(r.lossPct, 2),
        f(r.duplicatePct, 2),
        f(r.eldP99Ms),
        f(r.rssKiBPerSubscriber, 0),
        f(r.heapKiBPerSubscriber, 0),
        f(r.subscribersCpuPct, 0),
        f(r.publisherCpuPct, 0),
        `${r.n - r.subscribersStarved}/${r.n}`,
        f(r.otherCpuPct, 0),
        String(r.udpSockets),
      ]),
    ),
  );
  const ns = [...new Set(results.map((r) => r.n))];
  const ratioRows: string[][] = [];
  for (const n of ns) {
    const weir = results.find((r) => r.sfu === "weir" && r.n === n);
    const werift = results.find((r) => r.sfu === "werift" && r.n === n);
    if (!weir || !werift) continue;
    ratioRows.push([
      "CPU/pkt",
      String(n),
      f(weir.cpuUsPerPacket),
      f(werift.cpuUsPerPacket),
      f(weir.cpuUsPerPacket / werift.cpuUsPerPacket, 2),
    ]);
  }
  if (ratioRows.length > 0) {
    console.log("\nWeir / werift (lower is better for Weir)\n");
    console.log(table(["metric", "N", "Weir µs/pkt", "werift µs/pkt", "Weir/werift"], ratioRows));
  }
  const muxRows: string[][] = [];
  for (const n of ns) {
    const sockets = results.find((r) => r.sfu === "weir" && r.n === n);
    const mux = results.find((r) => r.sfu === "weir-mux" && r.n === n);
    if (!sockets || !mux) continue;
    muxRows.push([
      String(n),
      f(sockets.cpuUsPerPacket),
      f(mux.cpuUsPerPacket),
      f(mux.cpuUsPerPacket / sockets.cpuUsPerPacket, 2),
      `${sockets.udpSockets} / ${mux.udpSockets}`,
    ]);
  }
  if (muxRows.length > 0) {
    console.log("\nOne UDP port (weir-mux) / a socket per transport (weir), same run\n");
    console.log(
      table(["N", "sockets µs/pkt", "mux µs/pkt", "mux/sockets", "UDP sockets"], muxRows),
    );
  }
  for (const fl of failures) console.log(`\nFAILED ${fl.sfu} N=${fl.n}: ${fl.error}`);
}
