/**
 * The demo page, its script and the client bundle from disk, and the development token route:
 * what `npm start` (the embedded process) and `npm run dev` (the Worker edge in miniflare) serve
 * beside the edge API. Web `Request`/`Response` only, so either host can call it.
 */
import { readFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { signToken } from "../../edge/src/auth/jwt.ts";
import { readTextLimited } from "../../edge/src/http.ts";
import { WeirApiError } from "../../shared/errors.ts";
import { NAME_PATTERN } from "../../shared/limits.ts";
import { GRANTS, type Grant } from "../../shared/token.ts";

const root = (p: string) => fileURLToPath(new URL(`../../client/${p}`, import.meta.url));

/** URL path -> [file under client/, content type]. Read on every request: edits show at once. */
export const DEMO_FILES: Record<string, [file: string, type: string]> = {
  "/": ["demo/index.html", "text/html; charset=utf-8"],
  "/demo.js": ["demo/demo.js", "text/javascript; charset=utf-8"],
  "/weir-client.js": ["dist/weir-client.js", "text/javascript; charset=utf-8"],
  "/weir-client.js.map": ["dist/weir-client.js.map", "application/json"],
};

export const DEV_TOKEN_PATH = "/dev/token";

/** A /dev/token request is `{ room, identity }`: a few hundred bytes; larger is refused unread. */
const DEV_TOKEN_BODY_BYTES = 4 * 1024;

/**
 * What a development token may do: publish, subscribe, data, and `record` where this build's
 * tokens know that grant (recording control), so the demo can show its recording button.
 */
export function devGrants(): Grant[] {
  const wanted = ["publish", "subscribe", "data", "record"];
  return GRANTS.filter((g) => wanted.includes(g));
}

/** The demo file for `path`, or null when `path` is not one. */
export async function demoFile(path: string): Promise<Response | null> {
  const entry = DEMO_FILES[path];
  if (!entry) return null;
  const [file, type] = entry;
  try {
    const body = await readFile(root(file));
    return new Response(body, {
      status: 200,
      headers: { "content-type": type, "cache-control": "no-store" },
    });
  } catch {
    const hint = file.startsWith("dist/") ? " (build it: node client/build.mjs)" : "";
    return new Response(`${file} is missing${hint}\n`, {
      status: 500,
      headers: { "content-type": "text/plain; charset=utf-8" },
    });
  }
}

/**
 * POST /dev/token `{ room, identity }` -> `{ token }`: an hour's token signed with `secret`.
 * Development only: whoever reaches it can join any room as anyone.
 */
export async function devTokenResponse(request: Request, secret: string): Promise<Response> {
  let text: string;
  try {
    text = await readTextLimited(request, DEV_TOKEN_BODY_BYTES, "body");
  } catch (err) {
    if (!(err instanceof WeirApiError)) throw err;
    return Response.json({ error: err.toJSON() }, { status: err.status });
  }
  const body = safeParse(text);
  if (!body || !NAME_PATTERN.test(body.room) || !NAME_PATTERN.test(body.identity)) {
    return Response.json(
      { error: { code: "bad_request", message: "room and identity: [A-Za-z0-9_-]{1,128}" } },
      { status: 400 },
    );
  }
  const exp = Math.floor(Date.now() / 1000) + 3600;
  const token = await signToken(
    { sub: body.identity, room: body.room, grants: devGrants(), exp },
    secret,
  );
  return Response.json({ token });
}

/** A day's token for room "demo" to print at start (development secret only). */
export function demoToken(secret: string): Promise<string> {
  const exp = Math.floor(Date.now() / 1000) + 24 * 3600;
  return signToken({ sub: "developer", room: "demo", grants: devGrants(), exp }, secret);
}

function safeParse(text: string): { room: string; identity: string } | null {
  try {
    const v = JSON.parse(text) as { room?: unknown; identity?: unknown };
    return typeof v.room === "string" && typeof v.identity === "string"
      ? { room: v.room, identity: v.identity }
      : null;
  } catch {
    return null;
  }
}
