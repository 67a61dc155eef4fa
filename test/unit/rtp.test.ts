import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  createRewriteParams,
  extDataLength,
  extDataOffset,
  findHeaderExtension,
  isRtcpPacket,
  isRtpOrRtcp,
  isSeqNewer,
  parseRtp,
  RtpView,
  readCsrc,
  rewriteRtp,
  seqDiff,
  writeSequenceNumber,
  writeSsrc,
  writeTimestamp,
} from "../../media-node/src/rtp/rtpPacket.ts";
import { hex, prng, randomBytes, toHex } from "../fixtures/packets/hex.ts";

// RFC 3550 5.1 fixed header, hand-built: V=2 P=0 X=0 CC=0 M=1 PT=96 seq=0x1234
// ts=0xdeadbeef ssrc=0x11223344, payload "abcd".
const BASIC = hex(`
  80 e0 12 34 | de ad be ef | 11 22 33 44
  61 62 63 64`);

// RFC 3550 with a CSRC list (CC=2), as a mixer would send it.
const WITH_CSRC = hex(`
  82 60 00 07 | 00 00 03 e8 | 11 22 33 44
  aa aa aa aa | bb bb bb bb   # CSRC 1, CSRC 2
  01 02`);

// RFC 8285 4.2 one-byte header example (its figure instantiated: ID 1 with L=0 and data
// aa; ID 2 with L=1 and data bb bb; two padding bytes; ID 3 with L=3 and data cc*4).
const ONE_BYTE = hex(`
  90 60 00 01 | 00 00 00 64 | 11 22 33 44
  be de 00 03                 # profile 0xBEDE, length 3 words
  10 aa 21 bb | bb 00 00 33 | cc cc cc cc
  01 02 03`);

// RFC 8285 4.3 two-byte header example (its figure instantiated: ID 1 L=0; ID 2 L=1 data
// aa; one padding byte; ID 3 L=4 data dd*4).
const TWO_BYTE = hex(`
  90 60 00 02 | 00 00 00 c8 | 11 22 33 44
  10 00 00 03                 # profile 0x1000 (appbits 0), length 3 words
  01 00 02 01 | aa 00 03 04 | dd dd dd dd
  05 06`);

// Captured-style Chromium VP8 keyframe start, built by hand: ids as Chromium offers them
// (2 abs-send-time, 3 transport-wide-cc, 4 sdes:mid, 10 rtp-stream-id).
const CHROME_VP8 = hex(`
  90 e0 3a 98 | 00 1b 77 40 | a1 b2 c3 d4   # X=1 M=1 PT=96 seq=15000 ts=1800000
  be de 00 03
  22 12 34 56                 # id 2, 3 bytes abs-send-time
  31 00 2a                    # id 3, transport-cc seq 42
  40 30                       # id 4, mid "0"
  a0 68                       # id 10, rid "h"
  00                          # padding to 32 bits
  90 80 9f 2a                 # VP8 descriptor: X S PID=0, I, M picture id 0x1f2a
  10 02 00 9d 01 2a 80 02 e0 01`);

// Padding-only probe packet (P=1, 4 padding bytes, count 4 in the last byte).
const PADDING_ONLY = hex(`
  a0 60 00 05 | 00 00 00 00 | 11 22 33 44
  00 00 00 04`);

