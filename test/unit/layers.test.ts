import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { DEFAULT_CODECS } from "../../media-node/src/codecs.ts";
import { LayerSelector } from "../../media-node/src/layers/LayerSelector.ts";
import { PacketLayers } from "../../media-node/src/layers/PacketLayers.ts";
import { SequenceMap } from "../../media-node/src/layers/SequenceMap.ts";
import { Vp8PictureMap } from "../../media-node/src/layers/Vp8PictureMap.ts";
import { Publisher } from "../../media-node/src/Publisher.ts";
import { parseVp8, Vp8Descriptor } from "../../media-node/src/rtp/codecs/vp8.ts";
import { parseRtcp } from "../../media-node/src/rtp/rtcp/parse.ts";
import { parseRtp, RtpView } from "../../media-node/src/rtp/rtpPacket.ts";
import { Subscriber } from "../../media-node/src/Subscriber.ts";

/** A VP8 descriptor with X, I (15-bit picture id), L (TL0PICIDX) and T (TID, Y), then one byte. */
function vp8Descriptor(o: {
  pic: number;
  tl0: number;
  tid: number;
  key?: boolean;
  start?: boolean;
}) {
  return Buffer.from([
    0x80 | (o.start === false ? 0 : 0x10),
    0xe0,
    0x80 | ((o.pic >> 8) & 0x7f),
    o.pic & 0xff,
    o.tl0 & 0xff,
    (o.tid << 6) | 0x20,
    o.key ? 0x10 : 0x11,
  ]);
}

function rtp(ssrc: number, seq: number, ts: number, payload: Buffer): Buffer {
  const h = Buffer.alloc(12);
  h[0] = 0x80;
  h[1] = 96;
  h.writeUInt16BE(seq & 0xffff, 2);
  h.writeUInt32BE(ts >>> 0, 4);
  h.writeUInt32BE(ssrc >>> 0, 8);
  return Buffer.concat([h, payload]);
}

function layersOf(d: Buffer): PacketLayers {
  const v = new Vp8Descriptor();
  assert.ok(parseVp8(d, 0, d.length, v));
  const l = new PacketLayers();
  l.pictureId = v.pictureId;
  l.pictureIdLong = v.pictureIdLong;
  l.tl0PicIdx = v.tl0PicIdx;
  l.temporal = v.tid;
  l.pictureStart = v.startOfPartition;
  return l;
}

describe("SequenceMap", () => {
  it("closes up the numbers of packets dropped in order", () => {
    const m = new SequenceMap();
    m.reset(100, 5000);
    assert.equal(m.forward(100), 5000);
    m.drop(101);
    m.drop(102);
    assert.equal(m.forward(103), 5001);
    assert.equal(m.forward(104), 5002);
  });

  it("maps late packets around the drops and leaves real loss as a gap", () => {
    const m = new SequenceMap();
    m.reset(10, 0);
    assert.equal(m.forward(10), 0);
    assert.equal(m.forward(12), 2); // 11 missing: its number is kept for it
    m.drop(13);
    assert.equal(m.forward(14), 3);
    assert.equal(m.forward(11), 1); // the late one fills its own gap
    assert.equal(m.forward(13), -1); // a dropped packet never maps
    assert.equal(m.forward(9), -1); // before the epoch
  });

  it("wraps at 2^16 on both sides", () => {
    const m = new SequenceMap();
    m.reset(0xfffe, 0xffff);
    assert.equal(m.forward(0xfffe), 0xffff);
    m.drop(0xffff);
    assert.equal(m.forward(0), 0);
    assert.equal(m.forward(1), 1);
    assert.equal(m.lastOut, 1);
  });

  it("refuses packets more than the window behind", () => {
    const m = new SequenceMap();
    m.reset(0, 0);
    for (let s = 0; s < 3000; s++) m.forward(s);
    assert.equal(m.forward(2999 - 1500), -1);
    assert.equal(m.forward(2990), 2990);
  });
});

