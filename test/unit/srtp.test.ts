import assert from "node:assert/strict";
import { createHmac } from "node:crypto";
import { describe, test } from "node:test";
import { RtpPacket, SrtcpSession, SrtpSession } from "werift";
import { AesCm } from "../../media-node/src/rtp/srtp/aesCm.ts";
import { createSrtpPair, SrtpContext } from "../../media-node/src/rtp/srtp/context.ts";
import { rtpHeaderLength } from "../../media-node/src/rtp/srtp/header.ts";
import { HmacSha1_80 } from "../../media-node/src/rtp/srtp/hmac.ts";
import { deriveKey, deriveSessionKeys } from "../../media-node/src/rtp/srtp/kdf.ts";

const hex = (s: string) => Buffer.from(s.replace(/\s+/g, ""), "hex");

/** Small deterministic PRNG (mulberry32) so failures reproduce. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function fill(rand: () => number, n: number): Buffer {
  const b = Buffer.allocUnsafe(n);
  for (let i = 0; i < n; i++) b[i] = (rand() * 256) | 0;
  return b;
}

interface RtpOpts {
  seq: number;
  ssrc: number;
  payloadLen: number;
  csrcs?: number;
  /** one-byte header extension elements (id 1..14), each with 1..16 bytes of data */
  ext?: number[];
  marker?: boolean;
}

/** Builds an RTP packet; returns it with its header length. */
function rtp(o: RtpOpts, rand = prng(o.seq ^ o.ssrc)): { pkt: Buffer; headerLen: number } {
  const cc = o.csrcs ?? 0;
  let extBytes = 0;
  if (o.ext) {
    for (const n of o.ext) extBytes += 1 + n;
    extBytes = (extBytes + 3) & ~3;
  }
  const headerLen = 12 + cc * 4 + (o.ext ? 4 + extBytes : 0);
  const pkt = Buffer.alloc(headerLen + o.payloadLen);
  pkt[0] = 0x80 | (o.ext ? 0x10 : 0) | cc;
  pkt[1] = (o.marker ? 0x80 : 0) | 96;
  pkt.writeUInt16BE(o.seq, 2);
  pkt.writeUInt32BE((o.seq * 3000) >>> 0, 4);
  pkt.writeUInt32BE(o.ssrc >>> 0, 8);
  let p = 12;
  for (let i = 0; i < cc; i++, p += 4) pkt.writeUInt32BE(0x1000 + i, p);
  if (o.ext) {
    pkt.writeUInt16BE(0xbede, p);
    pkt.writeUInt16BE(extBytes / 4, p + 2);
    p += 4;
    o.ext.forEach((n, i) => {
      pkt[p++] = ((i + 1) << 4) | (n - 1);
      for (let k = 0; k < n; k++) pkt[p++] = (rand() * 256) | 0;
    });
  }
  fill(rand, o.payloadLen).copy(pkt, headerLen);
  return { pkt, headerLen };
}

function keys(seed: number) {
  const r = prng(seed);
  return {
    localKey: fill(r, 16),
    localSalt: fill(r, 14),
    remoteKey: fill(r, 16),
    remoteSalt: fill(r, 14),
  };
}

/** werift sessions for the peer: its local keys are our remote ones and vice versa. */
function weriftPeer(k: ReturnType<typeof keys>) {
  const config = {
    keys: {
      localMasterKey: k.remoteKey,
      localMasterSalt: k.remoteSalt,
      remoteMasterKey: k.localKey,
      remoteMasterSalt: k.localSalt,
    },
    profile: 1,
  };
  return { srtp: new SrtpSession(config), srtcp: new SrtcpSession(config) };
}

