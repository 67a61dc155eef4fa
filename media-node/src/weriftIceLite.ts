// werift 0.25.2's ICE-lite agent, made to work on hosts with more than one address. Every reach
// into werift's ICE internals for that is here, applied once at import, to ICE-lite agents only
// (werift peers acting as clients in tests and benchmarks keep werift's behaviour). werift stays
// pinned; this module is the first thing to re-check on an upgrade. The one-UDP-port mux will
// replace it (Weir then owns the sockets and the lite agent).
//
// Measured on a host with lo + one veth (Chromium beside the node, two paths to it):
// 1. werift binds every host candidate's socket to the wildcard address, so a candidate's IP is
//    a label only: a check from 10.99.0.1 to the 127.0.0.1 candidate is answered from 10.99.0.1,
//    a source the client never paired, and that pair is never validated. Fixed: each socket is
//    bound to its candidate's own address.
// 2. werift answers a Binding request without checking its MESSAGE-INTEGRITY (it checks only
//    responses). Harmless while the first nomination was final; once nominations may move, a
//    forged check would move the media. Fixed: requests must carry the integrity of our password.
// 3. werift's lite agent keeps the first nominated pair for good; a client may nominate again (a
//    better pair, or after it gave up on the first). DTLS and media go to the nominated pair, so
//    they follow the client's latest nomination here.
// (4. werift writes a=ice-lite per media section, where browsers do not read it: WebRtcPeer
//    moves it to session level when it emits an SDP; see `sessionLevelIceLite`.)
// 5. With a UdpMux (one port for every session), a lite agent opens no socket of its own: its
//    host candidates are the mux's addresses and port, and each is a werift StunProtocol over a
//    MuxTransport, werift's small Transport shape fed by the mux (see `useUdpMux`).
import { type Candidate, Connection, parseMessage } from "werift";
import { gatherOnMux, type Muxes } from "./weriftMux.ts";

/** The parts of werift's ICE `Connection` this module touches. */
export interface LiteConnection {
  iceLite: boolean;
  localUsername: string;
  localPassword: string;
  /** Earlier local ufrags (before ICE restarts) -> their passwords. */
  userHistory: Record<string, string>;
  ensureProtocol(protocol: LiteProtocol): void;
  options: { interfaceAddresses?: Record<string, string>; additionalHostAddresses?: string[] };
  nominated?: LitePair;
  checkList: LitePair[];
  getCandidatePromises(addresses: string[], timeout?: number): Promise<unknown>[];
  checkIncoming(message: StunRequest, addr: [string, number], protocol: unknown): void;
  restart(): Promise<void>;
  protocols: { localIp?: string }[];
  generation: number;
  pairLocalProtocol(protocol: unknown): void;
  appendLocalCandidate(candidate: Candidate): void;
}

interface LitePair {
  protocol: unknown;
  remoteAddr: [string, number];
  nominated: boolean;
}

export interface LiteProtocol {
  datagramReceived(data: Buffer, addr: [string, number]): void;
}

interface StunRequest {
  attributesKeys: string[];
}

const proto = Connection.prototype as unknown as LiteConnection;
const gather = proto.getCandidatePromises;
const checkIncoming = proto.checkIncoming;
const ensureProtocol = proto.ensureProtocol;
const restart = proto.restart;

/** The muxes each lite agent gathers on, set by WebRtcPeer before it gathers. */
const muxes = new WeakMap<object, Muxes>();

/** Makes werift ICE `connection` (a lite agent) gather on the muxes, with no socket of its own. */
export function useMuxes(connection: object, m: Muxes): void {
  muxes.set(connection, m);
}

/** A restart gives the agent a new ufrag: the mux must route it. */
proto.restart = function (this: LiteConnection) {
  const done = restart.call(this);
  muxes.get(this)?.udp.ufragsChanged();
  return done;
};

