import { type RTCRtpTransceiver, SessionDescription } from "werift";
import { codecsMatch, isRtxCodec, toWeriftCodec } from "./codecs.ts";
import type { DataPublisher } from "./DataPublisher.ts";
import { DataSubscriber } from "./DataSubscriber.ts";
import type { DataSubscribeOptions, DataSubscribeResult } from "./DataSubscriberTypes.ts";
import { InvalidStateError, NotFoundError, WeirError } from "./errors.ts";
import { buildExtMap, subscribeHeaderExtensions } from "./headerExtensions.ts";
import { newId, newSsrc } from "./ids.ts";
import type { Publisher } from "./Publisher.ts";
import type { RouterContext } from "./PublishTransport.ts";
import { buildCompound } from "./rtp/rtcp/build.ts";
import type { ReportBlock } from "./rtp/rtcp/common.ts";
import { parseRtcp, type RtcpRemb, type RtcpVisitor } from "./rtp/rtcp/parse.ts";
import { Subscriber, type SubscriberHost } from "./Subscriber.ts";
import type {
  SubscribeResult,
  SubscribeTransportEvents,
  SubscribeTransportOptions,
  SubscribeTransportStats,
} from "./SubscribeTransportTypes.ts";
import type {
  IceCandidateInit,
  IceRestartResult,
  SessionDescriptionInit,
} from "./TransportTypes.ts";
import { TypedEmitter } from "./TypedEmitter.ts";
import { type MediaSink, WebRtcPeer } from "./WebRtcPeer.ts";

export interface SubscribeRouterContext extends RouterContext {
  getPublisher(id: string): Publisher | undefined;
  getDataPublisher(id: string): DataPublisher | undefined;
}

const RTCP_INTERVAL_MS = 1000;
const ANSWER_TIMEOUT_MS = 15_000;

interface Slot {
  transceiver: RTCRtpTransceiver;
  subscriber: Subscriber | null;
}

/**
 * The node offers, the client answers; carries every track one participant receives. m-lines
 * of ended subscriptions go inactive and are reused by the next subscription of the same kind.
 * For WHEP the roles swap once: answerOffer() answers the client's offer and the transport stays
 * the answering side (no subscribe()/createOffer(); ICE restarts by restartIceWithFragment()).
 */
