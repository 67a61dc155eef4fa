// A WebSocket client of the edge's signaling endpoint for werift-based tests: requests by id
// (error replies come back as messages, so tests can assert their codes), pushed messages kept.
import { WebSocket } from "ws";

export type Msg = Record<string, unknown> & { type: string };

export class WsClient {
  /** Messages without a waiting request (room events, pushes, errors without an id). */
  readonly pushed: Msg[] = [];
  readonly #waiting = new Map<string, (m: Msg) => void>();
  #n = 0;
  welcome!: Msg;

  private constructor(readonly ws: WebSocket) {}

  /** Opens `<edgeUrl>/v1/rooms/<room>/ws` with `token` and waits for the welcome. */
  static async open(edgeUrl: string, room: string, token: string): Promise<WsClient> {
    const ws = new WebSocket(`${edgeUrl.replace(/^http/, "ws")}/v1/rooms/${room}/ws`, [
      "weir",
      token,
    ]);
    const c = new WsClient(ws);
    c.welcome = await new Promise<Msg>((resolve, reject) => {
      ws.on("message", (data) => {
        const m = JSON.parse(data.toString()) as Msg;
        if (m.type === "welcome") return resolve(m);
        const w = typeof m.id === "string" ? c.#waiting.get(m.id) : undefined;
        if (w) {
          c.#waiting.delete(m.id as string);
          w(m);
        } else c.pushed.push(m);
      });
      ws.on("error", reject);
    });
    return c;
  }

  /** Sends `body` with a fresh id; resolves with the reply, an `error` reply included. */
  request(body: Record<string, unknown>, timeoutMs = 15_000): Promise<Msg> {
    const id = `r${++this.#n}`;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no reply to ${body.type}`)), timeoutMs);
      this.#waiting.set(id, (m) => {
        clearTimeout(timer);
        resolve(m);
      });
      this.ws.send(JSON.stringify({ ...body, id }));
    });
  }

  /** Like request() but an `error` reply rejects. */
  async call(body: Record<string, unknown>): Promise<Msg> {
    const m = await this.request(body);
    if (m.type === "error") throw new Error(`${body.type}: ${JSON.stringify(m.error)}`);
    return m;
  }

  /** The error code of the reply to `body` ("" if it was not an error). */
  async errorCode(body: Record<string, unknown>): Promise<string> {
    const m = await this.request(body);
    return m.type === "error" ? String((m.error as { code: string }).code) : "";
  }

  close(): void {
    this.ws.close();
  }
}
