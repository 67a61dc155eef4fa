// The e2e test page: runs in headless Chromium, loads the client bundle (/weir-client.js) and
// exposes `window.weir`, which the Node test drives with page.evaluate. The Node test process is
// the signaling channel: it carries offers and answers between this page and the media node.
// Served by test/helpers/browser.ts after an esbuild transform (type-only imports vanish).
import type * as WeirClient from "../../../client/src/index.ts";

type Sdp = { type: "offer" | "answer"; sdp: string };
type Kind = "audio" | "video";

/** One `inbound-rtp` entry of the subscriber's getStats, with its codec resolved. */
export interface InboundStat {
  kind: Kind;
  mid: string | null;
  ssrc: number;
  trackIdentifier: string;
  packetsReceived: number;
  packetsLost: number;
  bytesReceived: number;
  framesDecoded: number;
  framesReceived: number;
  keyFramesDecoded: number;
  framesDropped: number;
  frameWidth: number;
  frameHeight: number;
  pliCount: number;
  nackCount: number;
  freezeCount: number;
  totalFreezesDuration: number;
  /** mimeType of the stats `codec` entry, e.g. "video/H264". */
  codec: string | null;
  /** sdpFmtpLine of the codec, e.g. "packetization-mode=1;profile-level-id=42e01f". */
  fmtp: string | null;
}

export interface OutboundStat {
  kind: Kind;
  mid: string | null;
  packetsSent: number;
  framesEncoded: number;
  frameWidth: number;
  frameHeight: number;
  codec: string | null;
  qualityLimitationReason: string | null;
}

export interface SubscriptionEvent {
  type: "track" | "trackended";
  publisherId: string;
  mid: string;
  kind: string | null;
  /** Date.now() in the page (same clock as the Node test on this machine). */
  at: number;
}

export interface TransceiverInfo {
  mid: string | null;
  kind: string;
  direction: string;
  currentDirection: string | null;
}

export interface FrameSample {
  at: number;
  framesDecoded: number;
}

const clientUrl = "/weir-client.js";
const client: typeof WeirClient = await import(clientUrl);

function num(v: unknown): number {
  return typeof v === "number" ? v : 0;
}

class PageHarness {
  media: MediaStream | null = null;
  pub: WeirClient.PublishTransport | null = null;
  sub: WeirClient.SubscribeTransport | null = null;
  readonly events: SubscriptionEvent[] = [];
  readonly errors: string[] = [];
  /** ICE / connection / signaling state changes of both peer connections, for diagnostics. */
  readonly stateLog: string[] = [];
  readonly #t0 = Date.now();
  readonly #elements = new Map<string, HTMLMediaElement>();
  readonly #localTracks = new Map<string, MediaStreamTrack>();
  #sampler: ReturnType<typeof setInterval> | undefined;
  #samples: FrameSample[] = [];

  /** Fake camera + microphone (Chromium's --use-fake-device-for-media-stream). */
  async getMedia(width: number, height: number): Promise<{ audio: string; video: string }> {
    this.media = await navigator.mediaDevices.getUserMedia({
      audio: true,
      video: { width: { exact: width }, height: { exact: height } },
    });
    const audio = this.media.getAudioTracks()[0];
    const video = this.media.getVideoTracks()[0];
    this.#localTracks.set(audio.id, audio);
    this.#localTracks.set(video.id, video);
    return { audio: audio.id, video: video.id };
  }

  /** A second copy of the camera track (a new track id), e.g. to publish again. */
  cloneTrack(kind: Kind): string {
    const src =
      kind === "audio" ? this.media?.getAudioTracks()[0] : this.media?.getVideoTracks()[0];
    if (!src) throw new Error(`no local ${kind} track: call getMedia() first`);
    const copy = src.clone();
    this.#localTracks.set(copy.id, copy);
    return copy.id;
  }

  openPublisher(): void {
    this.pub = new client.PublishTransport({ iceServers: [] });
    this.#watch("pub", this.pub.peerConnection);
  }

  async publish(
    localTrackId: string,
    codec?: string,
    extra?: Pick<WeirClient.PublishOptions, "simulcast" | "scalabilityMode" | "maxBitrate">,
  ): Promise<{ trackId: string; offer: Sdp }> {
    const track = this.#localTracks.get(localTrackId);
    if (!track || !this.pub) throw new Error(`no publisher or no local track ${localTrackId}`);
    const opts: WeirClient.PublishOptions = { ...extra, ...(codec ? { codec } : {}) };
    if (this.media) opts.stream = this.media;
    const { trackId, offer } = await this.pub.publish(track, opts);
    return { trackId, offer: offer as Sdp };
  }

  async setAnswer(answer: Sdp): Promise<void> {
    await this.#pubOrThrow().setAnswer(answer);
  }

