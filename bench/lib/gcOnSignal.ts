// Preloaded (`--import`, with `--expose-gc`) into the node a soak watches: SIGUSR2 runs a full
// collection, so the heap the soak then reads from /metrics is what is retained, not what the
// collector has yet to free (its floor between collections wanders by 10-20 % with its timing).
// The handler is there even without --expose-gc: SIGUSR2 must never end the node.
process.on("SIGUSR2", () => (globalThis as { gc?: () => void }).gc?.());
