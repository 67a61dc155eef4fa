import {
  type Bus,
  BusError,
  HEARTBEAT_MS,
  NODE_STALE_MS,
  type NodeRegistry,
} from "../../../shared/bus/bus.ts";
import { subjects } from "../../../shared/subjects.ts";
import { TypedEmitter } from "../../src/TypedEmitter.ts";
import { errorFields, type Logger } from "../log.ts";

export type NodeDeathReason = "stale" | "gone" | "unreachable";

export interface NodeWatcherEvents {
  /** Another node died (or left the registry): forget what it hosted. */
  nodedied: [nodeId: string, reason: NodeDeathReason];
}

export interface NodeWatcherOptions {
  nodeId: string;
  bus: Bus;
  registry: NodeRegistry;
  log: Logger;
  /** The nodes worth a liveness ping each tick (those this node shares rooms or relays with). */
  peers(): Iterable<string>;
  /** Default 1000 ms. */
  intervalMs?: number;
}

/** Misses in a row before a pinged node counts as dead (one no-responders can be a reconnect). */
const MISSES = 2;

/**
 * Tells this node when another dies. Every tick it reads `weir-nodes`: a node it saw alive whose
 * heartbeat is older than NODE_STALE_MS, or whose entry is gone, died. Peers (nodes sharing rooms
 * with this one) are also pinged on `weir.node.<id>.peer`: a killed process's subscription
 * vanishes with its connection, so NATS answers "no responders" at once, and two such answers in
 * a row declare it dead in about 2 s instead of the heartbeat's 6-8 s.
 */
export class NodeWatcher extends TypedEmitter<NodeWatcherEvents> {
  readonly #o: NodeWatcherOptions;
  /** Alive nodes and their last heartbeat. */
  readonly #alive = new Map<string, number>();
  /** Dead nodes and the heartbeat they died with (a newer one means a restart). */
  readonly #dead = new Map<string, number>();
  readonly #misses = new Map<string, number>();
  #timer: NodeJS.Timeout | undefined;
  #busy = false;

  constructor(options: NodeWatcherOptions) {
    super();
    this.#o = options;
  }

  start(): void {
    this.#timer ??= setInterval(() => void this.tick(), this.#o.intervalMs ?? 1000);
    this.#timer.unref();
  }

  stop(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
  }

  isDead(nodeId: string): boolean {
    return this.#dead.has(nodeId);
  }

  /** One round: registry, then pings. Exposed for tests. */
  async tick(): Promise<void> {
    if (this.#busy) return;
    this.#busy = true;
    try {
      await this.#checkRegistry(Date.now());
      await Promise.all([...this.#o.peers()].map((id) => this.#ping(id)));
    } catch (err) {
      this.#o.log.warn("node watch failed", errorFields(err));
    } finally {
      this.#busy = false;
    }
  }

  async #checkRegistry(now: number): Promise<void> {
    const nodes = await this.#o.registry.list();
    const listed = new Set<string>();
    for (const n of nodes) {
      if (n.nodeId === this.#o.nodeId) continue;
      listed.add(n.nodeId);
      const diedWith = this.#dead.get(n.nodeId);
      if (diedWith !== undefined && n.heartbeatAt <= diedWith) continue;
      if (now - n.heartbeatAt > NODE_STALE_MS) {
        if (this.#alive.has(n.nodeId)) this.#died(n.nodeId, "stale", n.heartbeatAt);
        continue;
      }
      this.#dead.delete(n.nodeId);
      this.#alive.set(n.nodeId, n.heartbeatAt);
    }
    for (const id of [...this.#alive.keys()]) {
      if (!listed.has(id)) this.#died(id, "gone", this.#alive.get(id) ?? now);
    }
    // a dead node's entry expires from the bucket eventually: forget it then
    for (const id of [...this.#dead.keys()]) if (!listed.has(id)) this.#dead.delete(id);
  }

  async #ping(nodeId: string): Promise<void> {
    if (nodeId === this.#o.nodeId || this.#dead.has(nodeId)) return;
    try {
      await this.#o.bus.request(subjects.nodePeer(nodeId), '{"op":"ping"}', HEARTBEAT_MS);
      this.#misses.delete(nodeId);
    } catch (err) {
      if (!(err instanceof BusError && err.reason === "no_responders")) return;
      const misses = (this.#misses.get(nodeId) ?? 0) + 1;
      this.#misses.set(nodeId, misses);
      if (misses >= MISSES)
        this.#died(nodeId, "unreachable", this.#alive.get(nodeId) ?? Date.now());
    }
  }

  #died(nodeId: string, reason: NodeDeathReason, heartbeatAt: number): void {
    if (this.#dead.has(nodeId)) return;
    this.#alive.delete(nodeId);
    this.#misses.delete(nodeId);
    this.#dead.set(nodeId, heartbeatAt);
    this.#o.log.info("node died", { peer: nodeId, reason });
    this.emit("nodedied", nodeId, reason);
  }
}
