import { WeirApiError } from "../../../shared/errors.ts";
import type { RoomEvent, SpeakerInfo } from "../../../shared/room.ts";
import type { Grant } from "../../../shared/token.ts";
import type { ClientMessage, ServerMessage } from "../../../shared/ws.ts";
import { missingGrant, nodeChecks } from "../../../shared/wsGrants.ts";
import type { PublishTransport } from "../../src/PublishTransport.ts";
import type { OfferedTrack } from "../../src/PublishTransportTypes.ts";
import type { SubscribeTransport } from "../../src/SubscribeTransport.ts";
import type { IceCandidateInit } from "../../src/TransportTypes.ts";
import { CandidateRelay } from "../cluster/CandidateRelay.ts";
import { Session, type SessionContext } from "./Session.ts";
import { WsDataChannels } from "./WsDataChannels.ts";

type Target = "publish" | "subscribe";
type Reply = ServerMessage | undefined;

/**
 * A WebSocket session of the full client SDK: one PublishTransport and one SubscribeTransport,
 * each made on first use. Handles ClientMessages; pushes renegotiation offers, ICE candidates,
 * room events and goaway through the context's emit().
 */
export class WsSession extends Session {
  readonly kind = "ws";
  #grants: ReadonlySet<Grant>;
  #pub: PublishTransport | null = null;
  #sub: SubscribeTransport | null = null;
  readonly #offered = new Map<string, OfferedTrack>();
  readonly #relay: Record<Target, CandidateRelay>;
  /** Set while an explicit unsubscribe renegotiates (its negotiationneeded is ours). */
  #explicit = false;
  #offerScheduled = false;
  readonly #data: WsDataChannels;