export class SubscribeTransport
  extends TypedEmitter<SubscribeTransportEvents>
  implements MediaSink, SubscriberHost, RtcpVisitor
{
  readonly id = newId("st");
  readonly #router: SubscribeRouterContext;
  readonly #peer: WebRtcPeer;
  readonly #slots: Slot[] = [];
  readonly #bySsrc = new Map<number, Subscriber>();
  readonly #dataSubscribers = new Map<string, DataSubscriber>();
  readonly #timer: NodeJS.Timeout;
  /** Serialises offer/answer rounds: one offer outstanding at a time. */
  #queue: Promise<unknown> = Promise.resolve();
  #answered: (() => void) | null = null;
  /** Set by answerOffer(): the client offers, the node answers (WHEP). */
  #answerer = false;
  #closed = false;

  constructor(router: SubscribeRouterContext, options: SubscribeTransportOptions = {}) {
    super();
    this.#router = router;
    // Offers carry per-m-line codecs; the router's list lets werift accept client offers (WHEP).
    const codecs = {
      audio: router.codecs.filter((c) => c.kind === "audio").map((c) => toWeriftCodec(c)),
      video: router.codecs.filter((c) => c.kind === "video").map((c) => toWeriftCodec(c)),
    };
    this.#peer = new WebRtcPeer(options, codecs, subscribeHeaderExtensions());
    this.#peer.setSink(this);
    this.#peer.on("icecandidate", (c) => this.emit("icecandidate", c));
    this.#peer.on("connected", () => {
      for (const s of this.#bySsrc.values()) s.publisher.requestKeyframe();
    });
    this.#peer.on("connectionstatechange", (s) => {
      this.emit("connectionstatechange", s);
      if (s === "failed" || s === "closed") void this.close();
    });
    this.#timer = setInterval(() => this.#sendReports(), RTCP_INTERVAL_MS).unref();
  }

  get connectionState() {
    return this.#peer.state;
  }

  get subscribers(): Subscriber[] {
    return [...this.#bySsrc.values()];
  }

  /** Adds (or reuses) an m-line for a publisher and returns the offer that carries it. */
  subscribe(publisherId: string): Promise<SubscribeResult> {
    return this.#negotiate(async () => {
      this.#assertOfferer();
      const publisher = this.#publisher(publisherId);
      if (this.subscribers.some((s) => s.publisher === publisher)) {
        throw new InvalidStateError(`already subscribed to ${publisherId}`);
      }
      const slot = this.#freeSlot(publisher);
      const subscriber = this.#attach(slot, publisher, publisher.codec.payloadType);
      const offer = await this.#offer();
      publisher.addSubscriber(subscriber);
      return { subscriber, offer };
    });
  }

  get dataSubscribers(): DataSubscriber[] {
    return [...this.#dataSubscribers.values()];
  }

  /**
   * Opens a DataChannel toward the client carrying a data publisher's messages (same label,
   * ordering and reliability). The session's first DataChannel adds its m=application section:
   * the result then has an offer for the client (answer with setAnswer). Later ones ride the
   * negotiated SCTP association and have no offer.
   */
  subscribeData(
    dataPublisherId: string,
    options: DataSubscribeOptions = {},
  ): Promise<DataSubscribeResult> {
    return this.#negotiate(async () => {
      this.#assertOfferer();
      const publisher = this.#router.getDataPublisher(dataPublisherId);
      if (!publisher || publisher.closed) {
        throw new NotFoundError(`no data publisher ${dataPublisherId}`);
      }
      if (this.dataSubscribers.some((s) => s.dataPublisher === publisher)) {
        throw new InvalidStateError(`already subscribed to ${dataPublisherId}`);
      }
      const needsOffer = !this.#peer.hasSctp;
      const o = publisher.options;
      const channel = this.#peer.createDataChannel({
        label: o.label,
        ordered: o.ordered,
        maxRetransmits: o.maxRetransmits,
        maxPacketLifeTime: o.maxPacketLifeTime,
        protocol: options.protocol ?? o.protocol,
      });
      const dataSubscriber = new DataSubscriber({
        id: newId("dsub"),
        dataPublisher: publisher,
        channel,
        maxQueueBytes: options.maxQueueBytes,
        appData: options.appData,
      });
      this.#dataSubscribers.set(dataSubscriber.id, dataSubscriber);
      dataSubscriber.on("closed", () => {
        this.#dataSubscribers.delete(dataSubscriber.id);
        if (!this.#closed) this.emit("datasubscriberclosed", dataSubscriber);
      });
      let offer: SessionDescriptionInit | undefined;
      try {
        offer = needsOffer ? await this.#offer() : undefined;
      } catch (err) {
        dataSubscriber.close();
        throw err;
      }
      publisher.addSubscriber(dataSubscriber);
      return { dataSubscriber, offer };
    });
  }

  /** Ends a data subscription (its channel is closed; no renegotiation needed). */
  unsubscribeData(dataSubscriberId: string): void {
    const s = this.#dataSubscribers.get(dataSubscriberId);
    if (!s) throw new NotFoundError(`no data subscriber ${dataSubscriberId}`);
    s.close();
  }

  /** Ends a subscription; its m-line goes inactive (to be reused). Returns the new offer. */
  unsubscribe(subscriberId: string): Promise<SessionDescriptionInit> {
    const subscriber = this.subscribers.find((s) => s.id === subscriberId);
    if (!subscriber) return Promise.reject(new NotFoundError(`no subscriber ${subscriberId}`));
    subscriber.close();
    return this.createOffer();
  }

  /** A fresh offer reflecting the current subscriptions (after negotiationneeded). */
  createOffer(options: { iceRestart?: boolean } = {}): Promise<SessionDescriptionInit> {
    return this.#negotiate(() => {
      this.#assertOfferer();
      return this.#offer(options.iceRestart);
    });
  }

  /**
   * WHEP (RFC 9725): answers a client's offer on a fresh transport. Each recvonly (or sendrecv)
   * audio/video m-line carries the first requested publisher of its kind not yet bound, sent with
   * the payload type the client offered for the publisher's codec and msid = publisher id.
   * m-lines with no publisher left, or whose offer lacks the publisher's codec, answer inactive
   * (m-lines with no codec the router knows are rejected, port 0). Header extension ids are the
   * client's. The bound subscribers are `subscribers`; a publisher with no m-line for it is
   * simply not bound. Throws NotFoundError for an unknown publisher id, before touching the peer.
   */
  answerOffer(
    offer: SessionDescriptionInit,
    publisherIds: string[],
  ): Promise<SessionDescriptionInit> {
    return this.#negotiate(async () => {
      const checked = WebRtcPeer.checkSdp(offer, "offer");
      if (this.#slots.length > 0 || this.#peer.pc.remoteDescription) {
        throw new InvalidStateError(
          "answerOffer needs a subscribe transport that never negotiated",
        );
      }
      const publishers = [...new Set(publisherIds)].map((id) => this.#publisher(id));
      await this.#peer.setRemoteDescription(checked);
      this.#answerer = true;
      const bound = this.#bindOffer(SessionDescription.parse(checked.sdp), publishers);
      const answer = await this.#peer.setLocalDescription(await this.#peer.pc.createAnswer());
      this.#applyAnswer(SessionDescription.parse(answer.sdp));
      for (const s of bound) s.publisher.addSubscriber(s);
      return answer;
    });
  }

  /**
   * ICE restart by SDP fragment (WHEP PATCH, RFC 9725 section 4.3), for a transport set up by
   * answerOffer(): applies the client's new ICE credentials and returns the node's new ones with
   * its candidates. DTLS and SRTP keys stay. Trickled candidates go to addIceCandidate().
   */
  restartIceWithFragment(remoteUfrag: string, remotePwd: string): Promise<IceRestartResult> {
    return this.#negotiate(() => {
      if (!this.#answerer) throw new InvalidStateError("this transport offers: use restartIce()");
      return this.#peer.restartIceAsAnswerer(remoteUfrag, remotePwd);
    });
  }

  /** Restarts ICE: returns an offer with new credentials. */
  restartIce(): Promise<SessionDescriptionInit> {
    return this.createOffer({ iceRestart: true });
  }

  async setAnswer(answer: SessionDescriptionInit): Promise<void> {
    this.#assertOpen();
    const checked = WebRtcPeer.checkSdp(answer, "answer");
    if (this.#peer.pc.signalingState !== "have-local-offer") {
      throw new InvalidStateError("no offer is waiting for an answer");
    }
    await this.#peer.setRemoteDescription(checked);
    this.#applyAnswer(SessionDescription.parse(checked.sdp));
    this.#answered?.();
  }

  addIceCandidate(candidate: IceCandidateInit | null): Promise<void> {
    this.#assertOpen();
    return this.#peer.addIceCandidate(candidate);
  }

  // --- SubscriberHost / MediaSink ---

  get mediaReady(): boolean {
    return this.#peer.mediaReady;
  }

  sendRtp(plain: Uint8Array, len: number, headerLen: number): boolean {
    return this.#peer.sendRtp(plain, len, headerLen);
  }

  onRtp(): void {
    this.#peer.stats.droppedUnknown++; // subscribers send no media to us
  }

  onRtcp(buf: Buffer, len: number): void {
    if (parseRtcp(buf, len, this) < 0) this.#peer.stats.droppedMalformed++;
  }

  pli(_sender: number, mediaSsrc: number): void {
    this.#bySsrc.get(mediaSsrc)?.onKeyframeRequest();
  }

  fir(_sender: number, mediaSsrc: number): void {
    this.#bySsrc.get(mediaSsrc)?.onKeyframeRequest();
  }

  nack(_sender: number, mediaSsrc: number, lostSeq: number): void {
    this.#bySsrc.get(mediaSsrc)?.retransmit(lostSeq);
  }

  reportBlock(_sender: number, block: ReportBlock): void {
    this.#bySsrc.get(block.ssrc)?.onReceiverReport(block.fractionLost);
  }

  remb(remb: RtcpRemb): void {
    for (let i = 0; i < remb.ssrcCount; i++) this.#bySsrc.get(remb.ssrcs[i])?.onRemb(remb.bitrate);
  }

  getStats(): SubscribeTransportStats {
    return {
      id: this.id,
      state: this.#peer.state,
      media: { ...this.#peer.stats },
      subscribers: this.subscribers.map((s) => s.getStats()),
      dataSubscribers: this.dataSubscribers.map((s) => s.getStats()),
      mLines: this.#slots.length,
    };
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#timer);
    for (const s of this.subscribers) s.close();
    for (const s of this.dataSubscribers) s.close();
    await this.#peer.close();
    this.emit("closed");
    this.removeAllListeners();
  }

  #assertOpen(): void {
    if (this.#closed) throw new WeirError("closed", `subscribe transport ${this.id} is closed`);
  }

  #assertOfferer(): void {
    if (this.#answerer) {
      throw new InvalidStateError("this transport answers a client offer (WHEP): it cannot offer");
    }
  }

  #publisher(id: string): Publisher {
    const publisher = this.#router.getPublisher(id);
    if (!publisher || publisher.closed) throw new NotFoundError(`no publisher ${id}`);
    return publisher;
  }

  /** A subscriber for a publisher on a prepared m-line; it joins the publisher after the SDP round. */
  #attach(slot: Slot, publisher: Publisher, payloadType: number): Subscriber {
    const subscriber = new Subscriber({
      id: newId("sub"),
      publisher,
      ssrc: slot.transceiver.sender.ssrc,
      payloadType,
      extMap: new Uint8Array(256),
      host: this,
    });
    slot.subscriber = subscriber;
    this.#bySsrc.set(subscriber.ssrc, subscriber);
    subscriber.on("closed", () => this.#release(slot, subscriber));
    return subscriber;
  }

  /** Binds the offered m-lines to publishers (answerOffer); unbound ones go inactive. */
  #bindOffer(offer: SessionDescription, publishers: Publisher[]): Subscriber[] {
    const left = [...publishers];
    const bound: Subscriber[] = [];
    for (const media of offer.media) {
      const transceiver = this.#peer.pc.getTransceivers().find((t) => t.mid === media.rtp.muxId);
      if (!transceiver || (media.kind !== "audio" && media.kind !== "video")) continue;
      const slot: Slot = { transceiver, subscriber: null };
      this.#slots.push(slot);
      transceiver.setDirection("inactive");
      const receives = media.direction === "recvonly" || media.direction === "sendrecv";
      if (!receives || media.port === 0) continue;
      for (const publisher of left.filter((p) => p.kind === media.kind)) {
        const offered = media.rtp.codecs.find(
          (c) => !isRtxCodec(c.mimeType) && codecsMatch(publisher.codec, c),
        );
        if (!offered) continue;
        left.splice(left.indexOf(publisher), 1);
        this.#prepare(transceiver, publisher, offered.payloadType);
        bound.push(this.#attach(slot, publisher, offered.payloadType));
        break;
      }
    }
    return bound;
  }

  /** Runs one offer/answer round after the previous one has been answered. */
  #negotiate<T>(round: () => Promise<T>): Promise<T> {
    const run = async () => {
      this.#assertOpen();
      return round();
    };
    const result = this.#queue.then(run, run);
    this.#queue = result.then(
      () => this.#waitForAnswer(),
      () => undefined,
    );
    return result;
  }

  #waitForAnswer(): Promise<void> {
    if (this.#peer.pc.signalingState !== "have-local-offer") return Promise.resolve();
    return new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        this.#answered = null;
        resolve();
      }, ANSWER_TIMEOUT_MS).unref();
      this.#answered = () => {
        clearTimeout(timer);
        this.#answered = null;
        resolve();
      };
    });
  }

  async #offer(iceRestart = false): Promise<SessionDescriptionInit> {
    const offer = await this.#peer.pc.createOffer({ iceRestart });
    return this.#peer.setLocalDescription(offer);
  }

  /** A free m-line of the publisher's kind, made ready for it, or a new one. */
  #freeSlot(publisher: Publisher): Slot {
    let slot = this.#slots.find(
      (s) => s.subscriber === null && s.transceiver.kind === publisher.kind,
    );
    if (slot) {
      // A new SSRC so the client sees a new stream, not a jump in the old one.
      (slot.transceiver.sender as { ssrc: number }).ssrc = newSsrc();
    } else {
      const transceiver = this.#peer.pc.addTransceiver(publisher.kind, { direction: "sendonly" });
      slot = { transceiver, subscriber: null };
      this.#slots.push(slot);
    }
    this.#prepare(slot.transceiver, publisher, publisher.codec.payloadType);
    return slot;
  }

  /** Makes an m-line send one publisher: its codec at the given payload type, msid = its id. */
  #prepare(t: RTCRtpTransceiver, publisher: Publisher, payloadType: number): void {
    t.setDirection("sendonly");
    t.codecs = [toWeriftCodec(publisher.codec, payloadType)];
    t.sender.streamId = publisher.id;
    (t.sender as { trackId: string }).trackId = publisher.id;
  }

  #release(slot: Slot, subscriber: Subscriber): void {
    this.#bySsrc.delete(subscriber.ssrc);
    if (slot.subscriber !== subscriber) return;
    slot.subscriber = null;
    slot.transceiver.setDirection("inactive");
    if (this.#closed) return;
    this.emit("subscriberclosed", subscriber);
    if (!this.#answerer) this.emit("negotiationneeded");
  }

  /** Learns the client's header extension ids and maps each subscriber's publisher onto them. */
  #applyAnswer(answer: SessionDescription): void {
    for (const slot of this.#slots) {
      const sub = slot.subscriber;
      if (!sub) continue;
      const media = answer.media.find((m) => m.rtp.muxId === slot.transceiver.mid);
      if (!media) continue;
      sub.setExtMap(buildExtMap(sub.publisher.headerExtensions, media.rtp.headerExtensions));
    }
  }

  #sendReports(): void {
    if (this.#peer.state !== "connected" || this.#bySsrc.size === 0) return;
    const now = performance.now();
    const packets: Uint8Array[] = [];
    for (const s of this.#bySsrc.values()) {
      const sr = s.buildSenderReport(now);
      if (sr) packets.push(sr);
    }
    if (packets.length > 0) this.#peer.sendRtcp(buildCompound(packets));
  }
}