describe("parseRtp", () => {
  const v = new RtpView();

  it("parses the RFC 3550 fixed header", () => {
    assert.equal(parseRtp(BASIC, BASIC.length, v), true);
    assert.equal(v.version, 2);
    assert.equal(v.padding, false);
    assert.equal(v.marker, true);
    assert.equal(v.payloadType, 96);
    assert.equal(v.sequenceNumber, 0x1234);
    assert.equal(v.timestamp, 0xdeadbeef);
    assert.equal(v.ssrc, 0x11223344);
    assert.equal(v.csrcCount, 0);
    assert.equal(v.extOffset, -1);
    assert.equal(v.payloadOffset, 12);
    assert.equal(v.payloadLength, 4);
    assert.equal(v.paddingLength, 0);
    assert.equal(v.length, 16);
  });

  it("parses CSRCs", () => {
    assert.equal(parseRtp(WITH_CSRC, WITH_CSRC.length, v), true);
    assert.equal(v.csrcCount, 2);
    assert.equal(v.marker, false);
    assert.equal(readCsrc(WITH_CSRC, 0), 0xaaaaaaaa);
    assert.equal(readCsrc(WITH_CSRC, 1), 0xbbbbbbbb);
    assert.equal(v.payloadOffset, 20);
    assert.equal(v.payloadLength, 2);
  });

  it("parses a one-byte extension block", () => {
    assert.equal(parseRtp(ONE_BYTE, ONE_BYTE.length, v), true);
    assert.equal(v.extOffset, 12);
    assert.equal(v.extProfile, 0xbede);
    assert.equal(v.extLength, 12);
    assert.equal(v.payloadOffset, 28);
    assert.equal(v.payloadLength, 3);
  });

  it("parses padding", () => {
    assert.equal(parseRtp(PADDING_ONLY, PADDING_ONLY.length, v), true);
    assert.equal(v.padding, true);
    assert.equal(v.paddingLength, 4);
    assert.equal(v.payloadLength, 0);
    assert.equal(v.payloadOffset, 12);
  });

  it("honours len shorter than the buffer", () => {
    const big = Buffer.concat([BASIC, Buffer.alloc(100, 0xff)]);
    assert.equal(parseRtp(big, BASIC.length, v), true);
    assert.equal(v.payloadLength, 4);
  });

  it("rejects malformed and truncated packets without throwing", () => {
    const cases: [string, Buffer, number?][] = [
      ["empty", Buffer.alloc(0)],
      ["11 bytes", BASIC.subarray(0, 11)],
      ["version 0", hex("00 60 00 01 00 00 00 00 11 22 33 44")],
      ["version 1", hex("40 60 00 01 00 00 00 00 11 22 33 44")],
      ["version 3", hex("c0 60 00 01 00 00 00 00 11 22 33 44")],
      ["CSRC list overruns", WITH_CSRC.subarray(0, 19)],
      ["CC=15 in a 16-byte packet", hex("8f 60 00 01 00 00 00 00 11 22 33 44 00 00 00 00")],
      ["extension header truncated", ONE_BYTE.subarray(0, 14)],
      ["extension data overruns", ONE_BYTE.subarray(0, 27)],
      ["extension length too large", hex("90 60 00 01 00 00 00 00 11 22 33 44 be de ff ff")],
      ["padding count 0", hex("a0 60 00 01 00 00 00 00 11 22 33 44 01 02 03 00")],
      ["padding overruns payload", hex("a0 60 00 01 00 00 00 00 11 22 33 44 01 02 03 05")],
      [
        "padding overruns into extension",
        hex("b0 60 00 01 00 00 00 00 11 22 33 44 be de 00 01 10 aa 00 00 02"),
      ],
      ["len beyond buffer", BASIC, BASIC.length + 1],
    ];
    for (const [name, buf, len] of cases) {
      assert.equal(parseRtp(buf, len ?? buf.length, v), false, name);
    }
  });
});

describe("demultiplexing", () => {
  it("RFC 7983 first-byte ranges", () => {
    assert.equal(isRtpOrRtcp(0x00), false); // STUN
    assert.equal(isRtpOrRtcp(0x01), false);
    assert.equal(isRtpOrRtcp(22), false); // DTLS handshake
    assert.equal(isRtpOrRtcp(64), false); // TURN channel
    assert.equal(isRtpOrRtcp(127), false);
    assert.equal(isRtpOrRtcp(128), true);
    assert.equal(isRtpOrRtcp(0x90), true);
    assert.equal(isRtpOrRtcp(191), true);
    assert.equal(isRtpOrRtcp(192), false);
  });

  it("RFC 5761 RTP/RTCP split on the second byte", () => {
    assert.equal(isRtcpPacket(hex("80 c8 00 06"), 4), true); // SR
    assert.equal(isRtcpPacket(hex("81 c9 00 07"), 4), true); // RR
    assert.equal(isRtcpPacket(hex("81 cd 00 03"), 4), true); // RTPFB
    assert.equal(isRtcpPacket(hex("81 ce 00 02"), 4), true); // PSFB
    assert.equal(isRtcpPacket(hex("80 c0 00 00"), 4), true); // 192, bottom of range
    assert.equal(isRtcpPacket(hex("80 df 00 00"), 4), true); // 223, top of range
    assert.equal(isRtcpPacket(BASIC, BASIC.length), false); // PT 96 + marker = 224
    assert.equal(isRtcpPacket(hex("80 60 00 00"), 4), false); // PT 96
    assert.equal(isRtcpPacket(hex("80 6f 00 00"), 4), false); // PT 111
    assert.equal(isRtcpPacket(hex("80 c8 00"), 3), false); // too short
    assert.equal(isRtcpPacket(hex("40 c8 00 06"), 4), false); // version 1
    assert.equal(isRtcpPacket(hex("80 c8 00 06"), 8), false); // len beyond buffer
  });
});

