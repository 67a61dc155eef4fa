import { createNodeEdge, type NodeEdge } from "../../edge/src/node.ts";
import { NodeService, type NodeServiceOptions } from "../../media-node/service/NodeService.ts";
import { MemoryBus, MemoryRegistry } from "../../shared/bus/memoryBus.ts";

/** The embedded layout (edge app in Node + one media node on the in-process bus), for tests. */
export interface EmbeddedSystem {
  service: NodeService;
  edge: NodeEdge;
  registry: MemoryRegistry;
  close(): Promise<void>;
}

/**
 * `limits` sets the node's session limits (maxSessions, maxSessionsPerIdentity); `bus` replaces
 * the in-process bus (a test that injects bus faults passes its own).
 */
export async function startEmbedded(
  secret: string,
  limits: Pick<NodeServiceOptions, "maxSessions" | "maxSessionsPerIdentity"> = {},
  bus: MemoryBus = new MemoryBus(),
): Promise<EmbeddedSystem> {
  const registry = new MemoryRegistry();
  const service = new NodeService({
    nodeId: "embedded",
    bus,
    registry,
    transport: { listenIps: ["127.0.0.1"] },
    ...limits,
  });
  await service.start();
  const edge = await createNodeEdge({ bus, registry, secret, port: 0 });
  return {
    service,
    edge,
    registry,
    async close() {
      await edge.close();
      await service.stop();
      await bus.close();
    },
  };
}
