import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  Av1Descriptor,
  codecFromMimeType,
  H264Descriptor,
  isKeyframe,
  isVideoCodec,
  parseAv1,
  parseH264,
  parseVp8,
  parseVp9,
  Vp8Descriptor,
  Vp9Descriptor,
  writeVp8PictureId,
  writeVp8Tl0PicIdx,
} from "../../media-node/src/rtp/codecs/index.ts";
import { hex, prng, randomBytes, toHex } from "../fixtures/packets/hex.ts";

// ---- VP8 (RFC 7741 4.2 descriptor layout, 4.3 payload header; vectors built by hand) ----

// S=1 PID=0, no extension; payload header byte 0x10 has P=0: key frame start.
const VP8_MIN_KEY = hex("10 | 10 02 00 9d 01 2a 80 02 e0 01");
// Chromium-style temporal-layer packet: X=1 S=1; I L T; 15-bit picture id 0x1f2a;
// TL0PICIDX 5; TID=2 Y=1; then an inter frame (P=1).
const VP8_CHROME = hex("90 | e0 | 9f 2a | 05 | a0 | 31 04 00");
// 7-bit picture id 0x17 and K (KEYIDX 5, TID bits ignored since T=0), S=0 continuation.
const VP8_SHORT_PID = hex("80 | 90 | 17 | 45 | 50 ff");
// Continuation of a key frame (S=0): the first payload byte happens to have bit 0 clear.
const VP8_CONT = hex("80 80 9f 2a 50");
// S=1 but partition 1: not the start of the frame.
const VP8_PART1 = hex("11 50");
// I=0, L=1 only.
const VP8_L_ONLY = hex("80 40 09 31");

