import type { DataSubscriber } from "./DataSubscriber.ts";

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
  subscriberadded: [DataSubscriber];
  subscriberremoved: [DataSubscriber];
  closed: [];
}