/** Binding requests reach werift only with a valid MESSAGE-INTEGRITY for one of our ufrags. */
proto.ensureProtocol = function (this: LiteConnection, protocol) {
  ensureProtocol.call(this, protocol);
  if (!this.iceLite) return;
  const deliver = protocol.datagramReceived.bind(protocol);
  protocol.datagramReceived = (data, addr) => {
    if (isStunRequest(data)) {
      if (!authentic(this, data)) return;
      validChecks.set(this, Date.now());
    }
    deliver(data, addr);
  };
};

/** When each lite agent last got an authentic Binding request (consent, RFC 7675). */
const validChecks = new WeakMap<object, number>();

/** Ms since epoch of the last authentic Binding request to werift ICE `connection`, or 0. */
export function lastValidCheck(connection: object): number {
  return validChecks.get(connection) ?? 0;
}

/** RFC 5389: STUN (first two bits 0, magic cookie) of class request (C1 = C0 = 0). */
function isStunRequest(data: Buffer): boolean {
  return (
    data.length >= 20 &&
    data[0] < 4 &&
    (data.readUInt16BE(0) & 0x0110) === 0 &&
    data.readUInt32BE(4) === 0x2112a442
  );
}

export function authentic(connection: LiteConnection, data: Buffer): boolean {
  const username = parseMessage(data)?.getAttributeValue("USERNAME");
  if (typeof username !== "string") return false;
  const ufrag = username.split(":")[0];
  const password =
    ufrag === connection.localUsername ? connection.localPassword : connection.userHistory[ufrag];
  return password !== undefined && parseMessage(data, Buffer.from(password, "utf8")) !== undefined;
}

/**
 * Host candidates of an ICE-lite agent: one socket per address, bound to that address, and only
 * the addresses Weir asked for (`iceAdditionalHostAddresses` carries the node's listen addresses;
 * werift adds every address it finds to them).
 */
proto.getCandidatePromises = function (this: LiteConnection, addresses, timeout) {
  if (!this.iceLite) return gather.call(this, addresses, timeout);
  const wanted = this.options.additionalHostAddresses;
  const own = wanted?.length ? addresses.filter((a) => wanted.includes(a)) : addresses;
  const m = muxes.get(this);
  if (m) return gatherOnMux(this, m, own);
  const saved = this.options.interfaceAddresses;
  try {
    // werift reads options.interfaceAddresses synchronously, before its first await, when it
    // creates the socket for an address: gathering one address at a time binds each to its own.
    return own.flatMap((address) => {
      this.options.interfaceAddresses = { udp4: address, udp6: address };
      return gather.call(this, [address], timeout);
    });
  } finally {
    this.options.interfaceAddresses = saved;
  }
};

/** A check with USE-CANDIDATE on another pair than the nominated one moves the nomination. */
proto.checkIncoming = function (this: LiteConnection, message, addr, protocol) {
  checkIncoming.call(this, message, addr, protocol);
  if (!this.iceLite || !message.attributesKeys.includes("USE-CANDIDATE")) return;
  const current = this.nominated;
  if (!current || (current.protocol === protocol && sameAddr(current.remoteAddr, addr))) return;
  const pair = this.checkList.find(
    (p) => p.protocol === protocol && p.nominated && sameAddr(p.remoteAddr, addr),
  );
  if (pair) this.nominated = pair;
};

function sameAddr(a: [string, number], b: [string, number]): boolean {
  return a[0] === b[0] && a[1] === b[1];
}

/**
 * RFC 8839 section 5.3: a=ice-lite is a session-level attribute; werift writes it in each media
 * section, where Chromium does not look, and then takes the node for a full agent (nominating
 * pairs it has not validated). Moves it to the session level.
 */
export function sessionLevelIceLite(sdp: string): string {
  if (!/^a=ice-lite\r?$/m.test(sdp)) return sdp;
  const lines = sdp.split("\r\n").filter((line) => line !== "a=ice-lite");
  const firstMedia = lines.findIndex((line) => line.startsWith("m="));
  lines.splice(firstMedia < 0 ? lines.length : firstMedia, 0, "a=ice-lite");
  return lines.join("\r\n");
}