describe("VP8 descriptor", () => {
  const d = new Vp8Descriptor();

  it("minimal key frame", () => {
    assert.ok(parseVp8(VP8_MIN_KEY, 0, VP8_MIN_KEY.length, d));
    assert.equal(d.startOfPartition, true);
    assert.equal(d.partitionId, 0);
    assert.equal(d.pictureId, -1);
    assert.equal(d.tl0PicIdx, -1);
    assert.equal(d.tid, -1);
    assert.equal(d.keyIdx, -1);
    assert.equal(d.headerLength, 1);
    assert.equal(d.isKeyframe, true);
  });

  it("Chromium temporal-layer packet", () => {
    assert.ok(parseVp8(VP8_CHROME, 0, VP8_CHROME.length, d));
    assert.equal(d.pictureId, 0x1f2a);
    assert.equal(d.pictureIdLong, true);
    assert.equal(d.pictureIdOffset, 2);
    assert.equal(d.tl0PicIdx, 5);
    assert.equal(d.tl0PicIdxOffset, 4);
    assert.equal(d.tid, 2);
    assert.equal(d.layerSync, true);
    assert.equal(d.keyIdx, -1);
    assert.equal(d.headerLength, 6);
    assert.equal(d.isKeyframe, false);
  });

  it("7-bit picture id and KEYIDX", () => {
    assert.ok(parseVp8(VP8_SHORT_PID, 0, VP8_SHORT_PID.length, d));
    assert.equal(d.pictureId, 0x17);
    assert.equal(d.pictureIdLong, false);
    assert.equal(d.keyIdx, 5);
    assert.equal(d.tid, -1);
    assert.equal(d.startOfPartition, false);
    assert.equal(d.headerLength, 4);
    assert.equal(d.isKeyframe, false);
  });

  it("only the first packet of partition 0 is a key frame", () => {
    assert.ok(parseVp8(VP8_CONT, 0, VP8_CONT.length, d));
    assert.equal(d.isKeyframe, false);
    assert.ok(parseVp8(VP8_PART1, 0, VP8_PART1.length, d));
    assert.equal(d.partitionId, 1);
    assert.equal(d.isKeyframe, false);
  });

  it("non-reference bit and an offset inside an RTP packet", () => {
    const pkt = Buffer.concat([Buffer.alloc(12, 0xee), hex("30 50 00")]);
    assert.ok(parseVp8(pkt, 12, 3, d));
    assert.equal(d.nonReference, true);
    assert.equal(d.isKeyframe, true);
  });

  it("rejects truncated descriptors", () => {
    for (const h of [
      "",
      "80",
      "80 80",
      "80 80 80",
      "80 80 9f 2a",
      "80 40",
      "80 20",
      "80 10",
      "10",
    ]) {
      const b = hex(h);
      assert.equal(parseVp8(b, 0, b.length, d), false, h);
    }
    assert.equal(parseVp8(VP8_CHROME, 0, VP8_CHROME.length + 1, d), false);
    assert.equal(parseVp8(VP8_CHROME, -1, 3, d), false);
  });

  it("rewrites the picture id in place keeping its width", () => {
    const b = Buffer.from(VP8_CHROME);
    assert.equal(writeVp8PictureId(b, 0, 0x8001), true); // 15-bit: wraps to 0x0001
    assert.equal(toHex(b), hex("90 e0 80 01 05 a0 31 04 00").toString("hex"));
    assert.equal(writeVp8PictureId(b, 0, 0x7fff), true);
    assert.equal(toHex(b, 2, 2), "ffff");
    const s = Buffer.from(VP8_SHORT_PID);
    assert.equal(writeVp8PictureId(s, 0, 200), true); // 7-bit: 200 & 0x7f = 0x48
    assert.equal(toHex(s), hex("80 90 48 45 50 ff").toString("hex"));
    const none = Buffer.from(VP8_L_ONLY);
    assert.equal(writeVp8PictureId(none, 0, 1), false);
    assert.deepEqual(none, VP8_L_ONLY);
    assert.equal(writeVp8PictureId(Buffer.from(VP8_MIN_KEY), 0, 1), false);
    // inside an RTP packet
    const pkt = Buffer.concat([Buffer.alloc(12), VP8_CHROME]);
    assert.equal(writeVp8PictureId(pkt, 12, 0x1234), true);
    assert.equal(toHex(pkt, 14, 2), "9234");
    assert.ok(parseVp8(pkt, 12, VP8_CHROME.length, d));
    assert.equal(d.pictureId, 0x1234);
  });

  it("rewrites TL0PICIDX in place", () => {
    const b = Buffer.from(VP8_CHROME);
    assert.equal(writeVp8Tl0PicIdx(b, 0, 0x1ff), true);
    assert.equal(toHex(b), hex("90 e0 9f 2a ff a0 31 04 00").toString("hex"));
    const l = Buffer.from(VP8_L_ONLY);
    assert.equal(writeVp8Tl0PicIdx(l, 0, 10), true);
    assert.equal(toHex(l), "80400a31");
    const short = Buffer.from(hex("80 c0 12 07 31")); // I (7-bit) + L
    assert.equal(writeVp8Tl0PicIdx(short, 0, 8), true);
    assert.equal(toHex(short), "80c0120831");
    assert.equal(writeVp8Tl0PicIdx(Buffer.from(VP8_SHORT_PID), 0, 1), false);
    assert.equal(writeVp8Tl0PicIdx(Buffer.from(VP8_MIN_KEY), 0, 1), false);
    assert.equal(writeVp8Tl0PicIdx(hex("80 c0 92"), 0, 1), false); // truncated
  });
});

// ---- VP9 (RFC 9628 4.2 descriptor layout; vectors built by hand) ----

// Non-flexible key frame with SS (as Chromium sends for a single-layer stream):
// I P=0 L F=0 B E=0 V Z=0; picture id 0x0001 (15-bit); TID=0 SID=0; TL0PICIDX 0;
// SS: N_S=0 Y G; 640x480; N_G=1: TID 0 U 0 R=1 with P_DIFF 1.
const VP9_KEY_SS = hex("aa | 80 01 | 00 | 00 | 18 | 02 80 01 e0 | 01 | 04 01 | 82 49 83");
// Non-flexible delta: I P L B=0 E Z; 7-bit picture id 0x12; TID=2 U SID=1 D; TL0PICIDX 7.
const VP9_DELTA = hex("e5 | 12 | 53 | 07 | 86 00");
// Flexible mode: I P L F B E; picture id 0x0100; TID=1; P_DIFF 1 (N=1), P_DIFF 2 (N=0).
const VP9_FLEX = hex("fc | 81 00 | 20 | 03 | 04 | 86");
// Upper spatial layer of a key picture: P=0 B=1 but SID=1 (D=1): not a key frame.
const VP9_SID1 = hex("ac | 05 | 03 | 00 | 86");
const VP9_SID0 = hex("ac | 05 | 00 | 00 | 82");
// No optional fields: B=1 E=1 P=0.
const VP9_BARE = hex("0c 82");

