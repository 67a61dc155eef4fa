/**
 * The WebSocket signaling protocol, platform-free: a client frame becomes a validated
 * `ws.message` command to the session's media node and its reply a frame; node events on
 * `weir.session.<id>.events` become frames. The Worker and Node adapters only move frames.
 */
import type { BusSubscription } from "../../shared/bus/bus.ts";
import { type ErrorCode, WeirApiError } from "../../shared/errors.ts";
import { LIMITS, WS_CLOSE_RATE_LIMITED, WS_LIMITS } from "../../shared/limits.ts";
import { callNode, safeJson } from "../../shared/nodeClient.ts";
import { subjects } from "../../shared/subjects.ts";
import type { TokenClaims } from "../../shared/token.ts";
import {
  ClientMessage,
  type IceServer,
  ServerMessage,
  WS_CLOSE_REMOVED,
  WS_CLOSE_REPLACED,
  WS_CLOSE_TOKEN_EXPIRED,
} from "../../shared/ws.ts";
import { missingGrant } from "../../shared/wsGrants.ts";
import type { BusContext } from "./deps.ts";
import { TokenBucket } from "./rateLimit.ts";

/** The socket as the protocol sees it. */
export interface WsSocket {
  send(text: string): void;
  close(code?: number, reason?: string): void;
}

/** What a platform adapter drives: open once, frames, close once. */
export interface WsHandler {
  open(socket: WsSocket): void;
  message(data: string | ArrayBuffer | ArrayBufferView): void;
  close(): void;
  /** Settles when the session is over (the Worker keeps its NATS connection until then). */
  readonly closed: Promise<void>;
}

/** How long an opened session waits for the adapter to attach the socket. */
export const ATTACH_TIMEOUT_MS = 15_000;

export interface WsSessionOptions {
  ctx: BusContext;
  nodeId: string;
  room: string;
  claims: TokenClaims;
  /** Added to the node's `welcome` (the edge, not the node, knows the TURN settings). */
  iceServers?: IceServer[];
  /** Verifies a refreshed token (a `token` message). */
  verify(token: string): Promise<TokenClaims>;
}

/**
 * Opens a signaling session on the room's node (`ws.open`) and subscribes to its events.
 * Node errors (no node, draining...) throw before any upgrade, so they answer as HTTP errors.
 */
export async function openWsSession(opts: WsSessionOptions): Promise<WsHandler> {
  const { ctx, nodeId, room, claims, iceServers } = opts;
  const opened = await callNode(ctx.bus, nodeId, {
    op: "ws.open",
    room,
    identity: claims.sub,
    grants: claims.grants,
  });
  try {
    const welcome =
      opened.welcome.type === "welcome" && iceServers !== undefined && iceServers.length > 0
        ? { ...opened.welcome, iceServers }
        : opened.welcome;
    return new WsBridge(opts, opened.sessionId, welcome);
  } catch (err) {
    // No socket will ever close this session: end it on the node now.
    void callNode(ctx.bus, nodeId, { op: "ws.close", sessionId: opened.sessionId }).catch(() => {});
    throw err;
  }
}

/** One client socket and its `WsSession` on the node: frames both ways, grants checked here. */
class WsBridge implements WsHandler {
  readonly closed: Promise<void>;
  #resolveClosed!: () => void;
  #socket: WsSocket | null = null;
  #backlog: string[] = [];
  #sub: BusSubscription | null;
  #chain: Promise<void> = Promise.resolve();
  #pending = 0;
  readonly #rate = new TokenBucket(WS_LIMITS.messagesPerSecond, WS_LIMITS.burst);
  #done = false;
  #attachTimer: ReturnType<typeof setTimeout> | undefined;
  #expiry: ReturnType<typeof setTimeout> | undefined;
  readonly ctx: BusContext;
  readonly nodeId: string;
  /** The first token's claims, with the grants the server API set since (`grants` events). */
  claims: TokenClaims;
  /** The first token's grants: a refreshed token must carry at least these. */
  readonly #tokenGrants: TokenClaims["grants"];

  constructor(
    readonly opts: WsSessionOptions,
    readonly sessionId: string,
    welcome: ServerMessage,
  ) {
    const { ctx } = opts;
    this.ctx = ctx;
    this.nodeId = opts.nodeId;
    this.claims = opts.claims;
    this.#tokenGrants = opts.claims.grants;
    this.closed = new Promise((r) => {
      this.#resolveClosed = r;
    });
    this.#expireAt(this.claims.exp);
    this.#backlog.push(JSON.stringify(welcome));
    this.#sub = ctx.bus.subscribe(subjects.sessionEvents(sessionId), (data) => this.#event(data));
    this.#attachTimer = setTimeout(() => this.close(), ATTACH_TIMEOUT_MS);
  }

