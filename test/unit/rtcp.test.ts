import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  buildBye,
  buildCompound,
  buildFir,
  buildNack,
  buildPli,
  buildRemb,
  buildRr,
  buildSdesCname,
  buildSr,
  RtcpBuildError,
} from "../../media-node/src/rtp/rtcp/build.ts";
import {
  cumulativeLost,
  expandNack,
  fractionLost,
  ntpFromMs,
  ntpMiddle32,
  ntpMiddle32FromParts,
  ntpToMs,
  type ReportBlock,
} from "../../media-node/src/rtp/rtcp/common.ts";
import {
  parseRtcp,
  RtcpParser,
  type RtcpRemb,
  type RtcpSenderInfo,
  type RtcpVisitor,
  rtcpFirstSenderSsrc,
  validateRtcp,
} from "../../media-node/src/rtp/rtcp/parse.ts";
import { hex, prng, randomBytes } from "../fixtures/packets/hex.ts";

/** Test visitor: records every callback as a string. */
class Recorder implements RtcpVisitor {
  events: string[] = [];
  senderReport(i: RtcpSenderInfo) {
    this.events.push(
      `sr ${i.ssrc} ${i.ntpSec} ${i.ntpFrac} ${i.rtpTimestamp} ${i.packetCount} ${i.octetCount}`,
    );
  }
  receiverReport(s: number, n: number) {
    this.events.push(`rr ${s} ${n}`);
  }
  reportBlock(s: number, b: ReportBlock) {
    this.events.push(
      `rb ${s} ${b.ssrc} ${b.fractionLost} ${b.cumulativeLost} ${b.highestSeq} ${b.jitter} ${b.lsr} ${b.dlsr}`,
    );
  }
  pli(s: number, m: number) {
    this.events.push(`pli ${s} ${m}`);
  }
  fir(s: number, m: number, seq: number) {
    this.events.push(`fir ${s} ${m} ${seq}`);
  }
  nack(s: number, m: number, seq: number) {
    this.events.push(`nack ${s} ${m} ${seq}`);
  }
  remb(r: RtcpRemb) {
    const ssrcs = Array.from(r.ssrcs.subarray(0, r.ssrcCount)).join(",");
    this.events.push(`remb ${r.senderSsrc} ${r.mediaSsrc} ${r.bitrate} [${ssrcs}]`);
  }
  bye(ssrc: number) {
    this.events.push(`bye ${ssrc}`);
  }
  other(pt: number, fmt: number, _b: Uint8Array, off: number, len: number) {
    this.events.push(`other ${pt} ${fmt} ${off} ${len}`);
  }
}

function visit(buf: Uint8Array, len = buf.length): [number, string[]] {
  const r = new Recorder();
  const n = parseRtcp(buf, len, r);
  return [n, r.events];
}

// RFC 3550 6.4.1 SR layout, hand-built: RC=1, sender 0x11223344, NTP 0xe95a4c80.80000000,
// RTP ts 90000, 300 packets, 300000 octets; one report block about 0xaabbccdd with
// fraction lost 25/256, cumulative lost -2 (duplicates), highest seq 1 cycle + 1000,
// jitter 32, LSR 0x5a4c8000, DLSR 1 s (65536).
const SR = hex(`
  81 c8 00 0c | 11 22 33 44
  e9 5a 4c 80 | 80 00 00 00   # NTP
  00 01 5f 90 | 00 00 01 2c | 00 04 93 e0
  aa bb cc dd | 19 ff ff fe | 00 01 03 e8 | 00 00 00 20 | 5a 4c 80 00 | 00 01 00 00`);
const BLOCK: ReportBlock = {
  ssrc: 0xaabbccdd,
  fractionLost: 25,
  cumulativeLost: -2,
  highestSeq: 0x103e8,
  jitter: 32,
  lsr: 0x5a4c8000,
  dlsr: 65536,
};

const RB_TEXT = `rb ${0x11223344} ${0xaabbccdd} 25 -2 ${0x103e8} 32 ${0x5a4c8000} 65536`;

