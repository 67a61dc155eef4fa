import { liveNodes, NODE_STALE_MS, type NodeInfo, type NodeRegistry } from "../../shared/bus.ts";
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
 * The node for new work in `room`: the node the room is mapped to while that node is live
 * (fresh, not draining); otherwise the least-loaded live node, remembered as the room's node.
 * Throws 503 no_node_available when no node is live.
 */
export async function placeRoom(
  registry: NodeRegistry,
  room: string,
  now: number,
): Promise<string> {
  const [nodes, mapped] = await Promise.all([registry.list(), registry.getRoomNode(room)]);
  const live = liveNodes(nodes, now);
  if (mapped !== null && live.some((n) => n.nodeId === mapped && hasRoom(n))) return mapped;
  const pick = leastLoaded(live);
  if (pick === undefined) throw new WeirApiError("no_node_available", "no media node is available");
  await registry.setRoomNode(room, pick.nodeId);
  return pick.nodeId;
}

/** The node currently holding `room` (mapped and heartbeat fresh), or null. No placement. */
export async function roomNode(
  registry: NodeRegistry,
  room: string,
  now: number,
): Promise<string | null> {
  const mapped = await registry.getRoomNode(room);
  if (mapped === null) return null;
  const nodes = await registry.list();
  return isFresh(
    nodes.find((n) => n.nodeId === mapped),
    now,
  )
    ? mapped
    : null;
}