  open(socket: WsSocket): void {
    if (this.#done) {
      socket.close(1011, "session closed");
      return;
    }
    clearTimeout(this.#attachTimer);
    this.#socket = socket;
    for (const frame of this.#backlog) this.#send(frame);
    this.#backlog = [];
  }

  message(data: string | ArrayBuffer | ArrayBufferView): void {
    if (this.#done) return;
    if (!this.#rate.take()) {
      this.#abort(`over ${WS_LIMITS.messagesPerSecond} messages per second`);
      return;
    }
    if (typeof data !== "string") {
      this.#error(undefined, "bad_request", "binary frames are not supported; send JSON text");
      return;
    }
    if (utf8Length(data) > LIMITS.wsMessageBytes) {
      this.#error(undefined, "payload_too_large", `message over ${LIMITS.wsMessageBytes} bytes`);
      return;
    }
    const json = safeJson(data);
    if (json === undefined) {
      this.#error(undefined, "invalid_json", "message is not JSON");
      return;
    }
    const parsed = ClientMessage.safeParse(json);
    if (!parsed.success) {
      this.#error(requestId(json), "bad_request", "invalid message");
      return;
    }
    const message = parsed.data;
    const id = "id" in message ? message.id : undefined;
    const missing = missingGrant(message, this.claims.grants);
    if (missing !== null) {
      this.#error(id, "forbidden", missing);
      return;
    }
    if (message.type === "token") {
      void this.#refresh(message.id, message.token);
      return;
    }
    if (this.#pending >= WS_LIMITS.inFlight) {
      this.#abort(`over ${WS_LIMITS.inFlight} requests in flight`);
      return;
    }
    this.#pending++;
    // Sent to the node in arrival order, but without waiting for the previous reply: a reply can
    // depend on a later message (a subscribe waits on the node for the client's answer to the
    // previous offer), and waiting here deadlocked until the RPC timeout.
    const call = (async () => {
      try {
        const r = await callNode(this.ctx.bus, this.nodeId, {
          op: "ws.message",
          sessionId: this.sessionId,
          message,
        });
        if (r.reply !== undefined) this.#send(JSON.stringify(r.reply));
      } catch (err) {
        const e = err instanceof WeirApiError ? err : new WeirApiError("internal", "failed");
        this.#error(id, e.code, e.message);
      } finally {
        this.#pending--;
      }
    })();
    this.#chain = this.#chain.then(() => call);
  }

  close(): void {
    if (this.#done) return;
    this.#done = true;
    clearTimeout(this.#attachTimer);
    clearTimeout(this.#expiry);
    this.#sub?.unsubscribe();
    this.#sub = null;
    // Let requests in flight finish before telling the node the session is over.
    void this.#chain
      .then(() =>
        callNode(this.ctx.bus, this.nodeId, { op: "ws.close", sessionId: this.sessionId }),
      )
      .catch(() => {})
      .finally(() => this.#resolveClosed());
  }

  /** Closes the socket when the token expires (`exp`, seconds). */
  #expireAt(exp: number): void {
    clearTimeout(this.#expiry);
    const ms = Math.max(0, exp * 1000 - Date.now());
    this.#expiry = setTimeout(() => {
      this.#socket?.close(WS_CLOSE_TOKEN_EXPIRED, "token expired");
      this.close();
    }, ms);
  }

  /** A fresh token: same identity, a room and grants that cover this session's. */
  async #refresh(id: string, token: string): Promise<void> {
    let next: TokenClaims;
    try {
      next = await this.opts.verify(token);
    } catch (err) {
      const e = err instanceof WeirApiError ? err : new WeirApiError("unauthorized", "bad token");
      return this.#error(id, e.code, e.message);
    }
    const room = next.room === this.opts.room || next.room === "*";
    // the grants the token gave; the server API may have changed the session's since, and a
    // fresh token does not undo that (the app's token service need not know of it)
    const grants = this.#tokenGrants.every((g) => next.grants.includes(g));
    if (next.sub !== this.claims.sub || !room || !grants) {
      return this.#error(id, "forbidden", "the token is for another identity, room or grants");
    }
    if (this.#done) return;
    this.claims = { ...this.claims, exp: next.exp };
    this.#expireAt(next.exp);
    this.#send(JSON.stringify({ type: "ok", id }));
  }

  /** Closes an abusive socket (WS_CLOSE_RATE_LIMITED) and ends its session. */
  #abort(reason: string): void {
    this.#socket?.close(WS_CLOSE_RATE_LIMITED, reason);
    this.close();
  }

  #event(data: string): void {
    const parsed = ServerMessage.safeParse(safeJson(data));
    if (!parsed.success) return; // a node bug must not reach clients
    const m = parsed.data;
    // the node's grants rule from now on: the edge checks the same before a message goes out
    if (m.type === "grants") this.claims = { ...this.claims, grants: m.grants };
    this.#send(JSON.stringify(m));
    if (m.type === "replaced") {
      this.#socket?.close(WS_CLOSE_REPLACED, "replaced by a newer session");
      this.close();
    } else if (m.type === "removed") {
      // a close reason is at most 123 bytes; the removed message carried the whole reason
      this.#socket?.close(WS_CLOSE_REMOVED, closeReason(m.cause, m.reason));
      this.close();
    }
  }

  #send(frame: string): void {
    if (this.#done && this.#socket === null) return;
    if (this.#socket === null) {
      this.#backlog.push(frame);
      return;
    }
    try {
      this.#socket.send(frame);
    } catch {
      this.close();
    }
  }

  #error(id: string | undefined, code: ErrorCode, message: string): void {
    const frame: ServerMessage = { type: "error", error: { code, message } };
    if (id !== undefined) frame.id = id;
    this.#send(JSON.stringify(frame));
  }
}

/** A WebSocket close reason (at most 123 UTF-8 bytes): the cause, then as much of the reason. */
function closeReason(cause: string, reason: string): string {
  let out = `${cause}: ${reason}`;
  const enc = new TextEncoder();
  while (enc.encode(out).length > 123) out = out.slice(0, -1);
  return out;
}

function utf8Length(s: string): number {
  if (s.length * 3 <= LIMITS.wsMessageBytes) return s.length;
  return new TextEncoder().encode(s).length;
}

/** The `id` of a rejected message when it looks like a valid request id, to echo it. */
function requestId(json: unknown): string | undefined {
  if (typeof json !== "object" || json === null) return undefined;
  const id = (json as { id?: unknown }).id;
  return typeof id === "string" && id.length > 0 && id.length <= 64 ? id : undefined;
}