/** A compound RTCP packet: SR (1 report block) + SDES CNAME. */
function rtcp(ssrc: number, rand: () => number): Buffer {
  const sr = Buffer.alloc(28 + 24);
  sr[0] = 0x81;
  sr[1] = 200;
  sr.writeUInt16BE(sr.length / 4 - 1, 2);
  sr.writeUInt32BE(ssrc >>> 0, 4);
  fill(rand, sr.length - 8).copy(sr, 8);
  const cname = "weir-test";
  const sdesLen = (8 + 2 + cname.length + 1 + 3) & ~3;
  const sdes = Buffer.alloc(sdesLen);
  sdes[0] = 0x81;
  sdes[1] = 202;
  sdes.writeUInt16BE(sdesLen / 4 - 1, 2);
  sdes.writeUInt32BE(ssrc >>> 0, 4);
  sdes[8] = 1;
  sdes[9] = cname.length;
  sdes.write(cname, 10, "ascii");
  return Buffer.concat([sr, sdes]);
}

describe("RFC 3711 test vectors", () => {
  test("B.2 AES-CM keystream", () => {
    const cm = new AesCm(
      hex("2B7E151628AED2A6ABF7158809CF4F3C"),
      hex("F0F1F2F3F4F5F6F7F8F9FAFBFCFD"),
    );
    // The whole 1044512-octet segment of B.2 (0xFF02 blocks), ssrc 0, index 0.
    const ks = cm.keystream(0, 0, 0, 0xff02);
    assert.equal(ks.length, 1044512);
    const block = (j: number) =>
      ks
        .subarray(j * 16, j * 16 + 16)
        .toString("hex")
        .toUpperCase();
    assert.equal(block(0x0000), "E03EAD0935C95E80E166B16DD92B4EB4");
    assert.equal(block(0x0001), "D23513162B02D0F72A43A2FE4A5F97AB");
    assert.equal(block(0x0002), "41E95B3BB0A2E8DD477901E4FCA894C0");
    assert.equal(block(0xfeff), "EC8CDF7398607CB0F2D21675EA9EA1E4");
    assert.equal(block(0xff00), "362B7C3C6773516318A077D7FC5073AE");
    assert.equal(block(0xff01), "6A2CC3787889374FBEB4C81B17BA6C44");
    // Reusing the context for a short keystream afterwards gives the same first blocks.
    assert.equal(cm.keystream(0, 0, 0, 2).toString("hex").toUpperCase(), block(0) + block(1));
  });

  test("B.3 key derivation", () => {
    const mk = hex("E1F97A0D3E018BE0D64FA32C06DE4139");
    const ms = hex("0EC675AD498AFEEBB6960B3AABE6");
    const k = deriveSessionKeys(mk, ms);
    assert.equal(k.rtpKey.toString("hex").toUpperCase(), "C61E7A93744F39EE10734AFE3FF7A087");
    assert.equal(k.rtpSalt.toString("hex").toUpperCase(), "30CBBC08863D8C85D49DB34A9AE1");
    assert.equal(
      k.rtpAuthKey.toString("hex").toUpperCase(),
      "CEBE321F6FF7716B6FD4AB49AF256A156D38BAA4",
    );
    // The full 94-octet auth key listed in B.3 (its first 20 octets are what HMAC-SHA1 uses).
    assert.equal(
      deriveKey(mk, ms, 1, 94).toString("hex").toUpperCase(),
      "CEBE321F6FF7716B6FD4AB49AF256A156D38BAA48F0A0ACF3C34E2359E6CDBCE" +
        "E049646C43D9327AD175578EF72270986371C10C9A369AC2F94A8C5FBCDDDC25" +
        "6D6E919A48B610EF17C2041E474035766B68642C59BBFC2F34DB60DBDFB2",
    );
  });
});

test("HMAC-SHA1-80 matches node:crypto for lengths around block boundaries", () => {
  const rand = prng(7);
  const key = fill(rand, 20);
  const h = new HmacSha1_80(key);
  for (const n of [0, 1, 19, 55, 56, 63, 64, 65, 119, 120, 1204, 1500, 4000]) {
    const msg = fill(rand, n);
    const m = h.ensure(n);
    msg.copy(m, HmacSha1_80.MSG);
    h.compute(n);
    const tag = Buffer.alloc(10);
    h.writeTag(tag, 0);
    const want = createHmac("sha1", key).update(msg).digest().subarray(0, 10);
    assert.deepEqual(tag, want, `length ${n}`);
    assert.ok(h.matches(want, 0));
    want[9] ^= 1;
    assert.ok(!h.matches(want, 0));
  }
});

