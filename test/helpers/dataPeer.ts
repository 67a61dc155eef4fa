// werift peers playing DataChannel clients against a Router: a publisher whose channels the node
// publishes, and subscribers that answer the node's offers and record what arrives. Used by the
// DataChannel integration tests and bench/data.ts.
import assert from "node:assert/strict";
import type { RTCDataChannel, RTCPeerConnection } from "werift";
import type { DataPublisher, Router, SubscribeTransport } from "../../media-node/src/index.ts";
import { clientPeer, noStun, until, waitGathered } from "./weriftPeer.ts";

const KiB = 1024;

/** A werift client announcing 256 KiB messages (Chromium's value; werift's default is 64 KiB). */
export function dataPeer(): RTCPeerConnection {
  return clientPeer({ maxMessageSize: 256 * KiB });
}

export type ChannelInit = {
  ordered?: boolean;
  maxRetransmits?: number;
  maxPacketLifeTime?: number;
};

/** Everything a test made, closed in reverse order by close(). */
export class DataHarness {
  readonly router: Router;
  readonly #closers: (() => unknown)[] = [];

  constructor(router: Router) {
    this.router = router;
  }

  track<T extends { close(): unknown }>(x: T): T {
    this.#closers.push(() => x.close());
    return x;
  }

  async close(): Promise<void> {
    const closers = this.#closers.splice(0).reverse();
    for (const close of closers) await close();
  }

  /** A werift publisher with DataChannels opened before its offer, all published on the node. */
  async publishChannels(channels: Record<string, ChannelInit>) {
    const pc = this.track(dataPeer());
    const dcs: Record<string, RTCDataChannel> = {};
    for (const [label, init] of Object.entries(channels))
      dcs[label] = pc.createDataChannel(label, init);
    noStun(pc);
    await pc.setLocalDescription(await pc.createOffer());
    await waitGathered(pc);
    const transport = this.track(this.router.createPublishTransport());
    const offered: string[] = [];
    transport.on("datachannel", (o) => offered.push(o.label));
    const answer = await transport.getAnswer({
      type: "offer",
      sdp: pc.localDescription?.sdp ?? "",
    });
    assert.match(answer.sdp, /^m=application /m);
    assert.match(answer.sdp, /^a=max-message-size:262144/m);
    await pc.setRemoteDescription(answer);
    const labels = Object.keys(channels);
    await until(() => labels.every((l) => offered.includes(l)), 10_000, "datachannel events");
    await until(() => labels.every((l) => dcs[l].readyState === "open"), 10_000, "channels open");
    const publishers: Record<string, DataPublisher> = {};
    for (const label of labels) publishers[label] = transport.publishData(label);
    return { pc, dcs, transport, publishers, answer };
  }

  client(): DataClient {
    const c = new DataClient(this.router);
    this.track(c.pc);
    this.track(c.transport);
    return c;
  }
}

/** A werift subscriber: answers the node's offers, records messages (or counts them) per label. */
export class DataClient {
  readonly pc = dataPeer();
  readonly messages = new Map<string, (string | Buffer)[]>();
  readonly channels = new Map<string, RTCDataChannel>();
  readonly transport: SubscribeTransport;
  /** Messages and bytes received on all channels, with the time of the latest. */
  count = 0;
  bytes = 0;
  lastAt = 0;
  /** Keep messages (false: only count them, for benchmarks). */
  keep = true;

  constructor(router: Router) {
    this.transport = router.createSubscribeTransport();
    this.pc.onDataChannel.subscribe((channel) => {
      this.channels.set(channel.label, channel);
      const list: (string | Buffer)[] = [];
      this.messages.set(channel.label, list);
      channel.onMessage.subscribe((m) => {
        this.count++;
        this.bytes += m.length;
        this.lastAt = performance.now();
        if (this.keep) list.push(m);
      });
    });
  }

  got(label: string): (string | Buffer)[] {
    return this.messages.get(label) ?? [];
  }

  /** Subscribes to a data publisher, answering the node's offer when there is one. */
  async subscribe(dataPublisherId: string, maxQueueBytes?: number) {
    const { dataSubscriber, offer } = await this.transport.subscribeData(dataPublisherId, {
      maxQueueBytes,
    });
    if (offer) {
      await this.pc.setRemoteDescription(offer);
      noStun(this.pc);
      await this.pc.setLocalDescription(await this.pc.createAnswer());
      await waitGathered(this.pc);
      await this.transport.setAnswer({ type: "answer", sdp: this.pc.localDescription?.sdp ?? "" });
    }
    const label = dataSubscriber.label;
    await until(() => this.channels.get(label)?.readyState === "open", 10_000, `${label} open`);
    return { dataSubscriber, offer };
  }

  /**
   * Stops processing SCTP: every DTLS application record is dropped before werift's SCTP sees
   * it, so no SACKs and no delivery (a client that stalled or vanished). The node's association
   * then fills its window and the subscriber's own queue grows.
   */
  stall(): void {
    const dtls = this.pc.sctpTransport?.dtlsTransport as unknown as { dataReceiver: unknown };
    dtls.dataReceiver = () => {};
  }
}

/**
 * Sends `count` messages made by `make(i)` from a werift channel, keeping at most 32 messages or
 * 256 KiB unsent in werift: its send path waits on a flush per queued message, quadratic in the
 * messages pending (the node's WebRtcPeer patches that; a stock client peer does not).
 */
export async function sendPaced(
  dc: RTCDataChannel,
  count: number,
  make: (i: number) => string | Buffer,
): Promise<void> {
  for (let i = 0; i < count; i++) {
    dc.send(make(i));
    if (i % 32 === 31 || dc.bufferedAmount > 256 * KiB) {
      while (dc.bufferedAmount > 0 && dc.readyState === "open")
        await new Promise((r) => setTimeout(r, 1));
    }
  }
}
