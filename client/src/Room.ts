import type { ActiveRecording, RecordingInfo, RecordingRequest } from "../../shared/recording.ts";
import type { Grant } from "../../shared/token.ts";
import type { ServerMessage } from "../../shared/ws.ts";
import { DataPublication } from "./DataPublication.ts";
import { DataSubscription } from "./DataSubscription.ts";
import type { DataEndReason, DataPublishOptions, PublishedData } from "./DataTypes.ts";
import { WeirClientError } from "./errors.ts";
import { samePath } from "./mediaPath.ts";
import { PublishTransport } from "./PublishTransport.ts";
import type { PublishOptions } from "./PublishTransportTypes.ts";
import type {
  LocalTrack,
  MediaConnection,
  ParticipantInfo,
  PublishedTrack,
  RemoteTrack,
  RoomEvents,
  RoomOptions,
  RoomRecording,
  RoomState,
  SpeakerInfo,
  TokenProvider,
} from "./RoomTypes.ts";
import { type RoomChanges, roomChanges } from "./roomChanges.ts";
import { SignalingSocket } from "./SignalingSocket.ts";
import { SubscribeTransport } from "./SubscribeTransport.ts";
import { TypedEmitter } from "./TypedEmitter.ts";

interface Session {
  socket: SignalingSocket;
  pub: PublishTransport;
  sub: SubscribeTransport;
  /** Publisher ids with a subscribe request in flight (the app and a reconnect may both ask). */
  subscribing: Set<string>;
  heartbeat?: ReturnType<typeof setInterval>;
  refresh?: ReturnType<typeof setTimeout>;
}

/**
 * The edge's close codes after which reconnecting is wrong (WS_CLOSE_TOKEN_EXPIRED, _REPLACED,
 * _REMOVED).
 */
const TOKEN_EXPIRED_CLOSE = 4401;
const REPLACED_CLOSE = 4409;
const REMOVED_CLOSE = 4410;
const REPLACED_MESSAGE = "a newer session of the same identity joined the room";

/** A ping travels to the media node and back: no pong means the node (or edge) is gone. */
const HEARTBEAT_MS = 2000;
const HEARTBEAT_TIMEOUT_MS = 3000;

/** The highest layers to receive (spatial, temporal); an omitted one = as high as sent. */
type Layers = { spatial?: number; temporal?: number };

/**
 * A room over Weir's WebSocket protocol: publish local tracks, subscribe to others', follow
 * who comes and goes. When the connection drops it reconnects with a new session, publishes
 * the local tracks again and resubscribes.
 */
export class Room extends TypedEmitter<RoomEvents> {
  readonly #options: RoomOptions;
  readonly #local = new Map<string, LocalTrack>();
  /** Publisher ids the app subscribed to (kept across reconnects). */
  readonly #wanted = new Set<string>();
  readonly #subscribers = new Map<string, string>(); // publisherId -> subscriberId
  /** Layer preferences by publisher id, applied again after a reconnect. */
  readonly #layers = new Map<string, Layers>();
  readonly #participants = new Map<string, ParticipantInfo>();
  /** Published DataChannels (published again after a reconnect). */
  readonly #dataPublications = new Set<DataPublication>();
  /** The app's data subscriptions by data publisher id (kept across reconnects). */
  readonly #dataWanted = new Map<string, DataSubscription>();
  /** This session's data subscriptions by data subscriber id. */
  readonly #dataSubscriptions = new Map<string, DataSubscription>();
  /** Data subscriptions waiting for their channel, by data publisher id. */
  readonly #dataWaiters = new Map<string, (channel: RTCDataChannel) => void>();
  /** Recordings running in the room, by id. */
  readonly #recordings = new Map<string, RoomRecording>();
  #session: Session | null = null;
  #state: RoomState = "new";
  #url = "";
  #token = "";
  #provider: TokenProvider | null = null;
  #room = "";
  #identity = "";
  #attempt = 0;
  #media: MediaConnection | null = null;
  #speakers: SpeakerInfo[] = [];
  #grants: Grant[] = [];
  /** A #reconnect loop is running. */
  #reconnecting = false;

  constructor(options: RoomOptions = {}) {
    super();
    this.#options = options;
  }

  get state(): RoomState {
    return this.#state;
  }

