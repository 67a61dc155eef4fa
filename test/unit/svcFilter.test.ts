// SvcFilter on byte-built packets: VP9 SVC (RFC 9628 payload descriptor, L3T3 as Chromium's
// libvpx wrapper marks it) and the Dependency Descriptor (L3T3 structure from ddWriter.ts).
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { DEFAULT_CODECS } from "../../media-node/src/codecs.ts";
import { WeirError } from "../../media-node/src/errors.ts";
import { EXT_URI } from "../../media-node/src/headerExtensions.ts";
import type { LayerTarget } from "../../media-node/src/layers/LayerFilter.ts";
import { PacketLayers } from "../../media-node/src/layers/PacketLayers.ts";
import { SvcFilter } from "../../media-node/src/layers/SvcFilter.ts";
import { SvcPacketError } from "../../media-node/src/layers/SvcFilterTypes.ts";
import { SvcStreamReader } from "../../media-node/src/layers/SvcStreamReader.ts";
import { Publisher } from "../../media-node/src/Publisher.ts";
import { parseVp9, Vp9Descriptor, vp9EndOfFrameSid } from "../../media-node/src/rtp/codecs/vp9.ts";
import {
  DependencyDescriptor,
  DependencyDescriptorReader,
} from "../../media-node/src/rtp/dependencyDescriptor/index.ts";
import {
  extDataLength,
  extDataOffset,
  findHeaderExtension,
  parseRtp,
  RtpView,
} from "../../media-node/src/rtp/rtpPacket.ts";
import { Subscriber } from "../../media-node/src/Subscriber.ts";
import type { Layers } from "../../media-node/src/SubscriberTypes.ts";
import { chromiumVp9L3T3 } from "../fixtures/packets/chromium.ts";
import { encode, L3T3, type PacketSpec } from "../fixtures/packets/ddWriter.ts";
import { hex, prng, randomBytes } from "../fixtures/packets/hex.ts";

const DD_ID = 3;
const layers = new PacketLayers();

interface Pkt {
  buf: Buffer;
  /** Picture (VP9) or temporal unit (DD) index, spatial and temporal id, for assertions. */
  pic: number;
  sid: number;
  tid: number;
  last: boolean;
}

function rtpHeader(seq: number, ts: number, marker: boolean, ext?: Buffer): Buffer {
  const h = Buffer.alloc(12);
  h[0] = ext ? 0x90 : 0x80;
  h[1] = (marker ? 0x80 : 0) | 98;
  h.writeUInt16BE(seq & 0xffff, 2);
  h.writeUInt32BE(ts >>> 0, 4);
  h.writeUInt32BE(0x11223344, 8);
  if (!ext) return h;
  // RFC 8285 two-byte form: a Dependency Descriptor with a structure is longer than 16 bytes.
  const body = Buffer.concat([Buffer.from([DD_ID, ext.length]), ext]);
  const padded = Buffer.concat([body, Buffer.alloc((4 - (body.length % 4)) % 4)]);
  const eh = Buffer.from([0x10, 0x00, 0, padded.length / 4]);
  return Buffer.concat([h, eh, padded]);
}

/** VP9 non-flexible descriptor: I (15-bit picture id), L, TL0PICIDX, optional SS. */
function vp9Descriptor(o: {
  p: boolean;
  b: boolean;
  e: boolean;
  sid: number;
  tid: number;
  u: boolean;
  picId: number;
  tl0: number;
  ss?: number;
}): Buffer {
  const b0 =
    0x80 | (o.p ? 0x40 : 0) | 0x20 | (o.b ? 0x08 : 0) | (o.e ? 0x04 : 0) | (o.ss ? 0x02 : 0);
  const bytes = [b0, 0x80 | ((o.picId >> 8) & 0x7f), o.picId & 0xff];
  bytes.push((o.tid << 5) | (o.u ? 0x10 : 0) | (o.sid << 1) | (o.sid > 0 ? 1 : 0), o.tl0 & 0xff);
  if (o.ss) {
    bytes.push(((o.ss - 1) << 5) | 0x10);
    for (let s = 0; s < o.ss; s++) {
      const w = 320 << s;
      const h = 180 << s;
      bytes.push(w >> 8, w & 0xff, h >> 8, h & 0xff);
    }
  }
  return Buffer.from(bytes);
}