describe("rtpHeaderLength", () => {
  test("plain, CSRCs, extension", () => {
    for (const o of [
      { seq: 1, ssrc: 1, payloadLen: 10 },
      { seq: 1, ssrc: 1, payloadLen: 10, csrcs: 3 },
      { seq: 1, ssrc: 1, payloadLen: 0, csrcs: 2, ext: [1, 3, 16] },
    ]) {
      const { pkt, headerLen } = rtp(o);
      assert.equal(rtpHeaderLength(pkt, pkt.length), headerLen);
    }
  });
  test("malformed", () => {
    const { pkt } = rtp({ seq: 1, ssrc: 1, payloadLen: 0, ext: [4] });
    assert.equal(rtpHeaderLength(pkt, 11), -1);
    assert.equal(rtpHeaderLength(pkt, pkt.length - 1), -1); // extension runs past len
    assert.equal(rtpHeaderLength(pkt, pkt.length + 1), -1); // len past the buffer
    const v1 = Buffer.from(pkt);
    v1[0] = (v1[0] & 0x3f) | 0x40;
    assert.equal(rtpHeaderLength(v1, v1.length), -1);
    const cc = Buffer.alloc(20);
    cc[0] = 0x8f; // 15 CSRCs do not fit in 20 bytes
    assert.equal(rtpHeaderLength(cc, cc.length), -1);
  });
});

