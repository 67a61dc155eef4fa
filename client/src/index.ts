export { DataPublication } from "./DataPublication.ts";
export { DataSubscription } from "./DataSubscription.ts";
export type {
  DataChannelInfo,
  DataEndReason,
  DataPublicationEvents,
  DataPublishOptions,
  DataSubscriptionEvents,
  PublishedData,
} from "./DataTypes.ts";
export type { WeirClientErrorCode } from "./errors.ts";
export { WeirClientError } from "./errors.ts";
export { iceServersFromLinks } from "./iceServers.ts";
export type { MediaPath, MediaTransport, RelayProtocol } from "./mediaPath.ts";
export { mediaPathOf } from "./mediaPath.ts";
export { NegotiationQueue } from "./NegotiationQueue.ts";
export { PublishTransport } from "./PublishTransport.ts";
export type {
  PublishOptions,
  PublishResult,
  PublishTransportEvents,
  PublishTransportOptions,
} from "./PublishTransportTypes.ts";
export { Room } from "./Room.ts";
export type {
  LocalTrack,
  MediaConnection,
  PublishedTrack,
  RecordingInfo,
  RecordingLayout,
  RecordingRequest,
  RemoteTrack,
  RoomEvents,
  RoomOptions,
  RoomRecording,
  RoomState,
  SpeakerInfo,
  TokenProvider,
} from "./RoomTypes.ts";
export { ServerError, SignalingSocket } from "./SignalingSocket.ts";
export { SubscribeTransport } from "./SubscribeTransport.ts";
export type {
  EndedTrack,
  SubscribedTrack,
  SubscribeTransportEvents,
  SubscribeTransportOptions,
} from "./SubscribeTransportTypes.ts";
export type { MediaSection, SdpDirection } from "./sdp.ts";
export { parseMediaSections, SIMULCAST_LAYERS, sentTrackIds } from "./sdp.ts";
export type { Listener } from "./TypedEmitter.ts";
export { TypedEmitter } from "./TypedEmitter.ts";
