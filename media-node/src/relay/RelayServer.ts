import { createSocket, type RemoteInfo, type Socket } from "node:dgram";
import { InvalidStateError, NotFoundError, WeirError } from "../errors.ts";
import { newSsrc } from "../ids.ts";
import type { Router } from "../Router.ts";
import { TypedEmitter } from "../TypedEmitter.ts";
import { FAILED, type SendResult, UdpSender } from "../UdpSender.ts";
import { DownstreamRelay } from "./DownstreamRelay.ts";
import { OriginRelay } from "./OriginRelay.ts";
import {
  DEFAULT_RELAY_PORT,
  type RelayServerEvents,
  type RelayServerOptions,
  type RelayServerStats,
} from "./RelayServerTypes.ts";
import {
  DROPPED_AUTH,
  DROPPED_MALFORMED,
  type RelayHost,
  type RelayTransport,
} from "./RelayTransport.ts";
import {
  MAX_RELAY_ENCODINGS,
  type RelayAddress,
  type RelayRequest,
} from "./RelayTransportTypes.ts";
import { newRelayKey } from "./relayKeys.ts";

const REPORT_INTERVAL_MS = 1000;
const NACK_TICK_MS = 20;
/** Silence before a relay is dead: with 1 s reports, a dead peer is noticed within 5 s. */
const DEFAULT_TIMEOUT_MS = 4000;
/** SRTP header (12) + tag (10), or SRTCP header (8) + index (4) + tag (10). */
const MIN_DATAGRAM = 22;

/**
 * A node's one UDP relay port, shared by every relay to and from other media nodes. Datagrams
 * are demultiplexed by SSRC (RTP: the media SSRC; RTCP: the first sender SSRC), then checked
 * against the relay's peer address, then authenticated; anything else is dropped and counted.
 */
