import { codecsMatch } from "../codecs.ts";
import { UnsupportedCodecError } from "../errors.ts";
import type { LayerTarget } from "../layers/LayerFilter.ts";
import { type PacketTap, Publisher, type PublisherHost } from "../Publisher.ts";
import type { Router } from "../Router.ts";
import { buildCompound, buildRemb, buildRr } from "../rtp/rtcp/build.ts";
import { createReportBlock, type ReportBlock } from "../rtp/rtcp/common.ts";
import { parseRtcp, type RtcpSenderInfo, type RtcpVisitor } from "../rtp/rtcp/parse.ts";
import { parseRtp, RtpView } from "../rtp/rtpPacket.ts";
import type { Subscriber } from "../Subscriber.ts";
import { type RelayHost, RelayTransport } from "./RelayTransport.ts";
import type { RelayAnswer, RelayLayers, RelayRequest } from "./RelayTransportTypes.ts";
import { RELAY_EXTENSIONS } from "./relayExtensions.ts";
import { newRelayKey, relayContext } from "./relayKeys.ts";

/** The highest layer a relay.layers may name (a recorder wants them all). */
const MAX_LAYER = 15;

/** How often feedback limits and pauses are re-checked (the publisher's layer tick is 200 ms). */
const LAYER_CHECK_MS = 200;

