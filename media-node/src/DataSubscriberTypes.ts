import type { DataSubscriber } from "./DataSubscriber.ts";
import type { SessionDescriptionInit } from "./TransportTypes.ts";

export interface DataSubscribeOptions {
  /**
   * Bytes queued for this subscriber beyond what its SCTP association has taken (default 8 MiB).
   * Reliable channels (ordered, no maxRetransmits / maxPacketLifeTime) that overflow it emit
   * `overflow` and close; other channels drop their oldest queued messages.
   */
  maxQueueBytes?: number;
  /**
   * The `protocol` of the channel toward the client (default: the publisher's). The WebSocket
   * service puts the data publisher id here so a client tells apart same-label channels.
   */
  protocol?: string;
  /** Whatever the app wants to find on the DataSubscriber (e.g. the subscriber's identity). */
  appData?: Record<string, unknown>;
}

export interface DataSubscribeResult {
  dataSubscriber: DataSubscriber;
  /**
   * The node's offer when this subscription added the session's m=application section (its first
   * DataChannel): send it to the client, then call setAnswer. Undefined when the channel rides the
   * SCTP association already negotiated.
   */
  offer?: SessionDescriptionInit;
}

export interface DataSubscriberStats {
  id: string;
  dataPublisherId: string;
  label: string;
  /** Messages and bytes handed to the subscriber's SCTP association. */
  messagesOut: number;
  bytesOut: number;
  /** Messages queued here, waiting for the association to drain. */
  queuedMessages: number;
  queuedBytes: number;
  /** Messages that never went out: oldest dropped on a full queue, refused, or lost on overflow. */
  dropped: number;
  droppedBytes: number;
  /** Times the queue overflowed (a reliable channel closes on its first). */
  overflowed: number;
}

export interface DataSubscriberEvents {
  /** The queue of a reliable channel overflowed; the subscriber closes right after. */
  overflow: [];
  closed: [];
}
