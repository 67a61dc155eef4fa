// Weir under test: the SDK's Router with one publish transport and one subscribe transport per
// subscriber, used exactly as an application would.
import { type Publisher, Router, type SubscribeTransport } from "../../media-node/src/index.ts";
import { log } from "./log.ts";
import type { Negotiate, Sdp, SfuCounters, SfuUnderTest } from "./types.ts";

export class WeirSfu implements SfuUnderTest {
  readonly router = new Router({ transport: { listenIps: ["127.0.0.1"] } });
  #publishers: Publisher[] = [];
  readonly #subscribers = new Map<number, SubscribeTransport>();

  async publish(offer: Sdp): Promise<Sdp> {
    const transport = this.router.createPublishTransport();
    transport.on("connectionstatechange", (s) => {
      if (s === "failed" || s === "disconnected") log(`sfu(weir): publish transport ${s}`);
    });
    const offered: string[] = [];
    transport.on("track", (t) => offered.push(t.trackId));
    const answer = await transport.getAnswer(offer);
    // Video first: a subscriber's first m-line is then video, like the baseline's order.
    this.#publishers = offered
      .map((id) => transport.publish(id))
      .sort((a, b) => (a.kind === b.kind ? 0 : a.kind === "video" ? -1 : 1));
    if (this.#publishers.length !== 2) {
      throw new Error(`expected an audio and a video track, got ${this.#publishers.length}`);
    }
    return answer;
  }

  async addSubscriber(id: number, negotiate: Negotiate): Promise<void> {
    const transport = this.router.createSubscribeTransport();
    this.#subscribers.set(id, transport);
    for (const publisher of this.#publishers) {
      const { offer } = await transport.subscribe(publisher.id);
      await transport.setAnswer(await negotiate(offer));
    }
  }

  counters(): SfuCounters {
    const stats = this.router.getStats();
    let audioIn = 0;
    let videoIn = 0;
    for (const p of stats.publishers) {
      if (p.kind === "audio") audioIn += p.packetsReceived;
      else videoIn += p.packetsReceived;
    }
    let out = 0;
    for (const t of stats.subscribeTransports) out += t.media.rtpPacketsOut;
    return { audioIn, videoIn, out };
  }

  describe(id: number): unknown {
    const t = this.#subscribers.get(id);
    if (!t) return null;
    const st = t.getStats();
    return {
      state: st.state,
      media: st.media,
      subscribers: st.subscribers.map((s) => ({
        kind: s.kind,
        sent: s.packetsSent,
        skipped: s.packetsSkipped,
        pli: s.keyframeRequestsReceived,
        nacks: s.nacksReceived,
      })),
    };
  }

  close(): Promise<void> {
    return this.router.close();
  }
}
