import type { Socket } from "node:dgram";
import {
  type RTCDataChannel,
  type RTCDtlsTransport,
  RTCIceCandidate,
  RTCPeerConnection,
  type RTCRtpCodecParameters,
  type RTCRtpHeaderExtensionParameters,
} from "werift";
import { InvalidSdpError, InvalidStateError } from "./errors.ts";
import { iceCredentialError, sdpIceCredentials } from "./ice/credentials.ts";
import {
  type ExpiryReason,
  type LivenessSubject,
  unwatchLiveness,
  watchLiveness,
} from "./PeerLiveness.ts";
import { createSrtpPair, rtpHeaderLength, type SrtpContext } from "./rtp/srtp/index.ts";
import { retireTransientOutput } from "./rtp/srtp/slab.ts";
import {
  checkOfferBundle,
  isHostnameCandidate,
  withBundleOnlyAccepted,
  withoutHostnameCandidates,
} from "./sdpRules.ts";
import type {
  IceCandidateInit,
  IceRestartResult,
  MediaPathStats,
  SessionDescriptionInit,
  TransportOptions,
  TransportState,
} from "./TransportTypes.ts";
import { TypedEmitter } from "./TypedEmitter.ts";
import { FAILED, QUEUED, type SendResult, UdpSender } from "./UdpSender.ts";
import { lastValidCheck, sessionLevelIceLite, useMuxes } from "./weriftIceLite.ts";
import { guardWeriftSockets, noCandidateError, watchSocket } from "./weriftSockets.ts";

// before any werift socket exists: a socket error must end one session, never the process
guardWeriftSockets();

/** Largest SDP we accept from a client; real ones are a few KiB. */
export const MAX_SDP_BYTES = 64 * 1024;
/** Largest DataChannel message: announced in a=max-message-size and forwarded (werift's default is 64 KiB). */
export const MAX_DATA_MESSAGE_BYTES = 256 * 1024;
/** werift's value for SRTP_AES128_CM_HMAC_SHA1_80, the one profile our fast path implements. */
const SRTP_AES128_CM_SHA1_80 = 1;
/** How long a renegotiation waits for a connect already under way. */
const CONNECT_TIMEOUT_MS = 10_000;
const CLOSE_TIMEOUT_MS = 2_000;

export interface MediaSink {
  onRtp(buf: Buffer, len: number): void;
  onRtcp(buf: Buffer, len: number): void;
}

interface PeerEvents {
  icecandidate: [IceCandidateInit | null];
  connectionstatechange: [TransportState];
  connected: [];
  closed: [];
}

interface PeerCodecs {
  audio: RTCRtpCodecParameters[];
  video: RTCRtpCodecParameters[];
}

interface PeerExtensions {
  audio: RTCRtpHeaderExtensionParameters[];
  video: RTCRtpHeaderExtensionParameters[];
}

/** Sends one encrypted packet to ip:port; a TCP (ICE-TCP) pair brings its own. */
interface MediaSender {
  send(buf: Uint8Array, port: number, ip: string): SendResult;
}

/** The parts of werift's ICE pair we send on: we write to its UDP socket directly. */
interface NominatedPair {
  remoteAddr: [string, number];
  protocol: { transport: { socket?: Socket; closed?: boolean; mediaSender?: MediaSender } };
}

/**
 * Adapter around a werift RTCPeerConnection: werift does ICE, DTLS, SCTP and SDP; this class
 * takes the SRTP media path over (keys from the DTLS handshake, our own SRTP contexts, our own
 * receive handler and direct socket sends), giving the SDK a narrow send/receive interface.
 */