// RFC 3550 6.4.2 RR with the same report block.
const RR = hex(`
  81 c9 00 07 | 11 22 33 44
  aa bb cc dd | 19 ff ff fe | 00 01 03 e8 | 00 00 00 20 | 5a 4c 80 00 | 00 01 00 00`);

// RFC 4585 6.3.1 PLI: FMT=1 PT=206 length=2, sender, media source; no FCI.
const PLI = hex("81 ce 00 02 | 00 00 00 01 | 12 34 56 78");

// RFC 5104 4.3.1 FIR: FMT=4 PT=206, media source field 0, FCI = SSRC + seq nr + reserved.
const FIR = hex("84 ce 00 04 | 00 00 00 01 | 00 00 00 00 | 12 34 56 78 | 07 00 00 00");

// RFC 4585 6.2.1 Generic NACK: FMT=1 PT=205, one FCI: PID=100, BLP=0x8005 (101, 103, 116).
const NACK = hex("81 cd 00 03 | 00 00 00 01 | 12 34 56 78 | 00 64 80 05");

// draft-alvestrand-rmcat-remb-03 2.2: FMT=15 PT=206, media source 0, 'REMB', Num SSRC=1,
// BR Exp=2, BR Mantissa=250000 (1 Mbit/s), SSRC feedback 0x11111111.
const REMB = hex(`
  8f ce 00 05 | 00 00 00 01 | 00 00 00 00
  52 45 4d 42 | 01 0b d0 90 | 11 11 11 11`);

// RFC 3550 6.6 BYE with one SSRC, and with a reason.
const BYE = hex("81 cb 00 01 | 12 34 56 78");
const BYE_REASON = hex("81 cb 00 03 | 12 34 56 78 | 04 64 6f 6e | 65 00 00 00"); // "done"

// RFC 3550 6.5 SDES with a CNAME item "user".
const SDES = hex("81 ca 00 03 | 12 34 56 78 | 01 04 75 73 | 65 72 00 00");

// Captured-style Chromium receiver compound, built by hand: RR (1 block) + SDES CNAME +
// REMB + transport-cc (RTPFB fmt 15, opaque here) + NACK + PLI.
const CHROME_COMPOUND = Buffer.concat([
  hex(`81 c9 00 07 | 00 00 00 01
       a1 b2 c3 d4 | 00 00 00 00 | 00 00 3a 98 | 00 00 00 0c | 00 00 00 00 | 00 00 00 00`),
  hex(
    "81 ca 00 06 | 00 00 00 01 | 01 10 | 34 57 61 42 6f 55 65 4b 78 36 41 72 73 54 35 6c | 00 00",
  ),
  hex(`8f ce 00 06 | 00 00 00 01 | 00 00 00 00 | 52 45 4d 42 | 02 13 41 a8
       a1 b2 c3 d4 | a1 b2 c3 d5`),
  hex(`8f cd 00 05 | 00 00 00 01 | a1 b2 c3 d4 | 00 2a 00 02 | 00 00 01 20 | 20 00 00 00`),
  NACK,
  PLI,
]);

