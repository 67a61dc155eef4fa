// Weir under test: the SDK's Router with one publish transport and one subscribe transport per
// subscriber, used exactly as an application would; `mux` puts every transport on one UDP port
// (a UdpMux) instead of a socket per transport.
import {
  type Publisher,
  Recorder,
  Router,
  type SubscribeTransport,
  UdpMux,
} from "../../media-node/src/index.ts";
import { log } from "./log.ts";
import type { Negotiate, Sdp, SfuCounters, SfuUnderTest } from "./types.ts";

const LISTEN_IPS = ["127.0.0.1"];

export class WeirSfu implements SfuUnderTest {
  #router: Router | null = null;
  #mux: UdpMux | null = null;
  readonly #useMux: boolean;
  #publishers: Publisher[] = [];
  readonly #subscribers = new Map<number, SubscribeTransport>();
  #recorder: Recorder | null = null;

  constructor(opts: { mux?: boolean } = {}) {
    this.#useMux = opts.mux ?? false;
  }

  get router(): Router {
    if (!this.#router) throw new Error("publish first");
    return this.#router;
  }

  async publish(offer: Sdp): Promise<Sdp> {
    if (this.#useMux) this.#mux = await UdpMux.open({ port: 0, listenIps: LISTEN_IPS });
    this.#router = new Router({
      transport: this.#mux ? { udpMux: this.#mux } : { listenIps: LISTEN_IPS },
    });
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

  /** Starts recording both tracks (a file per track) under `directory` (bench:record). */
  startRecording(directory: string): void {
    if (this.#recorder) throw new Error("already recording");
    this.#recorder = new Recorder({ publishers: this.#publishers, directory });
    this.#recorder.on("error", (e) => log(`sfu(weir): recorder error ${e.message}`));
  }

  /** Packets taken, frames and bytes written so far by the recorder. */
  recordingStats(): { packets: number; frames: number; bytes: number } {
    const tracks = this.#recorder?.getStats().tracks ?? [];
    return {
      packets: tracks.reduce((a, t) => a + t.packets, 0),
      frames: tracks.reduce((a, t) => a + t.framesWritten, 0),
      bytes: tracks.reduce((a, t) => a + t.bytesWritten, 0),
    };
  }

  async stopRecording(): Promise<void> {
    await this.#recorder?.stop();
    this.#recorder = null;
  }

  counters(): SfuCounters {
    if (!this.#router) return { audioIn: 0, videoIn: 0, out: 0 };
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

  async close(): Promise<void> {
    await this.stopRecording();
    await this.#router?.close();
    await this.#mux?.close();
  }
}
