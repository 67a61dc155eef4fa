// The part of `ws` (8.x) the Node edge uses; `ws` ships no typings and @types/ws is not installed.
declare module "ws" {
  import type { IncomingMessage } from "node:http";
  import type { Duplex } from "node:stream";
  import type { WebSocketLike, WebSocketServerLike } from "@hono/node-server";

  export interface WebSocketServerOptions {
    noServer?: boolean;
    maxPayload?: number;
    handleProtocols?: (protocols: Set<string>, request: IncomingMessage) => string | false;
  }

  export class WebSocketServer implements WebSocketServerLike {
    constructor(options: WebSocketServerOptions);
    options: { noServer?: boolean };
    on(event: "connection", listener: (ws: WebSocketLike, request: IncomingMessage) => void): this;
    on(event: "headers", listener: (headers: string[]) => void): this;
    off(event: "headers", listener: (headers: string[]) => void): this;
    emit(event: "connection", ws: WebSocketLike, request: IncomingMessage): boolean;
    handleUpgrade(
      request: IncomingMessage,
      socket: Duplex,
      head: Buffer,
      callback: (ws: WebSocketLike) => void,
    ): void;
    close(): void;
  }

  export class WebSocket {
    constructor(url: string, protocols?: string | string[]);
    readonly protocol: string;
    readonly readyState: number;
    send(data: string): void;
    close(code?: number, reason?: string): void;
    on(event: "open", listener: () => void): this;
    on(event: "message", listener: (data: Buffer, isBinary: boolean) => void): this;
    on(event: "close", listener: (code: number, reason: Buffer) => void): this;
    on(event: "error", listener: (err: Error) => void): this;
    on(event: "unexpected-response", listener: (req: unknown, res: IncomingMessage) => void): this;
  }
}