describe("RTCP parse", () => {
  it("SR with a report block", () => {
    assert.deepEqual(visit(SR), [
      1,
      [`sr 287454020 ${0xe95a4c80} 2147483648 90000 300 300000`, RB_TEXT],
    ]);
  });

  it("RR", () => {
    assert.deepEqual(visit(RR), [1, ["rr 287454020 1", RB_TEXT]]);
    assert.deepEqual(visit(hex("80 c9 00 01 00 00 00 05")), [1, ["rr 5 0"]]);
  });

  it("PLI, FIR, NACK, REMB, BYE, SDES", () => {
    assert.deepEqual(visit(PLI), [1, ["pli 1 305419896"]]);
    assert.deepEqual(visit(FIR), [1, ["fir 1 305419896 7"]]);
    assert.deepEqual(visit(NACK), [
      1,
      [
        "nack 1 305419896 100",
        "nack 1 305419896 101",
        "nack 1 305419896 103",
        "nack 1 305419896 116",
      ],
    ]);
    assert.deepEqual(visit(REMB), [1, ["remb 1 0 1000000 [286331153]"]]);
    assert.deepEqual(visit(BYE), [1, ["bye 305419896"]]);
    assert.deepEqual(visit(BYE_REASON), [1, ["bye 305419896"]]);
    assert.deepEqual(visit(SDES), [1, ["other 202 1 0 16"]]);
  });

  it("FIR with two FCI entries", () => {
    const two = hex(`84 ce 00 06 | 00 00 00 01 | 00 00 00 00
                     12 34 56 78 | 07 00 00 00 | 00 00 00 09 | ff 00 00 00`);
    assert.deepEqual(visit(two), [1, ["fir 1 305419896 7", "fir 1 9 255"]]);
  });

  it("NACK wrapping past 65535", () => {
    const wrap = hex("81 cd 00 03 | 00 00 00 01 | 00 00 00 02 | ff fe 00 07");
    assert.deepEqual(visit(wrap)[1], [
      "nack 1 2 65534",
      "nack 1 2 65535",
      "nack 1 2 0",
      "nack 1 2 1",
    ]);
  });

  it("a Chromium-style compound", () => {
    const [n, ev] = visit(CHROME_COMPOUND);
    assert.equal(n, 6);
    assert.deepEqual(ev, [
      "rr 1 1",
      "rb 1 2712847316 0 0 15000 12 0 0",
      "other 202 1 32 28",
      // exp 4, mantissa 0x341a8 = 213416 -> 3414656 bps
      "remb 1 0 3414656 [2712847316,2712847317]",
      "other 205 15 88 24",
      "nack 1 305419896 100",
      "nack 1 305419896 101",
      "nack 1 305419896 103",
      "nack 1 305419896 116",
      "pli 1 305419896",
    ]);
    assert.equal(rtcpFirstSenderSsrc(CHROME_COMPOUND, CHROME_COMPOUND.length), 1);
  });

  it("padding on the last packet is excluded from its content", () => {
    // RR (0 blocks) + PLI with 4 bytes of padding (P=1, count 4).
    const padded = hex("80 c9 00 01 00 00 00 05 | a1 ce 00 03 00 00 00 01 00 00 00 02 00 00 00 04");
    assert.deepEqual(visit(padded), [2, ["rr 5 0", "pli 1 2"]]);
    // padding on an SDES is reported as its unpadded length
    const sdes = hex("a1 ca 00 04 | 12 34 56 78 | 01 04 75 73 | 65 72 00 00 | 00 00 00 04");
    assert.deepEqual(visit(sdes), [1, ["other 202 1 0 16"]]);
  });

  it("AFB that is not REMB goes to other", () => {
    const afb = hex("8f ce 00 03 | 00 00 00 01 | 00 00 00 00 | 41 42 43 44");
    assert.deepEqual(visit(afb), [1, ["other 206 15 0 16"]]);
  });

  it("honours len shorter than the buffer", () => {
    const big = Buffer.concat([PLI, Buffer.alloc(32, 0xff)]);
    assert.deepEqual(visit(big, PLI.length), [1, ["pli 1 305419896"]]);
  });

  it("a separate RtcpParser works the same and is re-entrant-safe", () => {
    const r = new Recorder();
    assert.equal(new RtcpParser().parse(SR, SR.length, r), 1);
    assert.equal(r.events.length, 2);
  });

  it("rejects malformed compounds without calling the visitor", () => {
    const cases: [string, Buffer, number?][] = [
      ["empty", Buffer.alloc(0)],
      ["3 bytes", hex("81 c9 00")],
      ["version 1", hex("41 ce 00 02 00 00 00 01 12 34 56 78")],
      ["version 0 second packet", Buffer.concat([PLI, hex("01 ce 00 02 00 00 00 01 12 34 56 78")])],
      ["length overruns", PLI.subarray(0, 11)],
      ["trailing bytes", Buffer.concat([PLI, hex("81 ce")])],
      [
        "SR too short for RC=1",
        hex("81 c8 00 06 11 22 33 44 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00"),
      ],
      ["SR shorter than sender info", hex("80 c8 00 01 11 22 33 44")],
      ["RR too short for RC=2", Buffer.concat([hex("82 c9 00 07"), RR.subarray(4)])],
      ["RR without SSRC", hex("80 c9 00 00")],
      ["BYE too short for SC=2", hex("82 cb 00 01 12 34 56 78")],
      ["PLI without media SSRC", hex("81 ce 00 01 00 00 00 01")],
      ["NACK without media SSRC", hex("81 cd 00 01 00 00 00 01")],
      ["FIR FCI not 8 bytes", hex("84 ce 00 03 00 00 00 01 00 00 00 00 12 34 56 78")],
      [
        "REMB Num SSRC overruns",
        hex("8f ce 00 04 00 00 00 01 00 00 00 00 52 45 4d 42 02 0b d0 90"),
      ],
      ["padding count 0", hex("a1 ce 00 02 00 00 00 01 12 34 56 00")],
      ["padding eats the header", hex("a1 ce 00 02 00 00 00 01 12 34 56 0c")],
      ["len beyond buffer", PLI, PLI.length + 4],
    ];
    for (const [name, buf, len] of cases) {
      const r = new Recorder();
      assert.equal(parseRtcp(buf, len ?? buf.length, r), -1, name);
      assert.deepEqual(r.events, [], name);
      assert.equal(validateRtcp(buf, len ?? buf.length), -1, name);
    }
  });
});