const T_PATTERN = [0, 2, 1, 2];
/** libwebrtc's VP9 GOF for 3 temporal layers: switching-up points. */
const U_PATTERN = [false, true, true, false];

/** An L3T3 VP9 stream: picture 0 (and every `keyEvery`) is a key picture; 2 packets per layer. */
function vp9Stream(pictures: number, keyEvery = 1000): Pkt[] {
  const out: Pkt[] = [];
  let seq = 1000;
  let tl0 = 0;
  for (let pic = 0; pic < pictures; pic++) {
    const key = pic % keyEvery === 0;
    const tid = key ? 0 : T_PATTERN[pic % 4];
    if (tid === 0) tl0++;
    for (let sid = 0; sid < 3; sid++) {
      for (let i = 0; i < 2; i++) {
        const d = vp9Descriptor({
          p: !key,
          b: i === 0,
          e: i === 1,
          sid,
          tid,
          u: !key && U_PATTERN[pic % 4],
          picId: pic,
          tl0,
          ss: key && sid === 0 && i === 0 ? 3 : undefined,
        });
        const marker = sid === 2 && i === 1;
        const buf = Buffer.concat([rtpHeader(seq++, pic * 3000, marker), d, Buffer.alloc(20, 7)]);
        out.push({ buf, pic, sid, tid, last: i === 1 });
      }
    }
  }
  return out;
}

/** An L3T3 stream with the Dependency Descriptor (templates s*3+t of ddWriter's L3T3). */
function ddStream(units: number, keyEvery = 1000, active?: number): Pkt[] {
  const out: Pkt[] = [];
  let seq = 5000;
  let frame = 100;
  for (let tu = 0; tu < units; tu++) {
    const key = tu % keyEvery === 0;
    const tid = key ? 0 : T_PATTERN[tu % 4];
    for (let sid = 0; sid < 3; sid++) {
      frame++;
      for (let i = 0; i < 2; i++) {
        const spec: PacketSpec = {
          sof: i === 0,
          eof: i === 1,
          templateId: L3T3.offset + sid * 3 + tid,
          frameNumber: frame & 0xffff,
        };
        if (key && sid === 0) spec.customFdiffs = [];
        if (key && sid === 0 && i === 0) {
          spec.structure = L3T3;
          if (active !== undefined) spec.active = { mask: active, dtCount: 9 };
        }
        const marker = sid === 2 && i === 1;
        const head = rtpHeader(seq++, tu * 3000, marker, encode(spec));
        out.push({
          buf: Buffer.concat([head, Buffer.alloc(20, 9)]),
          pic: tu,
          sid,
          tid,
          last: i === 1,
        });
      }
    }
  }
  return out;
}

interface Sent {
  pkt: Pkt;
  out: Buffer;
  marker: boolean;
}

class Harness {
  readonly reader: SvcStreamReader;
  readonly filter: SvcFilter;
  readonly extMap = new Uint8Array(256);
  keyframeRequests = 0;
  readonly view = new RtpView();

  constructor(codecName: string) {
    this.extMap[DD_ID] = DD_ID;
    this.reader = new SvcStreamReader({
      codecName,
      headerExtensions: [{ id: DD_ID, uri: EXT_URI.dependencyDescriptor }],
    });
    this.filter = new SvcFilter({
      reader: this.reader,
      extMap: this.extMap,
      requestKeyframe: () => {
        this.keyframeRequests++;
      },
    });
  }

  /** Feeds packets; `target(pkt)` gives the target at each packet. Returns what was sent. */
  run(pkts: Pkt[], target: (p: Pkt) => LayerTarget): Sent[] {
    const sent: Sent[] = [];
    for (const pkt of pkts) {
      assert.ok(parseRtp(pkt.buf, pkt.buf.length, this.view));
      if (!this.filter.accept(pkt.buf, this.view, layers, target(pkt))) continue;
      const out = Buffer.from(pkt.buf);
      const n = this.filter.rewrite(out, out.length, 12);
      assert.equal(n, out.length);
      sent.push({ pkt, out, marker: (out[1] & 0x80) !== 0 });
    }
    return sent;
  }
}

