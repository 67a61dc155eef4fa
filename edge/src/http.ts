import { WeirApiError } from "../../shared/errors.ts";

/** The media type of a Content-Type header, lower case, without parameters. */
export function mediaType(header: string | undefined | null): string {
  return (header ?? "").split(";")[0].trim().toLowerCase();
}

/** Throws 415 unless the request's Content-Type is `expected`. */
export function requireContentType(req: Request, expected: string): void {
  const got = mediaType(req.headers.get("content-type"));
  if (got !== expected)
    throw new WeirApiError(
      "unsupported_media_type",
      `Content-Type must be ${expected}${got ? `, not ${got}` : ""}`,
    );
}

/**
 * Reads a request body as UTF-8 text, at most `limit` bytes: rejects a larger Content-Length up
 * front and stops reading (cancelling the stream) as soon as the bytes read pass the limit, so a
 * lying or absent Content-Length cannot make the edge buffer more.
 */
export async function readTextLimited(req: Request, limit: number, what: string): Promise<string> {
  const tooLarge = () =>
    new WeirApiError("payload_too_large", `${what} is larger than ${limit} bytes`);
  const declared = req.headers.get("content-length");
  if (declared !== null) {
    const n = Number(declared);
    if (!Number.isFinite(n) || n < 0) throw new WeirApiError("bad_request", "bad Content-Length");
    if (n > limit) throw tooLarge();
  }
  if (!req.body) return "";
  const reader = req.body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > limit) {
      await reader.cancel().catch(() => {});
      throw tooLarge();
    }
    chunks.push(value);
  }
  const bytes = new Uint8Array(total);
  let at = 0;
  for (const c of chunks) {
    bytes.set(c, at);
    at += c.byteLength;
  }
  try {
    return new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    throw new WeirApiError("bad_request", `${what} is not valid UTF-8`);
  }
}

/** A cheap shape check of an SDP offer before it crosses the bus (nodes parse it for real). */
export function requireSdp(text: string): string {
  if (!/^v=0\r?\n/.test(text) || !/\r?\nm=/.test(text))
    throw new WeirApiError("invalid_sdp", "body is not an SDP offer (v=0 ... m=)");
  return text;
}

/** HTTP entity tags are quoted strings; the node's etag may come bare. */
export function quoteEtag(etag: string): string {
  return etag.startsWith('"') || etag.startsWith('W/"') ? etag : `"${etag}"`;
}