describe("RTCP build", () => {
  it("buildSr matches the RFC 3550 layout byte for byte", () => {
    const ntp = (0xe95a4c80n << 32n) | 0x80000000n;
    assert.deepEqual(buildSr(0x11223344, ntp, 90000, 300, 300000, [BLOCK]), SR);
    assert.deepEqual(
      buildSr(1, 0n, 0, 0, 0),
      hex("80 c8 00 06 00 00 00 01 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00"),
    );
  });

  it("buildRr", () => {
    assert.deepEqual(buildRr(0x11223344, [BLOCK]), RR);
    assert.deepEqual(buildRr(5), hex("80 c9 00 01 00 00 00 05"));
  });

  it("buildPli / buildFir", () => {
    assert.deepEqual(buildPli(1, 0x12345678), PLI);
    assert.deepEqual(buildFir(1, 0x12345678, 7), FIR);
  });

  it("buildNack packs PID+BLP", () => {
    assert.deepEqual(buildNack(1, 0x12345678, [100, 101, 103, 116]), NACK);
    // unordered and duplicated input packs the same
    assert.deepEqual(buildNack(1, 0x12345678, [100, 116, 103, 101, 103]), NACK);
    // 117 is 17 after 100: a second FCI
    assert.deepEqual(
      buildNack(1, 2, [100, 117]),
      hex("81 cd 00 04 00 00 00 01 00 00 00 02 00 64 00 00 00 75 00 00"),
    );
    assert.deepEqual(buildNack(1, 2, [5]), hex("81 cd 00 03 00 00 00 01 00 00 00 02 00 05 00 00"));
  });

  it("buildNack handles the 16-bit wrap", () => {
    assert.deepEqual(
      buildNack(1, 2, [65534, 65535, 0, 1]),
      hex("81 cd 00 03 | 00 00 00 01 | 00 00 00 02 | ff fe 00 07"),
    );
    assert.deepEqual(
      buildNack(1, 2, [65535, 15]),
      hex("81 cd 00 03 | 00 00 00 01 | 00 00 00 02 | ff ff 80 00"),
    );
  });

  it("buildRemb encodes exponent and mantissa", () => {
    assert.deepEqual(buildRemb(1, 1_000_000, [0x11111111]), REMB);
    // small bitrate: exponent 0
    assert.deepEqual(
      buildRemb(1, 100_000, []),
      hex("8f ce 00 04 00 00 00 01 00 00 00 00 52 45 4d 42 00 01 86 a0"),
    );
    // largest exact 18-bit mantissa, then one over it
    assert.deepEqual(buildRemb(1, 0x3ffff, []).subarray(16), hex("00 03 ff ff"));
    assert.deepEqual(buildRemb(1, 0x40000, []).subarray(16), hex("00 06 00 00"));
  });

  it("buildBye and buildSdesCname", () => {
    assert.deepEqual(buildBye([0x12345678]), BYE);
    assert.deepEqual(buildBye([0x12345678], "done"), BYE_REASON);
    assert.deepEqual(buildSdesCname(0x12345678, "user"), SDES);
    // CNAME whose item ends on a word boundary still gets a null terminator word
    assert.deepEqual(
      buildSdesCname(1, "ab"),
      hex("81 ca 00 03 00 00 00 01 01 02 61 62 00 00 00 00"),
    );
  });

  it("round trips build -> parse", () => {
    const compound = buildCompound([
      buildSr(7, ntpFromMs(1_700_000_000_000), 123456, 10, 12000, [BLOCK, { ...BLOCK, ssrc: 9 }]),
      buildSdesCname(7, "weir"),
      buildRr(7, [BLOCK]),
      buildPli(7, 8),
      buildFir(7, 8, 255),
      buildNack(7, 8, [65530, 65535, 3, 40]),
      buildRemb(7, 2_500_000, [8, 9]),
      buildBye([7, 8]),
    ]);
    const [n, ev] = visit(compound);
    assert.equal(n, 8);
    const ntp = ntpFromMs(1_700_000_000_000);
    assert.deepEqual(ev, [
      `sr 7 ${Number(ntp >> 32n)} ${Number(ntp & 0xffffffffn)} 123456 10 12000`,
      `rb 7 ${0xaabbccdd} 25 -2 ${0x103e8} 32 ${0x5a4c8000} 65536`,
      `rb 7 9 25 -2 ${0x103e8} 32 ${0x5a4c8000} 65536`,
      `other 202 1 76 16`,
      "rr 7 1",
      `rb 7 ${0xaabbccdd} 25 -2 ${0x103e8} 32 ${0x5a4c8000} 65536`,
      "pli 7 8",
      "fir 7 8 255",
      "nack 7 8 65530",
      "nack 7 8 65535",
      "nack 7 8 3",
      "nack 7 8 40",
      // 2.5 Mbit/s = 156250 * 2^4 exactly
      "remb 7 0 2500000 [8,9]",
      "bye 7",
      "bye 8",
    ]);
  });

  it("REMB round trip loses only low mantissa bits", () => {
    for (const bps of [0, 1, 30_000, 262_143, 262_144, 1_234_567, 987_654_321, 2 ** 40 + 12345]) {
      const [, ev] = visit(buildRemb(1, bps, []));
      const got = Number(ev[0].split(" ")[3]);
      assert.ok(got <= bps && got > bps - bps / 2 ** 17 - 1, `${bps} -> ${got}`);
    }
  });

  it("throws RtcpBuildError on invalid arguments", () => {
    const bad: [string, () => unknown][] = [
      ["ssrc negative", () => buildPli(-1, 0)],
      ["ssrc too big", () => buildPli(0, 2 ** 32)],
      ["ssrc fractional", () => buildRr(1.5)],
      ["FIR seq", () => buildFir(1, 2, 256)],
      ["NACK empty", () => buildNack(1, 2, [])],
      ["NACK seq range", () => buildNack(1, 2, [65536])],
      ["REMB negative", () => buildRemb(1, -1, [])],
      ["REMB NaN", () => buildRemb(1, Number.NaN, [])],
      ["REMB too large", () => buildRemb(1, 2 ** 90, [])],
      ["REMB ssrc", () => buildRemb(1, 1, [-5])],
      ["REMB 256 ssrcs", () => buildRemb(1, 1, new Array(256).fill(1))],
      ["32 report blocks", () => buildRr(1, new Array(32).fill(BLOCK))],
      ["fraction lost", () => buildRr(1, [{ ...BLOCK, fractionLost: 256 }])],
      ["cumulative lost", () => buildRr(1, [{ ...BLOCK, cumulativeLost: 0x800000 }])],
      ["ntp negative", () => buildSr(1, -1n, 0, 0, 0)],
      ["ntp 65 bits", () => buildSr(1, 1n << 64n, 0, 0, 0)],
      ["BYE 32 ssrcs", () => buildBye(new Array(32).fill(1))],
      ["CNAME too long", () => buildSdesCname(1, "x".repeat(256))],
    ];
    for (const [name, fn] of bad) assert.throws(fn, RtcpBuildError, name);
  });
});

