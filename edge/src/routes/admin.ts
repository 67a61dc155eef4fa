/**
 * The server API: room and participant management for an application's backend (`admin` grant).
 * Each route checks the token and the body here, then `ServerApi` sends the command to every
 * media node that hosts the room and adds up their answers.
 */
import type { Hono } from "hono";
import type * as z from "zod/mini";
import { WeirApiError } from "../../../shared/errors.ts";
import { LIMITS } from "../../../shared/limits.ts";
import {
  CloseRoomBody,
  Identity,
  MuteTrackBody,
  PublisherId,
  RemoveParticipantBody,
  SERVER_DATA_MAX_CHARS,
  SendDataBody,
  UpdateParticipantBody,
} from "../../../shared/serverApi.ts";
import { ANY_ROOM } from "../../../shared/token.ts";
import { requireAnyGrant, requireRoomName } from "../access.ts";
import { mediaType, readTextLimited } from "../http.ts";
import { ServerApi } from "../serverApi.ts";
import type { EdgeContext } from "./context.ts";

export function adminRoutes(app: Hono, edge: EdgeContext): void {
  const api = <T>(fn: (api: ServerApi) => Promise<T>) =>
    edge.deps.withBus((ctx) => fn(new ServerApi({ ...ctx, now: edge.now })));

  /** The token (401), the room name (400), the admin grant for that room (403). */
  const admin = async (req: Request, roomParam: string) => {
    const claims = await edge.access.bearer(req);
    const room = requireRoomName(roomParam);
    requireAnyGrant(claims, room, ["admin"]);
    return room;
  };

  app.get("/v1/rooms", async (c) => {
    const claims = await edge.access.bearer(c.req.raw);
    requireAnyGrant(claims, null, ["admin"]);
    const list = await api((a) => a.listRooms());
    // a token bound to one room sees that room only
    if (claims.room !== ANY_ROOM) list.rooms = list.rooms.filter((r) => r.room === claims.room);
    return c.json(list);
  });

  app.delete("/v1/rooms/:room", async (c) => {
    const room = await admin(c.req.raw, c.req.param("room"));
    const body = await readJson(c.req.raw, CloseRoomBody, LIMITS.jsonBytes, true);
    return c.json(await api((a) => a.closeRoom(room, body.reason)));
  });

  app.delete("/v1/rooms/:room/participants/:identity", async (c) => {
    const room = await admin(c.req.raw, c.req.param("room"));
    const identity = param(Identity, c.req.param("identity"), "identity");
    const body = await readJson(c.req.raw, RemoveParticipantBody, LIMITS.jsonBytes, true);
    return c.json(await api((a) => a.removeParticipant(room, identity, body.reason)));
  });

  app.patch("/v1/rooms/:room/participants/:identity", async (c) => {
    const room = await admin(c.req.raw, c.req.param("room"));
    const identity = param(Identity, c.req.param("identity"), "identity");
    const body = await readJson(c.req.raw, UpdateParticipantBody, LIMITS.jsonBytes);
    return c.json(await api((a) => a.updateParticipant(room, identity, body.grants)));
  });

  app.post("/v1/rooms/:room/participants/:identity/tracks/:publisherId/mute", async (c) => {
    const room = await admin(c.req.raw, c.req.param("room"));
    const identity = param(Identity, c.req.param("identity"), "identity");
    const publisherId = param(PublisherId, c.req.param("publisherId"), "track id");
    const body = await readJson(c.req.raw, MuteTrackBody, LIMITS.jsonBytes);
    return c.json(await api((a) => a.muteTrack(room, identity, publisherId, body.muted)));
  });

  app.post("/v1/rooms/:room/data", async (c) => {
    const room = await admin(c.req.raw, c.req.param("room"));
    const limit = SERVER_DATA_MAX_CHARS + LIMITS.jsonBytes;
    const body = await readJson(c.req.raw, SendDataBody, limit);
    return c.json(await api((a) => a.sendData(room, body)));
  });
}

/** A path parameter checked against its schema (400 otherwise). */
function param<T>(schema: z.ZodMiniType<T>, value: string, what: string): T {
  const r = schema.safeParse(value);
  if (!r.success) throw new WeirApiError("bad_request", `invalid ${what}`);
  return r.data;
}

/**
 * A JSON body (`application/json`, at most `limit` bytes) checked against `schema`: 400
 * `invalid_json` when it is not JSON, 400 `bad_request` naming the first problem otherwise. With
 * `optional`, an empty body stands for `{}`.
 */
async function readJson<T>(
  req: Request,
  schema: z.ZodMiniType<T>,
  limit: number,
  optional = false,
): Promise<T> {
  const text = await readTextLimited(req, limit, "body");
  let json: unknown = {};
  if (text.trim().length === 0 && !optional)
    throw new WeirApiError("bad_request", "a JSON body is required");
  if (text.trim().length > 0) {
    const type = mediaType(req.headers.get("content-type"));
    if (type !== "application/json")
      throw new WeirApiError(
        "unsupported_media_type",
        `Content-Type must be application/json${type ? `, not ${type}` : ""}`,
      );
    try {
      json = JSON.parse(text);
    } catch {
      throw new WeirApiError("invalid_json", "the body is not JSON");
    }
  }
  const r = schema.safeParse(json);
  if (!r.success) {
    const issue = r.error.issues[0];
    const where = issue?.path.length ? ` at ${issue.path.join(".")}` : "";
    throw new WeirApiError("bad_request", `invalid body${where}: ${issue?.message ?? "malformed"}`);
  }
  return r.data;
}
