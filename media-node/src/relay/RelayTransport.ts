import { newId } from "../ids.ts";
import { buildBye } from "../rtp/rtcp/build.ts";
import { rtpHeaderLength, type SrtpContext } from "../rtp/srtp/index.ts";
import { retireTransientOutput } from "../rtp/srtp/slab.ts";
import { TypedEmitter } from "../TypedEmitter.ts";
import { QUEUED, type SendResult } from "../UdpSender.ts";
import type {
  RelayAddress,
  RelayCloseReason,
  RelayRole,
  RelayTransportEvents,
  RelayTransportStats,
} from "./RelayTransportTypes.ts";

/** What a relay needs from the RelayServer that owns the shared socket. */
export interface RelayHost {
  /** Fraction of outgoing RTP to drop (test hook; 0 in production). */
  readonly dropRate: number;
  readonly timeoutMs: number;
  /** QUEUED: the packet's memory is still in use (see UdpSender). */
  send(packet: Buffer, to: RelayAddress): SendResult;
  release(relay: RelayTransport): void;
}

/** Why receive() refused a datagram: the server counts it. */
export const RECEIVED = 0;
export const DROPPED_AUTH = 1;
export const DROPPED_MALFORMED = 2;

/**
 * One relay between two media nodes for one publisher: SRTP in one direction, SRTCP both ways,
 * over the nodes' shared relay ports. The server hands it the datagrams whose SSRC is one of
 * `receiveSsrcs` and that come from `remote`; it sends RTCP with `sendSsrc`.
 */
export abstract class RelayTransport extends TypedEmitter<RelayTransportEvents> {
  readonly id = newId("relay");
  abstract readonly role: RelayRole;
  readonly publisherId: string;
  /** SSRCs this side receives on (its keys in the server's table): one per relayed encoding. */
  readonly receiveSsrcs: readonly number[];
  protected readonly host: RelayHost;
  protected remote: RelayAddress | null = null;
  protected tx: SrtpContext | null = null;
  protected rx: SrtpContext | null = null;
  protected readonly stats = {
    rtpPacketsIn: 0,
    rtpPacketsOut: 0,
    rtcpPacketsIn: 0,
    rtcpPacketsOut: 0,
    bytesIn: 0,
    bytesOut: 0,
    droppedByTest: 0,
  };
  #lastHeardMs = performance.now();
  #closed = false;

  constructor(host: RelayHost, publisherId: string, receiveSsrcs: readonly number[]) {
    super();
    this.host = host;
    this.publisherId = publisherId;
    this.receiveSsrcs = receiveSsrcs;
  }

  /** The first receive SSRC (the only one of an origin relay). */
  get receiveSsrc(): number {
    return this.receiveSsrcs[0];
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** The peer's relay address, once known: only datagrams from there are accepted. */
  get remoteAddress(): RelayAddress | null {
    return this.remote;
  }

  /** SSRC this side sends with (RTP for the origin, RTCP for the downstream side). */
  protected abstract get sendSsrc(): number;
  protected abstract onRtp(buf: Buffer, len: number): void;
  protected abstract onRtcp(buf: Buffer, len: number): void;
  /** Once a second: this side's RTCP (also the keepalive the peer's timeout watches). */
  protected abstract sendReports(nowMs: number): void;

  /** One datagram for this relay, already matched by SSRC and source. Never throws. */
  receive(buf: Buffer, rtcp: boolean): number {
    const rx = this.rx;
    if (rx === null) return DROPPED_AUTH;
    const len = buf.length;
    if (rtcp) {
      const n = rx.decryptRtcp(buf, len);
      if (n < 0) return DROPPED_AUTH;
      this.#lastHeardMs = performance.now();
      this.stats.rtcpPacketsIn++;
      this.stats.bytesIn += len;
      this.onRtcp(buf, n);
      return RECEIVED;
    }
    const headerLen = rtpHeaderLength(buf, len);
    if (headerLen < 0) return DROPPED_MALFORMED;
    const n = rx.decryptRtp(buf, len, headerLen);
    if (n < 0) return DROPPED_AUTH;
    this.stats.rtpPacketsIn++;
    this.stats.bytesIn += len;
    this.onRtp(buf, n);
    return RECEIVED;
  }

  /** Periodic work from the server (once a second): reports and the silence timeout. */
  tick(nowMs: number): void {
    if (this.#closed || this.remote === null) return;
    if (nowMs - this.#lastHeardMs > this.host.timeoutMs) {
      this.close("timeout");
      return;
    }
    this.sendReports(nowMs);
  }

  /** Encrypts an RTCP packet (compound or single) and sends it to the peer. */
  sendRtcp(packet: Uint8Array): void {
    const tx = this.tx;
    const remote = this.remote;
    if (this.#closed || tx === null || remote === null) return;
    const out = tx.encryptRtcp(packet, packet.length);
    this.stats.rtcpPacketsOut++;
    this.stats.bytesOut += out.length;
    this.host.send(out, remote);
  }

  getStats(): RelayTransportStats {
    return {
      id: this.id,
      role: this.role,
      publisherId: this.publisherId,
      remote: this.remote,
      ...this.stats,
    };
  }

  /** Closes the relay; the peer is told with an RTCP BYE unless it is the one that left. */
  close(reason: RelayCloseReason = "closed"): void {
    if (this.#closed) return;
    if (reason === "closed" || reason === "publisher") this.sendRtcp(buildBye([this.sendSsrc]));
    this.#closed = true;
    this.onClose();
    this.host.release(this);
    this.emit("closed", reason);
    this.removeAllListeners();
  }

  protected abstract onClose(): void;

  /** Encrypts one rewritten RTP packet and sends it (the loss hook may drop it). */
  protected sendRtpPacket(plain: Uint8Array, len: number, headerLen: number): boolean {
    const tx = this.tx;
    const remote = this.remote;
    if (this.#closed || tx === null || remote === null) return false;
    // Reused output memory, as toward clients (WebRtcPeer.sendRtp): no allocation per packet.
    const out = tx.encryptRtpTransient(plain, len, headerLen);
    this.stats.rtpPacketsOut++;
    this.stats.bytesOut += out.length;
    const drop = this.host.dropRate;
    if (drop > 0 && Math.random() < drop) {
      this.stats.droppedByTest++;
      return true;
    }
    if (this.host.send(out, remote) === QUEUED) retireTransientOutput();
    return true;
  }
}
