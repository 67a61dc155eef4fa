// Edge placement: a room stays on its live node; otherwise the least-loaded live node.
import assert from "node:assert/strict";
import { test } from "node:test";
import { GoneNodes, joinPlaced, leastLoaded, roomNode } from "../../edge/src/placement.ts";
import { BusError, NODE_STALE_MS, type NodeInfo } from "../../shared/bus/bus.ts";
import { MemoryRegistry } from "../../shared/bus/memoryBus.ts";
import { WeirApiError } from "../../shared/errors.ts";

const NOW = 1_000_000;
function node(nodeId: string, over: Partial<NodeInfo> = {}): NodeInfo {
  return {
    nodeId,
    address: nodeId,
    load: 0,
    sessions: 0,
    maxSessions: 10,
    draining: false,
    heartbeatAt: NOW,
    ...over,
  };
}

/** The node a join would go to (the join itself succeeds). */
function placeRoom(r: MemoryRegistry, room: string, now: number): Promise<string> {
  return joinPlaced(r, room, now, async (nodeId) => nodeId, new GoneNodes());
}

async function registryOf(...nodes: NodeInfo[]): Promise<MemoryRegistry> {
  const r = new MemoryRegistry();
  for (const n of nodes) await r.put(n);
  return r;
}

test("leastLoaded: by load, then sessions; full nodes skipped; ties spread", () => {
  assert.equal(leastLoaded([node("a", { load: 0.5 }), node("b", { load: 0.1 })])?.nodeId, "b");
  assert.equal(leastLoaded([node("a", { sessions: 3 }), node("b", { sessions: 1 })])?.nodeId, "b");
  assert.equal(leastLoaded([node("a", { sessions: 10 }), node("b", { load: 0.9 })])?.nodeId, "b");
  assert.equal(leastLoaded([node("a", { sessions: 10 })]), undefined);
  const ties = [node("a"), node("b")];
  assert.equal(leastLoaded(ties, () => 0)?.nodeId, "a");
  assert.equal(leastLoaded(ties, () => 0.99)?.nodeId, "b");
});

test("placeRoom: a mapped live node keeps the room; stale or draining ones are replaced", async () => {
  const r = await registryOf(node("a", { load: 0.5 }), node("b"));
  await r.setRoomNode("room", "a");
  assert.equal(await placeRoom(r, "room", NOW), "a");

  await r.put(node("a", { heartbeatAt: NOW - 7000 }));
  assert.equal(await placeRoom(r, "room", NOW), "b");
  assert.equal(await r.getRoomNode("room"), "b");

  await r.put(node("b", { draining: true }));
  await r.put(node("c", { load: 0.3 }));
  assert.equal(await placeRoom(r, "room", NOW), "c");
});

test("placeRoom: no live node is 503 no_node_available; roomNode never places", async () => {
  const r = await registryOf(
    node("a", { heartbeatAt: NOW - 60_000 }),
    node("b", { draining: true }),
  );
  await assert.rejects(placeRoom(r, "room", NOW), (e: WeirApiError) => {
    assert.ok(e instanceof WeirApiError);
    assert.equal(e.code, "no_node_available");
    assert.equal(e.status, 503);
    return true;
  });
  assert.equal(await roomNode(r, "room", NOW), null);
  await r.setRoomNode("room", "b");
  assert.equal(await roomNode(r, "room", NOW), "b", "a draining node still answers for its rooms");
  await r.setRoomNode("room", "a");
  assert.equal(await roomNode(r, "room", NOW), null, "a stale node does not");
});

