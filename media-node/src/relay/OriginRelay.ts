import { buildExtMap } from "../headerExtensions.ts";
import { newId } from "../ids.ts";
import type { Publisher } from "../Publisher.ts";
import { buildRr } from "../rtp/rtcp/build.ts";
import type { ReportBlock } from "../rtp/rtcp/common.ts";
import { parseRtcp, type RtcpRemb, type RtcpVisitor } from "../rtp/rtcp/parse.ts";
import { Subscriber, type SubscriberHost } from "../Subscriber.ts";
import { type RelayHost, RelayTransport } from "./RelayTransport.ts";
import type { RelayAnswer, RelayKey, RelayRequest } from "./RelayTransportTypes.ts";
import { RELAY_EXTENSIONS } from "./relayExtensions.ts";
import { relayContext } from "./relayKeys.ts";

const RELAY_RETRANSMIT_INTERVAL_MS = 20;

/**
 * The origin side of a relay: a Subscriber of a local publisher whose host is the relay leg.
 * Its packets are rewritten into the SSRC the downstream node asked for; PLI/FIR, NACK and
 * receiver reports coming back act on that Subscriber as if a client had sent them.
 */
export class OriginRelay extends RelayTransport implements SubscriberHost, RtcpVisitor {
  readonly role = "origin";
  readonly subscriber: Subscriber;
  readonly answer: RelayAnswer;

  constructor(
    host: RelayHost,
    publisher: Publisher,
    request: RelayRequest,
    answer: { address: RelayAnswer["address"]; ssrc: number; key: RelayKey },
  ) {
    super(host, publisher.id, answer.ssrc);
    this.tx = relayContext(request.key);
    this.rx = relayContext(answer.key);
    this.remote = { ip: request.address.ip, port: request.address.port };
    const c = publisher.codec;
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
    };
    this.subscriber = new Subscriber({
      id: newId("rsub"),
      publisher,
      ssrc: request.ssrc,
      payloadType: c.payloadType,
      extMap: buildExtMap(publisher.headerExtensions, RELAY_EXTENSIONS[publisher.kind]),
      host: this,
      // The downstream node retries a NACK every 40 ms: answer each retry, the leg's RTT is small.
      retransmitIntervalMs: RELAY_RETRANSMIT_INTERVAL_MS,
    });
    this.subscriber.on("closed", () => this.close("publisher"));
    publisher.addSubscriber(this.subscriber);
  }

  protected get sendSsrc(): number {
    return this.subscriber.ssrc;
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

  pli(): void {
    this.subscriber.onKeyframeRequest();
  }

  fir(): void {
    this.subscriber.onKeyframeRequest();
  }

  nack(_sender: number, mediaSsrc: number, lostSeq: number): void {
    if (mediaSsrc === this.subscriber.ssrc) this.subscriber.retransmit(lostSeq);
  }

  reportBlock(_sender: number, block: ReportBlock): void {
    if (block.ssrc === this.subscriber.ssrc) this.subscriber.onReceiverReport(block.fractionLost);
  }

  remb(remb: RtcpRemb): void {
    for (let i = 0; i < remb.ssrcCount; i++) {
      if (remb.ssrcs[i] === this.subscriber.ssrc) this.subscriber.onRemb(remb.bitrate);
    }
  }

  bye(): void {
    this.close("remote");
  }

  protected sendReports(nowMs: number): void {
    // A sender report for lip sync downstream, or an empty RR as a keepalive until there is one.
    this.sendRtcp(this.subscriber.buildSenderReport(nowMs) ?? buildRr(this.subscriber.ssrc));
  }

  protected onClose(): void {
    this.subscriber.close();
  }
}