describe("VP9 descriptor", () => {
  const d = new Vp9Descriptor();

  it("key frame with scalability structure", () => {
    assert.ok(parseVp9(VP9_KEY_SS, 0, VP9_KEY_SS.length, d));
    assert.equal(d.hasPictureId, true);
    assert.equal(d.interPicturePredicted, false);
    assert.equal(d.hasLayerIndices, true);
    assert.equal(d.flexibleMode, false);
    assert.equal(d.startOfFrame, true);
    assert.equal(d.endOfFrame, false);
    assert.equal(d.hasScalabilityStructure, true);
    assert.equal(d.notRefForUpperSpatial, false);
    assert.equal(d.pictureId, 1);
    assert.equal(d.pictureIdLong, true);
    assert.equal(d.tl0PicIdx, 0);
    assert.equal(d.ssSpatialLayers, 1);
    assert.equal(d.ssHasResolution, true);
    assert.equal(d.ssWidths[0], 640);
    assert.equal(d.ssHeights[0], 480);
    assert.equal(d.ssPictureGroupSize, 1);
    assert.equal(d.headerLength, 13);
    assert.equal(d.isKeyframe, true);
  });

  it("non-flexible delta with layer indices", () => {
    assert.ok(parseVp9(VP9_DELTA, 0, VP9_DELTA.length, d));
    assert.equal(d.pictureId, 0x12);
    assert.equal(d.pictureIdLong, false);
    assert.equal(d.tid, 2);
    assert.equal(d.switchingUp, true);
    assert.equal(d.sid, 1);
    assert.equal(d.interLayerDependency, true);
    assert.equal(d.tl0PicIdx, 7);
    assert.equal(d.tl0PicIdxOffset, 3);
    assert.equal(d.endOfFrame, true);
    assert.equal(d.notRefForUpperSpatial, true);
    assert.equal(d.headerLength, 4);
    assert.equal(d.isKeyframe, false);
  });

  it("flexible mode with reference indices", () => {
    assert.ok(parseVp9(VP9_FLEX, 0, VP9_FLEX.length, d));
    assert.equal(d.flexibleMode, true);
    assert.equal(d.pictureId, 0x100);
    assert.equal(d.tid, 1);
    assert.equal(d.tl0PicIdx, -1);
    assert.equal(d.pDiffCount, 2);
    assert.deepEqual(Array.from(d.pDiff.subarray(0, 2)), [1, 2]);
    assert.equal(d.headerLength, 6);
    assert.equal(d.isKeyframe, false);
  });

  it("a key picture is a key frame only on spatial layer 0", () => {
    assert.ok(parseVp9(VP9_SID1, 0, VP9_SID1.length, d));
    assert.equal(d.sid, 1);
    assert.equal(d.isKeyframe, false);
    assert.ok(parseVp9(VP9_SID0, 0, VP9_SID0.length, d));
    assert.equal(d.isKeyframe, true);
    assert.ok(parseVp9(VP9_BARE, 0, VP9_BARE.length, d));
    assert.equal(d.headerLength, 1);
    assert.equal(d.isKeyframe, true);
  });

  it("three spatial layers in the SS", () => {
    // V only; N_S=2 Y=1 G=0; 320x180, 640x360, 1280x720.
    const b = hex("0e | 50 | 01 40 00 b4 | 02 80 01 68 | 05 00 02 d0 | 82");
    assert.ok(parseVp9(b, 0, b.length, d));
    assert.equal(d.ssSpatialLayers, 3);
    assert.deepEqual(Array.from(d.ssWidths.subarray(0, 3)), [320, 640, 1280]);
    assert.deepEqual(Array.from(d.ssHeights.subarray(0, 3)), [180, 360, 720]);
    assert.equal(d.headerLength, 14);
  });

  it("rejects truncated or inconsistent descriptors", () => {
    const bad = [
      "",
      "0c", // no payload
      "80", // I without picture id
      "80 80", // M without second byte
      "20", // L without layer byte
      "20 00", // F=0: TL0PICIDX missing
      "50 03 03 03 03 86", // four P_DIFFs
      "50 03", // P_DIFF chain cut
      "02", // V without SS byte
      "02 10 02 80", // Y with a cut resolution
      "02 08", // G without N_G
      "02 08 02 04 01", // N_G=2, second picture missing
      "02 08 01 0c 01", // R=3 but one P_DIFF
    ];
    for (const h of bad) {
      const b = hex(h);
      assert.equal(parseVp9(b, 0, b.length, d), false, h);
    }
  });
});