/**
 * The downstream side of a relay: a Publisher in the local router with the origin publisher's
 * id, fed by the relay leg, so local subscribers subscribe to it as to a local one. A simulcast
 * origin's encodings arrive each on its own SSRC (`request.ssrcs[i]` = encoding i), so the local
 * Publisher is simulcast too and every local subscriber picks its own layer. Its RTCP (keyframe
 * requests, NACKs, receiver reports, per encoding SSRC) goes back to the origin over the relay.
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
  #blocks: ReportBlock[] = [];
  /** The publisher's subscriber list last seen (replaced on add/remove: identity = changed). */
  #seenSubs: readonly Subscriber[] = [];
  /** The publisher's tap list last seen (recorders want their encoding relayed too). */
  #seenTaps: readonly PacketTap[] = [];
  #lastLayerCheck = 0;
  #wantedQueued = false;
  readonly #emitWanted = () => {
    this.#wantedQueued = false;
    if (!this.closed) this.emit("wantedchange");
  };
  readonly #onSubLayers = () => this.#wantedMayChange();

  constructor(
    host: RelayHost,
    router: Router,
    publisherId: string,
    local: { address: RelayRequest["address"]; ssrcs: number[] },
  ) {
    super(host, publisherId, local.ssrcs);
    this.#router = router;
    router.on("closed", this.#onRouterClosed);
    const key = newRelayKey();
    this.rx = relayContext(key);
    this.request = { publisherId, address: local.address, ssrcs: local.ssrcs, key };
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
      rids: answer.rids.slice(0, this.receiveSsrcs.length),
      host: this,
    });
    this.#blocks = publisher.encodings.map(() => createReportBlock());
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
    const encoding = this.receiveSsrcs.indexOf(view.ssrc);
    if (encoding < 0 || encoding >= publisher.encodings.length) return;
    publisher.receive(buf, view, performance.now(), encoding);
  }

  protected onRtcp(buf: Buffer, len: number): void {
    parseRtcp(buf, len, this);
  }

  senderReport(info: RtcpSenderInfo): void {
    const encoding = this.#publisher?.encodings[this.receiveSsrcs.indexOf(info.ssrc)];
    if (encoding === undefined) return;
    encoding.senderReport = {
      ntpSec: info.ntpSec,
      ntpFrac: info.ntpFrac,
      rtpTimestamp: info.rtpTimestamp,
      receivedAtMs: performance.now(),
    };
  }

  bye(): void {
    this.close("remote");
  }

  /**
   * NACK retries toward the origin (called every few tens of ms). Also where the wanted layers
   * are watched: new subscribers (then their `layerschange`/`closed`), and after each layer
   * tick the feedback limits and pauses, which change without an event.
   */
  tickNacks(nowMs: number): void {
    const publisher = this.#publisher;
    if (publisher === null) return;
    publisher.tick(nowMs);
    if (publisher.subscribers !== this.#seenSubs) this.#watchSubscribers(publisher.subscribers);
    if (publisher.taps !== this.#seenTaps) {
      this.#seenTaps = publisher.taps;
      this.#wantedMayChange();
    }
    if (nowMs - this.#lastLayerCheck >= LAYER_CHECK_MS) {
      this.#lastLayerCheck = nowMs;
      this.#wantedMayChange();
    }
  }

  #watchSubscribers(subs: readonly Subscriber[]): void {
    const seen = this.#seenSubs;
    for (const s of subs) {
      if (seen.includes(s)) continue;
      s.on("layerschange", this.#onSubLayers);
      s.on("closed", this.#onSubLayers);
    }
    this.#seenSubs = subs;
    this.#wantedMayChange();
  }

  /** Coalesces triggers of one turn into one `wantedchange` (the listener diffs the set). */
  #wantedMayChange(): void {
    if (this.#wantedQueued) return;
    this.#wantedQueued = true;
    queueMicrotask(this.#emitWanted);
  }

  /** What the origin should relay for the local subscribers and recorders (relay.layers). */
  wantedLayers(): RelayLayers {
    const subs = this.#publisher?.subscribers ?? [];
    const count = this.#publisher?.encodings.length ?? 1;
    const wanted = wantedLayers(subs, count);
    const taps = this.#publisher?.taps ?? [];
    if (taps.length === 0) return wanted;
    // a recorder takes every layer of its encoding
    const encodings = new Set(wanted.encodings);
    for (const t of taps) {
      for (const e of t.wantedEncodings ?? [count - 1]) encodings.add(Math.min(e, count - 1));
    }
    return {
      spatial: MAX_LAYER,
      temporal: MAX_LAYER,
      encodings: [...encodings].sort((a, b) => a - b),
    };
  }

  /** Whether anything here takes the relayed packets (subscribers or recorders). */
  get wanted(): boolean {
    const p = this.#publisher;
    return p !== null && (p.subscribers.length > 0 || p.taps.length > 0);
  }

  protected sendReports(nowMs: number): void {
    const publisher = this.#publisher;
    const blocks = this.#blocks.filter((b, i) => publisher?.encodings[i].fillReportBlock(b, nowMs));
    const rr = buildRr(this.#rtcpSsrc, blocks);
    // Without simulcast, the best local subscriber's estimate caps what the origin sends (SVC).
    let best = 0;
    for (const s of publisher?.subscribers ?? []) {
      best = Math.max(best, s.getStats(nowMs).remoteBitrateEstimate);
    }
    const ssrc = publisher?.ssrc;
    if (best === 0 || ssrc == null || publisher?.simulcast) this.sendRtcp(rr);
    else this.sendRtcp(buildCompound([rr, buildRemb(this.#rtcpSsrc, best, [ssrc])]));
  }

  protected onClose(): void {
    this.#router.off("closed", this.#onRouterClosed);
    this.#publisher?.close();
  }
}

/** The layer state of one local subscriber that the wanted set depends on. */
interface LayerWant {
  readonly paused: boolean;
  readonly preferredLayers: Readonly<LayerTarget>;
  readonly currentLayers: Readonly<LayerTarget>;
  readonly layerLimit: number;
}

/**
 * What a set of subscribers wants of a publisher with `count` encodings: the highest spatial and
 * temporal layers preferred, and the simulcast encodings to relay. Per subscriber: the one it
 * would pick (its preference under its feedback limit), the one above when feedback holds it
 * lower (so it can measure and move back up), and the one it sends now (until it has switched).
 */
export function wantedLayers(subs: readonly LayerWant[], count: number): RelayLayers {
  const wanted = { spatial: 0, temporal: 0 };
  const encodings = new Set<number>();
  for (const s of subs) {
    if (s.paused) continue;
    const p = s.preferredLayers;
    wanted.spatial = Math.max(wanted.spatial, p.spatial);
    wanted.temporal = Math.max(wanted.temporal, p.temporal);
    const top = Math.min(p.spatial, count - 1);
    const pick = Math.min(top, s.layerLimit);
    encodings.add(pick);
    if (pick < top) encodings.add(pick + 1);
    if (s.currentLayers.spatial >= 0) encodings.add(s.currentLayers.spatial);
  }
  return { ...wanted, encodings: [...encodings].sort((a, b) => a - b) };
}
