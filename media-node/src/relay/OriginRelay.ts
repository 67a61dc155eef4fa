import { buildExtMap } from "../headerExtensions.ts";
import { newId } from "../ids.ts";
import type { Publisher } from "../Publisher.ts";
import { buildCompound, buildRr } from "../rtp/rtcp/build.ts";
import type { ReportBlock } from "../rtp/rtcp/common.ts";
import { parseRtcp, type RtcpRemb, type RtcpVisitor } from "../rtp/rtcp/parse.ts";
import { Subscriber, type SubscriberHost } from "../Subscriber.ts";
import { type RelayHost, RelayTransport } from "./RelayTransport.ts";
import type { RelayAnswer, RelayKey, RelayLayers, RelayRequest } from "./RelayTransportTypes.ts";
import { RELAY_EXTENSIONS } from "./relayExtensions.ts";
import { relayContext } from "./relayKeys.ts";

const RELAY_RETRANSMIT_INTERVAL_MS = 20;

/**
 * The origin side of a relay: Subscribers of a local publisher whose host is the relay leg, one
 * per relayed encoding (one without simulcast). Subscriber i is pinned to encoding i and sends
 * it on the downstream node's SSRC i, so node B sees a simulcast publisher of its own; encodings
 * B does not want are paused. PLI/FIR, NACK and receiver reports coming back act on the
 * Subscriber of their media SSRC as if a client had sent them.
 */
export class OriginRelay extends RelayTransport implements SubscriberHost, RtcpVisitor {
  readonly role = "origin";
  /** Index = encoding of the publisher. */
  readonly subscribers: readonly Subscriber[];
  readonly answer: RelayAnswer;
  readonly #simulcast: boolean;

  constructor(
    host: RelayHost,
    publisher: Publisher,
    request: RelayRequest,
    answer: { address: RelayAnswer["address"]; ssrc: number; key: RelayKey },
  ) {
    super(host, publisher.id, [answer.ssrc]);
    this.tx = relayContext(request.key);
    this.rx = relayContext(answer.key);
    this.remote = { ip: request.address.ip, port: request.address.port };
    const c = publisher.codec;
    const count = Math.min(publisher.encodings.length, request.ssrcs.length);
    this.#simulcast = publisher.simulcast && count > 1;
    this.answer = {
      ...answer,
      kind: publisher.kind,
      codec: {
        mimeType: c.mimeType,
        clockRate: c.clockRate,
        channels: c.channels,
        parameters: c.parameters,
        payloadType: c.payloadType,
      },
      rids: this.#simulcast ? publisher.encodings.slice(0, count).map((e) => e.rid) : [],
    };
    const extMap = buildExtMap(publisher.headerExtensions, RELAY_EXTENSIONS[publisher.kind]);
    const subs: Subscriber[] = [];
    for (let i = 0; i < (this.#simulcast ? count : 1); i++) {
      const sub = new Subscriber({
        id: newId("rsub"),
        publisher,
        ssrc: request.ssrcs[i],
        payloadType: c.payloadType,
        extMap,
        host: this,
        // The downstream node retries a NACK every 40 ms: answer each retry, the leg's RTT is small.
        retransmitIntervalMs: RELAY_RETRANSMIT_INTERVAL_MS,
      });
      if (this.#simulcast) sub.setPreferredLayers({ spatial: i });
      sub.on("closed", () => this.close("publisher"));
      subs.push(sub);
    }
    this.subscribers = subs;
    for (const sub of subs) publisher.addSubscriber(sub);
  }

  protected get sendSsrc(): number {
    return this.subscribers[0].ssrc;
  }

  /**
   * What the downstream node wants (relay.layers): simulcast encodings not listed stop being
   * relayed; the layers cap temporal layers (and SVC spatial layers without simulcast).
   */
  setLayers(layers: RelayLayers): void {
    const { spatial, temporal } = layers;
    if (!this.#simulcast) {
      this.subscribers[0].setPreferredLayers({ spatial, temporal });
      return;
    }
    this.subscribers.forEach((sub, i) => {
      sub.setPreferredLayers({ spatial: i, temporal });
      sub.setPaused(!layers.encodings.includes(i));
    });
  }

  // --- SubscriberHost ---

  get mediaReady(): boolean {
    return !this.closed;
  }

  sendRtp(plain: Uint8Array, len: number, headerLen: number): boolean {
    return this.sendRtpPacket(plain, len, headerLen);
  }

  // --- RTCP from the downstream node ---

  protected onRtp(): void {
    // nothing flows downstream -> origin but RTCP; an authentic RTP packet here is ignored
  }

  protected onRtcp(buf: Buffer, len: number): void {
    parseRtcp(buf, len, this);
  }

  pli(_sender: number, mediaSsrc: number): void {
    this.#of(mediaSsrc)?.onKeyframeRequest();
  }

  fir(_sender: number, mediaSsrc: number): void {
    this.#of(mediaSsrc)?.onKeyframeRequest();
  }

  nack(_sender: number, mediaSsrc: number, lostSeq: number): void {
    this.#of(mediaSsrc)?.retransmit(lostSeq);
  }

  // Loss and REMB would move a pinned encoding's Subscriber to another encoding: with simulcast,
  // the downstream node's own subscribers adapt (each picks among the relayed encodings).
  reportBlock(_sender: number, block: ReportBlock): void {
    if (!this.#simulcast) this.#of(block.ssrc)?.onReceiverReport(block.fractionLost);
  }

  remb(remb: RtcpRemb): void {
    if (this.#simulcast) return;
    const sub = this.subscribers[0];
    for (let i = 0; i < remb.ssrcCount; i++) {
      if (remb.ssrcs[i] === sub.ssrc) sub.onRemb(remb.bitrate);
    }
  }

  bye(): void {
    this.close("remote");
  }

  protected sendReports(nowMs: number): void {
    // Sender reports for lip sync downstream, or an empty RR as a keepalive until there is one.
    const srs: Buffer[] = [];
    for (const sub of this.subscribers) {
      const sr = sub.paused ? null : sub.buildSenderReport(nowMs);
      if (sr) srs.push(sr);
    }
    this.sendRtcp(srs.length > 0 ? buildCompound(srs) : buildRr(this.sendSsrc));
  }

  protected onClose(): void {
    for (const sub of this.subscribers) sub.close();
  }

  #of(mediaSsrc: number): Subscriber | undefined {
    const subs = this.subscribers;
    for (let i = 0; i < subs.length; i++) if (subs[i].ssrc === mediaSsrc) return subs[i];
    return undefined;
  }
}
