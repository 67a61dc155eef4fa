import { type CodecCapability, DEFAULT_CODECS } from "./codecs.ts";
import type { DataPublisher } from "./DataPublisher.ts";
import { InvalidStateError, WeirError } from "./errors.ts";
import { newId } from "./ids.ts";
import type { Publisher } from "./Publisher.ts";
import { PublishTransport } from "./PublishTransport.ts";
import type { PublishTransportOptions } from "./PublishTransportTypes.ts";
import type { RouterEvents, RouterOptions, RouterStats } from "./RouterTypes.ts";
import { type SubscribeRouterContext, SubscribeTransport } from "./SubscribeTransport.ts";
import type { SubscribeTransportOptions } from "./SubscribeTransportTypes.ts";
import { type ActiveSpeaker, ActiveSpeakerDetector } from "./speakers/ActiveSpeakerDetector.ts";
import { TypedEmitter } from "./TypedEmitter.ts";

/** A room: the publishers in it and the transports that publish into and subscribe from it. */
export class Router extends TypedEmitter<RouterEvents> implements SubscribeRouterContext {
  readonly id: string;
  readonly codecs: readonly CodecCapability[];
  readonly #options: RouterOptions;
  readonly #publishers = new Map<string, Publisher>();
  readonly #dataPublishers = new Map<string, DataPublisher>();
  readonly #publishTransports = new Set<PublishTransport>();
  readonly #subscribeTransports = new Set<SubscribeTransport>();
  readonly #speakers: ActiveSpeakerDetector | null;
  #closed = false;

  constructor(options: RouterOptions = {}) {
    super();
    this.id = options.id ?? newId("room");
    this.codecs = options.codecs ?? DEFAULT_CODECS;
    this.#options = options;
    this.#speakers =
      options.activeSpeakers === false
        ? null
        : new ActiveSpeakerDetector(options.activeSpeakers ?? {}, (r) => {
            this.emit("audiolevels", r.levels);
            if (r.changed) this.emit("activespeakers", r.speakers);
          });
  }

  /**
   * Who is speaking now, loudest first: the audio publishers (with the RFC 6464 audio level
   * extension) judged speaking at the last interval. `activespeakers` fires when it changes.
   */
  get activeSpeakers(): readonly ActiveSpeaker[] {
    return this.#speakers?.speakers ?? [];
  }

  get closed(): boolean {
    return this.#closed;
  }

  get publishers(): Publisher[] {
    return [...this.#publishers.values()];
  }

  getPublisher(id: string): Publisher | undefined {
    return this.#publishers.get(id);
  }

  get dataPublishers(): DataPublisher[] {
    return [...this.#dataPublishers.values()];
  }

  getDataPublisher(id: string): DataPublisher | undefined {
    return this.#dataPublishers.get(id);
  }

  createPublishTransport(options: PublishTransportOptions = {}): PublishTransport {
    this.#assertOpen();
    const t = new PublishTransport(this, { ...this.#options.transport, ...options });
    this.#publishTransports.add(t);
    t.on("closed", () => this.#publishTransports.delete(t));
    return t;
  }

  createSubscribeTransport(options: SubscribeTransportOptions = {}): SubscribeTransport {
    this.#assertOpen();
    const t = new SubscribeTransport(this, { ...this.#options.transport, ...options });
    this.#subscribeTransports.add(t);
    t.on("closed", () => this.#subscribeTransports.delete(t));
    return t;
  }

  /** Called by a publish transport when one of its tracks is published. */
  addPublisher(publisher: Publisher): void {
    if (this.#publishers.has(publisher.id)) {
      publisher.close();
      throw new InvalidStateError(`a publisher with id ${publisher.id} already exists in the room`);
    }
    this.#publishers.set(publisher.id, publisher);
    this.#speakers?.add(publisher);
    publisher.on("closed", () => {
      this.#publishers.delete(publisher.id);
      this.#speakers?.remove(publisher);
      this.emit("publisherclosed", publisher);
    });
    this.emit("publisher", publisher);
  }

  /** Called by a publish transport when one of its DataChannels is published. */
  addDataPublisher(dataPublisher: DataPublisher): void {
    if (this.#dataPublishers.has(dataPublisher.id)) {
      dataPublisher.close();
      throw new InvalidStateError(`a data publisher with id ${dataPublisher.id} already exists`);
    }
    this.#dataPublishers.set(dataPublisher.id, dataPublisher);
    dataPublisher.on("closed", () => {
      this.#dataPublishers.delete(dataPublisher.id);
      this.emit("datapublisherclosed", dataPublisher);
    });
    this.emit("datapublisher", dataPublisher);
  }

  getStats(): RouterStats {
    return {
      id: this.id,
      publishers: this.publishers.map((p) => p.getStats()),
      dataPublishers: this.dataPublishers.map((p) => p.getStats()),
      publishTransports: [...this.#publishTransports].map((t) => t.getStats()),
      subscribeTransports: [...this.#subscribeTransports].map((t) => t.getStats()),
    };
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#speakers?.close();
    await Promise.all([
      ...[...this.#subscribeTransports].map((t) => t.close()),
      ...[...this.#publishTransports].map((t) => t.close()),
    ]);
    this.emit("closed");
    this.removeAllListeners();
  }

  #assertOpen(): void {
    if (this.#closed) throw new WeirError("closed", `router ${this.id} is closed`);
  }
}