describe("SRTP interop with werift", () => {
  const shapes: Omit<RtpOpts, "seq" | "ssrc">[] = [
    { payloadLen: 1200 },
    { payloadLen: 1, csrcs: 2 },
    { payloadLen: 160, ext: [1, 2, 3] },
    { payloadLen: 1001, csrcs: 1, ext: [16, 4], marker: true },
    { payloadLen: 0, ext: [2] },
  ];
  // In-order sequence numbers across the 65535 -> 0 rollover (ROC 0 -> 1).
  const seqs = Array.from({ length: 20 }, (_, i) => (65526 + i) & 0xffff);

  test("ours encrypt -> werift decrypt, byte-identical to werift encrypt, over ROC rollover", () => {
    const k = keys(1);
    const { tx } = createSrtpPair(k);
    const peer = weriftPeer(k);
    // A werift session with OUR local keys, to compare ciphertexts byte for byte.
    const twin = new SrtpSession({
      keys: {
        localMasterKey: k.localKey,
        localMasterSalt: k.localSalt,
        remoteMasterKey: k.remoteKey,
        remoteMasterSalt: k.remoteSalt,
      },
      profile: 1,
    });
    for (const ssrc of [0x12345678, 0xdeadbeef]) {
      seqs.forEach((seq, i) => {
        const { pkt, headerLen } = rtp({ ...shapes[i % shapes.length], seq, ssrc });
        const enc = tx.encryptRtp(pkt, pkt.length, headerLen);
        assert.equal(enc.length, pkt.length + 10);
        const parsed = RtpPacket.deSerialize(pkt);
        assert.equal(parsed.header.serialize(parsed.header.serializeSize).length, headerLen);
        assert.deepEqual(enc, twin.encrypt(parsed.payload, parsed.header), `seq ${seq}`);
        assert.deepEqual(peer.srtp.decrypt(enc), pkt, `seq ${seq}`);
      });
    }
  });

  test("werift encrypt -> ours decrypt, over ROC rollover", () => {
    const k = keys(2);
    const { rx } = createSrtpPair(k);
    const peer = weriftPeer(k);
    seqs.forEach((seq, i) => {
      const { pkt } = rtp({ ...shapes[i % shapes.length], seq, ssrc: 0xcafe0001 });
      const parsed = RtpPacket.deSerialize(pkt);
      const enc = peer.srtp.encrypt(parsed.payload, parsed.header);
      const headerLen = rtpHeaderLength(enc, enc.length);
      const n = rx.decryptRtp(enc, enc.length, headerLen);
      assert.equal(n, pkt.length, `seq ${seq}`);
      assert.deepEqual(enc.subarray(0, n), pkt, `seq ${seq}`);
    });
  });

  test("ours -> ours: ROC across rollovers, retransmissions and reordering", () => {
    const k = keys(3);
    const tx = new SrtpContext(k.localKey, k.localSalt);
    const rx = new SrtpContext(k.localKey, k.localSalt);
    const authKey = deriveSessionKeys(k.localKey, k.localSalt).rtpAuthKey;
    // [seq, ROC the sender must use]: retransmission of 65535 after the wrap keeps ROC 0,
    // 29999 sent after 30000 stays in ROC 1, 10 after 60000 is the second wrap.
    const sendOrder: [number, number][] = [
      [65533, 0],
      [65534, 0],
      [65535, 0],
      [0, 1],
      [1, 1],
      [2, 1],
      [3, 1],
      [65535, 0],
      [30000, 1],
      [29999, 1],
      [30001, 1],
      [60000, 1],
      [10, 2],
      [11, 2],
    ];
    const plain = new Map<number, Buffer>();
    const wire = new Map<number, Buffer>();
    for (const [seq, roc] of sendOrder) {
      const { pkt } = rtp({ seq, ssrc: 7, payloadLen: 100 + (seq % 7) });
      const enc = tx.encryptRtp(pkt, pkt.length, 12);
      const rocBytes = Buffer.alloc(4);
      rocBytes.writeUInt32BE(roc);
      const tag = createHmac("sha1", authKey)
        .update(enc.subarray(0, pkt.length))
        .update(rocBytes)
        .digest()
        .subarray(0, 10);
      assert.deepEqual(enc.subarray(pkt.length), tag, `seq ${seq} must use ROC ${roc}`);
      if (wire.has(seq)) assert.deepEqual(enc, wire.get(seq), "retransmission is identical");
      plain.set(seq, pkt);
      wire.set(seq, enc);
    }
    const recvOrder = [65533, 65534, 0, 65535, 2, 1, 3, 30000, 29999, 30001, 60000, 11, 10];
    for (const seq of recvOrder) {
      const b = Buffer.from(wire.get(seq)!);
      const n = rx.decryptRtp(b, b.length, 12);
      assert.equal(n, plain.get(seq)!.length, `seq ${seq}`);
      assert.deepEqual(b.subarray(0, n), plain.get(seq), `seq ${seq}`);
    }
  });
});

test("keystream prefetch: a long-lived context encrypts exactly like a fresh one per packet", () => {
  // A fresh context has no history, so it computes each keystream alone; the long-lived one serves
  // most packets from per-SSRC batches. All indexes stay in ROC 0 so the fresh one agrees on ROC.
  const k = keys(11);
  const long = new SrtpContext(k.localKey, k.localSalt);
  const rx = new SrtpContext(k.localKey, k.localSalt);
  const rand = prng(11);
  let seq = 100;
  const sizes = [1188, 1188, 1188, 300, 20, 0, 1, 1500, 1188];
  for (let i = 0; i < 3000; i++) {
    const r = rand();
    if (r < 0.02)
      seq += 2 + ((rand() * 50) | 0); // gap (loss upstream / layer switch)
    else if (r < 0.04)
      seq -= 1 + ((rand() * 10) | 0); // retransmission of a recent packet
    else seq += 1;
    const ssrc = r < 0.5 ? 0x1111 : 0x2222;
    const { pkt, headerLen } = rtp({
      seq,
      ssrc,
      payloadLen: sizes[(rand() * sizes.length) | 0],
      ext: r < 0.3 ? [2, 3] : undefined,
    });
    const got = long.encryptRtp(pkt, pkt.length, headerLen);
    const want = new SrtpContext(k.localKey, k.localSalt).encryptRtp(pkt, pkt.length, headerLen);
    assert.deepEqual(got, want, `packet ${i} seq ${seq}`);
    const n = rx.decryptRtp(got, got.length, headerLen);
    // retransmissions of an index already received are replays for the receiver
    if (n !== -1) assert.deepEqual(got.subarray(0, n), pkt, `packet ${i} seq ${seq}`);
  }
});

