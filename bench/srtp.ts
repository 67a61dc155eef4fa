/**
 * SRTP micro-benchmark: µs per packet for 1200-byte RTP packets (12-byte header), ours vs werift.
 * Every case runs PACKETS packets per round, ROUNDS rounds after one warm-up round; the rounds of
 * all cases are interleaved (round-robin) so load changes on a shared machine hit every case alike.
 * Reported: the median round per case (and the best). On a shared, loaded machine expect
 * +-50% between runs; compare cases within one run. Run: node --import tsx bench/srtp.ts
 *
 * Also measures the HMAC-SHA1 variants considered for the auth tag, so the choice in
 * media-node/src/rtp/srtp/hmac.ts can be re-checked on other machines / Node versions.
 */
import { createCipheriv, createHash, createHmac, hash, randomBytes } from "node:crypto";
import { RtpPacket, SrtpSession } from "werift";
import { SrtpContext } from "../media-node/src/rtp/srtp/context.ts";
import { HmacSha1_80 } from "../media-node/src/rtp/srtp/hmac.ts";

const PACKETS = 20_000;
const ROUNDS = 5;
const PACKET_LEN = 1200;
const HEADER_LEN = 12;

interface Case {
  name: string;
  fn: (i: number) => unknown;
  rounds: number[];
}
const cases: Case[] = [];
const add = (name: string, fn: (i: number) => unknown) => cases.push({ name, fn, rounds: [] });

const masterKey = randomBytes(16);
const masterSalt = randomBytes(14);
const pkt = randomBytes(PACKET_LEN);
pkt[0] = 0x80;
pkt[1] = 96;
pkt.writeUInt32BE(0x11223344, 8);
const setSeq = (i: number) => {
  pkt[2] = (i >>> 8) & 0xff;
  pkt[3] = i & 0xff;
};
const weriftConfig = {
  keys: {
    localMasterKey: masterKey,
    localMasterSalt: masterSalt,
    remoteMasterKey: masterKey,
    remoteMasterSalt: masterSalt,
  },
  profile: 1,
};

// --- encrypt ---
const ours = new SrtpContext(masterKey, masterSalt);
add("ours encryptRtp", (i) => {
  setSeq(i);
  return ours.encryptRtp(pkt, PACKET_LEN, HEADER_LEN);
});
// Same, with the per-SSRC keystream prefetch defeated (no two consecutive sequence numbers).
const oursNoBatch = new SrtpContext(masterKey, masterSalt);
add("ours encryptRtp, non-consecutive seq (no keystream batching)", (i) => {
  setSeq(i * 7919);
  return oursNoBatch.encryptRtp(pkt, PACKET_LEN, HEADER_LEN);
});
const werift = new SrtpSession(weriftConfig);
const parsed = RtpPacket.deSerialize(pkt);
add("werift SrtpSession.encrypt", (i) => {
  parsed.header.sequenceNumber = i & 0xffff;
  return werift.encrypt(parsed.payload, parsed.header);
});

// --- decrypt: in place, so each packet is first copied into a scratch buffer (copy measured) ---
const tx = new SrtpContext(masterKey, masterSalt);
const wire: Buffer[] = [];
for (let i = 0; i < PACKETS; i++) {
  setSeq(i);
  wire.push(tx.encryptRtp(pkt, PACKET_LEN, HEADER_LEN));
}
const scratch = Buffer.alloc(PACKET_LEN + 10);
add("copy of the wire packet (subtracted from ours decryptRtp)", (i) => wire[i].copy(scratch));
let rx = new SrtpContext(masterKey, masterSalt);
add("ours decryptRtp", (i) => {
  if (i === 0) rx = new SrtpContext(masterKey, masterSalt); // fresh replay window each round
  wire[i].copy(scratch);
  return rx.decryptRtp(scratch, PACKET_LEN + 10, HEADER_LEN) > 0;
});
let weriftRx = new SrtpSession(weriftConfig);
add("werift SrtpSession.decrypt", (i) => {
  if (i === 0) weriftRx = new SrtpSession(weriftConfig); // its ROC guess wraps on seq 0 otherwise
  return weriftRx.decrypt(wire[i]);
});

// --- HMAC-SHA1 variants over the 1204 authenticated bytes (packet + ROC) ---
const authKey = randomBytes(20);
const msg = randomBytes(PACKET_LEN + 4);
add("hmac: createHmac per packet", () => createHmac("sha1", authKey).update(msg).digest());
const ipad = Buffer.alloc(64, 0x36);
const opad = Buffer.alloc(64, 0x5c);
for (let i = 0; i < 20; i++) {
  ipad[i] ^= authKey[i];
  opad[i] ^= authKey[i];
}
const inner = createHash("sha1").update(ipad);
const outer = createHash("sha1").update(opad);
add("hmac: hash.copy() of precomputed inner/outer states", () =>
  outer.copy().update(inner.copy().update(msg).digest()).digest(),
);
// The inner hash alone, by output form: a Buffer digest costs a fresh backing store per call.
const ipadMsg = Buffer.concat([ipad, msg]);
add("sha1 one-shot, Buffer digest", () => hash("sha1", ipadMsg, "buffer"));
add("sha1 one-shot, latin1 (binary) string digest (used)", () => hash("sha1", ipadMsg, "binary"));
const h = new HmacSha1_80(authKey);
add("hmac: one-shot crypto.hash(ipad||msg) + JS outer block (used)", () => {
  h.buf.set(msg, HmacSha1_80.MSG);
  h.compute(msg.length);
  return h.t0;
});

// --- the per-packet-cipher baseline from FIELD-NOTES (new AES-CTR + new HMAC per packet) ---
const sessKey = randomBytes(16);
const iv = Buffer.alloc(16);
add("baseline: new aes-128-ctr cipher + createHmac per packet", (i) => {
  iv.writeUInt32BE(i, 12);
  const c = createCipheriv("aes-128-ctr", sessKey, iv).update(pkt.subarray(HEADER_LEN));
  return createHmac("sha1", authKey).update(pkt.subarray(0, HEADER_LEN)).update(c).digest();
});

// --- run ---
let sink = 0;
for (let r = -1; r < ROUNDS; r++) {
  for (const c of cases) {
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < PACKETS; i++) if (c.fn(i)) sink++;
    const us = Number(process.hrtime.bigint() - t0) / 1000 / PACKETS;
    if (r >= 0) c.rounds.push(us);
  }
}
if (sink < 0) console.log(sink);

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
const result = new Map(cases.map((c) => [c.name, median(c.rounds)]));
const get = (name: string) => result.get(name)!;
result.set(
  "ours decryptRtp",
  get("ours decryptRtp") - get("copy of the wire packet (subtracted from ours decryptRtp)"),
);

console.log(
  `node ${process.version}, ${PACKETS} packets x ${ROUNDS} rounds (interleaved), ${PACKET_LEN}-byte RTP packets, median round`,
);
for (const c of cases) {
  const best = Math.min(...c.rounds);
  console.log(`${c.name}: ${get(c.name).toFixed(2)} µs/packet (best round ${best.toFixed(2)})`);
}
console.log(
  `ratio (werift / ours, encrypt): ${(get("werift SrtpSession.encrypt") / get("ours encryptRtp")).toFixed(2)}x`,
);
console.log(
  `ratio (werift / ours, decrypt): ${(get("werift SrtpSession.decrypt") / get("ours decryptRtp")).toFixed(2)}x`,
);