// ---- H.264 (RFC 6184 5.6 single NAL, 5.7.1 STAP-A, 5.8 FU-A; vectors built by hand) ----

const H264_IDR = hex("65 88 84 00 33");
const H264_P = hex("41 9a 00 12");
// STAP-A (type 24, NRI 3): SPS (10 bytes), PPS (4 bytes), as Chromium sends before an IDR.
const H264_STAP_A = hex(`
  78
  00 0a | 67 42 c0 1f 8c 8d 40 50 1e d0
  00 04 | 68 ce 3c 80`);
// STAP-B (type 25) with DON 1 and one IDR unit.
const H264_STAP_B = hex("79 | 00 01 | 00 02 | 65 88");
// FU-A (type 28) fragments of an IDR: start, middle, end.
const H264_FU_START = hex("7c | 85 | 88 84 00");
const H264_FU_MID = hex("7c | 05 | 11 22");
const H264_FU_END = hex("7c | 45 | 33 44");
// FU-A start of a non-IDR slice.
const H264_FU_P = hex("5c | 81 | 9a 00");
// FU-B (type 29) start of an IDR, DON 7.
const H264_FU_B = hex("7d | 85 | 00 07 | 88");

describe("H.264 payload", () => {
  const d = new H264Descriptor();
  const parse = (b: Buffer) => parseH264(b, 0, b.length, d);

  it("single NAL units", () => {
    assert.ok(parse(H264_IDR));
    assert.deepEqual(
      [d.packetType, d.nalType, d.nalCount, d.hasIdr, d.isKeyframe],
      [5, 5, 1, true, true],
    );
    assert.ok(parse(H264_P));
    assert.deepEqual([d.packetType, d.nalType, d.isKeyframe], [1, 1, false]);
    assert.ok(parse(hex("67 42 c0 1f")));
    assert.deepEqual([d.hasSps, d.isKeyframe], [true, true]);
    assert.ok(parse(hex("68 ce 3c 80")));
    assert.deepEqual([d.hasPps, d.isKeyframe], [true, false]);
  });

  it("STAP-A with SPS and PPS", () => {
    assert.ok(parse(H264_STAP_A));
    assert.equal(d.packetType, 24);
    assert.equal(d.nalType, 7);
    assert.equal(d.nalCount, 2);
    assert.equal(d.hasSps, true);
    assert.equal(d.hasPps, true);
    assert.equal(d.hasIdr, false);
    assert.equal(d.isKeyframe, true);
  });

  it("STAP-B", () => {
    assert.ok(parse(H264_STAP_B));
    assert.deepEqual([d.packetType, d.nalCount, d.hasIdr, d.isKeyframe], [25, 1, true, true]);
  });

  it("FU-A: only the start fragment of an IDR is a key frame", () => {
    assert.ok(parse(H264_FU_START));
    assert.deepEqual(
      [d.packetType, d.nalType, d.startOfNal, d.endOfNal, d.isKeyframe],
      [28, 5, true, false, true],
    );
    assert.ok(parse(H264_FU_MID));
    assert.deepEqual([d.nalType, d.startOfNal, d.endOfNal, d.isKeyframe], [5, false, false, false]);
    assert.ok(parse(H264_FU_END));
    assert.deepEqual([d.startOfNal, d.endOfNal, d.isKeyframe], [false, true, false]);
    assert.ok(parse(H264_FU_P));
    assert.deepEqual([d.nalType, d.isKeyframe], [1, false]);
    assert.ok(parse(H264_FU_B));
    assert.deepEqual([d.packetType, d.nalType, d.isKeyframe], [29, 5, true]);
  });

  it("rejects malformed payloads", () => {
    const bad = [
      "", // empty
      "00 11", // NAL type 0
      "7e 00", // type 30
      "7f 00", // type 31
      "78", // STAP-A without units
      "78 00", // cut size
      "78 00 05 67 42", // unit overruns
      "78 00 00", // empty unit
      "78 00 02 67 42 00", // trailing cut size
      "79 00", // STAP-B without DON
      "7c", // FU-A without FU header
      "7c 85", // FU-A header without payload
      "7c c5 88", // S and E both set
      "7d 85 00 07", // FU-B without payload
    ];
    for (const h of bad) {
      const b = hex(h);
      assert.equal(parseH264(b, 0, b.length, d), false, h);
    }
  });
});