describe("SRTCP interop with werift", () => {
  test("ours encrypt -> werift decrypt", () => {
    const k = keys(5);
    const { tx } = createSrtpPair(k);
    const peer = weriftPeer(k);
    const rand = prng(5);
    for (let i = 0; i < 10; i++) {
      const pkt = rtcp(0xabc00000 + (i % 2), rand);
      const enc = tx.encryptRtcp(pkt, pkt.length);
      assert.equal(enc.length, pkt.length + 14);
      assert.equal(enc[pkt.length] & 0x80, 0x80); // E flag
      assert.equal(enc.readUInt32BE(pkt.length) & 0x7fffffff, i >> 1); // per-SSRC index from 0
      assert.deepEqual(peer.srtcp.decrypt(enc), pkt);
    }
  });

  test("werift encrypt -> ours decrypt", () => {
    const k = keys(6);
    const { rx } = createSrtpPair(k);
    const peer = weriftPeer(k);
    const rand = prng(6);
    for (let i = 0; i < 10; i++) {
      const pkt = rtcp(0x5000 + (i % 3), rand);
      const enc = peer.srtcp.encrypt(pkt);
      const n = rx.decryptRtcp(enc, enc.length);
      assert.equal(n, pkt.length);
      assert.deepEqual(enc.subarray(0, n), pkt);
    }
  });
});