export class WebRtcPeer extends TypedEmitter<PeerEvents> {
  readonly pc: RTCPeerConnection;
  readonly stats: MediaPathStats = {
    rtpPacketsIn: 0,
    rtcpPacketsIn: 0,
    rtpPacketsOut: 0,
    rtcpPacketsOut: 0,
    bytesIn: 0,
    bytesOut: 0,
    droppedAuth: 0,
    droppedMalformed: 0,
    droppedUnknown: 0,
    candidatesIgnored: 0,
  };
  /** SCTP/DataChannel input dropped before werift's receive path could throw on it. */
  readonly dataStats = { malformed: 0 };
  #sink: MediaSink | null = null;
  #tx: SrtpContext | null = null;
  #rx: SrtpContext | null = null;
  #pair: NominatedPair | null = null;
  #udpSender: UdpSender | null = null;
  readonly #diverted = new WeakSet<UdpTransportInternals>();
  #iceConnection: { nominated?: NominatedPair } | null = null;
  readonly #patched = new WeakSet<object>();
  readonly #options: TransportOptions;
  #state: TransportState = "new";
  /** Why the liveness sweep closed this peer, if it did. */
  expiredBy: ExpiryReason | null = null;
  #connectedOnce = false;
  #heardAt = 0;
  #packetsSeen = 0;
  readonly #watch: LivenessSubject = {
    liveness: () => ({ connected: this.#connectedOnce, heardAt: this.#lastHeard() }),
    expire: (reason) => {
      this.expiredBy = reason;
      void this.close();
    },
  };

  constructor(options: TransportOptions, codecs: PeerCodecs, headerExtensions: PeerExtensions) {
    super();
    this.#options = options;
    const listenIps = candidateIps(options);
    this.pc = new RTCPeerConnection({
      iceServers: [],
      iceLite: true,
      bundlePolicy: "max-bundle",
      iceUseTcp: false,
      iceTcpPassive: false,
      iceUseIpv6: listenIps?.some((ip) => ip.includes(":")) ?? false,
      // The node's own lite agent gathers exactly these (weriftIceLite.ts), loopback included.
      iceAdditionalHostAddresses: listenIps,
      icePortRange: options.portRange,
      codecs,
      headerExtensions,
      maxMessageSize: MAX_DATA_MESSAGE_BYTES,
    });
    this.pc.onIceCandidate.subscribe((c) => {
      const init = c ? this.#publicCandidate(c.toJSON()) : null;
      if (c === undefined || init !== undefined) this.emit("icecandidate", init ?? null);
    });
    this.pc.connectionStateChange.subscribe((s) => this.#setState(s as TransportState));
    watchLiveness(this.#watch, options);
  }

  /**
   * When the client was last heard: an authentic STUN check (its consent checks, RFC 7675) or an
   * authenticated SRTP/SRTCP packet (clients whose ICE sends no consent checks, like libnice's
   * default, still send RTCP). Read by the 1 s liveness sweep, never per packet.
   */
  #lastHeard(): number {
    const packets = this.stats.rtpPacketsIn + this.stats.rtcpPacketsIn;
    if (packets !== this.#packetsSeen) {
      this.#packetsSeen = packets;
      this.#heardAt = Date.now();
    }
    for (const t of this.pc.iceTransports) {
      this.#heardAt = Math.max(this.#heardAt, lastValidCheck(t.connection));
    }
    return this.#heardAt;
  }

  /** Packets can leave: SRTP keys are in hand and ICE has a nominated pair. */
  get mediaReady(): boolean {
    return this.#tx !== null && this.#sender() !== null;
  }

  get state(): TransportState {
    return this.#state;
  }

  setSink(sink: MediaSink): void {
    this.#sink = sink;
  }

  /** Validates an SDP from outside before werift sees it. */
  static checkSdp(desc: unknown, type: "offer" | "answer"): SessionDescriptionInit {
    const d = desc as Partial<SessionDescriptionInit> | null;
    if (!d || typeof d !== "object" || typeof d.sdp !== "string") {
      throw new InvalidSdpError(`expected an ${type} object with an sdp string`);
    }
    if (d.type !== type) throw new InvalidSdpError(`expected type "${type}", got "${d.type}"`);
    if (d.sdp.length > MAX_SDP_BYTES) {
      throw new InvalidSdpError(`SDP is ${d.sdp.length} bytes; the limit is ${MAX_SDP_BYTES}`);
    }
    const sdp = type === "offer" ? withBundleOnlyAccepted(d.sdp) : d.sdp;
    if (!sdp.startsWith("v=0")) throw new InvalidSdpError("SDP must start with v=0");
    if (!/^m=(audio|video|application) \d+ /m.test(sdp)) {
      throw new InvalidSdpError("SDP has no media section");
    }
    const ice = sdpIceCredentials(sdp);
    if (!ice.ufrag || !ice.pwd) {
      throw new InvalidSdpError("SDP lacks ICE credentials (a=ice-ufrag / a=ice-pwd)");
    }
    if (!/^a=fingerprint:\S+ [0-9A-Fa-f:]+/m.test(sdp)) {
      throw new InvalidSdpError("SDP lacks a DTLS fingerprint");
    }
    if (type === "offer") checkOfferBundle(sdp);
    return { type, sdp: withoutHostnameCandidates(sdp).sdp };
  }

  async setRemoteDescription(desc: SessionDescriptionInit): Promise<void> {
    // werift starts ICE and DTLS again if a description lands while the first connect is under
    // way (and fails the peer): let the first connect settle.
    if (this.#state === "new" || this.#state === "connecting") {
      if (this.pc.remoteDescription) await this.#settled();
    }
    await this.#applyRemote(desc);
  }

  async #applyRemote(desc: SessionDescriptionInit): Promise<void> {
    try {
      await this.pc.setRemoteDescription(desc);
    } catch (err) {
      throw new InvalidSdpError(`remote ${desc.type} rejected: ${(err as Error).message}`, {
        cause: err,
      });
    }
    this.#patchDtlsTransports();
    this.#guardSctp();
  }

  #settled(): Promise<void> {
    return new Promise<void>((resolve) => {
      const timer = setTimeout(done, CONNECT_TIMEOUT_MS);
      const self = this;
      function done() {
        clearTimeout(timer);
        self.off("connectionstatechange", onState);
        resolve();
      }
      function onState(s: TransportState) {
        if (s !== "new" && s !== "connecting") done();
      }
      this.on("connectionstatechange", onState);
    });
  }

