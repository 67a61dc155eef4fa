import type { ClientMessage, ServerMessage } from "../../shared/ws.ts";
import { WeirClientError } from "./errors.ts";
import { TypedEmitter } from "./TypedEmitter.ts";

type Welcome = Extract<ServerMessage, { type: "welcome" }>;
type Reply = Extract<ServerMessage, { id: string }>;
/** A client request before the socket gives it an id. */
export type Request = ClientMessage extends infer M
  ? M extends { id: string }
    ? Omit<M, "id">
    : never
  : never;

interface SocketEvents {
  /** A message that is not the reply to a request: room events, offers, ICE, goaway. */
  message: [ServerMessage];
  close: [number];
}

const REQUEST_TIMEOUT_MS = 15_000;

/** One WebSocket session with the edge: request/reply by id, plus pushed messages. */
export class SignalingSocket extends TypedEmitter<SocketEvents> {
  readonly #ws: WebSocket;
  readonly welcome: Welcome;
  readonly #pending = new Map<string, { resolve(m: Reply): void; reject(e: Error): void }>();
  #nextId = 1;

  private constructor(ws: WebSocket, welcome: Welcome) {
    super();
    this.#ws = ws;
    this.welcome = welcome;
    ws.onmessage = (e) => this.#onMessage(e.data);
    ws.onclose = (e) => {
      for (const p of this.#pending.values())
        p.reject(new WeirClientError("closed", "signaling closed"));
      this.#pending.clear();
      this.emit("close", e.code);
    };
  }

  /** Opens `<base>/v1/rooms/<room>/ws` with the token as subprotocol and waits for the welcome. */
  static connect(baseUrl: string, room: string, token: string): Promise<SignalingSocket> {
    const url = new URL(`/v1/rooms/${encodeURIComponent(room)}/ws`, baseUrl);
    url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
    const ws = new WebSocket(url, ["weir", token]);
    return new Promise((resolve, reject) => {
      const fail = (why: string) => reject(new WeirClientError("closed", why));
      ws.onerror = () => fail(`cannot connect to ${url.origin}`);
      ws.onclose = (e) => fail(`signaling closed (${e.code}${e.reason ? `: ${e.reason}` : ""})`);
      ws.onmessage = (e) => {
        const msg = parse(e.data);
        if (msg?.type === "welcome") resolve(new SignalingSocket(ws, msg));
        else if (msg?.type === "error") fail(`${msg.error.code}: ${msg.error.message}`);
      };
    });
  }

  /** Sends a request and resolves with its reply; an `error` reply rejects with its code. */
  request(message: Request, timeoutMs = REQUEST_TIMEOUT_MS): Promise<Reply> {
    const id = String(this.#nextId++);
    return new Promise<Reply>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#pending.delete(id);
        reject(new WeirClientError("negotiation_timeout", `no reply to ${message.type}`));
      }, timeoutMs);
      this.#pending.set(id, {
        resolve: (m) => {
          clearTimeout(timer);
          resolve(m);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      });
      this.send({ ...message, id } as ClientMessage);
    });
  }

  send(message: ClientMessage): void {
    if (this.#ws.readyState === WebSocket.OPEN) this.#ws.send(JSON.stringify(message));
  }

  close(): void {
    this.#ws.close(1000);
  }

  #onMessage(data: unknown): void {
    const msg = parse(data);
    if (!msg) return;
    const id = "id" in msg ? msg.id : undefined;
    const pending = id === undefined ? undefined : this.#pending.get(id);
    if (!pending) {
      this.emit("message", msg);
      return;
    }
    this.#pending.delete(id as string);
    if (msg.type === "error") pending.reject(new ServerError(msg.error.code, msg.error.message));
    else pending.resolve(msg as Reply);
  }
}

/** An error the server answered with; `code` is the server's error code. */
export class ServerError extends Error {
  readonly code: string;
  constructor(code: string, message: string) {
    super(message);
    this.name = "ServerError";
    this.code = code;
  }
}

function parse(data: unknown): ServerMessage | null {
  if (typeof data !== "string") return null;
  try {
    return JSON.parse(data) as ServerMessage;
  } catch {
    return null;
  }
}
