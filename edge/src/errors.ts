import type { Context } from "hono";
import { HTTPException } from "hono/http-exception";
import { BusError, type BusErrorCode } from "../../shared/bus/bus.ts";
import { type ErrorCode, WeirApiError } from "../../shared/errors.ts";

/** The JSON error body every route answers with: `{ "error": { "code", "message" } }`. */
export function errorResponse(code: ErrorCode, message: string): Response {
  const err = new WeirApiError(code, message);
  return new Response(JSON.stringify({ error: err.toJSON() }), {
    status: err.status,
    headers: { "content-type": "application/json; charset=utf-8" },
  });
}

const HTTP_CODES: Record<number, ErrorCode> = {
  400: "bad_request",
  401: "unauthorized",
  403: "forbidden",
  404: "not_found",
  409: "conflict",
  412: "precondition_failed",
  413: "payload_too_large",
  415: "unsupported_media_type",
  503: "node_unavailable",
};

const BUS_CODES: Record<BusErrorCode, ErrorCode> = {
  node_unavailable: "node_unavailable",
  connection_failed: "node_unavailable",
  closed: "node_unavailable",
  payload_too_large: "payload_too_large",
  invalid_subject: "internal",
};

/** Hono `onError`: WeirApiError (and AuthError, a subclass) keep their code; anything else is 500. */
export function onError(err: Error, _c: Context): Response {
  if (err instanceof WeirApiError) return errorResponse(err.code, err.message);
  if (err instanceof BusError) {
    if (err.code !== "node_unavailable") console.error("edge: bus error", err);
    return errorResponse(BUS_CODES[err.code] ?? "internal", "the message bus is unavailable");
  }
  if (err instanceof HTTPException) {
    const code = HTTP_CODES[err.status] ?? "internal";
    return errorResponse(code, err.message || code);
  }
  console.error("edge: unexpected error", err);
  return errorResponse("internal", "internal error");
}

export function notFound(c: Context): Response {
  return errorResponse("not_found", `no route for ${c.req.method} ${new URL(c.req.url).pathname}`);
}
