import type { DataPublicationEvents } from "./DataTypes.ts";
import { TypedEmitter } from "./TypedEmitter.ts";

/**
 * A DataChannel this client publishes through the media node. Send on it like on an
 * RTCDataChannel (`send`, `bufferedAmount`, or the raw `channel`); `subscribers` lists the
 * identities subscribed, updated with the `subscribers` event.
 */
export class DataPublication extends TypedEmitter<DataPublicationEvents> {
  readonly dataPublisherId: string;
  readonly channel: RTCDataChannel;
  #subscribers: string[] = [];

  constructor(dataPublisherId: string, channel: RTCDataChannel) {
    super();
    this.dataPublisherId = dataPublisherId;
    this.channel = channel;
    channel.addEventListener("close", () => this.emit("closed"));
  }

  get label(): string {
    return this.channel.label;
  }

  get readyState(): RTCDataChannelState {
    return this.channel.readyState;
  }

  get bufferedAmount(): number {
    return this.channel.bufferedAmount;
  }

  get subscribers(): readonly string[] {
    return this.#subscribers;
  }

  /** A string stays a string for every subscriber; binary stays binary. At most 256 KiB. */
  send(data: string | ArrayBuffer | ArrayBufferView<ArrayBuffer> | Blob): void {
    this.channel.send(data as string);
  }

  /** From the node's `data.subscribers` push (Room calls it). */
  setSubscribers(identities: string[]): void {
    this.#subscribers = identities;
    this.emit("subscribers", identities);
  }
}
