import type { RoomEvent, SpeakerInfo } from "../../../shared/room.ts";
import type { ServerMessage } from "../../../shared/ws.ts";
import type { LocalRoom } from "../LocalRoom.ts";
import type { Logger } from "../log.ts";

export type SessionKind = "whip" | "whep" | "ws";

/** What a session gets from the node that holds it. */
export interface SessionContext {
  id: string;
  identity: string;
  room: LocalRoom;
  log: Logger;
  /** Ends the session on the node (idempotent): closes it and removes it from its room. */
  end: () => void;
  /** Pushes a message to the session's client (WebSocket sessions). */
  emit: (message: ServerMessage) => void;
}

/** One client session on this node: a WHIP or WHEP resource, or a WebSocket connection. */
export abstract class Session {
  abstract readonly kind: SessionKind;
  readonly id: string;
  readonly identity: string;
  readonly room: LocalRoom;
  protected readonly ctx: SessionContext;
  #closed = false;

  constructor(ctx: SessionContext) {
    this.ctx = ctx;
    this.id = ctx.id;
    this.identity = ctx.identity;
    this.room = ctx.room;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Closes the session's transports; the node removes it from the room. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.closeTransports();
  }

  protected abstract closeTransports(): Promise<void>;

  /** A room event about someone else (only WebSocket sessions pass it on). */
  deliver(_event: RoomEvent): void {}

  /** The room's speakers changed, loudest first (only WebSocket sessions pass it on). */
  speakersChanged(_speakers: SpeakerInfo[]): void {}
}