describe("NTP and loss math", () => {
  it("ntpFromMs / ntpToMs / middle 32 bits", () => {
    assert.equal(ntpFromMs(0), 0x83aa7e80n << 32n);
    assert.equal(ntpFromMs(1500), (0x83aa7e81n << 32n) | 0x80000000n);
    assert.equal(ntpFromMs(250).toString(16), "83aa7e8040000000");
    assert.equal(ntpToMs(ntpFromMs(1_700_000_000_123)), 1_700_000_000_123);
    const ntp = (0xe95a4c80n << 32n) | 0x80000000n;
    assert.equal(ntpMiddle32(ntp), 0x4c808000);
    assert.equal(ntpMiddle32FromParts(0xe95a4c80, 0x80000000), 0x4c808000);
  });

  it("fractionLost / cumulativeLost (RFC 3550 A.3)", () => {
    assert.equal(fractionLost(100, 90), 25); // 10/100 * 256 = 25.6
    assert.equal(fractionLost(100, 100), 0);
    assert.equal(fractionLost(100, 105), 0); // duplicates
    assert.equal(fractionLost(0, 0), 0);
    assert.equal(fractionLost(4, 0), 255); // 100% lost saturates at 255
    assert.equal(fractionLost(2, 1), 128);
    assert.equal(cumulativeLost(1000, 990), 10);
    assert.equal(cumulativeLost(1000, 1002), -2);
    assert.equal(cumulativeLost(2 ** 30, 0), 0x7fffff);
    assert.equal(cumulativeLost(0, 2 ** 30), -0x800000);
  });

  it("expandNack", () => {
    const out = new Uint16Array(17);
    assert.equal(expandNack(100, 0x8005, out), 4);
    assert.deepEqual(Array.from(out.subarray(0, 4)), [100, 101, 103, 116]);
    assert.equal(expandNack(65535, 0xffff, out), 17);
    assert.equal(out[1], 0);
    assert.equal(out[16], 15);
  });
});

