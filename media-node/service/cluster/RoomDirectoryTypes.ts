import type { RoomEvent } from "../../../shared/room.ts";

/** A publisher on another node: a track (relayed over RTP) or a DataChannel (bridged over NATS). */
export type RemoteKind = "media" | "data";

export interface RoomDirectoryEvents {
  /** An event of another node, as delivered here (snapshot differences and deaths included). */
  event: [room: string, nodeId: string, event: RoomEvent];
  /** A publisher of another node left the room (unpublished, or its node died). */
  removed: [room: string, publisherId: string, nodeId: string];
}
