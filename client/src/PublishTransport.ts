import { toClientError, WeirClientError } from "./errors.ts";
import { CandidateBuffer } from "./internal.ts";
import { type MediaPath, mediaPathOf } from "./mediaPath.ts";
import { type Deferred, deferred, NegotiationQueue } from "./NegotiationQueue.ts";
import type {
  PublishOptions,
  PublishResult,
  PublishTransportEvents,
  PublishTransportOptions,
} from "./PublishTransportTypes.ts";
import { buildSendEncodings, bundleTagMid, preferCodec } from "./sdp.ts";
import { TypedEmitter } from "./TypedEmitter.ts";

const DEFAULT_NEGOTIATION_TIMEOUT_MS = 20_000;

/**
 * The browser side of a server `PublishTransport`: the client offers, the media node answers.
 *
 * Signaling-agnostic: carry `publish()`'s offer to the server's `getAnswer(offer)` and hand
 * the answer to `setAnswer()`; exchange ICE candidates through the `icecandidate` event and
 * `addIceCandidate()`. Negotiations are serialised: a `publish`, `unpublish` or `restartIce`
 * made while an offer awaits its answer starts only after `setAnswer()` (or the timeout).
 */
export class PublishTransport extends TypedEmitter<PublishTransportEvents> {
  readonly #pc: RTCPeerConnection;
  readonly #queue = new NegotiationQueue();
  readonly #published = new Map<string, RTCRtpTransceiver>();
  readonly #reserved = new Set<string>();
  readonly #timeoutMs: number;
  #awaitingAnswer: Deferred<void> | null = null;
  #answerTimer: ReturnType<typeof setTimeout> | undefined;
  readonly #candidates: CandidateBuffer;
  #closed = false;