describe("findHeaderExtension", () => {
  const v = new RtpView();

  it("finds one-byte elements (RFC 8285 4.2)", () => {
    assert.ok(parseRtp(ONE_BYTE, ONE_BYTE.length, v));
    const e1 = findHeaderExtension(ONE_BYTE, v, 1);
    assert.deepEqual([extDataOffset(e1), extDataLength(e1)], [17, 1]);
    const e2 = findHeaderExtension(ONE_BYTE, v, 2);
    assert.deepEqual([extDataOffset(e2), extDataLength(e2)], [19, 2]);
    assert.equal(toHex(ONE_BYTE, 19, 2), "bbbb");
    const e3 = findHeaderExtension(ONE_BYTE, v, 3);
    assert.deepEqual([extDataOffset(e3), extDataLength(e3)], [24, 4]);
    assert.equal(toHex(ONE_BYTE, 24, 4), "cccccccc");
    assert.equal(findHeaderExtension(ONE_BYTE, v, 4), -1);
    assert.equal(findHeaderExtension(ONE_BYTE, v, 0), -1);
    assert.equal(findHeaderExtension(ONE_BYTE, v, 15), -1);
  });

  it("finds two-byte elements (RFC 8285 4.3), including zero-length", () => {
    assert.ok(parseRtp(TWO_BYTE, TWO_BYTE.length, v));
    assert.equal(v.extProfile, 0x1000);
    const e1 = findHeaderExtension(TWO_BYTE, v, 1);
    assert.deepEqual([extDataOffset(e1), extDataLength(e1)], [18, 0]);
    const e2 = findHeaderExtension(TWO_BYTE, v, 2);
    assert.deepEqual([extDataOffset(e2), extDataLength(e2)], [20, 1]);
    const e3 = findHeaderExtension(TWO_BYTE, v, 3);
    assert.deepEqual([extDataOffset(e3), extDataLength(e3)], [24, 4]);
    assert.equal(findHeaderExtension(TWO_BYTE, v, 4), -1);
  });

  it("finds Chromium's transport-cc and mid", () => {
    assert.ok(parseRtp(CHROME_VP8, CHROME_VP8.length, v));
    const tcc = findHeaderExtension(CHROME_VP8, v, 3);
    assert.equal(extDataLength(tcc), 2);
    const o = extDataOffset(tcc);
    assert.equal((CHROME_VP8[o] << 8) | CHROME_VP8[o + 1], 42);
    const mid = findHeaderExtension(CHROME_VP8, v, 4);
    assert.equal(
      Buffer.from(CHROME_VP8.subarray(extDataOffset(mid), extDataOffset(mid) + 1)).toString(),
      "0",
    );
    const rid = findHeaderExtension(CHROME_VP8, v, 10);
    assert.equal(String.fromCharCode(CHROME_VP8[extDataOffset(rid)]), "h");
  });

  it("returns -1 without an extension, an unknown profile, id 15 or an overrun", () => {
    assert.ok(parseRtp(BASIC, BASIC.length, v));
    assert.equal(findHeaderExtension(BASIC, v, 1), -1);
    const other = hex("90 60 00 01 00 00 00 00 11 22 33 44 12 34 00 01 10 aa 00 00");
    assert.ok(parseRtp(other, other.length, v));
    assert.equal(findHeaderExtension(other, v, 1), -1);
    // id 15 stops parsing: element 2 after it is not reached.
    const stop = hex("90 60 00 01 00 00 00 00 11 22 33 44 be de 00 01 f0 20 aa 00");
    assert.ok(parseRtp(stop, stop.length, v));
    assert.equal(findHeaderExtension(stop, v, 2), -1);
    // element claims 16 bytes in a 4-byte block.
    const over = hex("90 60 00 01 00 00 00 00 11 22 33 44 be de 00 01 2f aa bb cc");
    assert.ok(parseRtp(over, over.length, v));
    assert.equal(findHeaderExtension(over, v, 2), -1);
    const over2 = hex("90 60 00 01 00 00 00 00 11 22 33 44 10 00 00 01 02 09 aa bb");
    assert.ok(parseRtp(over2, over2.length, v));
    assert.equal(findHeaderExtension(over2, v, 2), -1);
  });
});