  get identity(): string {
    return this.#identity;
  }

  get name(): string {
    return this.#room;
  }

  /**
   * The current session's transports, for stats and diagnostics (e.g.
   * `room.subscribeTransport?.peerConnection.getStats()`); null while not connected. A reconnect
   * replaces them.
   */
  get publishTransport(): PublishTransport | null {
    return this.#session?.pub ?? null;
  }

  get subscribeTransport(): SubscribeTransport | null {
    return this.#session?.sub ?? null;
  }

  /**
   * How media flows now: udp or tcp straight to the media node, or relay (TURN) over udp, tcp
   * or tls, with the selected pair's RTT; per connection in `publish` and `subscribe`. Null
   * until a connection has a selected pair. `mediaconnectionchange` tells when it changes.
   */
  get mediaConnection(): MediaConnection | null {
    return this.#media;
  }

  /**
   * What this participant may do: its token's grants, or what the server set since (the
   * `grantschanged` event). A reconnect starts again from the token's.
   */
  get grants(): readonly Grant[] {
    return this.#grants;
  }

  /** Everyone else in the room, with their published tracks. */
  get participants(): ParticipantInfo[] {
    return [...this.#participants.values()];
  }

  /** The recordings running in the room (kept up to date by `recordingstarted`/`stopped`). */
  get recordings(): RoomRecording[] {
    return [...this.#recordings.values()];
  }

  /**
   * Starts recording (token grant `record` or `admin`): `trackIds`, a `participant`'s tracks, or
   * (neither) every track in the room; `layout` "track" (a file per track, default) or
   * "participant" (a file per participant). Files go to the recording node's disk.
   */
  async startRecording(request: RecordingRequest = {}): Promise<RecordingInfo> {
    const reply = await this.#connected().socket.request({ type: "startRecording", ...request });
    if (reply.type !== "recording") throw new WeirClientError("closed", "unexpected reply");
    return reply.recording;
  }

  /** Stops a recording (grant `record` or `admin`); resolves with it, files finished. */
  async stopRecording(recordingId: string): Promise<RecordingInfo> {
    const reply = await this.#connected().socket.request({ type: "stopRecording", recordingId });
    if (reply.type !== "recording") throw new WeirClientError("closed", "unexpected reply");
    return reply.recording;
  }

  /** The room's recordings, running and finished, with their files (grant `record` or `admin`). */
  async listRecordings(): Promise<RecordingInfo[]> {
    const reply = await this.#connected().socket.request({ type: "listRecordings" });
    if (reply.type !== "recordings") throw new WeirClientError("closed", "unexpected reply");
    return reply.recordings;
  }

  #connected(): Session {
    const s = this.#session;
    if (!s || this.#state !== "connected") {
      throw new WeirClientError("invalid_state", "the Room is not connected");
    }
    return s;
  }

  /** Who is speaking now, loudest first (`activespeakers` tells when it changes). */
  get activeSpeakers(): SpeakerInfo[] {
    return this.#speakers;
  }

  /**
   * Connects to the edge at `url` (e.g. "http://127.0.0.1:8080"); the room comes from the token.
   * With a TokenProvider the Room renews its token before it expires and on reconnects.
   */
  async connect(url: string, token: string | TokenProvider): Promise<void> {
    if (this.#state !== "new")
      throw new WeirClientError("invalid_state", "connect() once per Room");
    this.#url = url;
    this.#provider = typeof token === "string" ? null : token;
    this.#token = typeof token === "string" ? token : await token();
    this.#room = roomOf(this.#token);
    this.#setState("connecting");
    await this.#open();
  }

  async publish(track: MediaStreamTrack, options: PublishOptions = {}): Promise<LocalTrack> {
    const local: LocalTrack = { trackId: track.id, track, options, muted: false };
    this.#local.set(track.id, local);
    if (this.#session) await this.#publishOn(this.#session, local);
    return local;
  }

  async unpublish(trackId: string): Promise<void> {
    this.#local.delete(trackId);
    const s = this.#session;
    if (!s) return;
    const offer = await s.pub.unpublish(trackId);
    const reply = await s.socket.request({ type: "unpublish", offer: offer.sdp ?? "", trackId });
    if (reply.type === "answer") await s.pub.setAnswer({ type: "answer", sdp: reply.answer });
  }

  /**
   * Mutes or unmutes a published track (the MediaStreamTrack or its id). Muted, the track sends
   * silence or black (`track.enabled = false`) and the node forwards nothing of it; everyone in
   * the room gets `trackmuted` / `trackunmuted`. Unmuted video resumes on a keyframe the node
   * asks for. Kept across reconnects; a track muted before it is published starts muted.
   */
  async setMuted(track: MediaStreamTrack | string, muted: boolean): Promise<void> {
    const id = typeof track === "string" ? track : track.id;
    const local =
      this.#local.get(id) ?? [...this.#local.values()].find((l) => l.publisherId === id);
    if (!local) throw new WeirClientError("not_published", `no published track ${id}`);
    local.muted = muted;
    local.track.enabled = !muted;
    const s = this.#session;
    if (s && local.publisherId !== undefined) await this.#sendMute(s, local);
  }

  /** Subscribes to a publisher; the `track` event brings its MediaStreamTrack. */
  async subscribe(publisherId: string): Promise<void> {
    this.#wanted.add(publisherId);
    if (this.#session) await this.#subscribeOn(this.#session, publisherId);
  }

  async unsubscribe(publisherId: string): Promise<void> {
    this.#wanted.delete(publisherId);
    const subscriberId = this.#subscribers.get(publisherId);
    const s = this.#session;
    if (!s || !subscriberId) return;
    this.#subscribers.delete(publisherId);
    const reply = await s.socket.request({ type: "unsubscribe", subscriberId });
    if (reply.type === "unsubscribed") await this.#answer(s, reply.offer);
  }

  /**
   * The highest layers to receive of a subscribed publisher: spatial = simulcast encoding
   * (0 = lowest) or SVC spatial layer, temporal = temporal layer; omitted = as high as sent.
   * The node may go lower on its own when this client's link is short. Kept across reconnects.
   */
  async setPreferredLayers(publisherId: string, layers: Layers): Promise<void> {
    this.#layers.set(publisherId, layers);
    const subscriberId = this.#subscribers.get(publisherId);
    const s = this.#session;
    if (s && subscriberId) await this.#sendLayers(s, subscriberId, layers);
  }

  /**
   * Publishes a DataChannel (grant data) and resolves once the node forwards it. The first
   * channel renegotiates the publish transport; later ones open in-band. After a reconnect it
   * is published again: same DataPublication, new channel and id (its `reconnected` event).
   */
  async publishData(label: string, options: DataPublishOptions = {}): Promise<DataPublication> {
    const { id, channel } = await this.#publishDataOn(this.#requireSession(), label, options);
    const publication = new DataPublication(id, channel, options);
    this.#dataPublications.add(publication);
    publication.on("closed", () => this.#dataPublications.delete(publication));
    return publication;
  }

  async unpublishData(dataPublisherId: string): Promise<void> {
    const s = this.#session;
    const publication = this.#dataPublication(dataPublisherId);
    if (publication) this.#dataPublications.delete(publication);
    if (s) await s.socket.request({ type: "unpublishData", dataPublisherId });
    publication?.channel.close();
  }

  /**
   * Subscribes to a published DataChannel (grant data); resolves once its channel is open. After
   * a reconnect it is subscribed again while the publisher is still there (its `reconnected`
   * event); a publisher that left meanwhile ends it ("unpublished").
   */
  async subscribeData(dataPublisherId: string): Promise<DataSubscription> {
    const s = this.#requireSession();
    if (this.#dataWaiters.has(dataPublisherId) || this.#dataWanted.has(dataPublisherId)) {
      throw new WeirClientError("invalid_state", `already subscribed to ${dataPublisherId}`);
    }
    const subscription = await this.#subscribeDataOn(
      s,
      dataPublisherId,
      (channel) => new DataSubscription(dataPublisherId, channel),
    );
    this.#dataWanted.set(dataPublisherId, subscription);
    return subscription;
  }

  async unsubscribeData(subscription: DataSubscription): Promise<void> {
    const id = subscription.dataSubscriberId;
    const s = this.#session;
    if (this.#dataWanted.get(subscription.dataPublisherId) === subscription)
      this.#dataWanted.delete(subscription.dataPublisherId);
    if (!this.#dataSubscriptions.delete(id) || !s) return;
    await s.socket.request({ type: "unsubscribeData", dataSubscriberId: id });
  }

  async close(): Promise<void> {
    this.#setState("closed");
    this.#teardown();
  }

  async #open(): Promise<void> {
    const socket = await SignalingSocket.connect(this.#url, this.#room, this.#token);
    // The edge's servers carry a credential for this session (TURN REST API); a reconnect gets
    // fresh ones.
    const iceServers = this.#options.iceServers ?? socket.welcome.iceServers ?? [];
    const policy = this.#options.iceTransportPolicy;
    const options = policy ? { iceServers, iceTransportPolicy: policy } : { iceServers };
    const s: Session = {
      socket,
      pub: new PublishTransport(options),
      sub: new SubscribeTransport(options),
      subscribing: new Set(),
    };
    this.#session = s;
    this.#identity = socket.welcome.identity;
    this.#grants = grantsOf(this.#token);
    this.#wire(s);
    const before = [...this.#participants.values()];
    this.#participants.clear();
    for (const p of socket.welcome.participants) {
      if (p.identity !== this.#identity) this.#participants.set(p.identity, p);
    }
    const rejoined = this.#state === "reconnecting";
    this.#syncRecordings(socket.welcome.recordings ?? []);
    this.#setSpeakers(socket.welcome.speakers ?? []);
    this.#attempt = 0;
    this.#setState("connected");
    if (rejoined) this.#emitChanges(roomChanges(before, this.#participants.values()));
    for (const local of this.#local.values()) await this.#publishOn(s, local);
    const live = new Set(this.participants.flatMap((p) => p.tracks.map((t) => t.publisherId)));
    for (const id of this.#wanted) if (live.has(id)) await this.#subscribeOn(s, id);
    await this.#restoreData(s);
  }

  #wire(s: Session): void {
    s.socket.on(
      "message",
      (m) => void this.#onServerMessage(s, m).catch((e) => this.emit("error", e)),
    );
    s.socket.on("close", (code) => {
      if (code === TOKEN_EXPIRED_CLOSE && !this.#provider)
        return this.#ended(
          s,
          "token_expired",
          "the token expired; pass a TokenProvider to renew it",
        );
      if (code === REPLACED_CLOSE) return this.#ended(s, "replaced", REPLACED_MESSAGE);
      if (code === REMOVED_CLOSE) return this.#removed(s, "removed", "removed by the server");
      this.#lost(s);
    });
    this.#scheduleRefresh(s);
    s.heartbeat = setInterval(() => {
      s.socket.request({ type: "ping" }, HEARTBEAT_TIMEOUT_MS).catch(() => this.#lost(s));
      void this.#refreshMedia(s);
    }, HEARTBEAT_MS);
    s.pub.on("icecandidate", (c) =>
      s.socket.send({ type: "ice", target: "publish", candidate: wire(c) }),
    );
    s.sub.on("icecandidate", (c) =>
      s.socket.send({ type: "ice", target: "subscribe", candidate: wire(c) }),
    );
    const onTransport = (state: string) => {
      if (state === "failed") this.#lost(s);
      else if (state === "connected") void this.#refreshMedia(s);
    };
    s.pub.on("connectionstatechange", onTransport);
    s.sub.on("connectionstatechange", onTransport);
    s.sub.on("track", (t) => {
      const remote: RemoteTrack = {
        publisherId: t.publisherId,
        identity: this.#ownerOf(t.publisherId),
        track: t.track,
        stream: t.streams[0] ?? new MediaStream([t.track]),
      };
      this.emit("track", remote);
    });
    s.sub.on("trackended", (t) => this.emit("trackended", { publisherId: t.publisherId }));
    s.sub.on("datachannel", (channel) => {
      // Made here, in the channel's own task, so no early message is missed.
      const waiter = this.#dataWaiters.get(channel.protocol);
      if (waiter) waiter(channel);
      else channel.close();
    });
  }

  async #publishOn(s: Session, local: LocalTrack): Promise<void> {
    const { offer, trackId } = await s.pub.publish(local.track, local.options);
    const reply = await s.socket.request({
      type: "publish",
      offer: offer.sdp ?? "",
      trackIds: [trackId],
    });
    if (reply.type !== "published") return;
    await s.pub.setAnswer({ type: "answer", sdp: reply.answer });
    local.publisherId = reply.tracks.find((t) => t.trackId === trackId)?.publisherId ?? trackId;
    if (local.muted) await this.#sendMute(s, local);
  }

  async #sendMute(s: Session, local: LocalTrack): Promise<void> {
    const publisherId = local.publisherId ?? local.trackId;
    await s.socket.request({ type: "mute", publisherId, muted: local.muted });
  }

  async #subscribeOn(s: Session, publisherId: string): Promise<void> {
    if (this.#subscribers.has(publisherId) || s.subscribing.has(publisherId)) return;
    s.subscribing.add(publisherId);
    try {
      const reply = await s.socket.request({ type: "subscribe", publisherId });
      if (reply.type !== "subscribed") return;
      this.#subscribers.set(publisherId, reply.subscriberId);
      const layers = this.#layers.get(publisherId);
      if (layers) await this.#sendLayers(s, reply.subscriberId, layers);
      await this.#answer(s, reply.offer);
    } finally {
      s.subscribing.delete(publisherId);
    }
  }

  /** Opens `label` on the publish transport (negotiating the first one) and publishes it. */
  async #publishDataOn(s: Session, label: string, options: DataPublishOptions) {
    const { channel, offer } = await s.pub.createDataChannel(label, options);
    if (offer) {
      const reply = await s.socket.request({
        type: "publish",
        offer: offer.sdp ?? "",
        trackIds: [],
      });
      if (reply.type === "published") await s.pub.setAnswer({ type: "answer", sdp: reply.answer });
    }
    await opened(channel);
    const reply = await s.socket.request({ type: "publishData", label });
    if (reply.type !== "dataPublished") throw unexpected(reply.type);
    return { id: reply.dataPublisherId, channel };
  }

  /** Subscribes on this session; `attach` takes the channel in its own task (no early loss). */
  async #subscribeDataOn(
    s: Session,
    dataPublisherId: string,
    attach: (channel: RTCDataChannel) => DataSubscription,
  ): Promise<DataSubscription> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const arrived = new Promise<DataSubscription>((resolve, reject) => {
      this.#dataWaiters.set(dataPublisherId, (channel) => resolve(attach(channel)));
      timer = setTimeout(
        () => reject(new WeirClientError("closed", `no channel for ${dataPublisherId}`)),
        DATA_OPEN_TIMEOUT_MS,
      );
    });
    try {
      const reply = await s.socket.request({ type: "subscribeData", dataPublisherId });
      if (reply.type !== "dataSubscribed") throw unexpected(reply.type);
      if (reply.offer) await this.#answer(s, reply.offer);
      const subscription = await arrived;
      subscription.dataSubscriberId = reply.dataSubscriberId;
      this.#dataSubscriptions.set(reply.dataSubscriberId, subscription);
      return subscription;
    } finally {
      clearTimeout(timer);
      this.#dataWaiters.delete(dataPublisherId);
    }
  }

  /** After a reconnect: publishes the DataChannels again and resubscribes to live ones. */
  async #restoreData(s: Session): Promise<void> {
    for (const publication of this.#dataPublications) {
      const { label, options } = publication;
      await this.#publishDataOn(s, label, options).then(
        // A session lost meanwhile leaves it suspended for the next one.
        ({ id, channel }) => this.#session === s && publication.resume(id, channel),
        (err) => this.emit("error", err),
      );
    }
    const live = new Set(
      this.participants.flatMap((p) => (p.data ?? []).map((d) => d.dataPublisherId)),
    );
    for (const [id, subscription] of this.#dataWanted) {
      if (!live.has(id)) {
        this.#dataWanted.delete(id);
        subscription.end("unpublished");
        continue;
      }
      await this.#subscribeDataOn(s, id, (channel) => {
        subscription.resume(channel);
        return subscription;
      }).then(
        () => subscription.emit("reconnected"),
        (err) => this.emit("error", err),
      );
    }
  }

  async #sendLayers(s: Session, subscriberId: string, layers: Layers): Promise<void> {
    await s.socket.request({ type: "layers", subscriberId, ...layers });
  }