const fixed = (spatial: number, temporal: number) => () => ({ spatial, temporal });
const layerSet = (sent: Sent[]) => new Set(sent.map((s) => `S${s.pkt.sid}T${s.pkt.tid}`));

for (const kind of ["vp9", "dd"] as const) {
  const stream = (n: number, keyEvery?: number) =>
    kind === "vp9" ? vp9Stream(n, keyEvery) : ddStream(n, keyEvery);
  const codec = kind === "vp9" ? "vp9" : "av1";

  describe(`SvcFilter (${kind})`, () => {
    it("top target: everything passes, markers only where the publisher set them", () => {
      const h = new Harness(codec);
      const pkts = stream(16);
      const sent = h.run(pkts, fixed(2, 2));
      assert.equal(sent.length, pkts.length);
      for (const s of sent) assert.equal(s.marker, s.pkt.sid === 2 && s.pkt.last);
      assert.equal(h.keyframeRequests, 0);
      const st = h.filter.getStats();
      assert.equal(st.forwarded, pkts.length);
      assert.equal(st.spatial, 2);
      assert.equal(st.temporal, 2);
    });

    it("S0T1: only the base spatial layer at half the frame rate, marker on its last packet", () => {
      const h = new Harness(codec);
      const pkts = stream(16);
      const sent = h.run(pkts, fixed(0, 1));
      assert.deepEqual([...layerSet(sent)].sort(), ["S0T0", "S0T1"]);
      // T0 and T1 pictures: 0, 2, 4, 6, ... (pattern 0 2 1 2), two packets each.
      assert.equal(sent.length, 8 * 2);
      for (const s of sent) assert.equal(s.marker, s.pkt.last, `marker of ${s.pkt.pic}`);
      const st = h.filter.getStats();
      assert.equal(st.dropped, pkts.length - sent.length);
      assert.deepEqual([st.spatial, st.temporal], [0, 1]);
    });

    it("S1T2: two spatial layers, marker moved to S1's end", () => {
      const h = new Harness(codec);
      const sent = h.run(stream(8), fixed(1, 2));
      assert.deepEqual([...layerSet(sent)].sort(), [
        "S0T0",
        "S0T1",
        "S0T2",
        "S1T0",
        "S1T1",
        "S1T2",
      ]);
      for (const s of sent) assert.equal(s.marker, s.pkt.sid === 1 && s.pkt.last);
    });

    it("spatial up waits for a key picture (requested), down at the next picture", () => {
      const h = new Harness(codec);
      // Key pictures at 0 and 12; up to S2 asked at 4; down to S1 asked at 16.
      const pkts = stream(20, 12);
      const target = (p: Pkt) =>
        p.pic < 4
          ? { spatial: 0, temporal: 2 }
          : p.pic < 16
            ? { spatial: 2, temporal: 2 }
            : { spatial: 1, temporal: 2 };
      const sent = h.run(pkts, target);
      const topByPic = new Map<number, number>();
      for (const s of sent)
        topByPic.set(s.pkt.pic, Math.max(topByPic.get(s.pkt.pic) ?? 0, s.pkt.sid));
      for (let pic = 0; pic < 20; pic++) {
        const want = pic < 12 ? 0 : pic < 16 ? 2 : 1;
        assert.equal(topByPic.get(pic), want, `top layer of picture ${pic}`);
      }
      assert.ok(h.keyframeRequests >= 1, "a keyframe was requested for the switch up");
      // Every picture's top forwarded layer ends with a marker (the receiver renders it).
      for (let pic = 0; pic < 20; pic++) {
        const ends = sent.filter((s) => s.pkt.pic === pic && s.marker);
        assert.equal(ends.length, 1, `one marker in picture ${pic}`);
        assert.equal(ends[0].pkt.sid, topByPic.get(pic));
      }
    });

    it("temporal up at a switching point, down at once", () => {
      const h = new Harness(codec);
      const pkts = stream(16);
      // T0 only until picture 6 (a T1 switching-up point), then T2 wanted; T0 again from 13.
      const target = (p: Pkt) => ({ spatial: 0, temporal: p.pic < 6 ? 0 : p.pic < 13 ? 2 : 0 });
      const sent = h.run(pkts, target);
      const pics = [...new Set(sent.map((s) => s.pkt.pic))];
      if (kind === "vp9") {
        // 6 (T1, U) switches to T1; 7 (T2, no U) is still dropped; 9 (T2, U) switches to T2.
        assert.deepEqual(pics, [0, 4, 6, 8, 9, 10, 11, 12]);
      } else {
        // The next frame whose DTI for S0T2 is "switch" is the T0 frame of picture 8.
        assert.deepEqual(pics, [0, 4, 8, 9, 10, 11, 12]);
      }
      assert.equal(h.keyframeRequests, 0);
    });
  });
}