describe("rejection: -1, never a throw", () => {
  const k = keys(8);
  const sender = () => new SrtpContext(k.localKey, k.localSalt);
  const receiver = () => new SrtpContext(k.localKey, k.localSalt);

  test("tampered RTP tag, header or payload; truncated; replayed", () => {
    const tx = sender();
    const rx = receiver();
    const { pkt, headerLen } = rtp({ seq: 100, ssrc: 42, payloadLen: 300, csrcs: 1, ext: [3] });
    const enc = tx.encryptRtp(pkt, pkt.length, headerLen);
    for (const at of [enc.length - 1, enc.length - 10, 5, headerLen + 7]) {
      const bad = Buffer.from(enc);
      bad[at] ^= 0x01;
      assert.equal(rx.decryptRtp(bad, bad.length, headerLen), -1, `flip at ${at}`);
      bad[at] ^= 0x01;
      assert.deepEqual(bad, enc, "buffer untouched on failure");
    }
    const short = Buffer.from(enc);
    assert.equal(rx.decryptRtp(short, headerLen + 9, headerLen), -1);
    assert.equal(rx.decryptRtp(short, enc.length - 1, headerLen), -1);
    assert.equal(rx.decryptRtp(short, enc.length + 1, headerLen), -1);
    assert.equal(rx.decryptRtp(short, enc.length, -1), -1);
    const ok = Buffer.from(enc);
    assert.equal(rx.decryptRtp(ok, ok.length, headerLen), pkt.length);
    const replay = Buffer.from(enc);
    assert.equal(rx.decryptRtp(replay, replay.length, headerLen), -1);
  });

  test("replay window: 64 entries, out of order inside it accepted once", () => {
    const tx = sender();
    const rx = receiver();
    const wire: Buffer[] = [];
    for (let seq = 1000; seq < 1200; seq++) {
      const { pkt } = rtp({ seq, ssrc: 9, payloadLen: 20 });
      wire[seq] = tx.encryptRtp(pkt, pkt.length, 12);
    }
    const dec = (seq: number) => {
      const b = Buffer.from(wire[seq]);
      return rx.decryptRtp(b, b.length, 12);
    };
    assert.equal(dec(1100), 32);
    assert.equal(dec(1037), 32); // 63 behind: inside the window
    assert.equal(dec(1036), -1); // 64 behind: too old
    assert.equal(dec(1037), -1); // replay
    assert.equal(dec(1099), 32);
    assert.equal(dec(1150), 32);
    assert.equal(dec(1099), -1); // 51 behind, seen: replay after a shift
    assert.equal(dec(1098), 32); // 52 behind, unseen
    assert.equal(dec(1100), -1); // 50 behind, seen
    assert.equal(dec(1086), -1); // 64 behind 1150: too old
  });

  test("SRTCP: tampered, truncated, replayed", () => {
    const tx = sender();
    const rx = receiver();
    const pkt = rtcp(77, prng(9));
    const enc = tx.encryptRtcp(pkt, pkt.length);
    for (const at of [0, 9, enc.length - 14, enc.length - 1]) {
      const bad = Buffer.from(enc);
      bad[at] ^= 0x80;
      assert.equal(rx.decryptRtcp(bad, bad.length), -1, `flip at ${at}`);
    }
    assert.equal(rx.decryptRtcp(Buffer.from(enc), 21), -1);
    assert.equal(rx.decryptRtcp(Buffer.from(enc), enc.length - 1), -1);
    assert.equal(rx.decryptRtcp(Buffer.from(enc), enc.length + 1), -1);
    assert.equal(rx.decryptRtcp(Buffer.from(enc), enc.length), pkt.length);
    assert.equal(rx.decryptRtcp(Buffer.from(enc), enc.length), -1);
    const next = tx.encryptRtcp(pkt, pkt.length);
    assert.equal(rx.decryptRtcp(Buffer.from(next), next.length), pkt.length);
  });

  test("seeded fuzz: random and mutated buffers through decryptRtp/decryptRtcp", () => {
    const rand = prng(0xf00d);
    const tx = sender();
    const rx = receiver();
    const { pkt, headerLen } = rtp({ seq: 5, ssrc: 5, payloadLen: 200, ext: [2] });
    const good = tx.encryptRtp(pkt, pkt.length, headerLen);
    const raw = rtcp(5, rand);
    const goodRtcp = tx.encryptRtcp(raw, raw.length);
    for (let i = 0; i < 20000; i++) {
      let b: Buffer;
      const mode = i % 3;
      if (mode === 0) b = fill(rand, (rand() * 1600) | 0);
      else {
        b = Buffer.from(mode === 1 ? good : goodRtcp);
        for (let f = 1 + ((rand() * 4) | 0); f > 0; f--)
          b[(rand() * b.length) | 0] = (rand() * 256) | 0;
      }
      const lens = [b.length, (rand() * (b.length + 40)) | 0, -5, 0];
      for (const len of lens) {
        const hl = rtpHeaderLength(b, len);
        const r1 = rx.decryptRtp(b, len, hl);
        assert.ok(r1 === -1 || (r1 >= 12 && r1 === len - 10));
        const r2 = rx.decryptRtp(b, len, (rand() * 2000 - 100) | 0);
        assert.ok(r2 === -1 || r2 === len - 10);
        const r3 = rx.decryptRtcp(b, len);
        assert.ok(r3 === -1 || r3 === len - 14);
      }
    }
  });

  test("encrypt rejects impossible lengths with a RangeError", () => {
    const tx = sender();
    const b = Buffer.alloc(40, 0x80);
    assert.throws(() => tx.encryptRtp(b, 41, 12), RangeError);
    assert.throws(() => tx.encryptRtp(b, 40, 41), RangeError);
    assert.throws(() => tx.encryptRtp(b, 40, 8), RangeError);
    assert.throws(() => tx.encryptRtcp(b, 7), RangeError);
    assert.throws(() => new SrtpContext(Buffer.alloc(15), Buffer.alloc(14)), RangeError);
    assert.throws(() => new SrtpContext(Buffer.alloc(16), Buffer.alloc(12)), RangeError);
  });
});