// ---- AV1 (AV1 RTP specification 4.4 aggregation header, 4.5 OBU elements; built by hand) ----

// Z=0 Y=0 W=2 N=1; element 1 (LEB128 length 4): OBU_SEQUENCE_HEADER (header 0x08) + 3
// bytes; element 2 (last, no length): OBU_FRAME (header 0x30) + 2 bytes.
const AV1_KEY = hex("28 | 04 | 08 00 00 00 | 30 10 00");
// Same elements without N: still a key frame (sequence header first).
const AV1_SEQ_NO_N = hex("20 | 04 | 08 00 00 00 | 30 10 00");
// W=1 delta frame: one OBU_FRAME.
const AV1_DELTA = hex("10 | 30 10 00");
// W=0: every element has a length.
const AV1_W0 = hex("00 | 03 30 10 00 | 02 30 11");
// Z=1 Y=1 W=1: continuation of a fragment; the 0x08 is mid-OBU data, not a header.
const AV1_CONT = hex("d0 | 08 00 00");

describe("AV1 payload", () => {
  const d = new Av1Descriptor();
  const parse = (b: Buffer) => parseAv1(b, 0, b.length, d);

  it("new coded video sequence", () => {
    assert.ok(parse(AV1_KEY));
    assert.deepEqual([d.z, d.y, d.w, d.n], [false, false, 2, true]);
    assert.equal(d.obuCount, 2);
    assert.equal(d.firstObuType, 1);
    assert.equal(d.firstObuOffset, 2);
    assert.equal(d.isKeyframe, true);
  });

  it("sequence header in the first element", () => {
    assert.ok(parse(AV1_SEQ_NO_N));
    assert.equal(d.n, false);
    assert.equal(d.isKeyframe, true);
  });

  it("delta frame, W=0 elements, continuation", () => {
    assert.ok(parse(AV1_DELTA));
    assert.deepEqual([d.w, d.obuCount, d.firstObuType, d.isKeyframe], [1, 1, 6, false]);
    assert.ok(parse(AV1_W0));
    assert.deepEqual([d.w, d.obuCount, d.firstObuType, d.isKeyframe], [0, 2, 6, false]);
    assert.ok(parse(AV1_CONT));
    assert.deepEqual([d.z, d.y, d.firstObuType, d.isKeyframe], [true, true, -1, false]);
  });

  it("multi-byte LEB128 element length", () => {
    const body = Buffer.alloc(200, 0x11);
    body[0] = 0x30;
    const b = Buffer.concat([hex("00 c8 01"), body]); // 200 = 0xc8 0x01
    assert.ok(parse(b));
    assert.equal(d.obuCount, 1);
    assert.equal(d.firstObuOffset, 3);
    assert.equal(d.firstObuType, 6);
  });

  it("rejects malformed payloads", () => {
    const bad = [
      "",
      "28", // aggregation header only
      "28 04 08 00 00 00", // W=2 but one element
      "30 01 30 01 30", // W=3 but two elements
      "00 05 30", // element overruns
      "00 80 80", // unterminated LEB128
      "00 80 80 80 80 80 80 80 80 00", // LEB128 longer than 8 bytes
      "10 b0 00", // forbidden bit set in the first OBU header
    ];
    for (const h of bad) {
      const b = hex(h);
      assert.equal(parseAv1(b, 0, b.length, d), false, h);
    }
  });
});