describe("Vp8PictureMap", () => {
  it("continues picture ids and TL0PICIDX across a source switch (bytes rewritten in place)", () => {
    const m = new Vp8PictureMap();
    const a = vp8Descriptor({ pic: 1000, tl0: 10, tid: 0, key: true });
    m.rewrite(a, 0, layersOf(a));
    assert.deepEqual([...a.subarray(2, 5)], [0x83, 0xe8, 10]); // first epoch passes unchanged
    m.resync();
    const b = vp8Descriptor({ pic: 32000, tl0: 200, tid: 0, key: true });
    m.rewrite(b, 0, layersOf(b));
    assert.equal(layersOf(b).pictureId, 1001);
    assert.equal(layersOf(b).tl0PicIdx, 11);
    const c = vp8Descriptor({ pic: 32767, tl0: 255, tid: 0 });
    m.rewrite(c, 0, layersOf(c));
    assert.equal(layersOf(c).pictureId, 1768); // 15-bit arithmetic
    assert.equal(layersOf(c).tl0PicIdx, 66); // 8-bit arithmetic
  });

  it("gives dropped pictures no id, so the receiver sees no gap", () => {
    const m = new Vp8PictureMap();
    const seq = [
      { pic: 7, tid: 0 },
      { pic: 8, tid: 2 },
      { pic: 9, tid: 1 },
      { pic: 10, tid: 2 },
      { pic: 11, tid: 0 },
    ];
    const out: number[] = [];
    for (const f of seq) {
      const d = vp8Descriptor({ pic: f.pic, tl0: 1, tid: f.tid });
      const l = layersOf(d);
      if (f.tid > 0) {
        m.drop(l);
        continue;
      }
      m.rewrite(d, 0, l);
      out.push(layersOf(d).pictureId);
    }
    assert.deepEqual(out, [7, 8]);
  });
});

describe("LayerSelector", () => {
  const rates = Float64Array.from([150_000, 500_000, 1_500_000]);

  it("without feedback sends the preferred layer at once, never above it", () => {
    const s = new LayerSelector();
    assert.equal(s.choose(rates, 0), 2);
    s.setPreferred(1, 2);
    assert.equal(s.choose(rates, 100), 1);
    s.setPreferred(0, 2);
    assert.equal(s.choose(rates, 200), 0);
    s.onRemb(250_000); // a receiver's estimate trails what it gets: no limit from that alone
    s.setPreferred(2, 2);
    assert.equal(s.choose(rates, 300), 2);
  });

  it("a rising or steady estimate after a move up is a receiver ramping up, not congestion", () => {
    const s = new LayerSelector();
    s.setPreferred(0, 2);
    s.onRemb(220_000);
    assert.equal(s.choose(rates, 0), 0);
    s.setPreferred(2, 2);
    assert.equal(s.choose(rates, 100), 2);
    let t = 200;
    for (let remb = 240_000; t < 8000; t += 200, remb *= t % 1000 === 0 ? 1.05 : 1) {
      s.onRemb(remb); // rising, or holding
      assert.equal(s.choose(rates, t), 2, `at ${t} ms, REMB ${remb}`);
    }
    s.onRemb(200_000); // falls, but it never caught up with the layer: still ramping
    assert.equal(s.choose(rates, t), 2);
    s.onRemb(2_000_000); // caught up
    assert.equal(s.choose(rates, t + 200), 2);
    s.onRemb(1_200_000); // now it falls short: congestion
    assert.equal(s.choose(rates, t + 400), 1);
  });

  it("a preference above the feedback limit waits for the limit to rise", () => {
    const s = new LayerSelector();
    s.setPreferred(1, 2);
    s.onRemb(600_000);
    s.choose(rates, 0);
    s.onRemb(200_000);
    assert.equal(s.choose(rates, 100), 0);
    s.setPreferred(2, 2);
    assert.equal(s.choose(rates, 200), 0);
  });

  it("skips encodings that are not sending", () => {
    const s = new LayerSelector();
    assert.equal(s.choose(Float64Array.from([150_000, 500_000, 0]), 0), 1);
    assert.equal(s.choose(Float64Array.from([0, 0, 0]), 10), -1);
  });

  it("moves down at once when REMB is short and back up after the hold, without flapping", () => {
    const s = new LayerSelector();
    s.onRemb(2_000_000);
    assert.equal(s.choose(rates, 0), 2);
    s.onRemb(300_000);
    assert.equal(s.choose(rates, 200), 0);
    s.onRemb(5_000_000);
    let t = 400;
    const picks: number[] = [];
    for (; t < 10_000; t += 200) picks.push(s.choose(rates, t));
    // held down 3 s after the move, then one layer per 1.5 s of a good estimate
    assert.equal(picks.indexOf(1) * 200 + 400 >= 3000 + 1500, true);
    assert.equal(picks.at(-1), 2);
    const changes = picks.filter((p, i) => i > 0 && p !== picks[i - 1]).length;
    assert.equal(changes, 2);
  });

  it("a lossy link moves it one layer down per second", () => {
    const s = new LayerSelector();
    s.choose(rates, 0);
    s.onLoss(0.2, 100); // the first report may come at once
    assert.equal(s.current, 1);
    s.onLoss(0.2, 600);
    assert.equal(s.current, 1);
    s.onLoss(0.2, 1200);
    assert.equal(s.current, 0);
    assert.equal(s.choose(rates, 2200), 0);
  });

  it("probes one layer up when the estimate leaves room but not enough, then backs off", () => {
    const s = new LayerSelector();
    s.onRemb(2_000_000);
    s.choose(rates, 0);
    s.onRemb(400_000); // short of layer 1 (500k): down to 0
    assert.equal(s.choose(rates, 100), 0);
    let t = 200;
    while (s.current === 0 && t < 20_000) {
      s.choose(rates, t);
      t += 200;
    }
    assert.equal(s.current, 1, "probed up");
    const probedAt = t;
    for (; t < probedAt + 2800; t += 200) assert.equal(s.choose(rates, t), 1, "grace");
    s.onRemb(380_000); // the link is short: the estimate falls
    for (; t < probedAt + 3400; t += 200) s.choose(rates, t);
    assert.equal(s.current, 0, "probe failed: the estimate stayed short");
    const downAt = t;
    while (s.current === 0 && t < 60_000) {
      s.choose(rates, t);
      t += 200;
    }
    assert.ok(t - downAt >= 9_000, `backed off to about 10 s, probed again after ${t - downAt} ms`);
  });
});

