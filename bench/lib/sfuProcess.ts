// The SFU process of bench/forward.ts: hosts one SFU under test (argv[2]: weir | weir-mux |
// werift) and measures it alone: CPU time over the window, event-loop delay, memory, its UDP
// sockets. Driven over IPC.
import { execFileSync } from "node:child_process";
import { monitorEventLoopDelay } from "node:perf_hooks";
import { WeriftBaselineSfu } from "../weriftBaseline.ts";
import { Rpc } from "./rpc.ts";
import type { MemorySample, Sdp, SfuCounters, SfuUnderTest, SfuWindow } from "./types.ts";
import { WeirSfu } from "./weirSfu.ts";

const kind = process.argv[2];
const sfu: SfuUnderTest =
  kind === "weir"
    ? new WeirSfu()
    : kind === "weir-mux"
      ? new WeirSfu({ mux: true })
      : kind === "werift"
        ? new WeriftBaselineSfu()
        : fail();
const rpc = new Rpc(process, `sfu(${kind})`);
/** The histogram records whole timer intervals; the delay is what exceeds the resolution. */
const ELD_RESOLUTION_MS = 10;
const eld = monitorEventLoopDelay({ resolution: ELD_RESOLUTION_MS });
let window: { cpu: NodeJS.CpuUsage; t0: number; counters: SfuCounters } | null = null;

function fail(): never {
  console.error(`sfuProcess: unknown SFU "${kind}" (weir | weir-mux | werift)`);
  process.exit(2);
}

rpc.handle("ping", () => ({ pid: process.pid }));
rpc.handle("publish", ({ offer }: { offer: Sdp }) => sfu.publish(offer));
rpc.handle("addSubscriber", ({ id }: { id: number }) =>
  sfu.addSubscriber(id, (offer) => rpc.call<Sdp>("negotiate", { id, offer }, 30_000)),
);
rpc.handle("counters", () => sfu.counters());
// bench:record: a Recorder on the publisher's tracks, started and stopped between windows
const weir = () => {
  if (!(sfu instanceof WeirSfu)) throw new Error(`${kind} cannot record`);
  return sfu;
};
rpc.handle("recordStart", ({ dir }: { dir: string }) => weir().startRecording(dir));
rpc.handle("recordStats", () => weir().recordingStats());
rpc.handle("recordStop", () => weir().stopRecording());
rpc.handle("udpSockets", () => udpSocketsOf(process.pid));
rpc.handle("describe", ({ id }: { id: number }) => sfu.describe(id));
rpc.handle("memory", (): MemorySample => {
  const gc = (globalThis as { gc?: () => void }).gc;
  gc?.();
  gc?.();
  const m = process.memoryUsage();
  return { rss: m.rss, heapUsed: m.heapUsed };
});
rpc.handle("windowStart", () => {
  eld.disable();
  eld.reset();
  eld.enable();
  window = { cpu: process.cpuUsage(), t0: performance.now(), counters: sfu.counters() };
});
rpc.handle("windowEnd", (): SfuWindow => {
  if (!window) throw new Error("no window started");
  const cpu = process.cpuUsage(window.cpu);
  const elapsedMs = performance.now() - window.t0;
  const countersEnd = sfu.counters();
  eld.disable();
  const ms = (ns: number) => Math.max(0, ns / 1e6 - ELD_RESOLUTION_MS);
  const out: SfuWindow = {
    cpuUserUs: cpu.user,
    cpuSystemUs: cpu.system,
    elapsedMs,
    eldP50Ms: ms(eld.percentile(50)),
    eldP99Ms: ms(eld.percentile(99)),
    eldMaxMs: ms(eld.max),
    countersStart: window.counters,
    countersEnd,
  };
  window = null;
  return out;
});
rpc.handle("close", async () => {
  await sfu.close();
  setTimeout(() => process.exit(0), 50);
});
process.on("disconnect", () => process.exit(0));
process.on("unhandledRejection", (err) => console.error(`sfu(${kind}) unhandled rejection:`, err));

/** UDP sockets `pid` holds, from `ss` (the bench's own network namespace). */
function udpSocketsOf(pid: number): number {
  const out = execFileSync("ss", ["-uanpH"], { encoding: "utf8" });
  return out.split("\n").filter((line) => line.includes(`pid=${pid},`)).length;
}
