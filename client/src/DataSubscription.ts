import type { DataEndReason, DataSubscriptionEvents } from "./DataTypes.ts";
import type { Listener } from "./TypedEmitter.ts";
import { TypedEmitter } from "./TypedEmitter.ts";

/**
 * A subscription to someone's published DataChannel: the node's channel toward this client.
 * Messages come as the `message` event; binary arrives as ArrayBuffer. Messages that arrive
 * before the first `message` listener is added are kept and delivered to it, in order. After a
 * reconnect the Room subscribes again and the messages go on from a new channel (`reconnected`).
 */
export class DataSubscription extends TypedEmitter<DataSubscriptionEvents> {
  /** Set by Room once the node's reply names it (the channel may open before the reply). */
  dataSubscriberId = "";
  readonly dataPublisherId: string;
  #channel: RTCDataChannel;
  #early: (string | ArrayBuffer)[] | null = [];

  constructor(dataPublisherId: string, channel: RTCDataChannel) {
    super();
    this.dataPublisherId = dataPublisherId;
    this.#channel = channel;
    this.#listen(channel);
  }

  /** The current session's channel (replaced by a reconnect). */
  get channel(): RTCDataChannel {
    return this.#channel;
  }

  get label(): string {
    return this.#channel.label;
  }

  get readyState(): RTCDataChannelState {
    return this.#channel.readyState;
  }

  override on<K extends keyof DataSubscriptionEvents>(
    event: K,
    listener: Listener<DataSubscriptionEvents[K]>,
  ): this {
    super.on(event, listener);
    const early = this.#early;
    if (event === "message" && early) {
      this.#early = null;
      // A microtask runs before the next message task: order is kept.
      queueMicrotask(() => {
        for (const m of early) this.emit("message", m);
      });
    }
    return this;
  }

  /** From the node's `data.ended` push (Room calls it). */
  end(reason: DataEndReason): void {
    this.emit("ended", reason);
  }

  /** Subscribed again on a new session (Room calls it, in the channel's own task). */
  resume(channel: RTCDataChannel): void {
    this.#channel = channel;
    this.#listen(channel);
  }

  #listen(channel: RTCDataChannel): void {
    channel.binaryType = "arraybuffer";
    channel.addEventListener("message", (e) => {
      if (channel !== this.#channel) return;
      if (this.#early) this.#early.push(e.data);
      else this.emit("message", e.data);
    });
  }
}