/** A VP8 simulcast publisher (3 encodings) with one subscriber on fake hosts. */
/** A VP8 publisher (PT 96) whose RTCP toward the publisher lands in `rtcp`. */
function vp8Publisher(rids?: string[]) {
  const codec = DEFAULT_CODECS.find((c) => c.mimeType === "video/VP8");
  assert.ok(codec);
  const rtcp: Buffer[] = [];
  const publisher = new Publisher({
    id: "p",
    kind: "video",
    mid: "0",
    codec,
    sourcePayloadType: 96,
    headerExtensions: [],
    rids,
    host: { rtcpSsrc: 1, firNegotiated: false, sendRtcp: (p) => rtcp.push(Buffer.from(p)) },
  });
  return { publisher, rtcp };
}

function simulcastFixture() {
  const { publisher, rtcp } = vp8Publisher(["q", "h", "f"]);
  const sent: { seq: number; ts: number; pic: number; tl0: number; tid: number; key: boolean }[] =
    [];
  const view = new RtpView();
  const sub = new Subscriber({
    id: "s",
    publisher,
    ssrc: 0xabc,
    payloadType: 100,
    extMap: new Uint8Array(256),
    host: {
      mediaReady: true,
      sendRtp(plain, len) {
        const b = Buffer.from(plain.subarray(0, len));
        assert.ok(parseRtp(b, len, view));
        assert.equal(view.ssrc, 0xabc);
        const d = new Vp8Descriptor();
        assert.ok(parseVp8(b, view.payloadOffset, view.payloadLength, d));
        sent.push({
          seq: view.sequenceNumber,
          ts: view.timestamp,
          pic: d.pictureId,
          tl0: d.tl0PicIdx,
          tid: d.tid,
          key: d.isKeyframe,
        });
        return true;
      },
    },
  });
  const ssrcs = [0x111, 0x222, 0x333];
  const state = [0, 1, 2].map((i) => ({ seq: 1000 * (i + 1), pic: 5000 * i + 7, tl0: 50 * i }));
  let frame = 0;
  /** One frame on the given encodings: TIDs 0,2,1,2 (L1T3), 2 packets each; all keyframes if `key`. */
  function sendFrame(key = false, encodings = [0, 1, 2]) {
    const tid = key ? 0 : [0, 2, 1, 2][frame % 4];
    for (const e of encodings) {
      const s = state[e];
      if (tid === 0) s.tl0++;
      s.pic++;
      for (let k = 0; k < 2; k++) {
        const d = vp8Descriptor({ pic: s.pic, tl0: s.tl0, tid, key, start: k === 0 });
        const pkt = rtp(ssrcs[e], s.seq++, 3000 * frame + 77 * e, d);
        const v = new RtpView();
        assert.ok(parseRtp(pkt, pkt.length, v));
        publisher.receive(pkt, v, performance.now(), e);
      }
    }
    frame++;
  }
  return { publisher, sub, sent, rtcp, state, ssrcs, sendFrame };
}