describe("isKeyframe / codecFromMimeType", () => {
  it("dispatches per codec", () => {
    assert.equal(isKeyframe("vp8", VP8_MIN_KEY, 0, VP8_MIN_KEY.length), true);
    assert.equal(isKeyframe("vp8", VP8_CHROME, 0, VP8_CHROME.length), false);
    assert.equal(isKeyframe("vp9", VP9_KEY_SS, 0, VP9_KEY_SS.length), true);
    assert.equal(isKeyframe("vp9", VP9_DELTA, 0, VP9_DELTA.length), false);
    assert.equal(isKeyframe("h264", H264_STAP_A, 0, H264_STAP_A.length), true);
    assert.equal(isKeyframe("h264", H264_FU_MID, 0, H264_FU_MID.length), false);
    assert.equal(isKeyframe("av1", AV1_KEY, 0, AV1_KEY.length), true);
    assert.equal(isKeyframe("av1", AV1_DELTA, 0, AV1_DELTA.length), false);
    assert.equal(isKeyframe("opus", hex("fc ff fe"), 0, 3), true);
    assert.equal(isKeyframe("pcmu", hex("ff"), 0, 1), true);
    assert.equal(isKeyframe("other", hex("00"), 0, 1), true);
  });

  it("malformed video is not a key frame", () => {
    assert.equal(isKeyframe("vp8", hex("10"), 0, 1), false);
    assert.equal(isKeyframe("vp9", hex("80"), 0, 1), false);
    assert.equal(isKeyframe("h264", hex("78 00"), 0, 2), false);
    assert.equal(isKeyframe("av1", hex("28"), 0, 1), false);
  });

  it("reads within an RTP packet at an offset", () => {
    const pkt = Buffer.concat([Buffer.alloc(12, 0xff), H264_FU_START, Buffer.alloc(4, 0xff)]);
    assert.equal(isKeyframe("h264", pkt, 12, H264_FU_START.length), true);
  });

  it("maps MIME types", () => {
    assert.equal(codecFromMimeType("video/VP8"), "vp8");
    assert.equal(codecFromMimeType("video/H264"), "h264");
    assert.equal(codecFromMimeType("video/AV1"), "av1");
    assert.equal(codecFromMimeType("audio/opus"), "opus");
    assert.equal(codecFromMimeType("VP9"), "vp9");
    assert.equal(codecFromMimeType("video/rtx"), undefined);
    assert.equal(isVideoCodec("vp8"), true);
    assert.equal(isVideoCodec("opus"), false);
  });
});

describe("fuzz", () => {
  it("never throws on random input", () => {
    const rnd = prng(0xabcdef);
    const v8 = new Vp8Descriptor();
    const v9 = new Vp9Descriptor();
    const h = new H264Descriptor();
    const a = new Av1Descriptor();
    let ok = 0;
    for (let i = 0; i < 5000; i++) {
      const b = randomBytes(rnd, Math.floor(rnd() * 40));
      const off = b.length > 0 ? Math.floor(rnd() * b.length) : 0;
      const len = b.length - off - (rnd() < 0.2 ? 1 : 0);
      if (parseVp8(b, off, len, v8)) {
        ok++;
        assert.ok(v8.headerLength < len);
      }
      if (parseVp9(b, off, len, v9)) {
        ok++;
        assert.ok(v9.headerLength < len);
      }
      if (parseH264(b, off, len, h)) ok++;
      if (parseAv1(b, off, len, a)) ok++;
      for (const c of ["vp8", "vp9", "h264", "av1", "opus", "other"] as const)
        isKeyframe(c, b, off, len);
      const copy = Buffer.from(b);
      writeVp8PictureId(copy, off, Math.floor(rnd() * 70000));
      writeVp8Tl0PicIdx(copy, off, Math.floor(rnd() * 300));
      assert.equal(copy.length, b.length);
    }
    assert.ok(ok > 1000, `only ${ok} parsed`);
  });
});