  constructor(options: PublishTransportOptions = {}) {
    super();
    this.#timeoutMs = options.negotiationTimeoutMs ?? DEFAULT_NEGOTIATION_TIMEOUT_MS;
    const config: RTCConfiguration = {
      iceServers: options.iceServers ?? [],
      bundlePolicy: "max-bundle",
    };
    if (options.iceTransportPolicy) config.iceTransportPolicy = options.iceTransportPolicy;
    this.#pc = new RTCPeerConnection(config);
    this.#candidates = new CandidateBuffer(this.#pc);
    this.#pc.onicecandidate = (e) => {
      if (this.#closed) return;
      this.emit("icecandidate", e.candidate ? e.candidate.toJSON() : null);
    };
    this.#pc.onconnectionstatechange = () => {
      if (this.#closed) return;
      this.emit("connectionstatechange", this.#pc.connectionState);
    };
  }

  /** The underlying RTCPeerConnection (for inspection; do not negotiate on it directly). */
  get peerConnection(): RTCPeerConnection {
    return this.#pc;
  }

  /** How media flows now (udp, tcp, or relay over udp/tcp/tls, and RTT); null before a pair. */
  async getMediaPath(): Promise<MediaPath | null> {
    if (this.#closed) return null;
    return mediaPathOf(await this.#pc.getStats());
  }

  /**
   * Replaces the STUN/TURN servers, e.g. with a WHIP/WHEP response's `Link` servers
   * (`iceServersFromLinks`). Candidates gathered already stay as they were: call this before
   * the first negotiation, or restart ICE after it.
   */
  setIceServers(iceServers: RTCIceServer[]): void {
    this.#pc.setConfiguration({ ...this.#pc.getConfiguration(), iceServers });
  }

  get connectionState(): RTCPeerConnectionState {
    return this.#closed ? "closed" : this.#pc.connectionState;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Ids of the tracks published (or being published) on this transport. */
  get trackIds(): string[] {
    return [...this.#published.keys()];
  }

  /** The RTCRtpSender of a published track (for `replaceTrack`, `setParameters`, stats). */
  getSender(trackId: string): RTCRtpSender | undefined {
    return this.#published.get(trackId)?.sender;
  }

  /**
   * Adds `track` as a sendonly transceiver and returns the offer to send to the server.
   * The server's `publish(trackId)` finds the track by `trackId` (= `track.id`, the msid
   * track id in the offer).
   */
  async publish(track: MediaStreamTrack, opts: PublishOptions = {}): Promise<PublishResult> {
    this.#assertOpen();
    if (!track || typeof track.id !== "string") {
      throw new WeirClientError("invalid_argument", "publish() needs a MediaStreamTrack");
    }
    if (track.readyState === "ended") {
      throw new WeirClientError("invalid_argument", `track ${track.id} has ended`);
    }
    if (this.#published.has(track.id) || this.#reserved.has(track.id)) {
      throw new WeirClientError("invalid_argument", `track ${track.id} is already published`);
    }
    const codecs = opts.codec ? this.#codecPreferences(track.kind, opts.codec) : null;
    this.#reserved.add(track.id);
    try {
      return await this.#queue.run(async (hold) => {
        let transceiver: RTCRtpTransceiver | undefined;
        try {
          const init: RTCRtpTransceiverInit = {
            direction: "sendonly",
            streams: opts.stream ? [opts.stream] : [],
          };
          const sendEncodings = buildSendEncodings(track.kind, opts);
          if (sendEncodings) init.sendEncodings = sendEncodings;
          transceiver = this.#pc.addTransceiver(track, init);
          if (codecs) {
            try {
              transceiver.setCodecPreferences(codecs);
            } catch (err) {
              throw toClientError(err, "codec_unsupported", `setCodecPreferences(${opts.codec})`);
            }
          }
          this.#published.set(track.id, transceiver);
          const offer = await this.#negotiate(hold);
          return { trackId: track.id, offer };
        } catch (err) {
          this.#published.delete(track.id);
          if (transceiver && !this.#closed) stopTransceiver(this.#pc, transceiver);
          throw toClientError(err, "negotiation_failed", "publish");
        }
      });
    } finally {
      this.#reserved.delete(track.id);
    }
  }

  /**
   * Stops sending `trackId` and returns the offer for the server: its m-line is stopped (port 0)
   * or, when it is the m-line that tags the BUNDLE group, left as `a=inactive` with no track.
   * The MediaStreamTrack itself is left running: it belongs to the app.
   */
  async unpublish(trackId: string): Promise<RTCSessionDescriptionInit> {
    this.#assertOpen();
    return this.#queue.run(async (hold) => {
      const transceiver = this.#published.get(trackId);
      if (!transceiver)
        throw new WeirClientError("not_published", `track ${trackId} is not published`);
      this.#published.delete(trackId);
      const tag = bundleTagMid(this.#pc.localDescription?.sdp ?? "");
      if (transceiver.mid !== null && transceiver.mid === tag) {
        // Stopping the m-line that tags the BUNDLE group makes Chromium move every other track
        // to a new transport (a reconnect); park it as inactive instead, as mediasoup does.
        await parkTransceiver(transceiver);
      } else {
        stopTransceiver(this.#pc, transceiver);
      }
      return this.#negotiate(hold);
    });
  }

  /**
   * Opens a DataChannel on this transport. The first one adds the m=application section: the
   * result then carries an offer for the server (apply its answer with `setAnswer()`); later
   * channels open in-band on the same SCTP association and need no negotiation.
   */
  async createDataChannel(
    label: string,
    init: RTCDataChannelInit = {},
  ): Promise<{ channel: RTCDataChannel; offer?: RTCSessionDescriptionInit }> {
    this.#assertOpen();
    return this.#queue.run(async (hold) => {
      const negotiated = /^m=application /m.test(this.#pc.localDescription?.sdp ?? "");
      const channel = this.#pc.createDataChannel(label, init);
      if (negotiated) return { channel };
      return { channel, offer: await this.#negotiate(hold) };
    });
  }

  /** Starts an ICE restart: returns an offer with fresh ICE credentials for the server. */
  async restartIce(): Promise<RTCSessionDescriptionInit> {
    this.#assertOpen();
    return this.#queue.run((hold) => this.#negotiate(hold, { iceRestart: true }));
  }

  /** Applies the server's answer to the pending offer. */
  async setAnswer(answer: RTCSessionDescriptionInit): Promise<void> {
    this.#assertOpen();
    if (answer?.type !== "answer" || typeof answer.sdp !== "string") {
      throw new WeirClientError("invalid_argument", 'setAnswer() needs { type: "answer", sdp }');
    }
    const waiting = this.#awaitingAnswer;
    if (!waiting || this.#pc.signalingState !== "have-local-offer") {
      throw new WeirClientError("invalid_state", "no local offer is waiting for an answer");
    }
    this.#awaitingAnswer = null;
    clearTimeout(this.#answerTimer);
    try {
      await this.#pc.setRemoteDescription(answer);
    } catch (err) {
      const error = toClientError(err, "negotiation_failed", "setRemoteDescription(answer)");
      if (!this.#closed) await this.#rollback();
      waiting.reject(error);
      throw error;
    }
    waiting.resolve();
    if (this.#closed) throw new WeirClientError("closed", "transport closed during setAnswer()");
    await this.#candidates.flush();
  }

  /**
   * Adds a remote (server) ICE candidate; null or an empty candidate marks the end. Candidates
   * that arrive before the first answer are kept until it is applied. Ignored once closed.
   */
  async addIceCandidate(candidate: RTCIceCandidateInit | null): Promise<void> {
    if (this.#closed) return;
    await this.#candidates.add(candidate);
  }

  getStats(): Promise<RTCStatsReport> {
    return this.#pc.getStats();
  }

  /** Closes the peer connection; pending and later calls fail with code "closed". */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#queue.close();
    clearTimeout(this.#answerTimer);
    this.#awaitingAnswer?.reject(new WeirClientError("closed", "transport closed"));
    this.#awaitingAnswer = null;
    this.#candidates.clear();
    this.#published.clear();
    this.#pc.onicecandidate = null;
    this.#pc.onconnectionstatechange = null;
    this.#pc.close();
    this.emit("connectionstatechange", "closed");
    this.emit("closed");
  }

  async #negotiate(
    hold: (until: Promise<unknown>) => void,
    options?: RTCOfferOptions,
  ): Promise<RTCSessionDescriptionInit> {
    let sdp: string;
    try {
      const offer = await this.#pc.createOffer(options);
      await this.#pc.setLocalDescription(offer);
      sdp = this.#pc.localDescription?.sdp ?? offer.sdp ?? "";
    } catch (err) {
      if (this.#closed) throw new WeirClientError("closed", "transport closed", { cause: err });
      throw toClientError(err, "negotiation_failed", "createOffer/setLocalDescription");
    }
    if (this.#closed) throw new WeirClientError("closed", "transport closed");
    const waiting = deferred<void>();
    this.#awaitingAnswer = waiting;
    hold(waiting.promise);
    if (this.#timeoutMs > 0) {
      this.#answerTimer = setTimeout(() => {
        if (this.#awaitingAnswer !== waiting || this.#closed) return;
        this.#awaitingAnswer = null;
        // Roll back so the next queued negotiation starts from a stable state.
        void this.#rollback().finally(() =>
          waiting.reject(
            new WeirClientError("negotiation_timeout", `no answer within ${this.#timeoutMs} ms`),
          ),
        );
      }, this.#timeoutMs);
    }
    return { type: "offer", sdp };
  }

  async #rollback(): Promise<void> {
    if (this.#pc.signalingState !== "have-local-offer") return;
    try {
      await this.#pc.setLocalDescription({ type: "rollback" });
    } catch {
      // Nothing better to do: the next offer will be created from whatever state remains.
    }
  }

  #codecPreferences(kind: string, codec: string): RTCRtpCodec[] {
    // Older Chromium validates setCodecPreferences against the receiver capabilities, the
    // current spec against sender + receiver: try the receiver list first.
    const lists = [
      globalThis.RTCRtpReceiver?.getCapabilities?.(kind)?.codecs,
      globalThis.RTCRtpSender?.getCapabilities?.(kind)?.codecs,
    ];
    for (const list of lists) {
      const ordered = list ? preferCodec(list, codec) : null;
      if (ordered) return ordered;
    }
    throw new WeirClientError("codec_unsupported", `this browser cannot send ${codec}`);
  }

  #assertOpen(): void {
    if (this.#closed) throw new WeirClientError("closed", "transport is closed");
  }
}

async function parkTransceiver(transceiver: RTCRtpTransceiver): Promise<void> {
  try {
    await transceiver.sender.replaceTrack(null);
  } catch {
    // stopped meanwhile; the direction change below is what the server sees
  }
  try {
    transceiver.direction = "inactive";
  } catch {
    // already stopped
  }
}

function stopTransceiver(pc: RTCPeerConnection, transceiver: RTCRtpTransceiver): void {
  try {
    if (typeof transceiver.stop === "function") {
      transceiver.stop();
      return;
    }
  } catch {
    // fall through to the pre-stop() way
  }
  try {
    pc.removeTrack(transceiver.sender);
    transceiver.direction = "inactive";
  } catch {
    // already stopped
  }
}
