import type {
  DataChannelOptions,
  DataPublisherEvents,
  DataPublisherStats,
} from "./DataPublisherTypes.ts";
import type { DataSubscriber } from "./DataSubscriber.ts";
import { TypedEmitter } from "./TypedEmitter.ts";
import { MAX_DATA_MESSAGE_BYTES, type PeerDataChannel } from "./WebRtcPeer.ts";

export interface DataPublisherInit {
  id: string;
  channel: PeerDataChannel;
  /** Largest message forwarded (default 256 KiB, the a=max-message-size the node announces). */
  maxMessageSize?: number;
}

/**
 * One published DataChannel: receives each message once and hands it to every subscriber's own
 * queue (string stays string, binary stays binary, one message stays one message). A slow
 * subscriber only ever fills its own queue.
 */
export class DataPublisher extends TypedEmitter<DataPublisherEvents> {
  readonly id: string;
  readonly label: string;
  readonly options: Readonly<DataChannelOptions>;
  readonly #channel: PeerDataChannel;
  readonly #maxMessageSize: number;
  #subscribers: DataSubscriber[] = [];
  #closed = false;
  readonly #stats = {
    messagesIn: 0,
    bytesIn: 0,
    droppedOversized: 0,
    droppedMalformed: 0,
  };

  constructor(init: DataPublisherInit) {
    super();
    this.id = init.id;
    this.#channel = init.channel;
    this.label = init.channel.label;
    this.options = Object.freeze({
      label: init.channel.label,
      ordered: init.channel.ordered,
      maxRetransmits: init.channel.maxRetransmits,
      maxPacketLifeTime: init.channel.maxPacketLifeTime,
      protocol: init.channel.protocol,
    });
    this.#maxMessageSize = init.maxMessageSize ?? MAX_DATA_MESSAGE_BYTES;
  }

  get closed(): boolean {
    return this.#closed;
  }

  get subscribers(): readonly DataSubscriber[] {
    return this.#subscribers;
  }

  /** One message from the publishing client. Never throws; bad input is counted and dropped. */
  receive(data: unknown): void {
    if (this.#closed) return;
    let size: number;
    if (typeof data === "string") size = Buffer.byteLength(data);
    else if (Buffer.isBuffer(data)) size = data.length;
    else {
      this.#stats.droppedMalformed++;
      return;
    }
    if (size > this.#maxMessageSize) {
      this.#stats.droppedOversized++;
      this.emit("oversized", size);
      return;
    }
    this.#stats.messagesIn++;
    this.#stats.bytesIn += size;
    const subs = this.#subscribers;
    for (let i = 0; i < subs.length; i++) subs[i].send(data, size);
    this.emit("message", data);
  }

  /** Called by a subscribe transport once the subscriber's channel exists. */
  addSubscriber(subscriber: DataSubscriber): void {
    if (this.#closed) {
      subscriber.close();
      return;
    }
    if (this.#subscribers.includes(subscriber)) return;
    this.#subscribers = [...this.#subscribers, subscriber];
    subscriber.on("closed", () => this.#removeSubscriber(subscriber));
    this.emit("subscriberadded", subscriber);
  }

  getStats(): DataPublisherStats {
    return {
      id: this.id,
      label: this.label,
      ordered: this.options.ordered,
      ...this.#stats,
      subscribers: this.#subscribers.length,
    };
  }

  /** Stops forwarding: the client's channel is closed and every subscriber ends. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#channel.close();
    for (const s of this.#subscribers) s.close();
    this.#subscribers = [];
    this.emit("closed");
    this.removeAllListeners();
  }

  #removeSubscriber(subscriber: DataSubscriber): void {
    const i = this.#subscribers.indexOf(subscriber);
    if (i < 0) return;
    this.#subscribers = this.#subscribers.filter((s) => s !== subscriber);
    this.emit("subscriberremoved", subscriber);
  }
}
