import { toClientError, WeirClientError } from "./errors.ts";
import { CandidateBuffer } from "./internal.ts";
import { type MediaPath, mediaPathOf } from "./mediaPath.ts";
import { NegotiationQueue } from "./NegotiationQueue.ts";
import type {
  SubscribedTrack,
  SubscribeTransportEvents,
  SubscribeTransportOptions,
} from "./SubscribeTransportTypes.ts";
import { diffSubscriptions, type LiveEntry, parseMediaSections, sectionByMid } from "./sdp.ts";
import { TypedEmitter } from "./TypedEmitter.ts";

interface LiveTrack extends LiveEntry {
  track: MediaStreamTrack;
  streams: readonly MediaStream[];
  receiver: RTCRtpReceiver;
  onEnded: () => void;
}

/**
 * The browser side of a server `SubscribeTransport`: the media node offers, the client answers.
 *
 * Carry every server offer (from `subscribe`, `unsubscribe`, `restartIce` or
 * `negotiationneeded`) to `setOffer()` and the returned answer to the server's `setAnswer()`.
 * Offers are applied one at a time in call order. After each offer the transport compares the
 * m-lines the server sends on with the previous ones and emits `trackended` (m-line now
 * inactive/stopped, or reused for another publisher) and then `track` (newly live m-line).
 * The publisher id is read from the offer's `a=msid` for the m-line, not from `track.id`
 * (browsers may give remote tracks their own ids, and a reused m-line keeps its track).
 */
export class SubscribeTransport extends TypedEmitter<SubscribeTransportEvents> {
  readonly #pc: RTCPeerConnection;
  readonly #queue = new NegotiationQueue();
  /** Live subscriptions by mid. */
  readonly #live = new Map<string, LiveTrack>();
  /** Streams from the latest `track` event of each mid. */
  readonly #streamsByMid = new Map<string, readonly MediaStream[]>();
  readonly #candidates: CandidateBuffer;
  #closed = false;