test("placeRoom: a full room spills to a node hosting it, else the least-loaded; its node stays", async () => {
  const r = await registryOf(
    node("a", { sessions: 2, maxSessions: 2 }),
    node("b", { load: 0.5 }),
    node("c", { load: 0.1 }),
  );
  await r.setRoomNode("room", "a");
  assert.equal(await placeRoom(r, "room", NOW), "c", "no other node hosts it: least-loaded");
  await r.addRoomMember("room", "a");
  await r.addRoomMember("room", "b");
  assert.equal(await placeRoom(r, "room", NOW), "b", "b already hosts the room");
  assert.equal(await r.getRoomNode("room"), "a", "a full node keeps its room");

  await r.put(node("b", { sessions: 10, maxSessions: 10 }));
  assert.equal(await placeRoom(r, "room", NOW), "c", "b is full too");
  await r.put(node("a", { sessions: 1, maxSessions: 2 }));
  assert.equal(await placeRoom(r, "room", NOW), "a", "a has room again");

  await r.put(node("a", { heartbeatAt: NOW - 7000 }));
  await r.put(node("b", { load: 0.9 }));
  assert.equal(await placeRoom(r, "room", NOW), "b", "a died: a live member becomes the node");
  assert.equal(await r.getRoomNode("room"), "b");

  await r.put(node("b", { sessions: 10, maxSessions: 10 }));
  await r.put(node("c", { sessions: 10, maxSessions: 10 }));
  await assert.rejects(placeRoom(r, "room", NOW), { code: "node_full" }, "every live node is full");
});

test("roomNode: falls back to a live member when the room's node is stale; members come and go", async () => {
  const r = await registryOf(node("a", { heartbeatAt: NOW - 7000 }), node("b"));
  await r.setRoomNode("room", "a");
  assert.equal(await roomNode(r, "room", NOW), null);
  await r.addRoomMember("room", "a");
  await r.addRoomMember("room", "b");
  assert.deepEqual(await r.roomMembers("room"), ["a", "b"]);
  assert.equal(await roomNode(r, "room", NOW), "b");
  await r.removeRoomMember("room", "b");
  await r.removeRoomMember("room", "b");
  assert.deepEqual(await r.roomMembers("room"), ["a"]);
  assert.equal(await roomNode(r, "room", NOW), null);
});

test("joinPlaced: a failed join undoes the placement it wrote, not one that was there or a room a node opened", async () => {
  const r = await registryOf(node("a"));
  const refused = () => Promise.reject(new WeirApiError("invalid_sdp", "no"));
  await assert.rejects(joinPlaced(r, "new", NOW, refused, new GoneNodes()), WeirApiError);
  assert.equal(await r.getRoomNode("new"), null);
  await r.setRoomNode("old", "a");
  await assert.rejects(joinPlaced(r, "old", NOW, refused, new GoneNodes()), WeirApiError);
  assert.equal(await r.getRoomNode("old"), "a", "a placement it did not write stays");
  const opened = async (nodeId: string) => {
    await r.addRoomMember("busy", nodeId);
    throw new WeirApiError("internal", "failed after the room opened");
  };
  await assert.rejects(joinPlaced(r, "busy", NOW, opened, new GoneNodes()), WeirApiError);
  assert.equal(await r.getRoomNode("busy"), "a", "a room some node opened keeps its node");
});

test("joinPlaced: a node with no responders is gone: the join goes to another node at once, until its heartbeat could be stale", async () => {
  const r = await registryOf(node("a"), node("b", { load: 0.5 }));
  await r.setRoomNode("room", "a");
  const gone = new GoneNodes();
  const tried: string[] = [];
  const join = async (nodeId: string) => {
    tried.push(nodeId);
    if (nodeId === "a") {
      const cause = new BusError("node_unavailable", "no responders", { reason: "no_responders" });
      throw new WeirApiError("node_unavailable", "a did not answer", { cause });
    }
    return nodeId;
  };
  assert.equal(await joinPlaced(r, "room", NOW, join, gone), "b");
  assert.deepEqual(tried, ["a", "b"]);
  assert.equal(await r.getRoomNode("room"), "b");
  assert.ok(gone.has("a", NOW + NODE_STALE_MS));
  assert.ok(!gone.has("a", NOW + NODE_STALE_MS + 1));
  // a timeout is not proof the node is gone: no retry elsewhere
  const slow = async () => {
    const cause = new BusError("node_unavailable", "timed out", { reason: "timeout" });
    throw new WeirApiError("node_unavailable", "b did not answer", { cause });
  };
  await assert.rejects(joinPlaced(r, "room", NOW, slow, gone), WeirApiError);
  assert.ok(!gone.has("b", NOW));
});
