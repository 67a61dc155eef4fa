import type { DataSubscriber } from "./DataSubscriber.ts";
import type { DataSubscriberStats } from "./DataSubscriberTypes.ts";
import type { Subscriber } from "./Subscriber.ts";
import type { SubscriberStats } from "./SubscriberTypes.ts";
import type {
  IceCandidateInit,
  MediaPathStats,
  SessionDescriptionInit,
  TransportOptions,
  TransportState,
} from "./TransportTypes.ts";

export type SubscribeTransportOptions = TransportOptions;

export interface SubscribeResult {
  subscriber: Subscriber;
  /** The node's offer carrying the new m-line; send it to the client, then call setAnswer. */
  offer: SessionDescriptionInit;
}

export interface SubscribeTransportEvents {
  icecandidate: [IceCandidateInit | null];
  connectionstatechange: [TransportState];
  /** The node needs to renegotiate (e.g. a publisher left): call createOffer(). */
  negotiationneeded: [];
  /** A subscriber ended because its publisher closed. */
  subscriberclosed: [Subscriber];
  /** A data subscriber ended (its publisher closed, its queue overflowed, or its channel closed). */
  datasubscriberclosed: [DataSubscriber];
  closed: [];
}

export interface SubscribeTransportStats {
  id: string;
  state: TransportState;
  media: MediaPathStats;
  subscribers: SubscriberStats[];
  /** DataChannel subscriptions (optional for stats built outside the SDK). */
  dataSubscribers?: DataSubscriberStats[];
  /** m-lines in the session, live or free for reuse. */
  mLines: number;
}