export class RelayServer extends TypedEmitter<RelayServerEvents> implements RelayHost {
  readonly timeoutMs: number;
  dropRate: number;
  readonly #options: RelayServerOptions;
  readonly #relays = new Map<number, RelayTransport>();
  readonly #timers: NodeJS.Timeout[] = [];
  /** Runs only while downstream relays exist: an idle node is not woken 50 times a second. */
  #nackTimer: NodeJS.Timeout | null = null;
  #socket: Socket | null = null;
  #sender: UdpSender | null = null;
  #address: RelayAddress | null = null;
  #stats = {
    packetsIn: 0,
    packetsOut: 0,
    droppedMalformed: 0,
    droppedUnknownSsrc: 0,
    droppedUnknownSource: 0,
    droppedAuth: 0,
  };

  constructor(options: RelayServerOptions = {}) {
    super();
    this.#options = options;
    this.timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.dropRate = options.dropRate ?? 0;
  }

  /** Binds the relay port. */
  async listen(): Promise<RelayAddress> {
    if (this.#socket) throw new InvalidStateError("the relay server is already listening");
    const listenIp = this.#options.listenIp ?? "0.0.0.0";
    const socket = createSocket({ type: listenIp.includes(":") ? "udp6" : "udp4" });
    socket.on("message", (msg, rinfo) => this.#receive(msg, rinfo));
    await new Promise<void>((resolve, reject) => {
      socket.once("error", (err) => {
        socket.close();
        reject(err);
      });
      socket.bind(this.#options.port ?? DEFAULT_RELAY_PORT, listenIp, () => {
        socket.removeAllListeners("error");
        socket.on("error", () => {
          // a send to a vanished peer can fail (ICMP unreachable): the relay times out on its own
        });
        resolve();
      });
    });
    this.#socket = socket;
    this.#sender = new UdpSender(socket);
    const wildcard = listenIp === "0.0.0.0" || listenIp === "::";
    const ip = this.#options.announcedIp ?? (wildcard ? "127.0.0.1" : listenIp);
    this.#address = { ip, port: socket.address().port };
    this.#timers.push(setInterval(() => this.#tickReports(), REPORT_INTERVAL_MS).unref());
    return this.#address;
  }

  /** The address other nodes send to (announced). */
  get address(): RelayAddress {
    if (!this.#address) throw new InvalidStateError("the relay server is not listening");
    return this.#address;
  }

  get relays(): RelayTransport[] {
    return [...new Set(this.#relays.values())];
  }

  /**
   * Downstream side, step one: a relay that will feed a publisher `publisherId` into `router`.
   * Send `relay.request` to the origin node and give its answer to `relay.connect()`.
   */
  createDownstream(router: Router, publisherId: string): DownstreamRelay {
    const address = this.address;
    if (router.getPublisher(publisherId)) {
      throw new InvalidStateError(`publisher ${publisherId} is already in room ${router.id}`);
    }
    const ssrcs: number[] = [];
    for (let i = 0; i < MAX_RELAY_ENCODINGS; i++) ssrcs.push(this.#ssrc(ssrcs));
    const relay = new DownstreamRelay(this, router, publisherId, { address, ssrcs });
    for (const ssrc of ssrcs) this.#relays.set(ssrc, relay);
    this.#nackTimer ??= setInterval(() => this.#tickNacks(), NACK_TICK_MS).unref();
    return relay;
  }

  /** Origin side: starts relaying a local publisher toward the node that sent `request`. */
  createOrigin(router: Router, request: RelayRequest): OriginRelay {
    const address = this.address;
    checkRequest(request);
    const publisher = router.getPublisher(request.publisherId);
    if (!publisher || publisher.closed) {
      throw new NotFoundError(`no publisher ${request.publisherId} in room ${router.id}`);
    }
    const relay = new OriginRelay(this, publisher, request, {
      address,
      ssrc: this.#ssrc([]),
      key: newRelayKey(),
    });
    if (relay.closed) throw new NotFoundError(`publisher ${request.publisherId} closed`);
    this.#relays.set(relay.receiveSsrc, relay);
    return relay;
  }

  getStats(): RelayServerStats {
    return {
      address: this.address,
      relays: this.relays.length,
      ...this.#stats,
      transports: this.relays.map((r) => r.getStats()),
    };
  }

  async close(): Promise<void> {
    for (const t of this.#timers) clearInterval(t);
    this.#stopNackTimer();
    for (const r of this.relays) r.close();
    const socket = this.#socket;
    this.#socket = null;
    this.#sender = null;
    if (socket) await new Promise<void>((resolve) => socket.close(() => resolve()));
    this.emit("closed");
    this.removeAllListeners();
  }

  // --- RelayHost ---

  send(packet: Buffer, to: RelayAddress): SendResult {
    const sender = this.#sender;
    if (!sender) return FAILED;
    this.#stats.packetsOut++;
    return sender.send(packet, to.port, to.ip);
  }

  release(relay: RelayTransport): void {
    for (const ssrc of relay.receiveSsrcs) {
      if (this.#relays.get(ssrc) === relay) this.#relays.delete(ssrc);
    }
  }

  /** Hot path: one datagram at the relay port. Never throws. */
  #receive(buf: Buffer, rinfo: RemoteInfo): void {
    const stats = this.#stats;
    stats.packetsIn++;
    const len = buf.length;
    if (len < MIN_DATAGRAM || buf[0] >>> 6 !== 2) {
      stats.droppedMalformed++;
      return;
    }
    const pt = buf[1] & 0x7f;
    const rtcp = pt >= 64 && pt <= 95; // RFC 5761: RTCP types 192-223
    const o = rtcp ? 4 : 8;
    const ssrc = ((buf[o] << 24) | (buf[o + 1] << 16) | (buf[o + 2] << 8) | buf[o + 3]) >>> 0;
    const relay = this.#relays.get(ssrc);
    if (relay === undefined) {
      stats.droppedUnknownSsrc++;
      return;
    }
    const remote = relay.remoteAddress;
    if (remote === null || remote.port !== rinfo.port || remote.ip !== rinfo.address) {
      stats.droppedUnknownSource++;
      return;
    }
    const r = relay.receive(buf, rtcp);
    if (r === DROPPED_AUTH) stats.droppedAuth++;
    else if (r === DROPPED_MALFORMED) stats.droppedMalformed++;
  }

  /** A fresh SSRC no relay of this node receives on (nor one in `taken`). */
  #ssrc(taken: readonly number[]): number {
    let ssrc = newSsrc();
    while (this.#relays.has(ssrc) || taken.includes(ssrc)) ssrc = newSsrc();
    return ssrc;
  }

  #tickReports(): void {
    const now = performance.now();
    for (const r of this.relays) r.tick(now);
  }

  #tickNacks(): void {
    const now = performance.now();
    let downstream = 0;
    for (const r of this.relays) {
      if (!(r instanceof DownstreamRelay)) continue;
      downstream++;
      r.tickNacks(now);
    }
    if (downstream === 0) this.#stopNackTimer();
  }

  #stopNackTimer(): void {
    if (this.#nackTimer) clearInterval(this.#nackTimer);
    this.#nackTimer = null;
  }
}

function checkRequest(r: RelayRequest): void {
  const ok =
    typeof r.publisherId === "string" &&
    Array.isArray(r.ssrcs) &&
    r.ssrcs.length > 0 &&
    r.ssrcs.every((s) => Number.isInteger(s) && s > 0 && s <= 0xffffffff) &&
    Number.isInteger(r.address?.port) &&
    r.address.port > 0 &&
    r.address.port < 65536 &&
    typeof r.address.ip === "string";
  if (!ok) throw new WeirError("invalid_argument", "malformed relay request");
}
