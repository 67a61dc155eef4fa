// Progress lines on stderr, timed from the start of the run (the parent passes its start time to
// its children in BENCH_T0, so every process's lines share one clock).
const t0 = Number(process.env.BENCH_T0) || Date.now();
process.env.BENCH_T0 = String(t0);

export function log(msg: string): void {
  console.error(`[${((Date.now() - t0) / 1000).toFixed(1).padStart(6)} s] ${msg}`);
}