  async #answer(s: Session, offer: string): Promise<void> {
    const answer = await s.sub.setOffer({ type: "offer", sdp: offer });
    await s.socket.request({ type: "answer", answer: answer.sdp ?? "" });
  }

  async #onServerMessage(s: Session, m: ServerMessage): Promise<void> {
    switch (m.type) {
      case "offer":
        return this.#answer(s, m.offer);
      case "ice":
        return (m.target === "publish" ? s.pub : s.sub).addIceCandidate(m.candidate);
      case "participant.joined":
        this.#participants.set(m.identity, { identity: m.identity, tracks: [] });
        this.emit("participantjoined", m.identity);
        return;
      case "participant.left":
        this.#participants.delete(m.identity);
        this.emit("participantleft", m.identity);
        return;
      case "track.published":
        return this.#trackPublished(m);
      case "track.unpublished":
        return this.#trackUnpublished(m.publisherId, m.identity);
      case "track.muted":
      case "track.unmuted":
        return this.#trackMuted(m.publisherId, m.identity, m.type === "track.muted");
      case "speakers":
        return this.#setSpeakers(m.speakers);
      case "data.published": {
        const { type: _, ...published } = m;
        return this.#dataPublished(published);
      }
      case "data.unpublished":
        return this.#dataUnpublished(m.dataPublisherId, m.identity);
      case "data.subscribers":
        this.#dataPublication(m.dataPublisherId)?.setSubscribers(m.subscribers);
        return;
      case "data.ended":
        return this.#dataEnded(m.dataSubscriberId, m.reason);
      case "recording.started":
        return this.#recordingStarted(m);
      case "recording.stopped":
        if (this.#recordings.delete(m.recordingId)) {
          this.emit("recordingstopped", { recordingId: m.recordingId, reason: m.reason });
        }
        return;
      case "goaway":
        return this.#lost(s);
      case "replaced":
        return this.#ended(s, "replaced", REPLACED_MESSAGE);
      case "removed":
        return this.#removed(s, m.cause, m.reason);
      case "grants":
        this.#grants = [...m.grants];
        this.emit("grantschanged", this.#grants);
        return;
      case "data":
        this.emit("data", {
          data: m.binary ? fromBase64(m.data) : m.data,
          ...(m.topic !== undefined ? { topic: m.topic } : {}),
        });
        return;
      default:
        return;
    }
  }

  #recordingStarted(r: ActiveRecording): void {
    if (this.#recordings.has(r.recordingId)) return;
    const { type: _, ...recording } = r;
    this.#recordings.set(r.recordingId, recording);
    this.emit("recordingstarted", recording);
  }

  /** The welcome's running recordings: those gone during a reconnect stop, new ones start. */
  #syncRecordings(running: ActiveRecording[]): void {
    const ids = new Set(running.map((r) => r.recordingId));
    for (const id of [...this.#recordings.keys()]) {
      if (ids.has(id)) continue;
      this.#recordings.delete(id);
      this.emit("recordingstopped", { recordingId: id, reason: "stopped" });
    }
    for (const r of running) this.#recordingStarted(r);
  }

  /** What happened in the room while this Room was reconnecting, as the events it missed. */
  #emitChanges(c: RoomChanges): void {
    for (const { publisherId, identity } of c.unpublished) {
      this.#wanted.delete(publisherId);
      this.#layers.delete(publisherId);
      this.emit("trackunpublished", { publisherId, identity });
    }
    for (const d of c.dataUnpublished) this.emit("dataunpublished", d);
    for (const identity of c.left) this.emit("participantleft", identity);
    for (const identity of c.joined) this.emit("participantjoined", identity);
    for (const t of c.published) this.emit("trackpublished", t);
    for (const d of c.dataPublished) this.emit("datapublished", d);
  }

  #trackPublished(t: PublishedTrack): void {
    const p = this.#participants.get(t.identity) ?? { identity: t.identity, tracks: [] };
    p.tracks = [...p.tracks.filter((x) => x.publisherId !== t.publisherId), t];
    this.#participants.set(t.identity, p);
    const { identity, publisherId, kind, mimeType } = t;
    const muted = t.muted === true ? { muted: true } : {};
    this.emit("trackpublished", { identity, publisherId, kind, mimeType, ...muted });
  }

  #trackUnpublished(publisherId: string, identity: string): void {
    const p = this.#participants.get(identity);
    if (p) p.tracks = p.tracks.filter((t) => t.publisherId !== publisherId);
    this.#subscribers.delete(publisherId);
    this.emit("trackunpublished", { publisherId, identity });
  }

  #trackMuted(publisherId: string, identity: string, muted: boolean): void {
    const p = this.#participants.get(identity);
    if (p) {
      p.tracks = p.tracks.map((t) => {
        if (t.publisherId !== publisherId) return t;
        const { muted: _m, ...rest } = t;
        return muted ? { ...rest, muted: true } : rest;
      });
    }
    this.emit(muted ? "trackmuted" : "trackunmuted", { publisherId, identity });
  }

  #setSpeakers(speakers: SpeakerInfo[]): void {
    const before = this.#speakers.map((s) => s.identity).join("\n");
    this.#speakers = speakers;
    if (speakers.map((s) => s.identity).join("\n") !== before)
      this.emit("activespeakers", speakers);
  }

  #dataPublished(d: PublishedData): void {
    const p = this.#participants.get(d.identity) ?? { identity: d.identity, tracks: [] };
    const { identity, ...info } = d;
    p.data = [...(p.data ?? []).filter((x) => x.dataPublisherId !== d.dataPublisherId), info];
    this.#participants.set(identity, p);
    this.emit("datapublished", d);
  }

  #dataUnpublished(dataPublisherId: string, identity: string): void {
    const p = this.#participants.get(identity);
    if (p?.data) p.data = p.data.filter((x) => x.dataPublisherId !== dataPublisherId);
    this.emit("dataunpublished", { dataPublisherId, identity });
  }

  #dataEnded(dataSubscriberId: string, reason: DataEndReason): void {
    const subscription = this.#dataSubscriptions.get(dataSubscriberId);
    if (!subscription) return;
    this.#dataSubscriptions.delete(dataSubscriberId);
    if (this.#dataWanted.get(subscription.dataPublisherId) === subscription)
      this.#dataWanted.delete(subscription.dataPublisherId);
    subscription.end(reason);
  }

  #dataPublication(dataPublisherId: string): DataPublication | undefined {
    for (const p of this.#dataPublications) if (p.dataPublisherId === dataPublisherId) return p;
    return undefined;
  }

  #requireSession(): Session {
    if (!this.#session) throw new WeirClientError("invalid_state", "the room is not connected");
    return this.#session;
  }

  #ownerOf(publisherId: string): string | undefined {
    return this.participants.find((p) => p.tracks.some((t) => t.publisherId === publisherId))
      ?.identity;
  }

  /** Reads both connections' selected pairs; emits `mediaconnectionchange` when a path moved. */
  async #refreshMedia(s: Session): Promise<void> {
    const [publish, subscribe] = await Promise.all([
      s.pub.getMediaPath().catch(() => null),
      s.sub.getMediaPath().catch(() => null),
    ]);
    if (this.#session !== s) return;
    const main = subscribe ?? publish;
    const next: MediaConnection | null = main
      ? {
          transport: main.transport,
          relayProtocol: main.relayProtocol,
          rttMs: main.rttMs,
          publish,
          subscribe,
        }
      : null;
    const before = this.#media;
    this.#media = next;
    const moved =
      (before === null) !== (next === null) ||
      !samePath(before?.publish ?? null, publish) ||
      !samePath(before?.subscribe ?? null, subscribe);
    if (moved) this.emit("mediaconnectionchange", next);
  }

  /** The session died (socket closed, transport failed, node draining): start over. */
  /** The session ended for good (a dead token, a newer session): the Room closes with an error. */
  #ended(s: Session, code: "token_expired" | "replaced", message: string): void {
    if (this.#session !== s || this.#state === "closed") return;
    this.emit("error", new WeirClientError(code, message));
    void this.close();
  }

  /**
   * The server removed this participant or closed the room (server API): the Room closes for
   * good, with `removed` (no reconnect: the same token would only be removed again).
   */
  #removed(s: Session, cause: "removed" | "room_closed", reason: string): void {
    if (this.#session !== s || this.#state === "closed") return;
    this.emit("removed", { cause, reason });
    void this.close();
  }

  /** Sends a fresh token a while before the current one expires. */
  #scheduleRefresh(s: Session): void {
    const provider = this.#provider;
    const exp = claimOf(this.#token, "exp");
    if (!provider || typeof exp !== "number") return;
    const left = exp * 1000 - Date.now();
    const delay = Math.max(0, left > 60_000 ? left - 30_000 : left / 2);
    s.refresh = setTimeout(async () => {
      try {
        const token = await provider();
        if (this.#session !== s) return;
        await s.socket.request({ type: "token", token });
        this.#token = token;
        if (this.#session === s) this.#scheduleRefresh(s);
      } catch (err) {
        this.emit("error", err as Error);
      }
    }, delay);
  }

  #lost(s: Session): void {
    if (this.#session !== s || this.#state === "closed") return;
    this.#teardown();
    this.#setState("reconnecting");
    void this.#reconnect();
  }

  async #reconnect(): Promise<void> {
    // One loop at a time: a session lost while the loop opens it is the loop's to retry.
    if (this.#reconnecting) return;
    this.#reconnecting = true;
    try {
      while (this.#state === "reconnecting") {
        const delay = Math.min(
          250 * 2 ** this.#attempt++,
          this.#options.maxReconnectDelayMs ?? 5000,
        );
        await new Promise((r) => setTimeout(r, delay));
        if (this.#state !== "reconnecting") return;
        try {
          if (this.#provider) this.#token = await this.#provider();
          await this.#open();
          return;
        } catch (err) {
          this.#teardown();
          // #open may fail after the welcome (it said "connected"), e.g. publishing again
          // on a node that is going away: that session is unusable too, so try again.
          if (this.state === "connected") this.#setState("reconnecting");
          this.emit("error", err as Error);
        }
      }
    } finally {
      this.#reconnecting = false;
    }
  }

  #teardown(): void {
    const s = this.#session;
    this.#session = null;
    this.#subscribers.clear();
    this.#dataSubscriptions.clear();
    // Closing the transports closes the channels: not the end of a publication unless closed.
    if (this.#state !== "closed") for (const p of this.#dataPublications) p.suspend();
    if (this.#media !== null) {
      this.#media = null;
      this.emit("mediaconnectionchange", null);
    }
    if (!s) return;
    clearInterval(s.heartbeat);
    clearTimeout(s.refresh);
    s.socket.close();
    s.pub.close();
    s.sub.close();
  }

  #setState(state: RoomState): void {
    if (this.#state === state) return;
    this.#state = state;
    this.emit("connectionstatechange", state);
  }
}

const DATA_OPEN_TIMEOUT_MS = 15_000;

/** Resolves when `channel` is open; rejects if it closes first or takes too long. */
function opened(channel: RTCDataChannel): Promise<void> {
  if (channel.readyState === "open") return Promise.resolve();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => fail("did not open in time"), DATA_OPEN_TIMEOUT_MS);
    const fail = (why: string) => {
      clearTimeout(timer);
      reject(new WeirClientError("closed", `DataChannel ${channel.label} ${why}`));
    };
    channel.addEventListener("open", () => {
      clearTimeout(timer);
      resolve();
    });
    channel.addEventListener("close", () => fail("closed"));
  });
}

function unexpected(type: string): WeirClientError {
  return new WeirClientError("invalid_state", `unexpected reply ${type}`);
}

function wire(c: RTCIceCandidateInit | null) {
  return c ? { ...c, candidate: c.candidate ?? "" } : null;
}

/** The grants claim of a token (unverified), or none. */
function grantsOf(token: string): Grant[] {
  const g = claimOf(token, "grants");
  return Array.isArray(g) ? g.filter((x): x is Grant => typeof x === "string") : [];
}

function fromBase64(b64: string): Uint8Array {
  const bin = atob(b64);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

/** The room claim of a token (not verified here: the edge does that). */
function roomOf(token: string): string {
  const room = claimOf(token, "room");
  if (typeof room === "string" && room !== "*") return room;
  throw new WeirClientError("invalid_argument", "the token carries no room claim");
}

/** One claim of a token's payload, unverified; undefined if it cannot be read. */
function claimOf(token: string, name: string): unknown {
  try {
    const payload = token.split(".")[1] ?? "";
    const json = atob(payload.replace(/-/g, "+").replace(/_/g, "/"));
    return (JSON.parse(json) as Record<string, unknown>)[name];
  } catch {
    return undefined;
  }
}
