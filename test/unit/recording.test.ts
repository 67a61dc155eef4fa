/**
 * Recording pieces on real VP8 frames: sequence/timestamp unwrapping, the reorder buffer, and
 * a Recorder fed packets through a Publisher, its WebM checked with ffprobe/ffmpeg.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { DEFAULT_CODECS } from "../../media-node/src/codecs.ts";
import type { WeirError } from "../../media-node/src/errors.ts";
import { Publisher } from "../../media-node/src/Publisher.ts";
import { sequenceHeaderInfo } from "../../media-node/src/recording/av1.ts";
import { superframe } from "../../media-node/src/recording/depacketize.ts";
import { avcC, spsSize } from "../../media-node/src/recording/h264.ts";
import { JitterBuffer, type RecPacket } from "../../media-node/src/recording/JitterBuffer.ts";
import { MuxFile } from "../../media-node/src/recording/MuxFile.ts";
import { Recorder } from "../../media-node/src/recording/Recorder.ts";
import { SeqUnwrapper, TimestampUnwrapper } from "../../media-node/src/recording/unwrap.ts";
import { parseRtp, RtpView } from "../../media-node/src/rtp/rtpPacket.ts";
import { av1TemporalUnits, packetizeAv1 } from "../fixtures/packets/av1Obu.ts";
import { h264AccessUnits, packetizeH264 } from "../fixtures/packets/h264Annexb.ts";
import { prng } from "../fixtures/packets/hex.ts";
import { packetizeVp8, type RtpSpec, rtpPacket, vp8Frames } from "../fixtures/packets/vp8Ivf.ts";
import { probe } from "../helpers/ffprobe.ts";

const dir = mkdtempSync(join(tmpdir(), "weir-rec-"));
after(() => rmSync(dir, { recursive: true, force: true }));

describe("unwrap", () => {
  it("extends sequence numbers across the 16-bit wrap, reordered packets included", () => {
    const u = new SeqUnwrapper();
    const got = [65534, 65535, 1, 0, 2].map((s) => u.unwrap(s));
    assert.deepEqual(
      got.map((g) => g - got[0]),
      [0, 1, 3, 2, 4],
    );
  });

  it("extends RTP timestamps across the 32-bit wrap", () => {
    const u = new TimestampUnwrapper();
    const got = [0xffff_f000, 0xffff_fff0, 0x10, 0xffff_ff00, 0x2000].map((t) => u.unwrap(t));
    assert.deepEqual(
      got.map((g) => g - got[0]),
      [0, 0xff0, 0x1010, 0xf00, 0x3000],
    );
  });
});

describe("VP9 superframe", () => {
  it("appends an index: marker, sizes in the smallest width that fits, marker", () => {
    const sf = superframe([Buffer.alloc(3, 1), Buffer.alloc(300, 2)]);
    // 2 frames (fff=1), 2-byte sizes (mm=1): 0b110_01_001
    assert.equal(sf.length, 303 + 6);
    assert.deepEqual([...sf.subarray(303)], [0xc9, 3, 0, 0x2c, 0x01, 0xc9]);
  });
});

function pkt(seq: number, arrivalMs = 0): RecPacket {
  return { seq, ts: seq, marker: true, payload: Buffer.alloc(1), arrivalMs };
}

function sink() {
  const out: (number | string)[] = [];
  return {
    out,
    packet: (p: RecPacket) => out.push(p.seq),
    gap: (n: number) => out.push(`gap${n}`),
  };
}

describe("JitterBuffer", () => {
  it("hands packets on in order and counts duplicates and late ones", () => {
    const jb = new JitterBuffer(100, 16);
    const s = sink();
    for (const q of [10, 12, 11, 12, 13]) jb.push(pkt(q), s);
    jb.drain(0, s);
    assert.equal(jb.push(pkt(11), s), false);
    assert.deepEqual(s.out, [10, 11, 12, 13]);
    assert.equal(jb.late, 2);
  });

  it("waits repairWaitMs for a hole, then gives it up as a gap", () => {
    const jb = new JitterBuffer(100, 16);
    const s = sink();
    for (const q of [1, 2, 5, 6]) jb.push(pkt(q, 1000), s);
    jb.drain(1099, s);
    assert.deepEqual(s.out, [1, 2]);
    jb.push(pkt(3, 1050), s); // the retransmission came: only 4 is still missing
    jb.drain(1099, s);
    assert.deepEqual(s.out, [1, 2, 3]);
    jb.drain(1100, s);
    assert.deepEqual(s.out, [1, 2, 3, "gap1", 5, 6]);
    assert.equal(jb.held, 0);
  });

  it("holds at most its capacity: a packet too far ahead pushes the oldest places out", () => {
    const jb = new JitterBuffer(1000, 8);
    const s = sink();
    jb.push(pkt(0), s);
    jb.push(pkt(2), s);
    jb.push(pkt(9), s);
    assert.deepEqual(s.out, [0, "gap1"]);
    assert.ok(jb.held <= 8);
    jb.flush(s);
    assert.deepEqual(s.out, [0, "gap1", 2, "gap6", 9]);
  });
});

function vp8Publisher(id: string, mimeType = "video/VP8"): Publisher {
  const codec = DEFAULT_CODECS.find((c) => c.mimeType === mimeType);
  assert.ok(codec);
  return new Publisher({
    id,
    kind: "video",
    mid: "0",
    codec,
    sourcePayloadType: codec.payloadType,
    headerExtensions: [],
    host: { rtcpSsrc: 1, firNegotiated: false, sendRtcp: () => {} },
  });
}

function feed(publisher: Publisher, packets: RtpSpec[]): void {
  const view = new RtpView();
  for (const p of packets) {
    const buf = rtpPacket(p, 96, 0x1234);
    assert.ok(parseRtp(buf, buf.length, view));
    publisher.receive(buf, view, performance.now());
  }
}

function probeVideo(path: string): { frames: number; duration: number; errors: string } {
  const p = probe(path);
  assert.equal(p.streams[0].width, 160);
  return { frames: p.streams[0].frames, duration: p.duration, errors: p.decodeErrors };
}

async function record(id: string, packets: RtpSpec[]) {
  const publisher = vp8Publisher(id);
  const rec = new Recorder({ publishers: [publisher], directory: dir, id, repairWaitMs: 20 });
  const created: string[] = [];
  rec.on("filecreated", (f) => created.push(f.path));
  feed(publisher, packets);
  await rec.stop();
  assert.equal(created.length, 1);
  return { path: created[0], stats: rec.getStats().tracks[0], rec };
}

// Sequence numbers and timestamps both wrap inside the 60 frames.
const SEQ0 = 65_500;
const TS0 = 0x1_0000_0000 - 90_000;

describe("Recorder (VP8 through a Publisher, checked by ffprobe)", () => {
  const frames = vp8Frames();
  const packets = packetizeVp8(frames, SEQ0, TS0);

  it("writes every frame of an in-order stream across seq and timestamp wraps", async () => {
    assert.equal(frames.length, 60);
    const { path, stats } = await record("inorder", packets);
    const p = probeVideo(path);
    assert.equal(p.frames, 60);
    assert.ok(Math.abs(p.duration - 2) < 0.05, `duration ${p.duration}`);
    assert.equal(p.errors, "");
    assert.equal(stats.framesWritten, 60);
    assert.equal(stats.gaps, 0);
    assert.equal(stats.packets, packets.length);
  });

  it("reorders shuffled packets and ignores duplicates", async () => {
    const rnd = prng(7);
    const shuffled = [...packets];
    for (let i = 0; i + 1 < shuffled.length; i++) {
      const j = Math.min(shuffled.length - 1, i + Math.floor(rnd() * 6));
      [shuffled[i], shuffled[j]] = [shuffled[j], shuffled[i]];
    }
    // the first packet must come first: the buffer starts at the first sequence number it sees
    shuffled.splice(shuffled.indexOf(packets[0]), 1);
    shuffled.unshift(packets[0], packets[3], packets[3]);
    const { path, stats } = await record("shuffled", shuffled);
    assert.equal(probeVideo(path).frames, 60);
    assert.equal(stats.gaps, 0);
    assert.equal(stats.packetsLate, 2);
  });

  it("after an unrepaired loss skips to the next keyframe, asks for one, and the file decodes cleanly", async () => {
    const firstOfFrame5 = packets.findIndex((p) => p.ts === (TS0 + 5 * 3000) >>> 0);
    const lossy = packets.filter((_, i) => i !== firstOfFrame5);
    const { path, stats } = await record("lossy", lossy);
    const p = probeVideo(path);
    assert.equal(p.errors, "");
    // frame 5 loses its first packet, 6..19 refer to it; 20 is a keyframe
    assert.equal(p.frames, 45);
    assert.equal(stats.framesWritten, 45);
    assert.equal(stats.gaps, 1);
    assert.equal(stats.framesDropped, 14); // 6..19; 5 never started
    assert.equal(stats.keyframeRequests, 2);
  });

  it("rejects what it cannot record with typed errors", () => {
    assert.throws(() => new Recorder({ publishers: [], directory: dir }), {
      code: "invalid_argument",
    });
    const h265 = new Publisher({
      ...{ id: "h265", kind: "video", mid: "0", sourcePayloadType: 100, headerExtensions: [] },
      codec: { kind: "video", mimeType: "video/H265", clockRate: 90000, payloadType: 100 },
      host: { rtcpSsrc: 1, firNegotiated: false, sendRtcp: () => {} },
    });
    assert.throws(() => new Recorder({ publishers: [h265], directory: dir }), {
      code: "unsupported_codec",
    });
    const p = vp8Publisher("twice");
    assert.throws(() => new Recorder({ publishers: [p, p], directory: dir }), {
      code: "invalid_argument",
    });
    p.close();
    assert.throws(() => new Recorder({ publishers: [p], directory: dir }), { code: "closed" });
  });

  it("a full disk (ENOSPC from /dev/full) is a write_failed error event; stop() still resolves", async () => {
    const full = mkdtempSync(join(dir, "full-"));
    symlinkSync("/dev/full", join(full, "rec1-full.webm"));
    const publisher = vp8Publisher("full");
    const rec = new Recorder({ publishers: [publisher], directory: full, id: "rec1" });
    const errors: WeirError[] = [];
    rec.on("error", (e) => errors.push(e));
    feed(publisher, packets);
    await new Promise((r) => setTimeout(r, 100));
    await rec.stop();
    assert.equal(errors.length, 1);
    assert.equal(errors[0].code, "write_failed");
    assert.match(errors[0].message, /ENOSPC/);
    assert.equal(rec.state, "closed");
  });
});

describe("H.264 (RFC 6184 to Matroska, checked by ffprobe)", () => {
  const units = h264AccessUnits();
  const packets = packetizeH264(units, SEQ0, TS0);

  it("reads the picture size from the SPS and builds the avcC record", () => {
    const sps = units[0].nals.find((n) => (n[0] & 0x1f) === 7);
    const pps = units[0].nals.find((n) => (n[0] & 0x1f) === 8);
    assert.ok(sps && pps);
    assert.deepEqual(spsSize(sps), { width: 160, height: 120 });
    assert.equal(spsSize(Buffer.from([0x67, 0x42])), null);
    const rec = avcC(sps, pps);
    assert.deepEqual([...rec.subarray(0, 6)], [1, sps[1], sps[2], sps[3], 0xff, 0xe1]);
    assert.equal(rec.length, 11 + sps.length + pps.length);
  });

  async function recordH264(id: string, list: typeof packets) {
    const publisher = vp8Publisher(id, "video/H264");
    const rec = new Recorder({ publishers: [publisher], directory: dir, id, repairWaitMs: 20 });
    const created: string[] = [];
    rec.on("filecreated", (f) => created.push(f.path));
    feed(publisher, list);
    await rec.stop();
    assert.equal(created.length, 1);
    return { path: created[0], stats: rec.getStats().tracks[0] };
  }

  it("single NAL units, STAP-A and FU-A across wraps: every frame in a .mkv that decodes", async () => {
    assert.equal(units.length, 60);
    assert.ok(packets.length > 70, "some slices were fragmented");
    const { path, stats } = await recordH264("h264", packets);
    assert.match(path, /\.mkv$/);
    const p = probe(path);
    assert.equal(p.streams[0].codec, "h264");
    assert.equal(p.streams[0].width, 160);
    assert.equal(p.decodeErrors, "");
    assert.equal(p.streams[0].frames, 60);
    assert.ok(Math.abs(p.duration - 2) < 0.05, `duration ${p.duration}`);
    assert.equal(stats.framesWritten, 60);
  });

  it("a lost fragment drops frames up to the next IDR, which it asks for", async () => {
    const firstOfFrame5 = packets.findIndex((p) => p.ts === (TS0 + 5 * 3000) >>> 0);
    const lossy = packets.filter((_, i) => i !== firstOfFrame5);
    const { path, stats } = await recordH264("h264-lossy", lossy);
    const p = probe(path);
    assert.equal(p.decodeErrors, "");
    assert.equal(p.streams[0].frames, 35); // 0-4, then the IDR at 30 and after
    assert.equal(stats.gaps, 1);
    assert.equal(stats.keyframeRequests, 2);
  });
});

describe("AV1 (RTP OBUs to WebM, checked by ffprobe)", () => {
  const units = av1TemporalUnits();
  const packets = packetizeAv1(units, SEQ0, TS0);

  it("reads the picture size and codec string from the sequence header", () => {
    const seq = units[0].obus.find((o) => ((o[0] >> 3) & 0x0f) === 1);
    assert.ok(seq);
    const info = sequenceHeaderInfo(seq.subarray(1));
    assert.equal(info?.width, 160);
    assert.equal(info?.height, 120);
    assert.match(info?.codecString ?? "", /^av01\.0\.\d\d[MH]\.08$/);
  });

  async function recordAv1(id: string, list: typeof packets) {
    const publisher = vp8Publisher(id, "video/AV1");
    const rec = new Recorder({ publishers: [publisher], directory: dir, id, repairWaitMs: 20 });
    const created: string[] = [];
    rec.on("filecreated", (f) => created.push(f.path));
    feed(publisher, list);
    await rec.stop();
    assert.equal(created.length, 1);
    return { path: created[0], stats: rec.getStats().tracks[0] };
  }

  it("OBUs split over packets, across wraps: every frame in a WebM that decodes", async () => {
    assert.equal(units.length, 60);
    assert.ok(
      packets.some((p) => p.payload[0] & 0x80),
      "some OBUs span packets",
    );
    const { path, stats } = await recordAv1("av1", packets);
    assert.match(path, /\.webm$/);
    const p = probe(path);
    assert.equal(p.streams[0].codec, "av1");
    assert.equal(p.streams[0].width, 160);
    assert.equal(p.decodeErrors, "");
    assert.equal(p.streams[0].frames, 60);
    assert.equal(stats.framesWritten, 60);
  });

  it("a lost packet drops frames up to the next keyframe", async () => {
    const firstOfFrame5 = packets.findIndex((p) => p.ts === (TS0 + 5 * 3000) >>> 0);
    const lossy = packets.filter((_, i) => i !== firstOfFrame5);
    const { path, stats } = await recordAv1("av1-lossy", lossy);
    const p = probe(path);
    assert.equal(p.decodeErrors, "");
    assert.equal(p.streams[0].frames, 35);
    assert.equal(stats.gaps, 1);
  });
});

describe("simulcast", () => {
  it("follows the highest encoding sending: the top stops, the next is recorded from its keyframe, on one timeline", async () => {
    const codec = DEFAULT_CODECS.find((c) => c.mimeType === "video/VP8");
    assert.ok(codec);
    const publisher = new Publisher({
      ...{ id: "sim", kind: "video", mid: "0", codec, sourcePayloadType: 96 },
      headerExtensions: [],
      rids: ["q", "f"],
      host: { rtcpSsrc: 1, firNegotiated: false, sendRtcp: () => {} },
    });
    const rec = new Recorder({
      publishers: [publisher],
      directory: dir,
      id: "sim",
      repairWaitMs: 20,
    });
    const created: string[] = [];
    rec.on("filecreated", (f) => created.push(f.path));
    // the same 60 frames on both encodings, each with its own SSRC, sequence and timestamp base;
    // sender reports tie both clocks to the same wall clock
    const frames = vp8Frames();
    const bases = [
      { ssrc: 0x111, seq: 100, ts: 5_000_000 },
      { ssrc: 0x222, seq: 40_000, ts: 0xffff_0000 },
    ];
    bases.forEach((b, i) => {
      publisher.encodings[i].senderReport = {
        ...{ ntpSec: 1000, ntpFrac: 0, rtpTimestamp: b.ts, receivedAtMs: 0 },
      };
    });
    // 4 s: the 2 s fixture twice (keyframes every 20 frames)
    const frames120 = [...frames, ...frames].map((f, n) => ({ ...f, pts: n }));
    const packets = bases.map((b) => {
      const all = packetizeVp8(frames120, b.seq, b.ts);
      return frames120.map((_, n) => all.filter((p) => p.ts === (b.ts + n * 3000) >>> 0));
    });
    const view = new RtpView();
    const send = (enc: number, n: number) => {
      for (const p of packets[enc][n]) {
        const buf = rtpPacket(p, 96, bases[enc].ssrc);
        parseRtp(buf, buf.length, view);
        publisher.receive(buf, view, performance.now(), enc);
      }
    };
    for (let n = 0; n < 120; n++) {
      send(0, n);
      if (n < 20) send(1, n); // the top encoding stops after frame 19 (as under congestion)
      await new Promise((r) => setTimeout(r, 1000 / 30));
    }
    await new Promise((r) => setTimeout(r, 100));
    const stats = rec.getStats().tracks[0];
    await rec.stop();
    assert.equal(created.length, 1);
    const p = probe(created[0]);
    assert.equal(p.decodeErrors, "");
    // frames 0-19 of the top, then the lower one's from its first keyframe after the switch
    // was decided (the top is inactive after 1 s, checked every 0.5 s: frame 60 or 80)
    const from = 120 - (p.streams[0].frames - 20);
    assert.ok(
      from === 60 || from === 80,
      `${p.streams[0].frames} frames: ${JSON.stringify(stats)}`,
    );
    assert.ok(Math.abs(p.duration - 4) < 0.15, `one timeline: ${p.duration} s`);
    assert.equal(stats.encoding, 0);
    assert.equal(stats.encodingSwitches, 1);
  });
});

describe("MuxFile", () => {
  it("an unfinished file of one long cluster (no keyframe after the first) decodes up to its end", async () => {
    // A camera sends keyframes only when asked: one cluster grows for up to 32 s. Written with
    // an unknown size, its blocks decode from a file the process never finished (killed, disk
    // full): here 150 frames, 5 s, none of them a keyframe for the muxer but the first.
    const path = join(dir, "one-cluster.webm");
    const file = new MuxFile(path, [{ codec: "vp8", width: 160, height: 120 }], (e) => {
      throw e;
    });
    const frames = vp8Frames();
    for (let i = 0; i < 150; i++) {
      const f = frames[i % frames.length];
      // later copies of the fixture's keyframe are labelled delta: the decoder takes them as they are
      file.write(0, { data: f.data, ts: i * 3000, keyframe: i === 0 }, i / 30);
    }
    await new Promise((r) => setTimeout(r, 100)); // the muxer's queue drains to the file
    const p = probe(path); // never closed: no duration, no cues, the cluster's size unknown
    assert.equal(p.decodeErrors, "");
    assert.ok(p.streams[0].frames >= 148, `${p.streams[0].frames} of 150 frames decode`);
    await file.close();
    const closed = probe(path);
    assert.equal(closed.decodeErrors, "");
    assert.equal(closed.streams[0].frames, 150);
    assert.ok(Math.abs(closed.duration - 5) < 0.1, `${closed.duration} s`);
  });

  it("two frames within one millisecond still give a WebM with increasing timecodes", async () => {
    const path = join(dir, "same-ms.webm");
    const file = new MuxFile(path, [{ codec: "vp8", width: 160, height: 120 }], (e) => {
      throw e;
    });
    const frames = vp8Frames().slice(0, 30);
    frames.forEach((f, i) => {
      // frames 10 and 11 captured 0.2 ms apart, as an encoder catching up after a stall does
      const at = i <= 10 ? i / 30 : 10 / 30 + 0.0002 + (i - 11) / 30;
      file.write(0, { data: f.data, ts: i * 3000, keyframe: f.keyframe }, at);
    });
    await file.close();
    const p = probe(path);
    assert.equal(p.decodeErrors, "");
    assert.equal(p.streams[0].frames, 30);
    assert.equal(file.trackStats(0).dropped, 0);
  });
});
