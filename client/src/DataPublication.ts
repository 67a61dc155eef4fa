import type { DataPublicationEvents, DataPublishOptions } from "./DataTypes.ts";
import { TypedEmitter } from "./TypedEmitter.ts";

/**
 * A DataChannel this client publishes through the media node. Send on it like on an
 * RTCDataChannel (`send`, `bufferedAmount`, or the raw `channel`); `subscribers` lists the
 * identities subscribed, updated with the `subscribers` event. After a reconnect the Room
 * publishes it again: a new channel and a new `dataPublisherId` (the `reconnected` event).
 */
export class DataPublication extends TypedEmitter<DataPublicationEvents> {
  readonly label: string;
  readonly options: DataPublishOptions;
  #id: string;
  #channel: RTCDataChannel;
  #subscribers: string[] = [];
  /** The channel of a session that is gone: its close is not the app's. */
  #suspended: RTCDataChannel | null = null;

  constructor(dataPublisherId: string, channel: RTCDataChannel, options: DataPublishOptions = {}) {
    super();
    this.label = channel.label;
    this.options = options;
    this.#id = dataPublisherId;
    this.#channel = channel;
    this.#watch(channel);
  }

  get dataPublisherId(): string {
    return this.#id;
  }

  /** The current session's channel (replaced by a reconnect). */
  get channel(): RTCDataChannel {
    return this.#channel;
  }

  get readyState(): RTCDataChannelState {
    return this.#channel.readyState;
  }

  get bufferedAmount(): number {
    return this.#channel.bufferedAmount;
  }

  get subscribers(): readonly string[] {
    return this.#subscribers;
  }

  /** A string stays a string for every subscriber; binary stays binary. At most 256 KiB. */
  send(data: string | ArrayBuffer | ArrayBufferView<ArrayBuffer> | Blob): void {
    this.#channel.send(data as string);
  }

  /** From the node's `data.subscribers` push (Room calls it). */
  setSubscribers(identities: string[]): void {
    this.#subscribers = identities;
    this.emit("subscribers", identities);
  }

  /** The session is gone: its channel closing is not the end of the publication (Room calls it). */
  suspend(): void {
    this.#suspended = this.#channel;
  }

  /** Published again on a new session (Room calls it). */
  resume(dataPublisherId: string, channel: RTCDataChannel): void {
    this.#id = dataPublisherId;
    this.#channel = channel;
    this.#suspended = null;
    this.#watch(channel);
    this.emit("reconnected", dataPublisherId);
  }

  #watch(channel: RTCDataChannel): void {
    channel.addEventListener("close", () => {
      if (channel === this.#channel && channel !== this.#suspended) this.emit("closed");
    });
  }
}