  constructor(options: SubscribeTransportOptions = {}) {
    super();
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
    this.#pc.ontrack = (e) => {
      const mid = e.transceiver?.mid;
      if (mid) this.#streamsByMid.set(mid, e.streams);
    };
    this.#pc.ondatachannel = (e) => {
      if (!this.#closed) this.emit("datachannel", e.channel);
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

  /** The live remote tracks, by publisher id. */
  getTracks(): Map<string, MediaStreamTrack> {
    const tracks = new Map<string, MediaStreamTrack>();
    for (const entry of this.#live.values()) tracks.set(entry.publisherId, entry.track);
    return tracks;
  }

  /** The live subscriptions with their mids, streams and receivers. */
  getSubscriptions(): SubscribedTrack[] {
    return [...this.#live.values()].map(toEvent);
  }

  /**
   * Applies a server offer and returns the answer for the server's `setAnswer()`. Emits
   * `trackended` / `track` for the subscriptions the offer ends or starts before resolving.
   */
  async setOffer(offer: RTCSessionDescriptionInit): Promise<RTCSessionDescriptionInit> {
    this.#assertOpen();
    if (offer?.type !== "offer" || typeof offer.sdp !== "string") {
      throw new WeirClientError("invalid_argument", 'setOffer() needs { type: "offer", sdp }');
    }
    const sdp = offer.sdp;
    return this.#queue.run(async () => {
      try {
        await this.#pc.setRemoteDescription({ type: "offer", sdp });
      } catch (err) {
        this.#throwIfClosed(err);
        throw toClientError(err, "negotiation_failed", "setRemoteDescription(offer)");
      }
      let answerSdp: string;
      try {
        const answer = await this.#pc.createAnswer();
        await this.#pc.setLocalDescription(answer);
        answerSdp = this.#pc.localDescription?.sdp ?? answer.sdp ?? "";
      } catch (err) {
        this.#throwIfClosed(err);
        await this.#pc.setRemoteDescription({ type: "rollback" }).catch(() => {});
        throw toClientError(err, "negotiation_failed", "createAnswer/setLocalDescription");
      }
      this.#throwIfClosed();
      await this.#candidates.flush();
      this.#reconcile(sdp);
      return { type: "answer", sdp: answerSdp };
    });
  }

  /**
   * Adds a remote (server) ICE candidate; null or an empty candidate marks the end. Candidates
   * that arrive before the first offer are kept until it is applied. Ignored once closed.
   */
  async addIceCandidate(candidate: RTCIceCandidateInit | null): Promise<void> {
    if (this.#closed) return;
    await this.#candidates.add(candidate);
  }

  getStats(): Promise<RTCStatsReport> {
    return this.#pc.getStats();
  }

  /**
   * Closes the peer connection: emits `trackended` for every live subscription, then
   * `connectionstatechange` ("closed") and `closed`. Pending and later calls fail with "closed".
   */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#queue.close();
    this.#candidates.clear();
    this.#pc.onicecandidate = null;
    this.#pc.onconnectionstatechange = null;
    this.#pc.ontrack = null;
    this.#pc.ondatachannel = null;
    const live = [...this.#live.values()];
    this.#live.clear();
    this.#streamsByMid.clear();
    for (const entry of live) entry.track.removeEventListener("ended", entry.onEnded);
    this.#pc.close();
    for (const entry of live) {
      this.emit("trackended", { publisherId: entry.publisherId, mid: entry.mid });
    }
    this.emit("connectionstatechange", "closed");
    this.emit("closed");
  }

  #reconcile(offerSdp: string): void {
    const sections = parseMediaSections(offerSdp);
    const transceivers = new Map<string, RTCRtpTransceiver>();
    const stopped = new Set<string>();
    for (const t of this.#pc.getTransceivers()) {
      if (!t.mid) continue;
      transceivers.set(t.mid, t);
      if (t.currentDirection === "stopped" || t.direction === "stopped") stopped.add(t.mid);
    }
    const diff = diffSubscriptions(
      this.#live,
      sections,
      stopped,
      (mid) => this.#streamsByMid.get(mid)?.[0]?.id ?? null,
    );
    for (const mid of this.#streamsByMid.keys()) {
      if (!diff.live.has(mid)) this.#streamsByMid.delete(mid);
    }
    for (const ended of diff.ended) this.#end(ended.mid);
    for (const started of diff.started) {
      const transceiver = transceivers.get(started.mid);
      if (!transceiver) continue;
      const track = transceiver.receiver.track;
      const streamId = sectionByMid(sections, started.mid)?.msid?.streamId;
      let streams = this.#streamsByMid.get(started.mid) ?? [];
      // The track event gives the streams only when the m-line starts receiving; a m-line
      // switched straight to another publisher keeps its old streams there.
      if (streamId && streamId !== "-" && streams[0] && streams[0].id !== streamId) streams = [];
      if (streams.length === 0 && typeof MediaStream === "function") {
        streams = [new MediaStream([track])];
      }
      const entry: LiveTrack = {
        mid: started.mid,
        publisherId: started.publisherId,
        track,
        streams,
        receiver: transceiver.receiver,
        onEnded: () => {
          if (this.#live.get(started.mid) === entry) this.#end(started.mid);
        },
      };
      this.#live.set(started.mid, entry);
      track.addEventListener("ended", entry.onEnded);
      this.emit("track", toEvent(entry));
    }
  }

  #end(mid: string): void {
    const entry = this.#live.get(mid);
    if (!entry) return;
    this.#live.delete(mid);
    entry.track.removeEventListener("ended", entry.onEnded);
    this.emit("trackended", { publisherId: entry.publisherId, mid });
  }

  #throwIfClosed(cause?: unknown): void {
    if (this.#closed) throw new WeirClientError("closed", "transport closed", { cause });
  }

  #assertOpen(): void {
    if (this.#closed) throw new WeirClientError("closed", "transport is closed");
  }
}

function toEvent(entry: LiveTrack): SubscribedTrack {
  return {
    track: entry.track,
    publisherId: entry.publisherId,
    mid: entry.mid,
    streams: entry.streams,
    receiver: entry.receiver,
  };
}
