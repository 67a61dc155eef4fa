// Hostile datagrams for the e2e tests: what an attacker who knows a transport's UDP port (it is in
// every SDP) can send without the SRTP keys or the ICE password.
import assert from "node:assert/strict";
import { randomBytes, randomInt } from "node:crypto";
import type { Socket } from "node:dgram";

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export function iceUfrag(sdp: string): string {
  const m = /^a=ice-ufrag:(\S+)/m.exec(sdp);
  assert.ok(m, "SDP has no a=ice-ufrag");
  return m[1];
}

export function isRtpOrRtcp(buf: Buffer): boolean {
  return buf.length >= 8 && buf[0] >= 128 && buf[0] <= 191;
}

function stunAttr(type: number, value: Buffer): Buffer {
  const out = Buffer.alloc(4 + value.length + ((4 - (value.length % 4)) % 4));
  out.writeUInt16BE(type, 0);
  out.writeUInt16BE(value.length, 2);
  value.copy(out, 4);
  return out;
}

/** A STUN binding request with USE-CANDIDATE and a forged MESSAGE-INTEGRITY. */
export function forgedStunBinding(username: string): Buffer {
  const body = Buffer.concat([
    stunAttr(0x0006, Buffer.from(username)), // USERNAME
    stunAttr(0x0024, Buffer.from([0x6e, 0x7f, 0x1e, 0xff])), // PRIORITY
    stunAttr(0x0025, Buffer.alloc(0)), // USE-CANDIDATE
    stunAttr(0x802a, randomBytes(8)), // ICE-CONTROLLING
    stunAttr(0x0008, randomBytes(20)), // MESSAGE-INTEGRITY (wrong)
  ]);
  const header = Buffer.alloc(20);
  header.writeUInt16BE(0x0001, 0);
  header.writeUInt16BE(body.length, 2);
  header.writeUInt32BE(0x2112a442, 4);
  randomBytes(12).copy(header, 8);
  return Buffer.concat([header, body]);
}

/** A DTLS handshake message (one fragment) carrying a ClientHello-shaped body. */
function clientHello(): Buffer {
  const body = Buffer.concat([
    Buffer.from([0xfe, 0xfd]), // client_version
    randomBytes(32), // random
    Buffer.from([0, 0]), // session id, cookie: empty
    Buffer.from([0, 2, 0xc0, 0x2b]), // cipher_suites: ECDHE_ECDSA_AES_128_GCM_SHA256
    Buffer.from([1, 0]), // compression: null
  ]);
  const header = Buffer.alloc(12);
  header[0] = 1; // client_hello
  header.writeUIntBE(body.length, 1, 3);
  header.writeUIntBE(body.length, 9, 3); // fragment_length (offset 0, message_seq 0)
  return Buffer.concat([header, body]);
}

/** A DTLS 1.2 record of `contentType` at `epoch` with `payload`. */
export function dtlsRecord(contentType: number, epoch: number, payload: Buffer): Buffer {
  const header = Buffer.alloc(13);
  header[0] = contentType;
  header[1] = 0xfe;
  header[2] = 0xfd;
  header.writeUInt16BE(epoch, 3);
  randomBytes(6).copy(header, 5);
  header.writeUInt16BE(payload.length, 11);
  return Buffer.concat([header, payload]);
}

export const GARBAGE_KINDS = ["random", "srtp", "truncated", "stun", "dtls"] as const;
export type GarbageKind = (typeof GARBAGE_KINDS)[number];

export interface SprayCounts {
  /** Random datagrams of random length. */
  random: number;
  /** RTP headers on a real SSRC and payload type with random payload and auth tag. */
  fakeSrtp: number;
  /** RTCP shorter than its own length field and RTP shorter than the fixed header. */
  truncated: number;
  /** STUN binding requests with a forged integrity, DTLS records nobody can decrypt. */
  stun: number;
  dtls: number;
  /** Datagrams whose first byte is 128..191 (RFC 7983: RTP/RTCP), all of which must be counted. */
  mediaRange: number;
}

/** Sends 10 rounds of garbage (100 ms apart) to `target`; returns what was sent. */
export async function sprayGarbage(
  socket: Socket,
  target: { address: string; port: number },
  opts: {
    ssrc: number;
    payloadType: number;
    stunUsername: string;
    /** Which kinds to send (default: all). */
    kinds?: readonly GarbageKind[];
  },
): Promise<SprayCounts> {
  const kinds = new Set<GarbageKind>(opts.kinds ?? GARBAGE_KINDS);
  const counts: SprayCounts = {
    random: 0,
    fakeSrtp: 0,
    truncated: 0,
    stun: 0,
    dtls: 0,
    mediaRange: 0,
  };
  const send = (buf: Buffer) =>
    new Promise<void>((resolve, reject) => {
      if (buf.length > 0 && buf[0] >= 128 && buf[0] <= 191) counts.mediaRange++;
      socket.send(buf, target.port, target.address, (err) => (err ? reject(err) : resolve()));
    });
  for (let round = 0; round < 10; round++) {
    for (let i = 0; kinds.has("random") && i < 20; i++) {
      await send(randomBytes(randomInt(1, 1400)));
      counts.random++;
    }
    for (let i = 0; kinds.has("srtp") && i < 20; i++) {
      // Must fail SRTP authentication and leave the real stream (same SSRC) alone.
      const pkt = randomBytes(12 + randomInt(20, 1000) + 10);
      pkt[0] = 0x80;
      pkt[1] = (i % 2 ? 0x80 : 0) | opts.payloadType;
      pkt.writeUInt32BE(i % 4 === 0 ? randomInt(1, 2 ** 32 - 1) : opts.ssrc, 8);
      await send(pkt);
      counts.fakeSrtp++;
    }
    for (let i = 0; kinds.has("truncated") && i < 3; i++) {
      // RTCP SR / RR / PLI headers cut below their own length, RTP below its fixed header.
      const type = [200, 201, 206][i];
      const rtcp = Buffer.from([0x81, type, 0x00, 0x07, 0x12, 0x34, 0x56, 0x78, 0x9a]);
      await send(rtcp.subarray(0, randomInt(2, rtcp.length + 1)));
      await send(Buffer.from([0x80, 0x60, 0x00]));
      counts.truncated += 2;
    }
    if (kinds.has("stun")) {
      await send(forgedStunBinding(opts.stunUsername));
      counts.stun++;
    }
    if (kinds.has("dtls")) {
      // Records nobody without the keys can make authentic. werift 0.25.2 closed its DTLS
      // transport on the plaintext warning alert and the unknown record type (then the next
      // renegotiation failed) and restarted its handshake on the plaintext ClientHello.
      const spoofs = [
        dtlsRecord(23, 1, randomBytes(randomInt(30, 300))), // application data, bad tag
        dtlsRecord(21, 0, Buffer.from([2, 0])), // plaintext fatal close_notify
        dtlsRecord(21, 0, Buffer.from([1, 0])), // plaintext warning close_notify
        dtlsRecord(21, 1, Buffer.concat([Buffer.from([1, 0]), randomBytes(24)])), // "encrypted"
        dtlsRecord(25 + (round % 39), 0, Buffer.from([1, 0])), // content type 25..63: unknown
        dtlsRecord(22, 0, clientHello()),
      ];
      for (const spoof of spoofs) await send(spoof);
      counts.dtls += spoofs.length;
    }
    await sleep(100);
  }
  return counts;
}
