import type { DataChannelInfo } from "../../shared/room.ts";

/** How a published DataChannel delivers (RTCDataChannelInit's reliability fields). */
export interface DataPublishOptions {
  /** Messages arrive in the order sent (default true). */
  ordered?: boolean;
  /** Partial reliability: at most this many retransmissions per message. */
  maxRetransmits?: number;
  /** Partial reliability: give up on a message after this many ms. */
  maxPacketLifeTime?: number;
}

/** A DataChannel someone in the room published (subscribe with `room.subscribeData(id)`). */
export interface PublishedData extends DataChannelInfo {
  identity: string;
}

/** Why a data subscription ended without the app ending it. */
export type DataEndReason = "overflow" | "unpublished" | "closed";

export interface DataPublicationEvents {
  /** Who is subscribed now: one identity per subscription. */
  subscribers: [identities: string[]];
  /** Published again after the Room reconnected, under a new id. */
  reconnected: [dataPublisherId: string];
  closed: [];
}

export interface DataSubscriptionEvents {
  /** One message: a string as sent, or binary as an ArrayBuffer. */
  message: [data: string | ArrayBuffer];
  /** The node ended the subscription (the channel closes). */
  ended: [reason: DataEndReason];
  /** Subscribed again after the Room reconnected (new dataSubscriberId, same publisher). */
  reconnected: [];
}

export type { DataChannelInfo };