describe("SvcFilter: Dependency Descriptor specifics", () => {
  it("narrows a carried active decode targets bitmask to what is forwarded", () => {
    const h = new Harness("av1");
    const sent = h.run(ddStream(4, 1000, 0x1ff), fixed(1, 1));
    const first = sent[0].out;
    const view = new RtpView();
    assert.ok(parseRtp(first, first.length, view));
    const ext = findHeaderExtension(first, view, DD_ID);
    const d = new DependencyDescriptor();
    const r = new DependencyDescriptorReader();
    assert.ok(r.parse(first, extDataOffset(ext), extDataLength(ext), d), String(r.lastError));
    // S1T1 carries S0T0, S0T1, S1T0, S1T1: decode targets 0, 1, 3, 4.
    assert.equal(d.activeDecodeTargetsBitmask, 0b000011011);
    // The source packet is untouched (other subscribers share it).
    assert.ok(r.parse(sent[0].pkt.buf, extDataOffset(ext), extDataLength(ext), d));
    assert.equal(d.activeDecodeTargetsBitmask, 0x1ff);
  });

  it("an inactive top layer is not selected", () => {
    const h = new Harness("av1");
    const sent = h.run(ddStream(4, 1000, 0b000111111), fixed(2, 2));
    assert.equal(Math.max(...sent.map((s) => s.pkt.sid)), 1);
    assert.equal(h.filter.getStats().spatial, 1);
  });

  it("packets before any structure: dropped as no_structure, a keyframe requested", () => {
    const h = new Harness("av1");
    const pkts = ddStream(8, 4).slice(6); // starts after the first key unit's S0 frame
    const sent = h.run(pkts, fixed(2, 2));
    const st = h.filter.getStats();
    assert.ok((st.errors.no_structure ?? 0) > 0);
    assert.ok(h.keyframeRequests > 0);
    assert.ok(h.filter.lastError instanceof SvcPacketError);
    assert.ok(h.filter.lastError instanceof WeirError);
    // Forwarding starts with the key unit at 4.
    assert.equal(sent[0].pkt.pic, 4);
  });

  it("a stream without the extension is forwarded as it is", () => {
    const h = new Harness("h264");
    const pkts = vp9Stream(3); // any payload: no DD extension in these packets
    assert.equal(h.run(pkts, fixed(0, 0)).length, pkts.length);
  });
});

