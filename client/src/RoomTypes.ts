import type { ParticipantInfo, TrackInfo } from "../../shared/room.ts";
import type { PublishedData } from "./DataTypes.ts";
import type { PublishOptions } from "./PublishTransportTypes.ts";

export type RoomState = "new" | "connecting" | "connected" | "reconnecting" | "closed";

export interface RoomOptions {
  iceServers?: RTCIceServer[];
  /** Longest wait between reconnect attempts (default 5000 ms). */
  maxReconnectDelayMs?: number;
}

export interface LocalTrack {
  trackId: string;
  track: MediaStreamTrack;
  options: PublishOptions;
}

export interface RemoteTrack {
  publisherId: string;
  identity: string | undefined;
  track: MediaStreamTrack;
  stream: MediaStream;
}

export interface PublishedTrack extends TrackInfo {
  identity: string;
}

export interface RoomEvents {
  connectionstatechange: [RoomState];
  participantjoined: [string];
  participantleft: [string];
  /** Someone in the room published a track you can subscribe to. */
  trackpublished: [PublishedTrack];
  trackunpublished: [{ publisherId: string; identity: string }];
  /** A subscribed track is live. */
  track: [RemoteTrack];
  /** A subscribed track ended (unpublished, unsubscribed or lost in a reconnect). */
  trackended: [{ publisherId: string }];
  /** Someone in the room published a DataChannel you can subscribe to (`subscribeData`). */
  datapublished: [PublishedData];
  dataunpublished: [{ dataPublisherId: string; identity: string }];
  error: [Error];
}

export type { ParticipantInfo };
