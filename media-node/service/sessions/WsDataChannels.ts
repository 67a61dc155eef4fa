import { WeirApiError } from "../../../shared/errors.ts";
import type { ServerMessage } from "../../../shared/ws.ts";
import type { DataPublisher } from "../../src/DataPublisher.ts";
import type { DataSubscriber } from "../../src/DataSubscriber.ts";
import { NotFoundError } from "../../src/errors.ts";
import type { PublishTransport } from "../../src/PublishTransport.ts";
import type { SubscribeTransport } from "../../src/SubscribeTransport.ts";
import type { CandidateRelay } from "../cluster/CandidateRelay.ts";
import type { LocalRoom } from "../LocalRoom.ts";

type Reply = ServerMessage | undefined;

/** How long publishData waits for the client's channel to open on the node (its DCEP OPEN). */
const CHANNEL_WAIT_MS = 5000;

/** What the WebSocket session lends its DataChannel handlers. */
export interface WsDataHost {
  readonly identity: string;
  readonly room: LocalRoom;
  readonly publishTransport: PublishTransport | null;
  subscribeTransport(): SubscribeTransport;
  readonly subscribeRelay: CandidateRelay;
  emit(message: ServerMessage): void;
}

/**
 * The DataChannel part of a WebSocket session: publishes the client's channels (announced to the
 * room like tracks, with a `data.subscribers` push to the publisher whenever its subscribers
 * change) and subscribes the client to others' (the channel carries the data publisher id as its
 * `protocol`; an ended subscription is pushed as `data.ended` with its reason).
 */
export class WsDataChannels {
  readonly #host: WsDataHost;
  readonly #ended = new Set<string>();

  constructor(host: WsDataHost) {
    this.#host = host;
  }

  async publish(id: string, label: string): Promise<Reply> {
    const pub = this.#host.publishTransport;
    if (!pub) {
      throw new WeirApiError(
        "conflict",
        "negotiate the publish transport first (publish with no trackIds)",
      );
    }
    const dp = await publishWhenOpen(pub, label);
    const info = this.#host.room.dataPublished(this.#host.identity, dp);
    const push = () => this.#pushSubscribers(dp);
    dp.on("subscriberadded", push);
    dp.on("subscriberremoved", push);
    return { type: "dataPublished", id, ...info };
  }

  unpublish(id: string, dataPublisherId: string): Reply {
    const pub = this.#host.publishTransport;
    if (!pub) throw new WeirApiError("not_found", `no data publisher ${dataPublisherId}`);
    pub.unpublishData(dataPublisherId);
    return { type: "ok", id };
  }

  async subscribe(id: string, dataPublisherId: string): Promise<Reply> {
    const sub = this.#host.subscribeTransport();
    const { dataSubscriber, offer } = await this.#host.subscribeRelay.negotiate(
      () =>
        sub.subscribeData(dataPublisherId, {
          protocol: dataPublisherId,
          appData: { identity: this.#host.identity },
        }),
      (r) => r.offer?.sdp ?? "",
    );
    this.#watch(dataSubscriber);
    const reply: ServerMessage = {
      type: "dataSubscribed",
      id,
      dataSubscriberId: dataSubscriber.id,
      dataPublisherId,
      label: dataSubscriber.label,
    };
    if (offer) reply.offer = offer.sdp;
    return reply;
  }

  unsubscribe(id: string, dataSubscriberId: string): Reply {
    const sub = this.#host.subscribeTransport();
    this.#ended.add(dataSubscriberId);
    sub.unsubscribeData(dataSubscriberId);
    return { type: "ok", id };
  }

  /** Tells the client why a subscription it did not end itself went away. */
  #watch(s: DataSubscriber): void {
    let overflowed = false;
    s.on("overflow", () => {
      overflowed = true;
    });
    s.once("closed", () => {
      if (this.#ended.delete(s.id)) return;
      const unpublished = s.dataPublisher.closed;
      this.#host.emit({
        type: "data.ended",
        dataSubscriberId: s.id,
        dataPublisherId: s.dataPublisherId,
        reason: overflowed ? "overflow" : unpublished ? "unpublished" : "closed",
      });
    });
  }

  #pushSubscribers(dp: DataPublisher): void {
    if (dp.closed) return;
    this.#host.emit({
      type: "data.subscribers",
      dataPublisherId: dp.id,
      subscribers: dp.subscribers.map((s) => String(s.appData.identity ?? s.id)),
    });
  }
}

/** Publishes the client's channel `label`, waiting for it to open on the node if it has not yet. */
function publishWhenOpen(pub: PublishTransport, label: string): Promise<DataPublisher> {
  try {
    return Promise.resolve(pub.publishData(label));
  } catch (err) {
    if (!(err instanceof NotFoundError)) return Promise.reject(err);
  }
  return new Promise((resolve, reject) => {
    const onChannel = (o: { label: string }) => {
      if (o.label !== label) return;
      done();
      try {
        resolve(pub.publishData(label));
      } catch (err) {
        reject(err);
      }
    };
    const timer = setTimeout(() => {
      done();
      reject(new WeirApiError("not_found", `no DataChannel ${JSON.stringify(label)} opened`));
    }, CHANNEL_WAIT_MS);
    const done = () => {
      clearTimeout(timer);
      pub.off("datachannel", onChannel);
    };
    pub.on("datachannel", onChannel);
  });
}