describe("Publisher + Subscriber (fake hosts): simulcast switching", () => {
  const { publisher, sub, sent, rtcp, state, ssrcs, sendFrame } = simulcastFixture();

  it("starts on the preferred encoding's keyframe, filters temporal layers, switches on keyframes with continuous seq, ts and picture ids", () => {
    publisher.addSubscriber(sub);
    for (let i = 0; i < 4; i++) sendFrame(); // encodings learn their SSRCs; no keyframe yet
    publisher.tick(performance.now() + 1000); // bitrates measured: every encoding sending
    sub.setPreferredLayers({ spatial: 1 });
    assert.equal(sent.length, 0, "waits for a keyframe");
    sendFrame(true);
    assert.equal(sent.length, 2);
    assert.equal(sub.currentLayers.spatial, 1);
    for (let i = 0; i < 7; i++) sendFrame();
    sub.setPreferredLayers({ spatial: 0, temporal: 0 });
    for (let i = 0; i < 4; i++) sendFrame(); // still on 1 (no keyframe on 0 yet), TID 0 only
    sendFrame(true);
    assert.equal(sub.currentLayers.spatial, 0);
    for (let i = 0; i < 8; i++) sendFrame();
    sub.setPreferredLayers({ spatial: 2, temporal: 2 });
    sendFrame(true);
    for (let i = 0; i < 4; i++) sendFrame();
    assert.equal(sub.currentLayers.spatial, 2);
    // sequence numbers: no gap, no repeat
    for (let i = 1; i < sent.length; i++) {
      assert.equal((sent[i].seq - sent[i - 1].seq) & 0xffff, 1, `seq at ${i}`);
    }
    // picture ids advance by 0 (same picture) or 1, TL0PICIDX by 0 or 1, never backwards
    for (let i = 1; i < sent.length; i++) {
      const dp = (sent[i].pic - sent[i - 1].pic) & 0x7fff;
      const dt = (sent[i].tl0 - sent[i - 1].tl0) & 0xff;
      assert.ok(
        dp <= 1 && dt <= 1,
        `picture ids at ${i}: ${JSON.stringify(sent.slice(i - 1, i + 1))}`,
      );
    }
    // timestamps never go back
    for (let i = 1; i < sent.length; i++) {
      assert.ok((sent[i].ts - sent[i - 1].ts) >>> 0 < 0x80000000, `ts at ${i}`);
    }
    const stats = sub.getStats();
    assert.equal(stats.layerSwitches, 2);
    assert.ok(stats.packetsFiltered > 0, "TID 1 and 2 were dropped at temporal 0");
    assert.ok(rtcp.length > 0, "keyframes were requested");
    const tids = new Set(sent.map((s) => s.tid));
    assert.deepEqual([...tids].sort(), [0, 1, 2]);
  });

  it("a NACK for a forwarded packet is answered with the same bytes", () => {
    const last = sent.at(-1);
    assert.ok(last);
    const n = sent.length;
    sub.retransmit(last.seq);
    assert.equal(sent.length, n + 1);
    assert.deepEqual(sent[n], last);
  });

  it("NACKs a gap upstream on the SSRC of the layer that lost it", () => {
    rtcp.length = 0;
    const e = 1;
    const s = state[e];
    for (const skip of [false, true, false]) {
      const seq = s.seq++;
      if (skip) continue;
      const pkt = rtp(ssrcs[e], seq, 0, vp8Descriptor({ pic: ++s.pic, tl0: s.tl0, tid: 0 }));
      const v = new RtpView();
      assert.ok(parseRtp(pkt, pkt.length, v));
      publisher.receive(pkt, v, performance.now(), e);
    }
    const nacks: { media: number; seq: number }[] = [];
    for (const p of rtcp) {
      parseRtcp(p, p.length, {
        nack: (_s: number, media: number, seq: number) => nacks.push({ media, seq }),
      });
    }
    assert.deepEqual(nacks, [{ media: ssrcs[e], seq: (s.seq - 2) & 0xffff }]);
    assert.equal(publisher.getStats().encodings[e].nacksSent, 1);
  });

  it("rejects a layer outside 0..15 with a typed error", () => {
    assert.throws(() => sub.setPreferredLayers({ spatial: -1 }), { code: "invalid_argument" });
    assert.throws(() => sub.setPreferredLayers({ temporal: 1.5 }), { code: "invalid_argument" });
  });
});