  async unpublish(trackId: string): Promise<Sdp> {
    return (await this.#pubOrThrow().unpublish(trackId)) as Sdp;
  }

  openSubscriber(): void {
    const sub = new client.SubscribeTransport({ iceServers: [] });
    this.sub = sub;
    this.#watch("sub", sub.peerConnection);
    sub.on("track", ({ track, publisherId, mid, streams }) => {
      this.events.push({ type: "track", publisherId, mid, kind: track.kind, at: Date.now() });
      // Give every remote track a sink, as an app would (and so Chromium renders it).
      let el = this.#elements.get(mid);
      if (!el) {
        el = document.createElement(track.kind === "video" ? "video" : "audio");
        el.autoplay = true;
        el.muted = true;
        el.dataset.mid = mid;
        document.getElementById("media")?.append(el);
        this.#elements.set(mid, el);
      }
      el.srcObject = streams[0] ?? new MediaStream([track]);
      el.play().catch((err: unknown) => this.errors.push(`play(${mid}): ${String(err)}`));
    });
    sub.on("trackended", ({ publisherId, mid }) => {
      this.events.push({ type: "trackended", publisherId, mid, kind: null, at: Date.now() });
    });
  }

  async setOffer(offer: Sdp): Promise<Sdp> {
    if (!this.sub) throw new Error("openSubscriber() first");
    return (await this.sub.setOffer(offer)) as Sdp;
  }

  /** The subscriber's `inbound-rtp` stats with each entry's codec mimeType. */
  async inbound(): Promise<InboundStat[]> {
    if (!this.sub) return [];
    const report = await this.sub.getStats();
    const out: InboundStat[] = [];
    report.forEach((s: Record<string, unknown>) => {
      if (s.type !== "inbound-rtp") return;
      const codec = typeof s.codecId === "string" ? report.get(s.codecId) : undefined;
      out.push({
        kind: s.kind as Kind,
        mid: typeof s.mid === "string" ? s.mid : null,
        ssrc: num(s.ssrc),
        trackIdentifier: String(s.trackIdentifier ?? ""),
        packetsReceived: num(s.packetsReceived),
        packetsLost: num(s.packetsLost),
        bytesReceived: num(s.bytesReceived),
        framesDecoded: num(s.framesDecoded),
        framesReceived: num(s.framesReceived),
        keyFramesDecoded: num(s.keyFramesDecoded),
        framesDropped: num(s.framesDropped),
        frameWidth: num(s.frameWidth),
        frameHeight: num(s.frameHeight),
        pliCount: num(s.pliCount),
        nackCount: num(s.nackCount),
        freezeCount: num(s.freezeCount),
        totalFreezesDuration: num(s.totalFreezesDuration),
        codec: codec?.mimeType ?? null,
        fmtp: codec?.sdpFmtpLine ?? null,
      });
    });
    return out;
  }

  /** The publisher's `outbound-rtp` stats (for diagnostics). */
  async outbound(): Promise<OutboundStat[]> {
    if (!this.pub) return [];
    const report = await this.pub.getStats();
    const out: OutboundStat[] = [];
    report.forEach((s: Record<string, unknown>) => {
      if (s.type !== "outbound-rtp") return;
      const codec = typeof s.codecId === "string" ? report.get(s.codecId) : undefined;
      out.push({
        kind: s.kind as Kind,
        mid: typeof s.mid === "string" ? s.mid : null,
        packetsSent: num(s.packetsSent),
        framesEncoded: num(s.framesEncoded),
        frameWidth: num(s.frameWidth),
        frameHeight: num(s.frameHeight),
        codec: codec?.mimeType ?? null,
        qualityLimitationReason:
          typeof s.qualityLimitationReason === "string" ? s.qualityLimitationReason : null,
      });
    });
    return out;
  }

  /** framesDecoded summed over the live video subscriptions of one mid (or all). */
  async framesDecoded(mid?: string): Promise<number> {
    const stats = await this.inbound();
    return stats
      .filter((s) => s.kind === "video" && (mid === undefined || s.mid === mid))
      .reduce((sum, s) => sum + s.framesDecoded, 0);
  }

  /**
   * Resolves with Date.now() of the first poll (every `intervalMs`) that sees a decoded video
   * frame on `mid` (or any video m-line), or null after `timeoutMs`.
   */
  async firstFrameAt(mid: string | undefined, intervalMs: number, timeoutMs: number) {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if ((await this.framesDecoded(mid)) > 0) return Date.now();
      await new Promise((r) => setTimeout(r, intervalMs));
    }
    return null;
  }

  /** Samples framesDecoded every `intervalMs` until stopSampler(). */
  startSampler(mid: string | undefined, intervalMs: number): void {
    this.stopSampler();
    this.#samples = [];
    this.#sampler = setInterval(() => {
      void this.framesDecoded(mid).then((framesDecoded) =>
        this.#samples.push({ at: Date.now(), framesDecoded }),
      );
    }, intervalMs);
  }

  stopSampler(): FrameSample[] {
    clearInterval(this.#sampler);
    this.#sampler = undefined;
    return this.#samples;
  }

  transceivers(): TransceiverInfo[] {
    const pc = this.sub?.peerConnection;
    if (!pc) return [];
    return pc.getTransceivers().map((t) => ({
      mid: t.mid,
      kind: t.receiver.track.kind,
      direction: t.direction,
      currentDirection: t.currentDirection,
    }));
  }

  /** m-lines in the subscriber's current remote description. */
  mLineCount(): number {
    const sdp = this.sub?.peerConnection.remoteDescription?.sdp ?? "";
    return sdp.split(/\r?\n/).filter((l) => l.startsWith("m=")).length;
  }

  connectionStates(): { pub: string | null; sub: string | null } {
    return { pub: this.pub?.connectionState ?? null, sub: this.sub?.connectionState ?? null };
  }

  close(): void {
    this.stopSampler();
    this.pub?.close();
    this.sub?.close();
    for (const t of this.#localTracks.values()) t.stop();
  }

  #watch(name: string, pc: RTCPeerConnection): void {
    const log = (what: string) => this.stateLog.push(`${Date.now() - this.#t0}ms ${name} ${what}`);
    pc.addEventListener("iceconnectionstatechange", () => log(`ice ${pc.iceConnectionState}`));
    pc.addEventListener("connectionstatechange", () => log(`conn ${pc.connectionState}`));
    pc.addEventListener("signalingstatechange", () => log(`sig ${pc.signalingState}`));
  }

  #pubOrThrow(): WeirClient.PublishTransport {
    if (!this.pub) throw new Error("openPublisher() first");
    return this.pub;
  }
}

export type { PageHarness };

declare global {
  interface Window {
    weir: PageHarness;
  }
}

window.weir = new PageHarness();
