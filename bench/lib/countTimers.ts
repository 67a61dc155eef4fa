// Preloaded (`--import`) into the node a soak watches: counts every live timer, unref'd ones
// included, which process.getActiveResourcesInfo() leaves out. async_hooks costs on every timer,
// so this is for soaks only; processStats() reads the count when it is there.
import { createHook } from "node:async_hooks";

const live = new Set<number>();
createHook({
  init(id, type) {
    if (type === "Timeout" || type === "Immediate") live.add(id);
  },
  destroy(id) {
    live.delete(id);
  },
}).enable();
(globalThis as Record<symbol, unknown>)[Symbol.for("weir.liveTimers")] = () => live.size;
