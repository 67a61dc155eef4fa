import { readdirSync } from "node:fs";

/** What the process holds: the figures a soak watches for growth (and Prometheus alerts on). */
export interface ProcessStats {
  residentBytes: number;
  heapUsedBytes: number;
  /** Open file descriptors (sockets included); null where /proc is missing. */
  openFds: number | null;
  /**
   * Pending setTimeout/setInterval/setImmediate callbacks that keep the process alive, or every
   * live one when a soak preloads its counter (bench/lib/countTimers.ts).
   */
  timers: number;
  /** Other libuv resources keeping the process alive (sockets, servers, files). */
  handles: number;
}

export function processStats(): ProcessStats {
  const mem = process.memoryUsage();
  const resources = process.getActiveResourcesInfo();
  const refTimers = resources.filter((r) => r === "Timeout" || r === "Immediate").length;
  const counter = (globalThis as Record<symbol, unknown>)[Symbol.for("weir.liveTimers")];
  return {
    residentBytes: mem.rss,
    heapUsedBytes: mem.heapUsed,
    openFds: openFds(),
    timers: typeof counter === "function" ? (counter as () => number)() : refTimers,
    handles: resources.length - refTimers,
  };
}

function openFds(): number | null {
  try {
    return readdirSync("/proc/self/fd").length;
  } catch {
    return null;
  }
}
