import type {
  DataChannelOptions,
  DataPublisherEvents,
  DataPublisherStats,
  DataSink,
} from "./DataPublisherTypes.ts";
import { InvalidStateError } from "./errors.ts";
import { TypedEmitter } from "./TypedEmitter.ts";
import { MAX_DATA_MESSAGE_BYTES, type PeerDataChannel } from "./WebRtcPeer.ts";

export interface DataPublisherInit {
  id: string;
  /**
   * The publishing client's channel. Absent for a publisher fed by something else, e.g. a bridge
   * from another media node: it passes `options` and calls receive() for each message.
   */
  channel?: PeerDataChannel;
  /** How the channel delivers; taken from `channel` when there is one. */
  options?: DataChannelOptions;
  /** Largest message forwarded (default 256 KiB, the a=max-message-size the node announces). */
  maxMessageSize?: number;
}

/**
 * One published DataChannel: receives each message once and hands it to every sink (a
 * DataSubscriber's own queue, or a bridge to another node): string stays string, binary stays
 * binary, one message stays one message. A slow subscriber only ever fills its own queue.
 */
export class DataPublisher extends TypedEmitter<DataPublisherEvents> {
  readonly id: string;
  readonly label: string;
  readonly options: Readonly<DataChannelOptions>;
  readonly #channel: PeerDataChannel | undefined;
  readonly #maxMessageSize: number;
  #subscribers: DataSink[] = [];
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
    const c = init.channel;
    this.#channel = c;
    const options = c
      ? {
          label: c.label,
          ordered: c.ordered,
          maxRetransmits: c.maxRetransmits,
          maxPacketLifeTime: c.maxPacketLifeTime,
          protocol: c.protocol,
        }
      : init.options;
    if (!options) throw new InvalidStateError("a DataPublisher needs a channel or options");
    this.options = Object.freeze({ ...options });
    this.label = options.label;
    this.#maxMessageSize = init.maxMessageSize ?? MAX_DATA_MESSAGE_BYTES;
  }

  get closed(): boolean {
    return this.#closed;
  }

  get subscribers(): readonly DataSink[] {
    return this.#subscribers;
  }

  /**
   * One message from the publishing client (or a bridge). Never throws; bad input is counted and
   * dropped.
   */
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

  /**
   * Adds a sink: a subscribe transport's DataSubscriber once its channel exists, or a bridge.
   * The sink leaves when it emits "closed".
   */
  addSubscriber(subscriber: DataSink): void {
    if (this.#closed) {
      subscriber.close();
      return;
    }
    if (this.#subscribers.includes(subscriber)) return;
    this.#subscribers = [...this.#subscribers, subscriber];
    subscriber.once("closed", () => this.#removeSubscriber(subscriber));
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
    this.#channel?.close();
    for (const s of this.#subscribers) s.close();
    this.#subscribers = [];
    this.emit("closed");
    this.removeAllListeners();
  }

  #removeSubscriber(subscriber: DataSink): void {
    const i = this.#subscribers.indexOf(subscriber);
    if (i < 0) return;
    this.#subscribers = this.#subscribers.filter((s) => s !== subscriber);
    this.emit("subscriberremoved", subscriber);
  }
}
