import type {
  ActiveRecording,
  RecordingEndReason,
  RecordingInfo,
  RecordingLayout,
  RecordingRequest,
} from "../../shared/recording.ts";
import type { ParticipantInfo, SpeakerInfo, TrackInfo } from "../../shared/room.ts";
import type { Grant } from "../../shared/token.ts";
import type { PublishedData } from "./DataTypes.ts";
import type { MediaPath, MediaTransport, RelayProtocol } from "./mediaPath.ts";
import type { PublishOptions } from "./PublishTransportTypes.ts";

export type RoomState = "new" | "connecting" | "connected" | "reconnecting" | "closed";

/**
 * Returns a fresh token for the same identity and room. A Room given one sends a new token
 * before the current one expires (the edge closes a socket at its token's `exp`, code 4401) and
 * asks for one on every reconnect.
 */
export type TokenProvider = () => Promise<string>;

export interface RoomOptions {
  /**
   * STUN/TURN servers; when given they replace the ones the edge sends in `welcome` (its TURN
   * servers with a credential for this client). Default: the edge's.
   */
  iceServers?: RTCIceServer[];
  /** "relay" sends media only through TURN; default "all". */
  iceTransportPolicy?: RTCIceTransportPolicy;
  /** Longest wait between reconnect attempts (default 5000 ms). */
  maxReconnectDelayMs?: number;
}

export interface LocalTrack {
  trackId: string;
  track: MediaStreamTrack;
  options: PublishOptions;
  /** The id the room knows the track by, once the node published it. */
  publisherId?: string;
  /** Muted with `room.setMuted` (kept across reconnects). */
  muted: boolean;
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

/**
 * How the Room's media flows. `transport`, `relayProtocol` and `rttMs` are the subscribe
 * connection's when it has a selected pair, else the publish connection's.
 */
export interface MediaConnection {
  transport: MediaTransport;
  relayProtocol: RelayProtocol | null;
  rttMs: number | null;
  publish: MediaPath | null;
  subscribe: MediaPath | null;
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
  /**
   * A track in the room was muted: the node stops forwarding it until `trackunmuted` (also for
   * this Room's own tracks, whoever muted them). `participants` show it as `muted: true`.
   */
  trackmuted: [{ publisherId: string; identity: string }];
  /** A muted track is forwarded again (video from a keyframe). */
  trackunmuted: [{ publisherId: string; identity: string }];
  /**
   * Who is speaking, loudest first (this Room's own identity included), whenever that order
   * changes; [] when nobody is any more. `level` is 0..1 (linear amplitude, about 500 ms).
   */
  activespeakers: [SpeakerInfo[]];
  /** Someone in the room published a DataChannel you can subscribe to (`subscribeData`). */
  datapublished: [PublishedData];
  dataunpublished: [{ dataPublisherId: string; identity: string }];
  /**
   * The media path changed: a first selected pair, another transport (udp, tcp, relay) or
   * relay protocol, other addresses, or no path (null) after the session ended. RTT alone does
   * not fire it; `room.mediaConnection.rttMs` is refreshed every 2 s.
   */
  mediaconnectionchange: [MediaConnection | null];
  /**
   * A recording of the room started (also for those running when the Room connects): who and
   * which tracks are recorded. `room.recordings` lists the ones running.
   */
  recordingstarted: [RoomRecording];
  /** A recording ended: asked to, its tracks left, its disk failed, or its node stopped. */
  recordingstopped: [{ recordingId: string; reason: RecordingEndReason }];
  /**
   * The server removed this participant (`cause: "removed"`) or closed the room
   * (`"room_closed"`) through the server API; the Room is closed and does not reconnect.
   */
  removed: [{ cause: "removed" | "room_closed"; reason: string }];
  /** The server changed this participant's grants (e.g. a viewer may publish now). */
  grantschanged: [readonly Grant[]];
  /** A data message from the server API: text, or bytes when it was sent as binary. */
  data: [{ data: string | Uint8Array; topic?: string }];
  error: [Error];
}

/** A recording running in the room, as every participant sees it. */
export type RoomRecording = Omit<ActiveRecording, "type">;

export type { ParticipantInfo, RecordingInfo, RecordingLayout, RecordingRequest, SpeakerInfo };
