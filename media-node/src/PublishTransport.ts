import { SessionDescription } from "werift";
import {
  type CodecCapability,
  codecName,
  codecsMatch,
  isRtxCodec,
  toWeriftCodec,
} from "./codecs.ts";
import { DataPublisher } from "./DataPublisher.ts";
import type { DataChannelOptions } from "./DataPublisherTypes.ts";
import {
  InvalidSdpError,
  InvalidStateError,
  NotFoundError,
  UnsupportedCodecError,
  WeirError,
} from "./errors.ts";
import { EXT_URI, publishExtensionAllowed, publishHeaderExtensions } from "./headerExtensions.ts";
import { newId, newSsrc } from "./ids.ts";
import { Publisher, type PublisherHost } from "./Publisher.ts";
import type { MediaKind } from "./PublisherTypes.ts";
import type {
  OfferedTrack,
  PublishTransportEvents,
  PublishTransportOptions,
  PublishTransportStats,
} from "./PublishTransportTypes.ts";
import { buildCompound, buildRemb, buildRr } from "./rtp/rtcp/build.ts";
import { createReportBlock, type ReportBlock } from "./rtp/rtcp/common.ts";
import { parseRtcp, type RtcpSenderInfo, type RtcpVisitor } from "./rtp/rtcp/parse.ts";
import {
  extDataLength,
  extDataOffset,
  findHeaderExtension,
  parseRtp,
  RtpView,
} from "./rtp/rtpPacket.ts";
import type {
  IceCandidateInit,
  IceRestartResult,
  SessionDescriptionInit,
} from "./TransportTypes.ts";
import { TypedEmitter } from "./TypedEmitter.ts";
import { type MediaSink, type PeerDataChannel, WebRtcPeer } from "./WebRtcPeer.ts";

/** What a transport needs from its router. */
export interface RouterContext {
  readonly codecs: readonly CodecCapability[];
  addPublisher(publisher: Publisher): void;
  addDataPublisher(dataPublisher: DataPublisher): void;
}

/** A DataChannel the client opened, published or not. */
interface OfferedChannel {
  channel: PeerDataChannel;
  options: DataChannelOptions;
  publisher: DataPublisher | null;
}

/** Longest DataChannel label accepted, in UTF-8 bytes. */
const MAX_LABEL_BYTES = 1024;
/** DCEP carries 32 bits of reliability; the WebRTC API (and Weir's wire schema) 16. */
const MAX_RELIABILITY = 0xffff;
/**
 * A track id taken from an offer's a=msid: RFC 8830 msid-appdata, 1-64 token characters. Any
 * other (empty, longer, spaces, control characters) is replaced, so no client-chosen id can
 * break whoever lists the room's publishers.
 */
