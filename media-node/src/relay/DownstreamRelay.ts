import { codecsMatch } from "../codecs.ts";
import { UnsupportedCodecError } from "../errors.ts";
import type { LayerTarget } from "../layers/LayerFilter.ts";
import { Publisher, type PublisherHost } from "../Publisher.ts";
import type { Router } from "../Router.ts";
import { buildCompound, buildRemb, buildRr } from "../rtp/rtcp/build.ts";
import { createReportBlock } from "../rtp/rtcp/common.ts";
import { parseRtcp, type RtcpSenderInfo, type RtcpVisitor } from "../rtp/rtcp/parse.ts";
import { parseRtp, RtpView } from "../rtp/rtpPacket.ts";
import { type RelayHost, RelayTransport } from "./RelayTransport.ts";
import type { RelayAnswer, RelayRequest } from "./RelayTransportTypes.ts";
import { RELAY_EXTENSIONS } from "./relayExtensions.ts";
import { newRelayKey, relayContext } from "./relayKeys.ts";

/**
 * The downstream side of a relay: a Publisher in the local router with the origin publisher's
 * id, fed by the relay leg, so local subscribers subscribe to it as to a local one. Its RTCP
 * (keyframe requests, NACKs, receiver reports) goes back to the origin over the relay.
 * Made in two steps: `request` goes to the origin, whose answer is given to connect().
 */
export class DownstreamRelay extends RelayTransport implements PublisherHost, RtcpVisitor {
  readonly role = "downstream";
  readonly request: RelayRequest;
  readonly firNegotiated = false;
  #rtcpSsrc = 0;
  #publisher: Publisher | null = null;
  readonly #router: Router;
  readonly #onRouterClosed = () => this.close();
  readonly #view = new RtpView();
  readonly #block = createReportBlock();

  constructor(
    host: RelayHost,
    router: Router,
    publisherId: string,
    local: { address: RelayRequest["address"]; ssrc: number },
  ) {
    super(host, publisherId, local.ssrc);
    this.#router = router;
    router.on("closed", this.#onRouterClosed);
    const key = newRelayKey();
    this.rx = relayContext(key);
    this.request = { publisherId, address: local.address, ssrc: local.ssrc, key };
  }

  /** The publisher in the local router, once connected. */
  get publisher(): Publisher | null {
    return this.#publisher;
  }

  get rtcpSsrc(): number {
    return this.#rtcpSsrc;
  }

  protected get sendSsrc(): number {
    return this.#rtcpSsrc;
  }

  /** Applies the origin's answer: keys, address, and the publisher joins the router. */
  connect(answer: RelayAnswer): Publisher {
    const codec = this.#router.codecs.find(
      (c) => c.kind === answer.kind && codecsMatch(c, answer.codec),
    );
    if (!codec) {
      this.close();
      throw new UnsupportedCodecError(`relayed codec ${answer.codec.mimeType} is not in the room`);
    }
    this.tx = relayContext(answer.key);
    this.#rtcpSsrc = answer.ssrc;
    this.remote = { ip: answer.address.ip, port: answer.address.port };
    const publisher = new Publisher({
      id: this.publisherId,
      kind: answer.kind,
      mid: "relay",
      codec,
      sourcePayloadType: answer.codec.payloadType,
      headerExtensions: RELAY_EXTENSIONS[answer.kind],
      host: this,
    });
    this.#publisher = publisher;
    publisher.on("closed", () => this.close());
    this.#router.addPublisher(publisher);
    return publisher;
  }

  protected onRtp(buf: Buffer, len: number): void {
    const view = this.#view;
    const publisher = this.#publisher;
    if (publisher === null || !parseRtp(buf, len, view)) return;
    if (view.payloadType !== publisher.sourcePayloadType) return;
    publisher.receive(buf, view, performance.now());
  }

  protected onRtcp(buf: Buffer, len: number): void {
    parseRtcp(buf, len, this);
  }

  senderReport(info: RtcpSenderInfo): void {
    const publisher = this.#publisher;
    if (publisher === null) return;
    publisher.senderReport = {
      ntpSec: info.ntpSec,
      ntpFrac: info.ntpFrac,
      rtpTimestamp: info.rtpTimestamp,
      receivedAtMs: performance.now(),
    };
  }

  bye(): void {
    this.close("remote");
  }

  /** NACK retries toward the origin (called every few tens of ms). */
  tickNacks(nowMs: number): void {
    this.#publisher?.tick(nowMs);
  }

  /**
   * The highest layers any local subscriber prefers: what the origin should relay (a simulcast
   * origin sends the one encoding that is wanted, not all of them).
   */
  wantedLayers(): LayerTarget {
    const wanted = { spatial: 0, temporal: 0 };
    for (const s of this.#publisher?.subscribers ?? []) {
      const p = s.preferredLayers;
      wanted.spatial = Math.max(wanted.spatial, p.spatial);
      wanted.temporal = Math.max(wanted.temporal, p.temporal);
    }
    return wanted;
  }

  protected sendReports(nowMs: number): void {
    const block = this.#block;
    const publisher = this.#publisher;
    const has = publisher?.fillReportBlock(block, nowMs) ?? false;
    const rr = buildRr(this.#rtcpSsrc, has ? [block] : []);
    // The best local subscriber's bandwidth estimate caps what the origin picks for the relay.
    let best = 0;
    for (const s of publisher?.subscribers ?? []) {
      best = Math.max(best, s.getStats(nowMs).remoteBitrateEstimate);
    }
    const ssrc = publisher?.ssrc;
    if (best === 0 || ssrc == null) this.sendRtcp(rr);
    else this.sendRtcp(buildCompound([rr, buildRemb(this.#rtcpSsrc, best, [ssrc])]));
  }

  protected onClose(): void {
    this.#router.off("closed", this.#onRouterClosed);
    this.#publisher?.close();
  }
}
