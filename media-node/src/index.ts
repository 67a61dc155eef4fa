export * from "./codecs.ts";
export { DataPublisher } from "./DataPublisher.ts";
export type * from "./DataPublisherTypes.ts";
export { DataSubscriber } from "./DataSubscriber.ts";
export type * from "./DataSubscriberTypes.ts";
export * from "./errors.ts";
export { EXT_URI } from "./headerExtensions.ts";
export type { TcpMuxOptions, TcpMuxStats } from "./ice/TcpMux.ts";
export { TcpMux } from "./ice/TcpMux.ts";
export { UdpMux } from "./ice/UdpMux.ts";
export type * from "./ice/UdpMuxTypes.ts";
export { renderMetrics } from "./metrics.ts";
export { Publisher } from "./Publisher.ts";
export type * from "./PublisherTypes.ts";
export { PublishTransport } from "./PublishTransport.ts";
export type * from "./PublishTransportTypes.ts";
export { Router } from "./Router.ts";
export type * from "./RouterTypes.ts";
export { Recorder } from "./recording/Recorder.ts";
export type * from "./recording/RecorderTypes.ts";
export { DownstreamRelay } from "./relay/DownstreamRelay.ts";
export { OriginRelay } from "./relay/OriginRelay.ts";
export { RelayServer } from "./relay/RelayServer.ts";
export type * from "./relay/RelayServerTypes.ts";
export { RelayTransport } from "./relay/RelayTransport.ts";
export type * from "./relay/RelayTransportTypes.ts";
export { AUDIO_LEVEL_SILENT, readAudioLevel } from "./rtp/audioLevel.ts";
export { Subscriber } from "./Subscriber.ts";
export type * from "./SubscriberTypes.ts";
export { SubscribeTransport } from "./SubscribeTransport.ts";
export type * from "./SubscribeTransportTypes.ts";
export type {
  ActiveSpeaker,
  ActiveSpeakerReport,
  AudioLevelInfo,
} from "./speakers/ActiveSpeakerDetector.ts";
export { ActiveSpeakerDetector } from "./speakers/ActiveSpeakerDetector.ts";
export type { ActiveSpeakerOptions } from "./speakers/AudioLevelMeter.ts";
export { AudioLevelMeter } from "./speakers/AudioLevelMeter.ts";
export type * from "./TransportTypes.ts";