describe("fuzz", () => {
  it("never throws on random or mutated input", () => {
    const rnd = prng(0xc0ffee);
    const valid = [SR, RR, PLI, FIR, NACK, REMB, BYE, BYE_REASON, SDES, CHROME_COMPOUND];
    const rec = new Recorder();
    let accepted = 0;
    for (let i = 0; i < 5000; i++) {
      let b: Buffer;
      if (i % 2 === 0) {
        b = randomBytes(rnd, Math.floor(rnd() * 64));
        if (b.length > 0 && rnd() < 0.8) b[0] = 0x80 | (b[0] & 0x3f);
        if (b.length > 1 && rnd() < 0.8) b[1] = 200 + Math.floor(rnd() * 8);
        if (b.length > 3 && rnd() < 0.8) {
          b[2] = 0;
          b[3] = Math.max(0, (b.length >> 2) - 1 - Math.floor(rnd() * 2));
        }
      } else {
        b = Buffer.from(valid[Math.floor(rnd() * valid.length)]);
        const flips = 1 + Math.floor(rnd() * 3);
        for (let k = 0; k < flips; k++) b[Math.floor(rnd() * b.length)] = Math.floor(rnd() * 256);
        if (rnd() < 0.3) b = b.subarray(0, Math.floor(rnd() * b.length));
      }
      rec.events.length = 0;
      const n = parseRtcp(b, b.length, rec);
      if (n >= 0) accepted++;
      else assert.equal(rec.events.length, 0);
      rtcpFirstSenderSsrc(b, b.length);
    }
    assert.ok(accepted > 300, `only ${accepted} accepted`);
  });
});
