import { connectNatsBus } from "../../shared/bus/adapter/node/nats.ts";
import type { Bus, NodeRegistry } from "../../shared/bus/bus.ts";
import { MemoryBus, MemoryRegistry } from "../../shared/bus/memoryBus.ts";
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
