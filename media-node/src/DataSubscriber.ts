import type { DataPublisher } from "./DataPublisher.ts";
import type { DataSink } from "./DataPublisherTypes.ts";
import type { DataSubscriberEvents, DataSubscriberStats } from "./DataSubscriberTypes.ts";
import { TypedEmitter } from "./TypedEmitter.ts";
import type { PeerDataChannel } from "./WebRtcPeer.ts";

/** Default bound of a subscriber's own queue. */
export const DEFAULT_DATA_QUEUE_BYTES = 8 * 1024 * 1024;
/** Bytes we let werift's SCTP hold for one channel before queueing here instead. */
const SCTP_HIGH_WATER = 1024 * 1024;
/** werift calls back when its buffered bytes fall to this; we refill then. */
const SCTP_LOW_WATER = 256 * 1024;

export interface DataSubscriberInit {
  id: string;
  dataPublisher: DataPublisher;
  channel: PeerDataChannel;
  maxQueueBytes?: number;
  appData?: Record<string, unknown>;
}

/**
 * One forwarded copy of a DataPublisher on one subscriber's SCTP association. Messages go to the
 * association while it holds under 1 MiB unsent; beyond that they wait in a queue of our own,
 * bounded by maxQueueBytes. A reliable channel (ordered, fully reliable) cannot skip a message:
 * when its queue overflows it emits `overflow` and closes. A partially reliable or unordered
 * channel drops its oldest queued messages instead. Either way only this subscriber is affected.
 */
export class DataSubscriber extends TypedEmitter<DataSubscriberEvents> implements DataSink {
  readonly id: string;
  readonly appData: Readonly<Record<string, unknown>>;
  readonly dataPublisher: DataPublisher;
  readonly dataPublisherId: string;
  readonly #channel: PeerDataChannel;
  readonly #maxQueueBytes: number;
  /** Drop oldest on a full queue (true) or overflow and close (false). */
  readonly #lossy: boolean;
  #queue: (string | Buffer)[] = [];
  #sizes: number[] = [];
  #head = 0;
  #queuedBytes = 0;
  #open = false;
  #closed = false;
  readonly #stats = {
    messagesOut: 0,
    bytesOut: 0,
    dropped: 0,
    droppedBytes: 0,
    overflowed: 0,
  };

  constructor(init: DataSubscriberInit) {
    super();
    this.id = init.id;
    this.appData = Object.freeze({ ...init.appData });
    this.dataPublisher = init.dataPublisher;
    this.dataPublisherId = init.dataPublisher.id;
    this.#channel = init.channel;
    this.#maxQueueBytes = init.maxQueueBytes ?? DEFAULT_DATA_QUEUE_BYTES;
    const o = init.dataPublisher.options;
    this.#lossy = !o.ordered || o.maxRetransmits !== undefined || o.maxPacketLifeTime !== undefined;
    const channel = init.channel;
    channel.bufferedAmountLowThreshold = SCTP_LOW_WATER;
    channel.onOpen(() => {
      this.#open = true;
      this.#drain();
    });
    channel.onBufferedAmountLow(() => this.#drain());
    channel.onClose(() => this.close());
  }

  get closed(): boolean {
    return this.#closed;
  }

  get label(): string {
    return this.dataPublisher.label;
  }

  /** Called by the publisher for each message; never blocks and never throws. */
  send(data: string | Buffer, size: number): void {
    if (this.#closed) return;
    if (this.#head < this.#queue.length) this.#drain();
    if (this.#open && this.#head === this.#queue.length) {
      if (this.#channel.bufferedAmount < SCTP_HIGH_WATER) {
        this.#put(data, size);
        return;
      }
    }
    this.#enqueue(data, size);
  }

  getStats(): DataSubscriberStats {
    return {
      id: this.id,
      dataPublisherId: this.dataPublisherId,
      label: this.label,
      ...this.#stats,
      queuedMessages: this.#queue.length - this.#head,
      queuedBytes: this.#queuedBytes,
    };
  }

  /** Ends the subscription: the channel on the subscriber's association is closed (stream reset). */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#discardQueue();
    this.#channel.close();
    this.emit("closed");
    this.removeAllListeners();
  }

  #put(data: string | Buffer, size: number): void {
    if (this.#channel.send(data)) {
      this.#stats.messagesOut++;
      this.#stats.bytesOut += size;
    } else {
      this.#stats.dropped++;
      this.#stats.droppedBytes += size;
    }
  }

  #enqueue(data: string | Buffer, size: number): void {
    if (this.#queuedBytes + size > this.#maxQueueBytes) {
      if (!this.#lossy) {
        this.#stats.overflowed++;
        this.#stats.dropped++;
        this.#stats.droppedBytes += size;
        this.emit("overflow");
        this.close();
        return;
      }
      while (this.#head < this.#queue.length && this.#queuedBytes + size > this.#maxQueueBytes) {
        this.#stats.dropped++;
        this.#stats.droppedBytes += this.#sizes[this.#head];
        this.#shift();
      }
      this.#stats.overflowed++;
    }
    this.#queue.push(data);
    this.#sizes.push(size);
    this.#queuedBytes += size;
  }

  #shift(): void {
    const i = this.#head;
    this.#queuedBytes -= this.#sizes[i];
    this.#queue[i] = "";
    this.#head = i + 1;
    if (this.#head === this.#queue.length) {
      this.#queue = [];
      this.#sizes = [];
      this.#head = 0;
    } else if (this.#head >= 1024 && this.#head * 2 >= this.#queue.length) {
      this.#queue = this.#queue.slice(this.#head);
      this.#sizes = this.#sizes.slice(this.#head);
      this.#head = 0;
    }
  }

  #drain(): void {
    if (!this.#open || this.#closed) return;
    while (this.#head < this.#queue.length && this.#channel.bufferedAmount < SCTP_HIGH_WATER) {
      const data = this.#queue[this.#head];
      const size = this.#sizes[this.#head];
      this.#shift();
      this.#put(data, size);
    }
  }

  #discardQueue(): void {
    const left = this.#queue.length - this.#head;
    this.#stats.dropped += left;
    this.#stats.droppedBytes += this.#queuedBytes;
    this.#queue = [];
    this.#sizes = [];
    this.#head = 0;
    this.#queuedBytes = 0;
  }
}
