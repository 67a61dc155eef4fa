import type { CodecCapability } from "./codecs.ts";
import type { DataPublisher } from "./DataPublisher.ts";
import type { DataPublisherStats } from "./DataPublisherTypes.ts";
import type { Publisher } from "./Publisher.ts";
import type { PublisherStats } from "./PublisherTypes.ts";
import type { PublishTransportStats } from "./PublishTransportTypes.ts";
import type { SubscribeTransportStats } from "./SubscribeTransportTypes.ts";
import type { TransportOptions } from "./TransportTypes.ts";

export interface RouterOptions {
  id?: string;
  /** Codecs the room forwards (default: Opus, VP8, VP9, H264, AV1). */
  codecs?: CodecCapability[];
  /** Defaults for every transport of the room (listen/announced addresses, port range). */
  transport?: TransportOptions;
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
  closed: [];
}

export interface RouterStats {
  id: string;
  publishers: PublisherStats[];
  dataPublishers?: DataPublisherStats[];
  publishTransports: PublishTransportStats[];
  subscribeTransports: SubscribeTransportStats[];
}
