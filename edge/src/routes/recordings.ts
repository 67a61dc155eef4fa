/**
 * Recordings: `POST /v1/rooms/:room/recordings` (start), `GET /v1/rooms/:room/recordings` (list)
 * and `DELETE /v1/recordings/:id` (stop), with the `record` or `admin` grant. The start goes to
 * the room's node, which runs it on the node hosting the tracks; a stop goes to the node the
 * recording id names; a list to the room's node, which asks the others.
 */
import type { Hono } from "hono";
import { liveNodes } from "../../../shared/bus/bus.ts";
import { WeirApiError } from "../../../shared/errors.ts";
import { LIMITS } from "../../../shared/limits.ts";
import { callNode, safeJson } from "../../../shared/nodeClient.ts";
import { RecordingRequest, recordingNode } from "../../../shared/recording.ts";
import { ANY_ROOM, RECORDING_GRANTS } from "../../../shared/token.ts";
import { requireAnyGrant, requireRoomName } from "../access.ts";
import { readTextLimited, requireContentType } from "../http.ts";
import { roomNode } from "../placement.ts";
import type { EdgeContext } from "./context.ts";

const GRANTS = [...RECORDING_GRANTS];

export function recordingRoutes(app: Hono, edge: EdgeContext): void {
  app.post("/v1/rooms/:room/recordings", async (c) => {
    const claims = await edge.access.bearer(c.req.raw);
    const room = requireRoomName(c.req.param("room"));
    requireAnyGrant(claims, room, GRANTS);
    const text = await readTextLimited(c.req.raw, LIMITS.jsonBytes, "body");
    // An empty body records the whole room.
    if (text.trim() !== "") requireContentType(c.req.raw, "application/json");
    const json = text.trim() === "" ? {} : safeJson(text);
    if (json === undefined) throw new WeirApiError("invalid_json", "body is not JSON");
    const parsed = RecordingRequest.safeParse(json);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      const where = issue?.path.length ? ` at ${issue.path.join(".")}` : "";
      throw new WeirApiError("bad_request", `invalid recording request${where}: ${issue?.message}`);
    }
    const info = await edge.deps.withBus(async ({ bus, registry }) => {
      const nodeId = await roomNode(registry, room, edge.now());
      if (nodeId === null) throw new WeirApiError("room_not_found", `nobody is in room ${room}`);
      return callNode(bus, nodeId, {
        op: "recording.start",
        room,
        identity: claims.sub,
        request: parsed.data,
      });
    });
    return c.json(info, 201, { location: `/v1/recordings/${info.recordingId}` });
  });

  app.get("/v1/rooms/:room/recordings", async (c) => {
    const claims = await edge.access.bearer(c.req.raw);
    const room = requireRoomName(c.req.param("room"));
    requireAnyGrant(claims, room, GRANTS);
    const list = await edge.deps.withBus(async ({ bus, registry }) => {
      // Recordings outlive their room: any live node can list them (it asks the others).
      const nodeId =
        (await roomNode(registry, room, edge.now())) ??
        liveNodes(await registry.list(), edge.now())[0]?.nodeId;
      if (nodeId === undefined) throw new WeirApiError("no_node_available", "no media node is up");
      return callNode(bus, nodeId, { op: "recording.list", room });
    });
    return c.json(list);
  });

  app.delete("/v1/recordings/:id", async (c) => {
    const claims = await edge.access.bearer(c.req.raw);
    requireAnyGrant(claims, null, GRANTS);
    const id = c.req.param("id");
    const nodeId = recordingNode(id);
    if (nodeId === null) throw new WeirApiError("not_found", "no such recording");
    const info = await edge.deps.withBus(async ({ bus, registry }) => {
      // A node that is not up holds no running recording (its files stay on its disk).
      if (!liveNodes(await registry.list(), edge.now()).some((n) => n.nodeId === nodeId))
        throw new WeirApiError("not_found", `no recording ${id}: node ${nodeId} is not up`);
      return callNode(bus, nodeId, {
        op: "recording.stop",
        recordingId: id,
        ...(claims.room === ANY_ROOM ? {} : { room: claims.room }),
      });
    });
    return c.json(info);
  });
}
