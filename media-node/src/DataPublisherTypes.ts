/** How a DataChannel delivers: what the client chose when it opened the channel. */
export interface DataChannelOptions {
  label: string;
  /** Messages arrive in the order sent. */
  ordered: boolean;
  /** Partial reliability: at most this many retransmissions per message. */
  maxRetransmits?: number;
  /** Partial reliability: give up on a message after this many ms. */
  maxPacketLifeTime?: number;
  /** Sub-protocol name the client gave (may be empty). */
  protocol: string;
}

/**
 * Where a DataPublisher hands each message: a DataSubscriber (a channel toward one client), or
 * anything else with the same shape, e.g. a bridge that carries the messages to another media
 * node over NATS. send() must not block or throw; a sink that cannot keep up queues or drops on
 * its own and never slows the publisher's other sinks.
 */
export interface DataSink {
  readonly id: string;
  /** What the app attached when it made the sink (e.g. the subscriber's identity). */
  readonly appData: Readonly<Record<string, unknown>>;
  /** One message; `size` is its length in bytes (UTF-8 for strings). */
  send(data: string | Buffer, size: number): void;
  close(): void;
  /** The publisher drops the sink when it emits "closed". */
  once(event: "closed", listener: () => void): unknown;
}

export interface DataPublisherStats {
  id: string;
  label: string;
  ordered: boolean;
  /** Messages received from the publishing client and fanned out. */
  messagesIn: number;
  bytesIn: number;
  /** Messages dropped: larger than the node's limit (256 KiB). */
  droppedOversized: number;
  /** Messages dropped: neither a string nor binary. */
  droppedMalformed: number;
  subscribers: number;
}

export interface DataPublisherEvents {
  /** One message, as the publishing client sent it (string or binary). */
  message: [string | Buffer];
  /** A message over the size limit was dropped; its size in bytes. */
  oversized: [number];
  subscriberadded: [DataSink];
  subscriberremoved: [DataSink];
  closed: [];
}