  /** Sets our local description and returns it with candidates filtered and announced. */
  async setLocalDescription(desc: { type: string; sdp: string }): Promise<SessionDescriptionInit> {
    const type = desc.type;
    if (type !== "offer" && type !== "answer") throw new InvalidSdpError("bad local type");
    this.#patchDtlsTransports();
    const { udpMux, tcpMux } = this.#options;
    if (udpMux) {
      const muxes = tcpMux ? { udp: udpMux, tcp: tcpMux } : { udp: udpMux };
      for (const t of this.pc.iceTransports) useMuxes(t.connection, muxes);
    }
    await this.pc.setLocalDescription({ type, sdp: desc.sdp });
    if (type === "answer") this.#startRestartedIce();
    const local = this.pc.localDescription;
    if (!local) throw new InvalidSdpError("werift produced no local description");
    const sdp = sessionLevelIceLite(this.#rewriteCandidates(local.sdp));
    if (!/^a=candidate:/m.test(sdp)) {
      const error = noCandidateError(this.#options.portRange);
      if (error) throw error;
    }
    return { type, sdp };
  }

  /**
   * ICE restart on the answering side, driven by the remote's new credentials alone (an SDP
   * fragment, RFC 8840): re-applies the current remote offer with the new ufrag/pwd (its old
   * candidates dropped: they belong to the previous ICE generation), then answers. werift restarts
   * the ICE transport when a remote offer changes the credentials; DTLS and SRTP carry on. The
   * negotiated codecs and header extensions are kept as they were (werift re-derives them from
   * the offer otherwise).
   */
  async restartIceAsAnswerer(ufrag: string, pwd: string): Promise<IceRestartResult> {
    checkIceCredentials(ufrag, pwd);
    const remote = this.pc.remoteDescription;
    if (remote?.type !== "offer" || this.pc.signalingState !== "stable") {
      throw new InvalidStateError("ICE restart by fragment needs an answered remote offer");
    }
    if (sdpIceCredentials(remote.sdp).ufrag === ufrag) {
      throw new InvalidSdpError("an ICE restart needs a new ice-ufrag");
    }
    const kept = this.pc.getTransceivers().map((t) => [t, t.codecs, t.headerExtensions] as const);
    // A restart is what a client whose checks never got through sends: it replaces the pending
    // connect rather than waiting for it to time out (nothing has reached DTLS before a pair).
    const pending = this.pc.iceTransports.every((t) => t.connection.nominated === undefined);
    const apply = pending ? this.#applyRemote.bind(this) : this.setRemoteDescription.bind(this);
    await apply({
      type: "offer",
      sdp: withIceCredentials(remote.sdp, ufrag, pwd),
    });
    for (const [t, codecs, extensions] of kept) {
      t.codecs = codecs;
      t.headerExtensions = extensions;
    }
    const local = await this.setLocalDescription(await this.pc.createAnswer());
    const candidates = local.sdp.match(/^a=candidate:.*$/gm) ?? [];
    return {
      ...sdpIceCredentials(local.sdp),
      candidates: [...new Set(candidates)].map((c) => c.slice(2)),
    };
  }

  async addIceCandidate(candidate: IceCandidateInit | null): Promise<void> {
    if (!candidate?.candidate) return;
    if (typeof candidate.candidate !== "string" || candidate.candidate.length > 1024) {
      throw new InvalidSdpError("ICE candidate must be a string under 1 KiB");
    }
    if (isHostnameCandidate(candidate.candidate)) {
      this.stats.candidatesIgnored++;
      return;
    }
    try {
      await this.pc.addIceCandidate(new RTCIceCandidate(candidate));
    } catch (err) {
      throw new InvalidSdpError(`bad ICE candidate: ${(err as Error).message}`, { cause: err });
    }
  }

  /**
   * werift's connect() skips ICE when DTLS is already up. After an ICE restart whose offer carries
   * no candidates (a fragment restart, or a trickling client), our ICE-lite agent then queues the
   * client's checks forever and never nominates a pair: start it here, once our answer is set.
   * (Restarts whose SDP carries candidates get their checks through werift's pairing anyway.)
   */
  #startRestartedIce(): void {
    for (const dtls of this.pc.dtlsTransports as unknown as DtlsInternals[]) {
      const ice = dtls.iceTransport;
      if (dtls.state !== "connected" || ice.connection.nominated) continue;
      ice.start().catch(() => this.#setState("failed"));
    }
  }

  /** Calls back for each DataChannel the remote opens (its DCEP DATA_CHANNEL_OPEN). */
  onDataChannel(listener: (channel: PeerDataChannel) => void): void {
    this.pc.onDataChannel.subscribe((c) => listener(new PeerDataChannel(c)));
  }

  /** Whether the session has an SCTP association (an m=application section). */
  get hasSctp(): boolean {
    return this.pc.sctpTransport !== undefined;
  }

  /** Opens a DataChannel toward the remote (the first one needs an offer: it adds m=application). */
  createDataChannel(init: DataChannelInit): PeerDataChannel {
    const channel = this.pc.createDataChannel(init.label, {
      ordered: init.ordered,
      maxRetransmits: init.maxRetransmits,
      maxPacketLifeTime: init.maxPacketLifeTime,
      protocol: init.protocol ?? "",
    });
    this.#guardSctp();
    return new PeerDataChannel(channel);
  }

  /**
   * werift's SCTP receive path throws from un-awaited async code (an unknown PPID, a DCEP ACK for
   * no channel, a malformed packet): an unhandled rejection that ends the Node process. Drop those
   * here and count them in dataStats.malformed. Also fixes werift's quadratic send path.
   */
  #guardSctp(): void {
    const sctp = (this.pc.sctpTransport as unknown as SctpTransportInternals | undefined)?.sctp;
    if (!sctp || this.#patched.has(sctp)) return;
    this.#patched.add(sctp);
    const transport = this.pc.sctpTransport as unknown as SctpTransportInternals;
    // werift picks stream ids from dataChannelId, set only in start() (after the answer). When the
    // remote's SCTP INIT wins the race (its answer still on its way, e.g. through the edge and
    // NATS), the association is up before start() and the id pick throws: the process dies.
    transport.dataChannelId ??= transport.isServer ? 0 : 1;
    const handleData = sctp.handleData.bind(sctp);
    sctp.handleData = (data: Buffer) =>
      handleData(data).catch(() => {
        this.dataStats.malformed++;
      });
    // werift's send() awaits flush.asPromise() once per queued message until its queue drains,
    // and each flush walks and re-filters every such waiter: quadratic in the messages pending
    // (1000 small messages took 5 s of CPU). One shared promise, resolved when the queue is empty.
    let drained: { promise: Promise<unknown[]>; resolve: (v: unknown[]) => void } | null = null;
    sctp.flush.subscribe(() => {
      if (drained && sctp.outboundQueue.length === 0) {
        const d = drained;
        drained = null;
        d.resolve([]);
      }
    });
    sctp.flush.asPromise = () => {
      if (!drained) {
        let resolve: (v: unknown[]) => void = () => {};
        const promise = new Promise<unknown[]>((r) => {
          resolve = r;
        });
        drained = { promise, resolve };
      }
      return drained.promise;
    };
    const receive = sctp.receive.bind(sctp);
    sctp.receive = (streamId: number, ppId: number, data: Buffer) => {
      const known =
        ppId === PPID_DCEP
          ? data.length > 0 &&
            (data[0] !== DCEP_ACK || transport.dataChannels[streamId] !== undefined)
          : ppId === PPID_STRING ||
            ppId === PPID_BINARY ||
            ppId === PPID_STRING_EMPTY ||
            ppId === PPID_BINARY_EMPTY;
      if (!known) {
        this.dataStats.malformed++;
        return;
      }
      receive(streamId, ppId, data);
    };
  }

  /** Encrypts and sends one RTP packet (plaintext src[0..len), header headerLen bytes). */
  sendRtp(src: Uint8Array, len: number, headerLen: number): boolean {
    const tx = this.#tx;
    const sender = this.#sender();
    if (!tx || !sender) return false;
    // Encrypted into reused memory: nothing is allocated unless the socket queues the packet.
    const out = tx.encryptRtpTransient(src, len, headerLen);
    const addr = (this.#pair as NominatedPair).remoteAddr;
    const result = sender.send(out, addr[1], addr[0]);
    if (result === QUEUED) retireTransientOutput();
    if (result === FAILED) return false;
    this.stats.rtpPacketsOut++;
    this.stats.bytesOut += out.length;
    return true;
  }

  sendRtcp(packet: Uint8Array): boolean {
    const tx = this.#tx;
    const sender = this.#sender();
    if (!tx || !sender) return false;
    const out = tx.encryptRtcp(packet, packet.length);
    const addr = (this.#pair as NominatedPair).remoteAddr;
    if (sender.send(out, addr[1], addr[0]) === FAILED) return false;
    this.stats.rtcpPacketsOut++;
    this.stats.bytesOut += out.length;
    return true;
  }

  async close(): Promise<void> {
    if (this.#state === "closed") return;
    unwatchLiveness(this.#watch);
    this.#tx = null;
    this.#rx = null;
    this.#sink = null;
    // werift's close can wait on a transport that never answers: bound it.
    await Promise.race([
      this.pc.close().catch(() => {}),
      new Promise((r) => setTimeout(r, CLOSE_TIMEOUT_MS).unref()),
    ]);
    this.#setState("closed");
    this.emit("closed");
  }

  #setState(state: TransportState): void {
    if (this.#state === state || this.#state === "closed") return;
    if (state === "connected" && !this.#connectedOnce) {
      this.#connectedOnce = true;
      this.#heardAt = Date.now();
    }
    this.#state = state;
    this.emit("connectionstatechange", state);
  }

  /** The nominated pair's socket sender; re-read when werift nominates a new pair (ICE restart). */
  #sender(): MediaSender | null {
    const nominated = this.#iceConnection?.nominated;
    if (!nominated) return null;
    this.#pair = nominated;
    const transport = nominated.protocol.transport;
    if (transport.mediaSender) return transport.closed ? null : transport.mediaSender;
    if (!transport.socket || transport.closed) return null;
    if (this.#udpSender?.socket !== transport.socket) {
      this.#udpSender = new UdpSender(transport.socket);
    }
    return this.#udpSender;
  }

  /** Makes werift's DTLS transports hand us the SRTP keys instead of running werift's media path. */
  #patchDtlsTransports(): void {
    for (const dtls of this.pc.dtlsTransports as RTCDtlsTransport[]) {
      if (this.#patched.has(dtls)) continue;
      this.#patched.add(dtls);
      const d = dtls as unknown as DtlsInternals;
      d.srtpProfiles = [SRTP_AES128_CM_SHA1_80];
      d.startSrtp = () => this.#startMedia(d);
    }
  }

  #startMedia(dtls: DtlsInternals): void {
    if (dtls.srtpStarted) return;
    dtls.srtpStarted = true;
    this.#guardDtls(dtls.dtls);
    // werift's own SRTCP session stays for its receivers' periodic RTCP; media never goes there.
    dtls.updateSrtpSession();
    const keys = dtls.dtls.extractSessionKeys(16, 14);
    const { tx, rx } = createSrtpPair(keys);
    this.#tx = tx;
    this.#rx = rx;
    const connection = dtls.iceTransport.connection;
    this.#iceConnection = connection;
    connection.onData.subscribe((data: Buffer) => this.#receive(data));
    for (const protocol of connection.protocols ?? []) this.#divertMedia(protocol.transport);
    this.emit("connected");
  }

  /**
   * SRTP and SRTCP datagrams go straight from the socket to #receive instead of through werift's
   * ICE dispatch (a STUN parse attempt and two event hops per packet, a large share of the
   * receive cost). STUN and DTLS still go to werift; so does media on a transport added later
   * (ICE restart), through the onData subscription above.
   */
  #divertMedia(transport: UdpTransportInternals): void {
    if (this.#diverted.has(transport) || typeof transport.onData !== "function") return;
    this.#diverted.add(transport);
    watchSocket(transport, () => this.#setState("failed"));
    const werift = transport.onData;
    transport.onData = (data, addr) => {
      const b0 = data[0];
      if (b0 >= 128 && b0 <= 191 && this.#rx !== null) this.#receive(data);
      else werift.call(transport, data, addr);
    };
  }

  /**
   * Once the handshake is done, lets through to werift's DTLS only records that can be authentic.
   * werift closes the DTLS transport on any plaintext alert or unknown record type and restarts
   * the handshake on a plaintext ClientHello, whatever the source address: one spoofed datagram
   * to the port in the SDP closed it, and the next renegotiation then failed (transport closed).
   * Kept: records of epoch >= 1 of type handshake / application data (werift authenticates
   * those itself) and alerts that decrypt. WebRTC never renegotiates DTLS, and werift ignores the
   * peer's retransmitted epoch-0 records once connected (its Finished, epoch 1, still passes).
   */
  #guardDtls(socket: DtlsSocketInternals): void {
    const ice = socket.transport.socket;
    const deliver = ice.onData;
    ice.onData = (data: Buffer) => {
      const kept = authenticDtlsRecords(socket, data);
      if (kept) deliver(kept);
      else this.stats.droppedAuth++;
    };
  }

  #receive(data: Buffer): void {
    const b0 = data[0];
    if (b0 < 128 || b0 > 191) return; // STUN and DTLS belong to werift (RFC 7983)
    const rx = this.#rx;
    const sink = this.#sink;
    if (!rx || !sink) return;
    const len = data.length;
    const pt = len > 1 ? data[1] & 0x7f : 0;
    if (pt >= 64 && pt <= 95) {
      // RTCP (RFC 5761: PT 192-223 with the marker bit folded in)
      const n = rx.decryptRtcp(data, len);
      if (n < 0) {
        this.stats.droppedAuth++;
        return;
      }
      this.stats.rtcpPacketsIn++;
      this.stats.bytesIn += len;
      sink.onRtcp(data, n);
      return;
    }
    const headerLen = rtpHeaderLength(data, len);
    if (headerLen < 0) {
      this.stats.droppedMalformed++;
      return;
    }
    const n = rx.decryptRtp(data, len, headerLen);
    if (n < 0) {
      this.stats.droppedAuth++;
      return;
    }
    this.stats.rtpPacketsIn++;
    this.stats.bytesIn += len;
    sink.onRtp(data, n);
  }

  #publicCandidate(c: IceCandidateInit): IceCandidateInit | undefined {
    const line = this.#rewriteCandidateLine(`a=${c.candidate}`);
    if (line === null) return undefined;
    return { ...c, candidate: line.slice(2) };
  }

  /** Drops candidates outside listenIps and rewrites announced addresses (NAT 1:1). */
  #rewriteCandidates(sdp: string): string {
    return sdp
      .split("\r\n")
      .map((line) => (line.startsWith("a=candidate:") ? this.#rewriteCandidateLine(line) : line))
      .filter((line): line is string => line !== null)
      .join("\r\n");
  }

  #rewriteCandidateLine(line: string): string | null {
    const parts = line.split(" ");
    const ip = parts[4];
    if (ip === undefined) return null;
    const { announcedIps } = this.#options;
    const listenIps = candidateIps(this.#options);
    if (listenIps && !listenIps.includes(ip)) return null;
    const announced = announcedIps?.[ip];
    if (announced) parts[4] = announced;
    return parts.join(" ");
  }
}

/** The addresses to offer candidates on: listenIps, and only the mux's when there is a mux. */
function candidateIps(options: TransportOptions): string[] | undefined {
  const listenIps = options.listenIps?.length ? options.listenIps : undefined;
  const muxIps = options.udpMux?.sockets.map((s) => s.ip);
  if (!muxIps) return listenIps;
  return listenIps ? muxIps.filter((ip) => listenIps.includes(ip)) : muxIps;
}

/** ICE ufrag and pwd as RFC 8839 section 5.4 allows them (ice/credentials.ts). */
function checkIceCredentials(ufrag: unknown, pwd: unknown): void {
  const error = iceCredentialError("ice-ufrag", ufrag) ?? iceCredentialError("ice-pwd", pwd);
  if (error !== null) throw new InvalidSdpError(error);
}

/** The SDP with new ICE credentials everywhere and no candidates of the previous generation. */
function withIceCredentials(sdp: string, ufrag: string, pwd: string): string {
  return sdp
    .split("\r\n")
    .filter((line) => !line.startsWith("a=candidate:") && line !== "a=end-of-candidates")
    .map((line) => {
      if (line.startsWith("a=ice-ufrag:")) return `a=ice-ufrag:${ufrag}`;
      if (line.startsWith("a=ice-pwd:")) return `a=ice-pwd:${pwd}`;
      return line;
    })
    .join("\r\n");
}

/** The DTLS records of `data` that may be authentic after the handshake, or null if none. */
function authenticDtlsRecords(socket: DtlsSocketInternals, data: Buffer): Buffer | null {
  const kept: Buffer[] = [];
  let off = 0;
  while (data.length - off >= 13) {
    const end = off + 13 + data.readUInt16BE(off + 11);
    if (end > data.length) break;
    const record = data.subarray(off, end);
    off = end;
    const type = record[0];
    const epoch = record.readUInt16BE(3);
    if (epoch === 0 || type < 21 || type > 23) continue;
    if (type === 21) {
      try {
        socket.cipher.decryptPacket({
          recordLayerHeader: {
            contentType: type,
            protocolVersion: { major: record[1], minor: record[2] },
            epoch,
            sequenceNumber: record.readUIntBE(5, 6),
          },
          fragment: record.subarray(13),
        });
      } catch {
        continue;
      }
    }
    kept.push(record);
  }
  if (kept.length === 0) return null;
  return kept.length === 1 ? kept[0] : Buffer.concat(kept);
}

/** werift internals we rely on; isolated here so a werift upgrade touches one file. */
/** werift's DtlsSocket: where its records arrive and the cipher that decrypts them. */
interface DtlsSocketInternals {
  transport: { socket: { onData: (data: Buffer) => void } };
  cipher: {
    decryptPacket(packet: {
      recordLayerHeader: {
        contentType: number;
        protocolVersion: { major: number; minor: number };
        epoch: number;
        sequenceNumber: number;
      };
      fragment: Buffer;
    }): Buffer;
  };
}

/** werift's UdpTransport: the socket hands every datagram to onData (read at each call). */
interface UdpTransportInternals {
  onData: (data: Buffer, addr: [string, number]) => void;
}

interface DtlsInternals {
  srtpProfiles: number[];
  srtpStarted: boolean;
  startSrtp: () => void;
  updateSrtpSession(): void;
  dtls: DtlsSocketInternals & {
    extractSessionKeys(
      keyLength: number,
      saltLength: number,
    ): { localKey: Buffer; localSalt: Buffer; remoteKey: Buffer; remoteSalt: Buffer };
  };
  state: string;
  iceTransport: {
    start(): Promise<void>;
    connection: {
      nominated?: NominatedPair;
      onData: { subscribe(f: (d: Buffer) => void): void };
      protocols?: { transport: UdpTransportInternals }[];
    };
  };
}

// --- DataChannels (werift's SCTP) ---

const PPID_DCEP = 50;
const PPID_STRING = 51;
const PPID_BINARY = 53;
const PPID_STRING_EMPTY = 56;
const PPID_BINARY_EMPTY = 57;
const DCEP_ACK = 2;

export interface DataChannelInit {
  label: string;
  ordered: boolean;
  maxRetransmits?: number;
  maxPacketLifeTime?: number;
  protocol?: string;
}

/** werift SCTP internals the guard wraps. */
interface SctpTransportInternals {
  dataChannels: Record<number, unknown>;
  dataChannelId: number | undefined;
  readonly isServer: boolean;
  sctp: {
    handleData(data: Buffer): Promise<void>;
    receive(streamId: number, ppId: number, data: Buffer): void;
    outboundQueue: unknown[];
    flush: { subscribe(f: () => void): unknown; asPromise: () => Promise<unknown[]> };
  };
}

/** One werift RTCDataChannel behind a narrow interface: messages in, sends out, buffered bytes. */
export class PeerDataChannel {
  readonly #c: RTCDataChannel;

  constructor(channel: RTCDataChannel) {
    this.#c = channel;
  }

  get label(): string {
    return this.#c.label;
  }
  get ordered(): boolean {
    return this.#c.ordered;
  }
  get maxRetransmits(): number | undefined {
    return this.#c.maxRetransmits ?? undefined;
  }
  get maxPacketLifeTime(): number | undefined {
    return this.#c.maxPacketLifeTime ?? undefined;
  }
  get protocol(): string {
    return this.#c.protocol;
  }
  get readyState(): string {
    return this.#c.readyState;
  }
  /** Bytes handed to werift that its SCTP has not yet put on the wire. */
  get bufferedAmount(): number {
    return this.#c.bufferedAmount;
  }
  set bufferedAmountLowThreshold(bytes: number) {
    this.#c.bufferedAmountLowThreshold = bytes;
  }

  onMessage(listener: (data: string | Buffer) => void): void {
    this.#c.onMessage.subscribe(listener);
  }
  onOpen(listener: () => void): void {
    this.#c.stateChanged.subscribe((s) => {
      if (s === "open") listener();
    });
  }
  onClose(listener: () => void): void {
    this.#c.stateChanged.subscribe((s) => {
      if (s === "closed") listener();
    });
  }
  onBufferedAmountLow(listener: () => void): void {
    this.#c.bufferedAmountLow.subscribe(listener);
  }

  /** Queues one message; false if werift refused it (over the remote's max-message-size, closed). */
  send(data: string | Buffer): boolean {
    try {
      this.#c.send(data);
      return true;
    } catch {
      return false;
    }
  }

  close(): void {
    try {
      this.#c.close();
    } catch {
      // already gone with its association
    }
  }
}