describe("rewriteRtp", () => {
  const v = new RtpView();
  const dst = new Uint8Array(1500);
  const p = createRewriteParams();
  function setup(map: Record<number, number>) {
    p.ssrc = 0xcafebabe;
    p.payloadType = 111;
    p.sequenceNumber = 0xfffe;
    p.timestamp = 0x01020304;
    p.extMap.fill(0);
    for (const [k, val] of Object.entries(map)) p.extMap[Number(k)] = val;
  }
  function rewrite(src: Buffer, off = 0): string {
    assert.ok(parseRtp(src, src.length, v));
    const n = rewriteRtp(src, v, dst, off, p);
    assert.ok(n > 0);
    return toHex(dst, off, n);
  }

  it("rewrites header fields and remaps one-byte ids, dropping id 0 targets", () => {
    setup({ 1: 5, 2: 0, 3: 3 });
    const out = rewrite(ONE_BYTE);
    assert.equal(
      out,
      hex(`
        90 6f ff fe | 01 02 03 04 | ca fe ba be
        be de 00 02 | 50 aa 33 cc | cc cc cc 00
        01 02 03`).toString("hex"),
    );
    // output parses back
    const back = Buffer.from(hex(out));
    assert.ok(parseRtp(back, back.length, v));
    assert.equal(v.ssrc, 0xcafebabe);
    assert.equal(v.sequenceNumber, 0xfffe);
    assert.equal(extDataLength(findHeaderExtension(back, v, 5)), 1);
  });

  it("keeps the marker bit and writes at an offset", () => {
    setup({});
    const out = rewrite(BASIC, 7);
    assert.equal(out, "80effffe01020304cafebabe61626364");
  });

  it("drops the extension block when no element remains", () => {
    setup({ 7: 1 });
    assert.equal(rewrite(ONE_BYTE), "806ffffe01020304cafebabe010203");
  });

  it("converts one-byte to two-byte only when a destination id is above 14", () => {
    setup({ 1: 1, 3: 20 });
    assert.equal(
      rewrite(ONE_BYTE),
      hex(`
        90 6f ff fe | 01 02 03 04 | ca fe ba be
        10 00 00 03 | 01 01 aa 14 | 04 cc cc cc | cc 00 00 00
        01 02 03`).toString("hex"),
    );
  });

  it("keeps the two-byte form, including zero-length elements, and squeezes padding", () => {
    setup({ 1: 1, 2: 2, 3: 3 });
    assert.equal(
      rewrite(TWO_BYTE),
      hex(`
        90 6f ff fe | 01 02 03 04 | ca fe ba be
        10 00 00 03 | 01 00 02 01 | aa 03 04 dd | dd dd dd 00
        05 06`).toString("hex"),
    );
  });

  it("keeps two-byte appbits", () => {
    setup({ 2: 9 });
    const src = hex("90 60 00 01 00 00 00 00 11 22 33 44 10 05 00 01 02 01 aa 00 ff");
    assert.equal(
      rewrite(src),
      hex("90 6f ff fe 01 02 03 04 ca fe ba be 10 05 00 01 09 01 aa 00 ff").toString("hex"),
    );
  });

  it("drops CSRCs", () => {
    setup({});
    assert.equal(rewrite(WITH_CSRC), "806ffffe01020304cafebabe0102");
  });

  it("drops extension blocks of unknown profiles", () => {
    setup({ 1: 1, 16: 1 });
    const src = hex("90 60 00 01 00 00 00 00 11 22 33 44 12 34 00 01 10 aa 00 00 77");
    assert.equal(rewrite(src), "806ffffe01020304cafebabe77");
  });

  it("keeps padding", () => {
    setup({});
    assert.equal(rewrite(PADDING_ONLY), "a06ffffe01020304cafebabe00000004");
  });

  it("rewrites a Chromium packet for a subscriber (tcc 3->5, mid 4->1)", () => {
    setup({ 3: 5, 4: 1 });
    p.payloadType = 96;
    p.sequenceNumber = 100;
    p.timestamp = 90000;
    assert.equal(
      rewrite(CHROME_VP8),
      hex(`
        90 e0 00 64 | 00 01 5f 90 | ca fe ba be
        be de 00 02 | 51 00 2a 10 | 30 00 00 00
        90 80 9f 2a 10 02 00 9d 01 2a 80 02 e0 01`).toString("hex"),
    );
  });

  it("stops at id 15 keeping earlier elements", () => {
    setup({ 1: 1, 2: 2 });
    const src = hex("90 60 00 01 00 00 00 00 11 22 33 44 be de 00 02 10 aa f0 20 bb 00 00 00 99");
    assert.equal(
      rewrite(src),
      hex("90 6f ff fe 01 02 03 04 ca fe ba be be de 00 01 10 aa 00 00 99").toString("hex"),
    );
  });

  it("returns -1 when dst is too small", () => {
    setup({ 1: 1, 2: 2, 3: 3 });
    assert.ok(parseRtp(ONE_BYTE, ONE_BYTE.length, v));
    const exact = rewriteRtp(ONE_BYTE, v, dst, 0, p);
    assert.equal(exact, 12 + 16 + 3);
    assert.equal(rewriteRtp(ONE_BYTE, v, new Uint8Array(exact), 0, p), exact);
    assert.equal(rewriteRtp(ONE_BYTE, v, new Uint8Array(exact - 1), 0, p), -1);
    assert.equal(rewriteRtp(ONE_BYTE, v, new Uint8Array(exact), 1, p), -1);
    assert.equal(rewriteRtp(ONE_BYTE, v, new Uint8Array(10), 0, p), -1);
  });

  it("copies a large payload exactly", () => {
    setup({});
    const big = Buffer.alloc(1200);
    BASIC.copy(big, 0, 0, 12);
    for (let i = 12; i < big.length; i++) big[i] = i & 0xff;
    assert.ok(parseRtp(big, big.length, v));
    const n = rewriteRtp(big, v, dst, 0, p);
    assert.equal(n, 1200);
    assert.deepEqual(Buffer.from(dst.subarray(12, 1200)), big.subarray(12));
  });
});