  constructor(ctx: SessionContext, grants: readonly Grant[]) {
    super(ctx);
    this.#grants = new Set(grants);
    this.#relay = {
      publish: new CandidateRelay((c) => this.#emitIce("publish", c)),
      subscribe: new CandidateRelay((c) => this.#emitIce("subscribe", c)),
    };
    const session = this;
    this.#data = new WsDataChannels({
      identity: this.identity,
      room: this.room,
      get publishTransport() {
        return session.#pub;
      },
      subscribeTransport: () => this.#subscribeTransport(),
      subscribeRelay: this.#relay.subscribe,
      emit: (m) => {
        if (!this.closed) ctx.emit(m);
      },
    });
  }

  override deliver(event: RoomEvent): void {
    this.ctx.emit(event);
  }

  override speakersChanged(speakers: SpeakerInfo[]): void {
    if (!this.closed) this.ctx.emit({ type: "speakers", speakers });
  }

  goaway(reason: string): void {
    this.ctx.emit({ type: "goaway", reason });
  }

  /** Tells the client a newer session of its identity took over (the caller ends this one). */
  replaced(): void {
    this.ctx.emit({ type: "replaced", reason: "a newer session of the same identity joined" });
  }

  /** Tells the client the server removed it or closed the room (the caller ends the session). */
  removed(cause: "removed" | "room_closed", reason: string): void {
    this.ctx.emit({ type: "removed", cause, reason });
  }

  /** A data message from the server API for this session's client. */
  pushData(data: string, binary: boolean, topic: string | undefined): void {
    if (this.closed) return;
    const m: ServerMessage = { type: "data", data };
    if (binary) m.binary = true;
    if (topic !== undefined) m.topic = topic;
    this.ctx.emit(m);
  }

  /** The grants every later message is checked against (the token's, or the server API's). */
  get grants(): ReadonlySet<Grant> {
    return this.#grants;
  }

  /**
   * New grants from the server API. The client (and through it the edge, which checks messages
   * first) hears them as `grants`. What the session holds under a revoked grant ends: `publish`
   * unpublishes its tracks, `subscribe` ends its subscriptions (the client gets an offer), `data`
   * ends its DataChannels.
   */
  setGrants(grants: readonly Grant[]): void {
    if (this.closed) return;
    const before = this.#grants;
    this.#grants = new Set(grants);
    this.ctx.emit({ type: "grants", grants: [...this.#grants] });
    const lost = (g: Grant) => before.has(g) && !this.#grants.has(g);
    const pub = this.#pub;
    const sub = this.#sub;
    if (lost("publish")) for (const p of pub?.publishers ?? []) pub?.unpublish(p.id);
    if (lost("subscribe")) for (const s of sub?.subscribers ?? []) s.close();
    if (lost("data")) {
      for (const d of pub?.dataPublishers ?? []) d.close();
      for (const d of sub?.dataSubscribers ?? []) d.close();
    }
  }

  /** Handles one client message; the returned message is the reply (if any). Throws on errors. */
  async handle(m: ClientMessage): Promise<Reply> {
    const missing = nodeChecks(m) ? missingGrant(m, this.#grants) : null;
    if (missing !== null) throw new WeirApiError("forbidden", missing);
    switch (m.type) {
      case "publish":
        return this.#publish(m.id, m.offer, m.trackIds);
      case "unpublish":
        return this.#unpublish(m.id, m.offer, m.trackId);
      case "subscribe":
        return this.#subscribe(m.id, m.publisherId);
      case "unsubscribe":
        return this.#unsubscribe(m.id, m.subscriberId);
      case "answer":
        return this.#answer(m.id, m.answer);
      case "ice":
        return this.#ice(m.target, m.candidate);
      case "ping":
        return { type: "pong", id: m.id };
      case "layers":
        return this.#layers(m.id, m.subscriberId, m.spatial, m.temporal);
      case "mute":
        return this.#mute(m.id, m.publisherId, m.muted);
      default:
        return this.#handleData(m);
    }
  }

  /** DataChannel messages. */
  async #handleData(m: ClientMessage): Promise<Reply> {
    switch (m.type) {
      case "publishData":
        return this.#data.publish(m.id, m.label);
      case "unpublishData":
        return this.#data.unpublish(m.id, m.dataPublisherId);
      case "subscribeData":
        return this.#data.subscribe(m.id, m.dataPublisherId);
      case "unsubscribeData":
        return this.#data.unsubscribe(m.id, m.dataSubscriberId);
      default:
        throw new WeirApiError("bad_request", `unknown message type ${m.type}`);
    }
  }

  async #publish(id: string, offer: string, trackIds: string[]): Promise<Reply> {
    // With no tracks it only renegotiates (e.g. adds the m=application of a DataChannel).
    const pub = this.#publishTransport();
    const answer = await this.#relay.publish.negotiate(
      () => pub.getAnswer({ type: "offer", sdp: offer }),
      (a) => a.sdp,
    );
    const missing = trackIds.filter((t) => !this.#offered.has(t));
    if (missing.length > 0) {
      throw new WeirApiError("not_found", `not in the offer: ${missing.join(", ")}`);
    }
    const tracks = trackIds.map((trackId) => {
      const existing = pub.publishers.find((p) => p.id === trackId);
      const publisher = existing ?? pub.publish(trackId);
      const info = existing
        ? { publisherId: existing.id, kind: existing.kind, mimeType: existing.codec.mimeType }
        : this.room.trackPublished(this.identity, publisher);
      return { trackId, ...info };
    });
    return { type: "published", id, answer: answer.sdp, tracks };
  }

  async #unpublish(id: string, offer: string, trackId: string): Promise<Reply> {
    const pub = this.#pub;
    if (!pub) throw new WeirApiError("conflict", "nothing was published on this session");
    const answer = await this.#relay.publish.negotiate(
      () => pub.getAnswer({ type: "offer", sdp: offer }),
      (a) => a.sdp,
    );
    if (pub.publishers.some((p) => p.id === trackId)) pub.unpublish(trackId);
    return { type: "answer", id, answer: answer.sdp };
  }

  async #subscribe(id: string, publisherId: string): Promise<Reply> {
    const sub = this.#subscribeTransport();
    const r = await this.#relay.subscribe.negotiate(
      () => sub.subscribe(publisherId),
      (x) => x.offer.sdp,
    );
    return {
      type: "subscribed",
      id,
      subscriberId: r.subscriber.id,
      publisherId,
      offer: r.offer.sdp,
    };
  }

  async #unsubscribe(id: string, subscriberId: string): Promise<Reply> {
    const sub = this.#sub;
    if (!sub) throw new WeirApiError("not_found", `no subscriber ${subscriberId}`);
    const offer = await this.#relay.subscribe.negotiate(
      () => {
        this.#explicit = true;
        try {
          return sub.unsubscribe(subscriberId);
        } finally {
          this.#explicit = false;
        }
      },
      (o) => o.sdp,
    );
    return { type: "unsubscribed", id, offer: offer.sdp };
  }

  /** Sets a subscription's preferred layers (simulcast encoding / SVC layers). */
  async #layers(id: string, subscriberId: string, spatial?: number, temporal?: number) {
    const subscriber = this.#sub?.subscribers.find((s) => s.id === subscriberId);
    if (!subscriber) throw new WeirApiError("not_found", `no subscriber ${subscriberId}`);
    subscriber.setPreferredLayers({ spatial, temporal });
    return { type: "ok" as const, id };
  }

  /** Mutes or unmutes one of this session's published tracks. */
  async #mute(id: string, publisherId: string, muted: boolean): Promise<Reply> {
    const publisher = this.#pub?.publishers.find((p) => p.id === publisherId);
    if (!publisher) throw new WeirApiError("not_found", `no published track ${publisherId}`);
    publisher.setMuted(muted);
    return { type: "ok", id };
  }

  async #answer(id: string, answer: string): Promise<Reply> {
    const sub = this.#sub;
    if (!sub) throw new WeirApiError("conflict", "no subscribe offer is waiting for an answer");
    await sub.setAnswer({ type: "answer", sdp: answer });
    return { type: "ok", id };
  }

  /**
   * Client candidates may arrive before the offer they belong to (the client trickles as soon as
   * it has an offer): publish-side ones make the transport, which keeps them until the offer.
   * Subscribe-side ones without a transport belong to nothing and are dropped.
   */
  async #ice(target: Target, c: WireCandidate | null): Promise<Reply> {
    let t: PublishTransport | SubscribeTransport | null = this.#sub;
    if (target === "publish") {
      t = this.#publishTransport();
    }
    if (!t) return undefined;
    await t.addIceCandidate(
      c && {
        candidate: c.candidate,
        sdpMid: c.sdpMid ?? undefined,
        sdpMLineIndex: c.sdpMLineIndex ?? undefined,
        usernameFragment: c.usernameFragment ?? undefined,
      },
    );
    return undefined;
  }

  #publishTransport(): PublishTransport {
    if (this.#pub) return this.#pub;
    const t = this.room.router.createPublishTransport();
    this.#pub = t;
    t.on("icecandidate", (c) => this.#relay.publish.candidate(c));
    t.on("track", (track) => this.#offered.set(track.trackId, track));
    t.on("trackended", (track) => this.#offered.delete(track.trackId));
    t.on("closed", () => {
      if (this.#pub === t) this.#pub = null;
      this.#offered.clear();
    });
    return t;
  }

  #subscribeTransport(): SubscribeTransport {
    if (this.#sub) return this.#sub;
    const t = this.room.router.createSubscribeTransport();
    this.#sub = t;
    t.on("icecandidate", (c) => this.#relay.subscribe.candidate(c));
    t.on("negotiationneeded", () => this.#renegotiate(t));
    t.on("closed", () => {
      if (this.#sub === t) this.#sub = null;
    });
    return t;
  }

  /** Server-initiated offer (a publisher went away), coalesced per tick. */
  #renegotiate(t: SubscribeTransport): void {
    if (this.#explicit || this.#offerScheduled || this.closed) return;
    this.#offerScheduled = true;
    setImmediate(() => {
      this.#offerScheduled = false;
      if (this.closed || this.#sub !== t) return;
      this.#relay.subscribe
        .negotiate(
          () => t.createOffer(),
          (o) => o.sdp,
        )
        .then(
          (offer) => this.ctx.emit({ type: "offer", offer: offer.sdp }),
          (err) => this.ctx.log.warn("renegotiation offer failed", { error: String(err) }),
        );
    });
  }

  #emitIce(target: Target, c: IceCandidateInit): void {
    this.ctx.emit({
      type: "ice",
      target,
      candidate: {
        candidate: c.candidate,
        sdpMid: c.sdpMid ?? null,
        sdpMLineIndex: c.sdpMLineIndex ?? null,
        usernameFragment: c.usernameFragment ?? null,
      },
    });
  }

  protected async closeTransports(): Promise<void> {
    const pub = this.#pub;
    const sub = this.#sub;
    this.#pub = null;
    this.#sub = null;
    await Promise.all([sub?.close(), pub?.close()]);
  }
}

interface WireCandidate {
  candidate: string;
  sdpMid?: string | null;
  sdpMLineIndex?: number | null;
  usernameFragment?: string | null;
}
