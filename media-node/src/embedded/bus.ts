import { MemoryBus, MemoryRegistry } from "../../../edge/src/bus/memoryBus.ts";
import type { Bus, NodeRegistry } from "../../../shared/bus.ts";
import { connectNatsBus } from "../service/bus/natsBus.ts";
import { errorFields, type Logger } from "../service/log.ts";

export interface OpenBus {
  bus: Bus;
  registry: NodeRegistry;
  close(): Promise<void>;
}

/** NATS when a URL is given, else the in-process bus and registry. */
export async function openBus(natsUrl: string | undefined, log: Logger): Promise<OpenBus> {
  if (natsUrl) {
    return connectNatsBus(natsUrl, {
      name: "weir-embedded",
      onHandlerError: (err, subject) =>
        log.error("bus handler failed", { subject, ...errorFields(err) }),
    });
  }
  const bus = new MemoryBus({
    onHandlerError: (err, subject) =>
      log.error("bus handler failed", { subject, ...errorFields(err) }),
  });
  return { bus, registry: new MemoryRegistry(), close: () => bus.close() };
}