const TRACK_ID = /^[!#-'*+\-.0-9A-Z^-~]{1,64}$/;

interface NegotiatedTrack extends OfferedTrack {
  codec: CodecCapability;
  sourcePayloadType: number;
  ssrcs: number[];
  /** Simulcast rids the client sends (a=rid:<id> send), in offer order. */
  rids: string[];
  headerExtensions: { id: number; uri: string }[];
}

const RTCP_INTERVAL_MS = 1000;
/** Publishers tick from their own packets; this timer only covers one that went quiet. */
const FALLBACK_TICK_MS = 100;
const DEFAULT_MAX_INCOMING_BITRATE = 3_000_000;

/** The client offers, the node answers; carries one participant's published tracks. */
export class PublishTransport
  extends TypedEmitter<PublishTransportEvents>
  implements MediaSink, PublisherHost, RtcpVisitor
{
  readonly id = newId("pt");
  readonly rtcpSsrc = newSsrc();
  firNegotiated = false;
  readonly #router: RouterContext;
  readonly #peer: WebRtcPeer;
  readonly #view = new RtpView();
  /** SSRC -> the publisher and encoding it carries (learned from a=ssrc or the mid/rid extensions). */
  readonly #bySsrc = new Map<number, Route>();
  readonly #byMid = new Map<string, Publisher>();
  readonly #tracks = new Map<string, NegotiatedTrack>();
  readonly #channels = new Map<string, OfferedChannel>();
  readonly #dataStats = { channelsRejected: 0, messagesUnpublished: 0 };
  readonly #maxIncomingBitrate: number;
  readonly #timers: NodeJS.Timeout[] = [];
  #midExtId = 0;
  #ridExtId = 0;
  #closed = false;

  constructor(router: RouterContext, options: PublishTransportOptions = {}) {
    super();
    this.#router = router;
    this.#maxIncomingBitrate = options.maxIncomingBitrate ?? DEFAULT_MAX_INCOMING_BITRATE;
    const codecs = {
      audio: router.codecs.filter((c) => c.kind === "audio").map((c) => toWeriftCodec(c)),
      video: router.codecs.filter((c) => c.kind === "video").map((c) => toWeriftCodec(c)),
    };
    this.#peer = new WebRtcPeer(options, codecs, publishHeaderExtensions());
    this.#peer.setSink(this);
    this.#peer.on("icecandidate", (c) => this.emit("icecandidate", c));
    this.#peer.on("connectionstatechange", (s) => {
      this.emit("connectionstatechange", s);
      if (s === "failed" || s === "closed") void this.close();
    });
    this.#peer.onDataChannel((c) => this.#onDataChannel(c));
    this.#timers.push(
      setInterval(() => this.#sendReports(), RTCP_INTERVAL_MS).unref(),
      setInterval(() => this.#tickQuiet(), FALLBACK_TICK_MS).unref(),
    );
  }

  get connectionState() {
    return this.#peer.state;
  }

  get publishers(): Publisher[] {
    return [...this.#byMid.values()];
  }

  /** Applies a client offer (first or renegotiation) and returns the node's answer. */
  async getAnswer(offer: SessionDescriptionInit): Promise<SessionDescriptionInit> {
    this.#assertOpen();
    const checked = WebRtcPeer.checkSdp(offer, "offer");
    const parsed = SessionDescription.parse(checked.sdp);
    await this.#peer.setRemoteDescription(checked);
    const offered = this.#matchCodecs(parsed);
    const answer = await this.#peer.pc.createAnswer();
    const local = await this.#peer.setLocalDescription(answer);
    this.#updateTracks(offered);
    return local;
  }

  /** Starts forwarding an offered track; the publisher joins the router. */
  publish(trackId: string): Publisher {
    this.#assertOpen();
    const track = this.#tracks.get(trackId);
    if (!track) throw new NotFoundError(`no offered track with id ${trackId}`);
    if (this.#byMid.has(track.mid))
      throw new InvalidStateError(`track ${trackId} is already published`);
    const publisher = new Publisher({
      id: trackId,
      kind: track.kind,
      mid: track.mid,
      codec: track.codec,
      sourcePayloadType: track.sourcePayloadType,
      headerExtensions: track.headerExtensions,
      rids: track.rids,
      host: this,
    });
    this.#byMid.set(track.mid, publisher);
    if (!publisher.simulcast) {
      for (const ssrc of track.ssrcs) this.#bySsrc.set(ssrc, { publisher, encoding: 0 });
    }
    publisher.on("closed", () => {
      this.#byMid.delete(track.mid);
      for (const [ssrc, r] of this.#bySsrc)
        if (r.publisher === publisher) this.#bySsrc.delete(ssrc);
    });
    this.#router.addPublisher(publisher);
    return publisher;
  }

  get dataPublishers(): DataPublisher[] {
    const out: DataPublisher[] = [];
    for (const c of this.#channels.values()) if (c.publisher) out.push(c.publisher);
    return out;
  }

  /** Starts forwarding a DataChannel the client opened (by label); it joins the router. */
  publishData(label: string): DataPublisher {
    this.#assertOpen();
    const offered = this.#channels.get(label);
    if (!offered) throw new NotFoundError(`no open DataChannel labelled ${JSON.stringify(label)}`);
    if (offered.publisher) throw new InvalidStateError(`DataChannel ${label} is already published`);
    const publisher = new DataPublisher({ id: newId("dp"), channel: offered.channel });
    offered.publisher = publisher;
    publisher.on("closed", () => {
      if (offered.publisher === publisher) offered.publisher = null;
    });
    this.#router.addDataPublisher(publisher);
    return publisher;
  }

  /** Stops forwarding a published DataChannel: the client's channel is closed, subscribers end. */
  unpublishData(dataPublisherId: string): void {
    const publisher = this.dataPublishers.find((p) => p.id === dataPublisherId);
    if (!publisher)
      throw new NotFoundError(`no data publisher ${dataPublisherId} on this transport`);
    publisher.close();
  }

  /** Stops forwarding a published track; its subscribers end. */
  unpublish(publisherId: string): void {
    const publisher = this.publishers.find((p) => p.id === publisherId);
    if (!publisher) throw new NotFoundError(`no publisher ${publisherId} on this transport`);
    publisher.close();
  }

  addIceCandidate(candidate: IceCandidateInit | null): Promise<void> {
    this.#assertOpen();
    return this.#peer.addIceCandidate(candidate);
  }

  /** Prepares an ICE restart: the client's next offer (with new credentials) is answered with new ones. */
  restartIce(): void {
    this.#assertOpen();
    this.#peer.pc.restartIce();
  }

  /**
   * ICE restart by SDP fragment (WHIP PATCH, RFC 9725 section 4.3): applies the client's new
   * ICE credentials to the current session and returns the node's new ones with its candidates.
   * Media resumes on the new ICE pair; DTLS and SRTP keys stay. Trickled candidates go to
   * addIceCandidate().
   */
  restartIceWithFragment(remoteUfrag: string, remotePwd: string): Promise<IceRestartResult> {
    this.#assertOpen();
    return this.#peer.restartIceAsAnswerer(remoteUfrag, remotePwd);
  }

  // --- MediaSink: the hot path ---

  onRtp(buf: Buffer, len: number): void {
    const view = this.#view;
    const stats = this.#peer.stats;
    if (!parseRtp(buf, len, view)) {
      stats.droppedMalformed++;
      return;
    }
    let route = this.#bySsrc.get(view.ssrc);
    if (route === undefined) {
      route = this.#bindSsrc(buf, view);
      if (route === undefined) {
        stats.droppedUnknown++;
        return;
      }
    }
    const publisher = route.publisher;
    if (view.payloadType !== publisher.sourcePayloadType) {
      stats.droppedUnknown++;
      return;
    }
    publisher.receive(buf, view, performance.now(), route.encoding);
  }

  onRtcp(buf: Buffer, len: number): void {
    if (parseRtcp(buf, len, this) < 0) this.#peer.stats.droppedMalformed++;
  }

  senderReport(info: RtcpSenderInfo): void {
    const route = this.#bySsrc.get(info.ssrc);
    if (!route) return;
    route.publisher.encodings[route.encoding].senderReport = {
      ntpSec: info.ntpSec,
      ntpFrac: info.ntpFrac,
      rtpTimestamp: info.rtpTimestamp,
      receivedAtMs: performance.now(),
    };
  }

  sendRtcp(packet: Uint8Array): void {
    this.#peer.sendRtcp(packet);
  }

  getStats(): PublishTransportStats {
    return {
      id: this.id,
      state: this.#peer.state,
      media: { ...this.#peer.stats },
      publishers: this.publishers.map((p) => p.getStats()),
      data: {
        publishers: this.dataPublishers.map((p) => p.getStats()),
        ...this.#dataStats,
        malformed: this.#peer.dataStats.malformed,
      },
    };
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const t of this.#timers) clearInterval(t);
    for (const p of this.publishers) p.close();
    for (const p of this.dataPublishers) p.close();
    await this.#peer.close();
    this.emit("closed");
    this.removeAllListeners();
  }

  #assertOpen(): void {
    if (this.#closed) throw new WeirError("closed", `publish transport ${this.id} is closed`);
  }

  #onDataChannel(channel: PeerDataChannel): void {
    const label = channel.label;
    if (
      this.#closed ||
      this.#channels.has(label) ||
      Buffer.byteLength(label) > MAX_LABEL_BYTES ||
      (channel.maxRetransmits ?? 0) > MAX_RELIABILITY ||
      (channel.maxPacketLifeTime ?? 0) > MAX_RELIABILITY
    ) {
      this.#dataStats.channelsRejected++;
      channel.close();
      return;
    }
    const offered: OfferedChannel = {
      channel,
      options: {
        label,
        ordered: channel.ordered,
        maxRetransmits: channel.maxRetransmits,
        maxPacketLifeTime: channel.maxPacketLifeTime,
        protocol: channel.protocol,
      },
      publisher: null,
    };
    this.#channels.set(label, offered);
    channel.onMessage((data) => {
      if (offered.publisher) offered.publisher.receive(data);
      else this.#dataStats.messagesUnpublished++;
    });
    channel.onClose(() => {
      if (this.#channels.get(label) !== offered) return;
      this.#channels.delete(label);
      offered.publisher?.close();
      if (!this.#closed) this.emit("datachannelclosed", offered.options);
    });
    this.emit("datachannel", offered.options);
  }

  /**
   * Binds an unknown SSRC to a publisher through the MID header extension, and for simulcast to
   * its encoding through the RID extension: keyed by (mid, rid), so two simulcast tracks with
   * the same rids never collide (werift's own routing keys by rid alone).
   */
  #bindSsrc(buf: Buffer, view: RtpView): Route | undefined {
    if (this.#midExtId === 0 || view.extOffset < 0) return undefined;
    const mid = readExtString(buf, view, this.#midExtId);
    const publisher = mid === null ? undefined : this.#byMid.get(mid);
    if (publisher === undefined) return undefined;
    let encoding = 0;
    if (publisher.simulcast) {
      const rid = this.#ridExtId === 0 ? null : readExtString(buf, view, this.#ridExtId);
      encoding = publisher.encodings.findIndex((e) => e.rid === rid);
      if (encoding < 0) return undefined;
    }
    const route = { publisher, encoding };
    this.#bySsrc.set(view.ssrc, route);
    return route;
  }

  /** Picks, per offered m-line, the client's first codec the router can forward. */
  #matchCodecs(parsed: SessionDescription): NegotiatedTrack[] {
    const tracks: NegotiatedTrack[] = [];
    const transceivers = this.#peer.pc.getTransceivers();
    const ours = publishHeaderExtensions();
    const supported = new Set([...ours.audio, ...ours.video].map((e) => e.uri));
    for (const [index, media] of parsed.media.entries()) {
      if (media.kind !== "audio" && media.kind !== "video") continue;
      const mid = media.rtp.muxId;
      const transceiver = transceivers.find((t) => t.mid === mid);
      if (!mid || !transceiver) continue;
      const midExt = media.rtp.headerExtensions.find((e) => e.uri === EXT_URI.mid);
      if (midExt) this.#midExtId = midExt.id;
      const ridExt = media.rtp.headerExtensions.find((e) => e.uri === EXT_URI.rid);
      if (ridExt) this.#ridExtId = ridExt.id;
      let chosen: { offered: (typeof media.rtp.codecs)[number]; codec: CodecCapability } | null =
        null;
      for (const offered of media.rtp.codecs) {
        if (isRtxCodec(offered.mimeType)) continue;
        const codec = this.#router.codecs.find(
          (c) => c.kind === media.kind && codecsMatch(c, offered),
        );
        if (codec) {
          chosen = { offered, codec };
          break;
        }
      }
      if (!chosen) {
        if (media.direction === "sendonly" || media.direction === "sendrecv") {
          throw new UnsupportedCodecError(
            `m-line ${mid}: no offered ${media.kind} codec is supported`,
          );
        }
        continue;
      }
      const feedback = chosen.offered.rtcpFeedback ?? [];
      const fir = feedback.some((f) => f.type === "ccm" && f.parameter === "fir");
      const pli = feedback.some((f) => f.type === "nack" && f.parameter === "pli");
      if (media.kind === "video") this.firNegotiated = fir && !pli;
      transceiver.codecs = [
        toWeriftCodec(
          { ...chosen.codec, parameters: chosen.offered.parameters },
          chosen.offered.payloadType,
        ),
      ];
      const name = codecName(chosen.codec.mimeType);
      // The answer carries the transceiver's extensions (werift took the offered ones we know).
      transceiver.headerExtensions = transceiver.headerExtensions.filter((e) =>
        publishExtensionAllowed(e.uri, name),
      );
      const trackId = this.#trackId(media.msid, index, tracks);
      const live =
        media.port !== 0 && (media.direction === "sendonly" || media.direction === "sendrecv");
      if (!live) continue;
      tracks.push({
        trackId,
        mid,
        kind: media.kind as MediaKind,
        mimeType: chosen.codec.mimeType,
        codec: chosen.codec,
        sourcePayloadType: chosen.offered.payloadType,
        ssrcs: media.ssrc.map((s) => s.ssrc),
        rids: offeredRids(mid, media.simulcastParameters),
        headerExtensions: media.rtp.headerExtensions.filter(
          (e) => supported.has(e.uri) && publishExtensionAllowed(e.uri, name),
        ),
      });
    }
    return tracks;
  }

  /**
   * The offer's msid track id when it is a valid one not yet taken in this offer; else (no
   * a=msid, as some WHIP clients send, or an unusable one) an id scoped to this transport, by
   * m-line position (stable across renegotiations; the mid is client-chosen text too).
   */
  #trackId(msid: string | undefined, index: number, taken: readonly NegotiatedTrack[]): string {
    const offered = msid?.split(" ")[1];
    if (
      offered !== undefined &&
      TRACK_ID.test(offered) &&
      !taken.some((t) => t.trackId === offered)
    )
      return offered;
    return `${this.id}-${index}`;
  }

  /** Announces new tracks and ends the ones the client stopped sending. */
  #updateTracks(offered: NegotiatedTrack[]): void {
    const next = new Map(offered.map((t) => [t.trackId, t]));
    for (const [trackId, old] of this.#tracks) {
      if (next.get(trackId)?.mid === old.mid) continue;
      this.#tracks.delete(trackId);
      this.#byMid.get(old.mid)?.close();
      this.emit("trackended", publicTrack(old));
    }
    for (const [trackId, track] of next) {
      if (this.#tracks.has(trackId)) continue;
      this.#tracks.set(trackId, track);
      this.emit("track", publicTrack(track));
    }
  }

  #sendReports(): void {
    if (this.#peer.state !== "connected") return;
    const now = performance.now();
    const blocks: ReportBlock[] = [];
    const videoSsrcs: number[] = [];
    for (const p of this.#byMid.values()) {
      for (const e of p.encodings) {
        const block = createReportBlock();
        if (e.fillReportBlock(block, now)) blocks.push(block);
        if (p.kind === "video" && e.ssrc !== null) videoSsrcs.push(e.ssrc);
      }
    }
    if (blocks.length === 0) return;
    const packets: Uint8Array[] = [buildRr(this.rtcpSsrc, blocks.slice(0, 31))];
    if (videoSsrcs.length > 0)
      packets.push(buildRemb(this.rtcpSsrc, this.#maxIncomingBitrate, videoSsrcs));
    this.#peer.sendRtcp(buildCompound(packets));
  }

  #tickQuiet(): void {
    if (this.#byMid.size === 0) return;
    const now = performance.now();
    for (const p of this.#byMid.values()) if (p.due(now)) p.tick(now);
  }
}

interface Route {
  publisher: Publisher;
  encoding: number;
}

/** A simulcast rid: RFC 8851 rid-id, at most 32 characters (what a relay carries). */
const RID = /^[A-Za-z0-9_-]{1,32}$/;
/** Simulcast encodings per track: layers are numbered 0-15. */
const MAX_RIDS = 16;

/** The simulcast rids a client offers to send, or none (a single encoding). */
function offeredRids(mid: string, params: readonly { rid: string; direction: string }[]): string[] {
  const rids = params.filter((p) => p.direction === "send").map((p) => p.rid);
  if (rids.length > MAX_RIDS || !rids.every((r) => RID.test(r)))
    throw new InvalidSdpError(`m-line ${mid}: at most ${MAX_RIDS} rids of 1-32 [A-Za-z0-9_-]`);
  return rids.length > 1 ? rids : [];
}

/** The ASCII value of a header extension (mid, rid), or null if the packet lacks it. */
function readExtString(buf: Buffer, view: RtpView, id: number): string | null {
  const packed = findHeaderExtension(buf, view, id);
  if (packed < 0) return null;
  const off = extDataOffset(packed);
  return buf.toString("ascii", off, off + extDataLength(packed));
}

function publicTrack(t: NegotiatedTrack): OfferedTrack {
  return { trackId: t.trackId, mid: t.mid, kind: t.kind, mimeType: t.mimeType };
}