describe("in-place writers and sequence arithmetic", () => {
  it("writes seq, timestamp, ssrc", () => {
    const b = Buffer.from(BASIC);
    writeSequenceNumber(b, 0, 0xabcd);
    writeTimestamp(b, 0, 0xfedcba98);
    writeSsrc(b, 0, 0x01020304);
    assert.equal(toHex(b), "80e0abcdfedcba980102030461626364");
  });

  it("seqDiff / isSeqNewer across the wrap", () => {
    assert.equal(seqDiff(65535, 0), 1);
    assert.equal(seqDiff(0, 65535), -1);
    assert.equal(seqDiff(100, 90), -10);
    assert.equal(isSeqNewer(0, 65535), true);
    assert.equal(isSeqNewer(65535, 0), false);
    assert.equal(isSeqNewer(5, 5), false);
  });
});

describe("fuzz", () => {
  it("never throws on random input", () => {
    const rnd = prng(0x5eed);
    const v = new RtpView();
    const check = new RtpView();
    const p = createRewriteParams();
    for (let i = 0; i < 256; i++) p.extMap[i] = Math.floor(rnd() * 256);
    const dst = new Uint8Array(256);
    let parsed = 0;
    for (let i = 0; i < 5000; i++) {
      const len = Math.floor(rnd() * 80);
      const b = randomBytes(rnd, len);
      // Bias toward version 2 with extensions so deeper paths run.
      if (len > 0 && rnd() < 0.7) b[0] = 0x80 | (b[0] & 0x3f);
      if (len > 15 && rnd() < 0.5) {
        b[0] = (b[0] & 0xf0) | 0x10; // X=1, CC=0
        b[12] = rnd() < 0.5 ? 0xbe : 0x10;
        b[13] = rnd() < 0.5 ? 0xde : 0x00;
        b[14] = 0;
        b[15] = Math.floor(rnd() * 8);
      }
      isRtcpPacket(b, len);
      if (len > 0) isRtpOrRtcp(b[0]);
      if (parseRtp(b, len, v)) {
        parsed++;
        assert.ok(v.payloadOffset + v.payloadLength + v.paddingLength === len);
        for (let id = 0; id < 20; id++) {
          const r = findHeaderExtension(b, v, id);
          if (r >= 0) assert.ok(extDataOffset(r) + extDataLength(r) <= len);
        }
        findHeaderExtension(b, v, 200);
        const at = Math.floor(rnd() * 8);
        const n = rewriteRtp(b, v, dst, at, p);
        if (n > 0) {
          // The output must itself parse.
          assert.ok(parseRtp(dst.subarray(at, at + n), n, check));
          assert.equal(check.payloadLength, v.payloadLength);
        }
      }
    }
    assert.ok(parsed > 500, `only ${parsed} parsed`);
  });
});
