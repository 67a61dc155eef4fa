import {
  BusError,
  liveNodes,
  NODE_STALE_MS,
  type NodeInfo,
  type NodeRegistry,
} from "../../shared/bus/bus.ts";
import { WeirApiError } from "../../shared/errors.ts";

/** A node that can take a new session: live, not draining, not full. */
function hasRoom(n: NodeInfo): boolean {
  return n.maxSessions <= 0 || n.sessions < n.maxSessions;
}

/**
 * The least-loaded node among `candidates` (by `load`, then session count); ties are broken at
 * random so equally idle nodes share new rooms.
 */
export function leastLoaded(
  candidates: NodeInfo[],
  random: () => number = Math.random,
): NodeInfo | undefined {
  let best: NodeInfo[] = [];
  for (const n of candidates) {
    if (!hasRoom(n)) continue;
    const b = best[0];
    const cmp = b === undefined ? -1 : n.load - b.load || n.sessions - b.sessions;
    if (cmp < 0) best = [n];
    else if (cmp === 0) best.push(n);
  }
  if (best.length <= 1) return best[0];
  return best[Math.floor(random() * best.length) % best.length];
}

/** Is this node's heartbeat fresh (draining nodes still serve the sessions they hold)? */
export function isFresh(n: NodeInfo | undefined, now: number): n is NodeInfo {
  return n !== undefined && now - n.heartbeatAt <= NODE_STALE_MS;
}

/**
 * The node for new work in `room`, and whether this call placed the room there. The room's node while it is live (fresh, not draining) and
 * not full. When it is full the room spans nodes: the least-loaded live node that already hosts
 * the room (fewer relays), else the least-loaded live node; the room keeps its node. When that
 * node is dead or draining (or the room is new), the pick becomes the room's node.
 * Throws 503 no_node_available when no node is live, 503 node_full when every live one is full.
 */
/**
 * Nodes this edge found gone before their heartbeat went stale: a request on the node's subject
 * had no responders (NATS drops a dead process's subscriptions at once, a heartbeat goes stale
 * only after NODE_STALE_MS). Placement skips them until their heartbeat could have gone stale.
 */
export class GoneNodes {
  readonly #until = new Map<string, number>();

  add(nodeId: string, now: number): void {
    for (const [id, until] of this.#until) if (until < now) this.#until.delete(id);
    this.#until.set(nodeId, now + NODE_STALE_MS);
  }

  has(nodeId: string, now: number): boolean {
    return (this.#until.get(nodeId) ?? 0) >= now;
  }
}

/** Did `err` come from a node that nobody answers for (no subscription on its subject)? */
function noResponders(err: unknown): boolean {
  const cause = err instanceof Error ? err.cause : undefined;
  return cause instanceof BusError && cause.reason === "no_responders";
}

/** Tries after a gone node: one per node at most, and a bound for a fleet of dead ones. */
const MAX_GONE_RETRIES = 3;

/**
 * Runs `join` on the node `place` picks. When this call wrote the room's placement and the join
 * fails, the placement is undone unless a node has opened the room meanwhile: a refused request
 * must not pin a room name to a node (no node would ever clear it). A node with no responders is
 * remembered as gone and the join placed again, so clients of a killed node are back in the
 * time of a request, not of a stale heartbeat.
 */
export async function joinPlaced<T>(
  registry: NodeRegistry,
  room: string,
  now: number,
  join: (nodeId: string) => Promise<T>,
  gone: GoneNodes,
): Promise<T> {
  for (let retries = 0; ; retries++) {
    const { nodeId, placed } = await place(registry, room, now, gone);
    try {
      return await join(nodeId);
    } catch (err) {
      const isGone = noResponders(err);
      if (isGone) gone.add(nodeId, now);
      if (placed || isGone) await unplace(registry, room, nodeId, isGone).catch(() => undefined);
      if (!isGone || retries >= MAX_GONE_RETRIES) throw err;
    }
  }
}

/** Clears the room's placement on `nodeId`, unless some node opened the room (or it is gone). */
async function unplace(
  registry: NodeRegistry,
  room: string,
  nodeId: string,
  gone: boolean,
): Promise<void> {
  if (!gone && (await registry.roomMembers(room)).length > 0) return;
  if ((await registry.getRoomNode(room)) === nodeId) await registry.clearRoom(room);
}

async function place(
  registry: NodeRegistry,
  room: string,
  now: number,
  gone: GoneNodes,
): Promise<{ nodeId: string; placed: boolean }> {
  const [nodes, mapped] = await Promise.all([registry.list(), registry.getRoomNode(room)]);
  const live = liveNodes(nodes, now).filter((n) => !gone.has(n.nodeId, now));
  const home = live.find((n) => n.nodeId === mapped);
  if (home && hasRoom(home)) return { nodeId: home.nodeId, placed: false };
  const members = mapped === null ? [] : await registry.roomMembers(room);
  const pick = leastLoaded(live.filter((n) => members.includes(n.nodeId))) ?? leastLoaded(live);
  if (pick === undefined && live.length > 0) {
    throw new WeirApiError("node_full", "every media node is at its session limit");
  }
  if (pick === undefined) throw new WeirApiError("no_node_available", "no media node is available");
  if (home) return { nodeId: pick.nodeId, placed: false };
  await registry.setRoomNode(room, pick.nodeId);
  return { nodeId: pick.nodeId, placed: true };
}

/**
 * A node that can answer for `room` (its room directory lists every node's participants): the
 * room's node while its heartbeat is fresh, else any fresh node hosting the room, else null.
 * No placement.
 */
export async function roomNode(
  registry: NodeRegistry,
  room: string,
  now: number,
): Promise<string | null> {
  const mapped = await registry.getRoomNode(room);
  if (mapped === null) return null;
  const nodes = await registry.list();
  const home = nodes.find((n) => n.nodeId === mapped);
  if (isFresh(home, now)) return mapped;
  const members = await registry.roomMembers(room);
  return nodes.find((n) => members.includes(n.nodeId) && isFresh(n, now))?.nodeId ?? null;
}