describe("Publisher + Subscriber (fake hosts): an encoding that resumes", () => {
  it("is targeted on its first packet, so its first keyframe is the switch (no layer tick needed)", () => {
    const { publisher, sub, sent, rtcp, ssrcs, sendFrame } = simulcastFixture();
    publisher.addSubscriber(sub);
    sub.setPreferredLayers({ spatial: 0 });
    // Encoding 0 is paused (as on B when the origin relays only 1 and 2): the lowest above it is sent.
    for (let i = 0; i < 4; i++) sendFrame(false, [1, 2]);
    publisher.tick(performance.now());
    sendFrame(true, [1, 2]);
    assert.equal(sub.currentLayers.spatial, 1);
    // Encoding 0 resumes with a delta frame, then the keyframe, well before the next 200 ms tick.
    rtcp.length = 0;
    sendFrame(false);
    assert.equal(sub.currentLayers.spatial, 1, "still on 1: no keyframe of 0 yet");
    const plis: number[] = [];
    for (const p of rtcp) parseRtcp(p, p.length, { pli: (_s: number, m: number) => plis.push(m) });
    assert.deepEqual(plis, [ssrcs[0]], "a keyframe of 0 asked for at once");
    const n = sent.length;
    sendFrame(true);
    assert.equal(sub.currentLayers.spatial, 0, "switched on the first keyframe after resuming");
    assert.ok(sent[n].key, "the switch starts with that keyframe");
    assert.equal(sub.getStats().layerSwitches, 1);
  });
});

describe("Publisher: periodic work rides on its own packets", () => {
  it("retries an upstream NACK from receive() alone, 3 tries at most, no timer involved", () => {
    const { publisher, rtcp } = vp8Publisher();
    const nacked: number[] = [];
    const receive = (seq: number, at: number) => {
      const pkt = rtp(0x555, seq, seq * 3000, vp8Descriptor({ pic: seq, tl0: 0, tid: 0 }));
      const v = new RtpView();
      assert.ok(parseRtp(pkt, pkt.length, v));
      publisher.receive(pkt, v, at);
      for (const p of rtcp.splice(0)) {
        parseRtcp(p, p.length, { nack: (_s: number, _m: number, s: number) => nacked.push(s) });
      }
    };
    const t0 = 1_000_000;
    receive(1, t0);
    receive(3, t0 + 1); // seq 2 lost: NACKed at once
    assert.deepEqual(nacked, [2]);
    receive(4, t0 + 30); // a tick runs, but the retry is due only 40 ms after the NACK
    receive(5, t0 + 45); // no tick: the last one was 15 ms ago
    assert.deepEqual(nacked, [2]);
    assert.equal(publisher.due(t0 + 45), false);
    receive(6, t0 + 55);
    assert.deepEqual(nacked, [2, 2]);
    receive(7, t0 + 100);
    receive(8, t0 + 150); // a fourth try is never sent
    assert.deepEqual(nacked, [2, 2, 2]);
    assert.equal(publisher.getStats().encodings[0].nacksSent, 3);
    assert.equal(
      publisher.due(t0 + 170),
      true,
      "the host's fallback timer ticks a quiet publisher",
    );
  });
});