describe("SvcFilter: malformed input never throws", () => {
  it("VP9: truncation at every length is vp9_malformed or a clean decision", () => {
    const h = new Harness("vp9");
    const good = vp9Stream(1)[0].buf;
    const view = new RtpView();
    for (let len = 13; len <= good.length; len++) {
      const b = Buffer.from(good.subarray(0, len));
      assert.ok(parseRtp(b, len, view));
      h.filter.accept(b, view, layers, { spatial: 2, temporal: 2 });
    }
    const st = h.filter.getStats();
    // The first packet's descriptor is 18 bytes (with SS for 3 layers); a payload byte must follow.
    assert.equal(st.errors.vp9_malformed, 18);
    assert.equal(h.filter.lastError?.reason, "vp9_malformed");
    assert.equal(h.filter.lastError?.code, "invalid_argument");
  });

  it("DD: truncation of the extension at every length", () => {
    const h = new Harness("av1");
    const key = ddStream(1)[0].buf;
    const view = new RtpView();
    assert.ok(parseRtp(key, key.length, view));
    const ext = findHeaderExtension(key, view, DD_ID);
    const ddLen = extDataLength(ext);
    let errors = 0;
    for (let len = 0; len < ddLen; len++) {
      // Same packet with a shorter DD element (the two-byte form's length byte).
      const b = Buffer.from(key);
      b[extDataOffset(ext) - 1] = len;
      b.writeUInt16BE(b.readUInt16BE(2) + len + 1, 2); // a new seq: parsed afresh
      assert.ok(parseRtp(b, b.length, view));
      assert.equal(h.filter.accept(b, view, layers, { spatial: 2, temporal: 2 }), false);
      errors++;
    }
    const st = h.filter.getStats();
    const counted = Object.values(st.errors).reduce((a, b) => a + (b ?? 0), 0);
    assert.equal(counted, errors);
    assert.ok((st.errors.truncated ?? 0) > 0);
  });

  for (const codec of ["vp9", "av1"]) {
    it(`${codec}: 20k random payloads and descriptors`, () => {
      const h = new Harness(codec);
      const rnd = prng(codec === "vp9" ? 0x5fc9 : 0x5fcdd);
      const view = new RtpView();
      let accepted = 0;
      let parsed = 0;
      for (let i = 0; i < 20_000; i++) {
        const ext = codec === "av1" ? randomBytes(rnd, 1 + Math.floor(rnd() * 40)) : undefined;
        const head = rtpHeader(i, i * 90, rnd() < 0.1, ext);
        const b = Buffer.concat([head, randomBytes(rnd, Math.floor(rnd() * 40))]);
        if (!parseRtp(b, b.length, view)) continue;
        parsed++;
        const t = { spatial: Math.floor(rnd() * 4), temporal: Math.floor(rnd() * 4) };
        if (h.filter.accept(b, view, layers, t)) {
          accepted++;
          h.filter.rewrite(Buffer.from(b), b.length, 12);
        }
      }
      const st = h.filter.getStats();
      const errors = Object.values(st.errors).reduce((a, b) => a + (b ?? 0), 0);
      assert.equal(st.forwarded, accepted);
      assert.equal(st.forwarded + st.dropped + errors, parsed);
      assert.ok(errors > 0, "random descriptors produce counted errors");
    });
  }
});

describe("SvcFilter on packets captured from Chromium (VP9 L3T3 with the Dependency Descriptor)", () => {
  const cap = chromiumVp9L3T3();
  const view = new RtpView();
  const vp9 = new Vp9Descriptor();
  /** A harness reading the capture's DD id; "av1" makes it filter by the DD instead of VP9. */
  function harness(codecName: string): SvcFilter {
    const extMap = new Uint8Array(256);
    extMap[cap.dependencyDescriptorId] = cap.dependencyDescriptorId;
    const reader = new SvcStreamReader({
      codecName,
      headerExtensions: [{ id: cap.dependencyDescriptorId, uri: EXT_URI.dependencyDescriptor }],
    });
    return new SvcFilter({ reader, extMap, requestKeyframe: () => {} });
  }
  /** Sequence numbers forwarded, with M if the outgoing packet has the marker. */
  function run(filter: SvcFilter, target: LayerTarget): string[] {
    const sent: string[] = [];
    for (const b of cap.packets) {
      assert.ok(parseRtp(b, b.length, view));
      if (!filter.accept(b, view, layers, target)) continue;
      const out = Buffer.from(b);
      filter.rewrite(out, out.length, view.payloadOffset);
      sent.push(`${view.sequenceNumber}${out[1] & 0x80 ? "M" : ""}`);
    }
    return sent;
  }

  for (const [spatial, temporal] of [
    [0, 0],
    [0, 1],
    [1, 2],
    [2, 1],
    [2, 2],
  ]) {
    it(`S${spatial}T${temporal}: VP9 descriptor and Dependency Descriptor pick the same packets`, () => {
      const target = { spatial, temporal };
      const byVp9 = run(harness("vp9"), target);
      const byDd = run(harness("av1"), target);
      assert.deepEqual(byDd, byVp9);
      // What was picked: exactly the layers at or below the target, each layer frame whole,
      // every picture marked at the end of its top forwarded layer.
      let expected = 0;
      for (const b of cap.packets) {
        assert.ok(parseRtp(b, b.length, view));
        assert.ok(parseVp9(b, view.payloadOffset, view.payloadLength, vp9));
        if (vp9.sid > spatial || vp9.tid > temporal) continue;
        expected++;
        const marked = vp9.endOfFrame && vp9.sid === Math.min(spatial, 2);
        assert.ok(
          byVp9.includes(`${view.sequenceNumber}${marked ? "M" : ""}`),
          `${view.sequenceNumber}`,
        );
      }
      assert.equal(byVp9.length, expected);
    });
  }

  it("a retransmitted packet (no accept()) is marked like the original", () => {
    const f = harness("vp9");
    const sent = run(f, { spatial: 0, temporal: 2 });
    const last = cap.packets.find((b) => {
      assert.ok(parseRtp(b, b.length, view));
      return `${view.sequenceNumber}M` === sent[sent.length - 1];
    });
    assert.ok(last);
    const copy = Buffer.from(last);
    assert.equal(copy[1] & 0x80, 0, "S0's last packet has no marker from Chromium");
    assert.ok(parseRtp(copy, copy.length, view));
    f.rewrite(copy, copy.length, view.payloadOffset);
    assert.equal(copy[1] & 0x80, 0x80);
  });
});

