import type { CodecCapability } from "./codecs.ts";
import type { DataPublisher } from "./DataPublisher.ts";
import type { DataPublisherStats } from "./DataPublisherTypes.ts";
import type { Publisher } from "./Publisher.ts";
import type { PublisherStats } from "./PublisherTypes.ts";
import type { PublishTransportStats } from "./PublishTransportTypes.ts";
import type { SubscribeTransportStats } from "./SubscribeTransportTypes.ts";
import type { ActiveSpeaker, AudioLevelInfo } from "./speakers/ActiveSpeakerDetector.ts";
import type { ActiveSpeakerOptions } from "./speakers/AudioLevelMeter.ts";
import type { TransportOptions } from "./TransportTypes.ts";

export interface RouterOptions {
  id?: string;
  /** Codecs the room forwards (default: Opus, VP8, VP9, H264, AV1). */
  codecs?: CodecCapability[];
  /** Defaults for every transport of the room (listen/announced addresses, port range). */
  transport?: TransportOptions;
  /**
   * Speaker detection from the audio publishers' RFC 6464 levels (default on, 250 ms interval,
   * 500 ms window, 30 dBov, 40 % of packets); false turns it off (no timer, no metering).
   */
  activeSpeakers?: ActiveSpeakerOptions | false;
}

export interface RouterEvents {
  /** A track was published in the room. */
  publisher: [Publisher];
  /** A published track ended. */
  publisherclosed: [Publisher];
  /** A DataChannel was published in the room. */
  datapublisher: [DataPublisher];
  /** A published DataChannel ended. */
  datapublisherclosed: [DataPublisher];
  /**
   * The speaking audio publishers, loudest first, whenever that list (its order of publisher
   * ids) changes; [] when nobody speaks any more. Levels are 0..1 (linear amplitude).
   */
  activespeakers: [ActiveSpeaker[]];
  /** Every speaker interval: each metered audio publisher's smoothed level. */
  audiolevels: [AudioLevelInfo[]];
  closed: [];
}

export interface RouterStats {
  id: string;
  publishers: PublisherStats[];
  dataPublishers?: DataPublisherStats[];
  publishTransports: PublishTransportStats[];
  subscribeTransports: SubscribeTransportStats[];
}
