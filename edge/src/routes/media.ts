/** WHIP / WHEP (RFC 9725) and the session resource they create. */
import type { Hono } from "hono";
import { WeirApiError } from "../../../shared/errors.ts";
import { LIMITS } from "../../../shared/limits.ts";
import { callNode } from "../../../shared/nodeClient.ts";
import type { SessionCaller } from "../../../shared/rpc.ts";
import { ANY_ROOM, type Grant, type TokenClaims } from "../../../shared/token.ts";
import { requireAnyGrant, requireRoomName } from "../access.ts";
import { makeSessionId, parseSessionId } from "../auth/sessionId.ts";
import { quoteEtag, readTextLimited, requireContentType, requireSdp } from "../http.ts";
import { joinPlaced } from "../placement.ts";
import { iceServerLinks } from "../turn.ts";
import type { EdgeContext } from "./context.ts";

const SDP = "application/sdp";
const SDPFRAG = "application/trickle-ice-sdpfrag";
/** A participant identity (a token's `sub`): 1-128 characters, no control characters. */
// biome-ignore lint/suspicious/noControlCharactersInRegex: rejecting control characters is the point
const IDENTITY = /^[^\u0000-\u001f\u007f]{1,128}$/;

export function mediaRoutes(app: Hono, edge: EdgeContext): void {
  for (const kind of ["whip", "whep"] as const) {
    app.post(`/v1/rooms/:room/${kind}`, async (c) => {
      const claims = await edge.access.bearer(c.req.raw);
      const room = requireRoomName(c.req.param("room"));
      requireAnyGrant(claims, room, [kind === "whip" ? "publish" : "subscribe"]);
      const participant = kind === "whep" ? c.req.query("participant") : undefined;
      if (participant !== undefined && !IDENTITY.test(participant))
        throw new WeirApiError("bad_request", "invalid participant");
      requireContentType(c.req.raw, SDP);
      const sdp = requireSdp(await readTextLimited(c.req.raw, LIMITS.sdpBytes, "SDP offer"));

      const created = await edge.deps.withBus(({ bus, registry }) =>
        joinPlaced(
          registry,
          room,
          edge.now(),
          async (nodeId) => {
            const r =
              kind === "whip"
                ? await callNode(bus, nodeId, {
                    op: "whip.create",
                    room,
                    identity: claims.sub,
                    sdp,
                  })
                : await callNode(bus, nodeId, {
                    op: "whep.create",
                    room,
                    identity: claims.sub,
                    sdp,
                    ...(participant !== undefined ? { participant } : {}),
                  });
            return { ...r, nodeId };
          },
          edge.gone,
        ),
      );
      const id = await makeSessionId(created.nodeId, created.sessionId, edge.deps.sessionSecret);
      const headers = new Headers({
        "content-type": SDP,
        location: `/v1/sessions/${id}`,
        etag: quoteEtag(created.etag),
        "accept-patch": SDPFRAG,
      });
      // RFC 9725 section 4.6: the client's STUN/TURN servers, TURN with this client's credential.
      for (const link of iceServerLinks(await edge.iceServers(claims.sub)))
        headers.append("link", link);
      return new Response(created.sdp, { status: 201, headers });
    });
  }

  app.patch("/v1/sessions/:id", async (c) => {
    const claims = await edge.access.bearer(c.req.raw);
    requireAnyGrant(claims, null, SESSION_GRANTS);
    const ref = await parseSessionId(c.req.param("id"), edge.deps.sessionSecret);
    requireContentType(c.req.raw, SDPFRAG);
    const sdpfrag = await readTextLimited(c.req.raw, LIMITS.sdpFragBytes, "SDP fragment");
    const ifMatch = c.req.header("if-match");
    const r = await edge.deps.withBus(({ bus }) =>
      callNode(bus, ref.nodeId, {
        op: "session.patch",
        ...sessionCaller(claims, ref.localId),
        sdpfrag,
        ...(ifMatch !== undefined ? { ifMatch } : {}),
      }),
    );
    const etag = quoteEtag(r.etag);
    if (r.sdpfrag === undefined) return new Response(null, { status: 204, headers: { etag } });
    return new Response(r.sdpfrag, { status: 200, headers: { "content-type": SDPFRAG, etag } });
  });

  app.delete("/v1/sessions/:id", async (c) => {
    const claims = await edge.access.bearer(c.req.raw);
    requireAnyGrant(claims, null, SESSION_GRANTS);
    const ref = await parseSessionId(c.req.param("id"), edge.deps.sessionSecret);
    await edge.deps.withBus(({ bus }) =>
      callNode(bus, ref.nodeId, { op: "session.delete", ...sessionCaller(claims, ref.localId) }),
    );
    return c.json({ ok: true }, 200);
  });
}

/** Who may try PATCH or DELETE; the node then allows the session's own identity, or admin. */
const SESSION_GRANTS: Grant[] = ["publish", "subscribe", "admin"];

/**
 * The caller as the node judges it (MediaNode owns the rule): identity, admin grant, and the
 * token's room (a room-bound token only sees that room's sessions; `*` tokens any).
 */
function sessionCaller(claims: TokenClaims, sessionId: string): SessionCaller {
  const caller: SessionCaller = { sessionId, identity: claims.sub };
  if (claims.grants.includes("admin")) caller.admin = true;
  if (claims.room !== ANY_ROOM) caller.room = claims.room;
  return caller;
}