describe("vp9EndOfFrameSid", () => {
  it("reads E and SID from the first descriptor bytes", () => {
    // I=1 (15-bit id), L=1, B=1 E=1: SID 2.
    assert.equal(vp9EndOfFrameSid(hex("ac 80 05 44 00"), 0, 5), 2);
    // 7-bit picture id.
    assert.equal(vp9EndOfFrameSid(hex("a4 05 42 00"), 0, 4), 1);
    // E=0.
    assert.equal(vp9EndOfFrameSid(hex("a8 05 42 00"), 0, 4), -1);
    // No layer indices: SID 0.
    assert.equal(vp9EndOfFrameSid(hex("0c"), 0, 1), 0);
    // Truncated before the L byte, and out of range.
    assert.equal(vp9EndOfFrameSid(hex("ac 80 05"), 0, 3), -1);
    assert.equal(vp9EndOfFrameSid(hex("ac"), 0, 2), -1);
    assert.equal(vp9EndOfFrameSid(hex(""), 0, 0), -1);
  });
});

describe("Publisher + Subscriber + SvcFilter (VP9 L3T3, one SSRC): automatic switching", () => {
  const codec = DEFAULT_CODECS.find((c) => c.mimeType === "video/VP9");
  assert.ok(codec);
  let keyRequested = false;
  const publisher = new Publisher({
    id: "p",
    kind: "video",
    mid: "0",
    codec,
    sourcePayloadType: 98,
    headerExtensions: [],
    host: { rtcpSsrc: 1, firNegotiated: false, sendRtcp: () => (keyRequested = true) },
  });
  const out = new RtpView();
  const outVp9 = new Vp9Descriptor();
  /** Spatial layers of the packets sent since the last check. */
  const sids = new Set<number>();
  const sub = new Subscriber({
    id: "s",
    publisher,
    ssrc: 0xabc,
    payloadType: 98,
    extMap: new Uint8Array(256),
    host: {
      mediaReady: true,
      sendRtp(plain, len) {
        assert.ok(parseRtp(plain, len, out));
        assert.ok(parseVp9(plain, out.payloadOffset, out.payloadLength, outVp9));
        sids.add(outVp9.sid);
        return true;
      },
    },
  });
  const changes: Layers[] = [];
  sub.on("layerschange", (l) => changes.push(l));
  /** Layer sizes per picture: S0 ~100 kbps, S0+S1 ~400 kbps, all ~1.25 Mbps at 30 fps. */
  const SIZE = [400, 1200, 3600];
  const view = new RtpView();
  // Simulated time, started well ahead of the clock: Publisher.addSubscriber and keyframe
  // throttles read performance.now(), and a real time later than the simulated one (this suite
  // is set up before its tests run, longer on a busy machine) held every keyframe request back.
  let now = performance.now() + 60_000;
  let seq = 0;
  let pic = 0;
  let tl0 = 0;

  /** `ms` of 30 fps pictures; a key picture when one was asked for (or every 2 s). */
  function stream(ms: number, feedback: () => void) {
    for (const end = now + ms; now < end; now += 1000 / 30, pic++) {
      const key = keyRequested || pic % 60 === 0;
      keyRequested = false;
      const tid = key ? 0 : T_PATTERN[pic % 4];
      if (tid === 0) tl0++;
      for (let sid = 0; sid < 3; sid++) {
        const d = vp9Descriptor({
          ...{ p: !key, b: true, e: true, sid, tid, u: !key && U_PATTERN[pic % 4] },
          ...{ picId: pic & 0x7fff, tl0, ss: key && sid === 0 ? 3 : undefined },
        });
        const head = rtpHeader(seq++, pic * 3000, sid === 2);
        const buf = Buffer.concat([head, d, Buffer.alloc(SIZE[sid], 7)]);
        assert.ok(parseRtp(buf, buf.length, view));
        publisher.receive(buf, view, now);
      }
      publisher.tick(now);
      if (pic % 3 === 0) feedback(); // RTCP every 100 ms
    }
  }

  /** Streams until the subscriber forwards spatial layers 0..top only; returns the time taken. */
  function until(top: number, limitMs: number, feedback: () => void): number {
    const start = now;
    while (now - start < limitMs) {
      sids.clear();
      stream(200, feedback);
      if (sub.currentLayers.spatial === top && Math.max(...sids) === top) return now - start;
    }
    assert.fail(`not at S${top} after ${limitMs} ms: ${JSON.stringify(sub.getStats().layers)}`);
  }

  const remb = (bps: number) => () => sub.onRemb(bps);
  const rr = (lost: number) => () => {
    sub.onRemb(5_000_000);
    sub.onReceiverReport(lost, now);
  };

  it("a REMB short of the top layer caps the spatial layer; lifted, it comes back up", () => {
    publisher.addSubscriber(sub);
    until(2, 3000, remb(2_000_000));
    stream(1500, remb(2_000_000)); // layer bitrates measured; the estimate covers the top layer
    // VP9 announces no temporal layer count: "all of them" stays the preference's MAX_LAYER.
    assert.deepEqual(sub.currentLayers, { spatial: 2, temporal: 15 });
    const down = until(1, 2000, remb(600_000)); // short of ~1.25 Mbps, enough for ~400 kbps
    assert.ok(down < 1000, `down in ${down} ms`);
    assert.equal(sub.getStats().layers.target.spatial, 1);
    const up = until(2, 10_000, remb(3_000_000));
    assert.ok(up < 6000, `back up in ${up} ms`);
    console.log(
      `  REMB cap: S2 -> S1 in ${Math.round(down)} ms; lifted: S2 in ${Math.round(up)} ms`,
    );
    stream(400, remb(3_000_000)); // layerschange comes with the next layer tick (200 ms)
    assert.ok(
      changes.some((c) => c.spatial === 1) && changes.at(-1)?.spatial === 2,
      `layerschange reports SVC layers: ${JSON.stringify(changes)}`,
    );
  });

  it("receiver-report loss moves it down a layer a second; clean reports bring it back", () => {
    stream(4000, remb(5_000_000)); // past the hold after the last move
    const down = until(0, 4000, rr(77)); // 30 % loss
    assert.ok(down >= 1000 && down < 3000, `S2 -> S0 in ${down} ms`);
    const up = until(2, 15_000, rr(0));
    console.log(
      `  30 % loss: S2 -> S0 in ${Math.round(down)} ms; clean: S2 in ${Math.round(up)} ms`,
    );
  });

  it("never above the preference, and the preferred temporal layer is kept", () => {
    sub.setPreferredLayers({ spatial: 1, temporal: 1 });
    until(1, 2000, remb(5_000_000));
    stream(3000, remb(5_000_000));
    assert.deepEqual(sub.currentLayers, { spatial: 1, temporal: 1 });
    assert.equal(Math.max(...sids), 1);
    sub.setPreferredLayers({});
    until(2, 3000, remb(5_000_000));
    assert.ok(sub.getStats().svc?.errors, "the filter's stats are reported");
  });
});
