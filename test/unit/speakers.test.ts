// Audio levels and active speakers (RFC 6464 read on the forwarding path, the per-publisher
// meter, the router's detector, the room's cross-node merge) and track mute on the forwarding
// path (nothing forwarded while muted; unmute restarts on a keyframe without a sequence gap).
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { RoomSpeakers } from "../../media-node/service/cluster/RoomSpeakers.ts";
import { RoomView } from "../../media-node/service/cluster/RoomView.ts";
import { DEFAULT_CODECS } from "../../media-node/src/codecs.ts";
import { EXT_URI } from "../../media-node/src/headerExtensions.ts";
import { Publisher } from "../../media-node/src/Publisher.ts";
import {
  AUDIO_LEVEL_SILENT,
  audioLevelDbov,
  readAudioLevel,
  voiceActivity,
} from "../../media-node/src/rtp/audioLevel.ts";
import { parseRtp, RtpView } from "../../media-node/src/rtp/rtpPacket.ts";
import { Subscriber } from "../../media-node/src/Subscriber.ts";
import {
  ActiveSpeakerDetector,
  type ActiveSpeakerReport,
} from "../../media-node/src/speakers/ActiveSpeakerDetector.ts";
import {
  AudioLevelMeter,
  SPEAKER_DEFAULTS,
} from "../../media-node/src/speakers/AudioLevelMeter.ts";
import { SPEAKERS_TTL_MS, type SpeakerInfo } from "../../shared/room.ts";
import { hex } from "../fixtures/packets/hex.ts";

function parsed(buf: Uint8Array): RtpView {
  const view = new RtpView();
  assert.ok(parseRtp(buf, buf.length, view), "a valid RTP packet");
  return view;
}

describe("readAudioLevel (RFC 6464 in RFC 8285 header extensions)", () => {
  // Chromium's audio packet: one-byte form, mid (id 4, "0") then the level (id 1, L=0):
  // V=1, level 0x2a = 42 -> -42 dBov. One padding byte to the 4-byte boundary.
  const CHROMIUM = hex(`
    90 6f 00 10 | 00 00 03 c0 | 11 22 33 44
    be de 00 01                 # one-byte profile, 1 word
    40 30 10 aa                 # id 4 L=0 "0", id 1 L=0 level byte aa = V + 42
    fc ff fe`);

  it("reads V and the level from the one-byte form", () => {
    const v = readAudioLevel(CHROMIUM, parsed(CHROMIUM), 1);
    assert.equal(v, 0xaa);
    assert.equal(audioLevelDbov(v), 42);
    assert.equal(voiceActivity(v), true);
  });

  it("returns -1 for an id the packet does not carry, for id 0 and without extensions", () => {
    assert.equal(readAudioLevel(CHROMIUM, parsed(CHROMIUM), 2), -1);
    assert.equal(readAudioLevel(CHROMIUM, parsed(CHROMIUM), 0), -1);
    const plain = hex("80 6f 00 10 | 00 00 03 c0 | 11 22 33 44 | fc ff");
    assert.equal(readAudioLevel(plain, parsed(plain), 1), -1);
  });

  it("skips padding bytes between elements; silence without V is 127", () => {
    const pkt = hex(`
      90 6f 00 11 | 00 00 04 00 | 11 22 33 44
      be de 00 02
      00 00 40 30 | 00 a0 7f 00   # pad pad, id 4 "0", pad, id 10 L=0 level 7f
      fc`);
    const v = readAudioLevel(pkt, parsed(pkt), 10);
    assert.equal(v, AUDIO_LEVEL_SILENT);
    assert.equal(voiceActivity(v), false);
  });

  it("reads the two-byte form (its element may carry padding after the level byte)", () => {
    const pkt = hex(`
      90 6f 00 12 | 00 00 04 40 | 11 22 33 44
      10 00 00 02                 # two-byte profile 0x1000, 2 words
      05 02 85 00 | 20 01 30 00   # id 5 len 2: V + level 5 (and one pad); id 32 len 1 "0"
      fc`);
    const v = readAudioLevel(pkt, parsed(pkt), 5);
    assert.equal(audioLevelDbov(v), 5);
    assert.equal(voiceActivity(v), true);
    assert.equal(readAudioLevel(pkt, parsed(pkt), 32), 0x30);
  });

  it("returns -1 when the element overruns its block, or the profile is not RFC 8285", () => {
    // id 1 with L=3 (4 bytes) in a 1-word block whose other bytes hold mid: the level element
    // claims more than the block has.
    const over = hex(`
      90 6f 00 13 | 00 00 04 80 | 11 22 33 44
      be de 00 01
      40 30 13 aa
      fc`);
    assert.equal(readAudioLevel(over, parsed(over), 1), -1);
    const other = hex(`
      90 6f 00 14 | 00 00 04 c0 | 11 22 33 44
      ab cd 00 01
      10 aa 00 00
      fc`);
    assert.equal(readAudioLevel(other, parsed(other), 1), -1);
  });

  it("allocates nothing per packet (1M reads grow the heap by under 1 byte each)", () => {
    const view = parsed(CHROMIUM);
    let sum = 0;
    for (let i = 0; i < 200_000; i++) sum += readAudioLevel(CHROMIUM, view, 1); // optimized
    const before = process.memoryUsage().heapUsed;
    for (let i = 0; i < 1_000_000; i++) sum += readAudioLevel(CHROMIUM, view, 1);
    const grown = process.memoryUsage().heapUsed - before;
    assert.equal(sum, 1_200_000 * 0xaa);
    // one object or boxed number per read would be >= 16 MB
    assert.ok(grown < 1_000_000, `heap grew ${grown} bytes over 1M reads`);
  });
});

describe("AudioLevelMeter", () => {
  it("speaking needs 40 % of the window's packets at 30 dBov or louder", () => {
    const m = new AudioLevelMeter();
    for (let i = 0; i < 6; i++) m.add(127);
    for (let i = 0; i < 4; i++) m.add(30);
    m.evaluate();
    assert.equal(m.speaking, true, "4 of 10 at the threshold");
    assert.ok(Math.abs(m.level - (4 * 10 ** -1.5 + 6 * 10 ** -6.35) / 10) < 1e-9, `${m.level}`);
    // the next interval is quiet; the window (2 intervals) still holds the sound: 4 of 20
    for (let i = 0; i < 10; i++) m.add(127);
    m.evaluate();
    assert.equal(m.speaking, false);
    const m2 = new AudioLevelMeter();
    for (let i = 0; i < 10; i++) m2.add(i < 4 ? 31 : 127);
    m2.evaluate();
    assert.equal(m2.speaking, false, "31 dBov is under the threshold");
  });

  it("smooths over the window: one loud interval is still heard in the next", () => {
    const m = new AudioLevelMeter();
    for (let i = 0; i < 12; i++) m.add(10);
    m.evaluate();
    const loud = m.level;
    for (let i = 0; i < 12; i++) m.add(127);
    m.evaluate();
    assert.equal(m.speaking, true, "12 of 24 packets loud");
    assert.ok(m.level > loud / 2 - 1e-6 && m.level < loud, `${m.level} vs ${loud}`);
    for (let i = 0; i < 12; i++) m.add(127);
    m.evaluate();
    assert.equal(m.speaking, false);
  });

  it("no packets, or muted: level 0 and not speaking; the V bit is ignored", () => {
    const m = new AudioLevelMeter();
    m.evaluate();
    assert.deepEqual([m.level, m.speaking], [0, false]);
    for (let i = 0; i < 10; i++) m.add(0x80 | 10);
    m.evaluate(true);
    assert.deepEqual([m.level, m.speaking], [0, false]);
    for (let i = 0; i < 10; i++) m.add(0x80 | 10);
    m.evaluate();
    assert.equal(m.speaking, true);
    assert.ok(Math.abs(m.level - 10 ** -0.5) < 1e-9);
  });
});

const OPUS = DEFAULT_CODECS.find((c) => c.mimeType === "audio/opus")!;
const VP8 = DEFAULT_CODECS.find((c) => c.mimeType === "video/VP8")!;
const LEVEL_ID = 3;

function audioPublisher(id: string, withLevels = true): Publisher {
  return new Publisher({
    id,
    kind: "audio",
    mid: id,
    codec: OPUS,
    sourcePayloadType: 111,
    headerExtensions: withLevels ? [{ id: LEVEL_ID, uri: EXT_URI.audioLevel }] : [],
    host: { rtcpSsrc: 1, firNegotiated: false, sendRtcp: () => {} },
  });
}

/** An Opus packet with the audio level extension (id 3) at `dbov`. */
function opusPacket(seq: number, dbov: number): Buffer {
  const b = Buffer.alloc(12 + 8 + 4);
  b[0] = 0x90;
  b[1] = 111;
  b.writeUInt16BE(seq & 0xffff, 2);
  b.writeUInt32BE((seq * 960) >>> 0, 4);
  b.writeUInt32BE(0xabc, 8);
  b.set([0xbe, 0xde, 0x00, 0x01, (LEVEL_ID << 4) | 0, dbov, 0, 0], 12);
  b.set([0xfc, 0xff, 0xfe, 0x01], 20);
  return b;
}

/** Feeds `n` packets at `dbov` (20 ms apart). */
function speak(p: Publisher, dbov: number, n = 12, seq = { n: 0 }): void {
  for (let i = 0; i < n; i++) {
    const pkt = opusPacket(seq.n++, dbov);
    p.receive(pkt, parsed(pkt), performance.now());
  }
}

describe("ActiveSpeakerDetector", () => {
  it("orders speakers by smoothed level, reports changes only, leaves out quiet and muted", () => {
    const reports: ActiveSpeakerReport[] = [];
    const det = new ActiveSpeakerDetector({}, (r) => reports.push(r));
    const [a, b, c] = ["alice", "bob", "carol"].map((id) => audioPublisher(id));
    const seqs = [{ n: 0 }, { n: 0 }, { n: 0 }];
    for (const p of [a, b, c]) assert.equal(det.add(p), true);
    assert.equal(det.add(audioPublisher("no-ext", false)), false, "no extension, no meter");
    try {
      const round = (levels: [number, number, number]) => {
        for (const [i, p] of [a, b, c].entries()) speak(p, levels[i], 12, seqs[i]);
        det.tick();
        return reports.at(-1)!;
      };
      let r = round([10, 20, 127]);
      assert.deepEqual(
        r.speakers.map((s) => s.publisherId),
        ["alice", "bob"],
      );
      assert.equal(r.changed, true);
      assert.equal(r.levels.length, 3);
      assert.equal(r.levels.find((l) => l.publisherId === "carol")?.speaking, false);
      assert.ok(a.audioLevel > b.audioLevel && b.audioLevel > c.audioLevel);
      assert.equal(a.getStats().speaking, true);
      r = round([10, 20, 127]);
      assert.equal(r.changed, false, "same order: no change");
      // bob gets louder: after one interval the window (half old, half new) already flips them
      r = round([20, 5, 127]);
      assert.deepEqual(
        r.speakers.map((s) => s.publisherId),
        ["bob", "alice"],
      );
      assert.equal(r.changed, true);
      // alice mutes: out at the next interval though her packets still come
      a.setMuted(true);
      r = round([5, 20, 127]);
      assert.deepEqual(
        r.speakers.map((s) => s.publisherId),
        ["bob"],
      );
      assert.equal(a.audioLevel, 0);
      // bob's track ends while he speaks: reported at once
      const before = reports.length;
      b.close();
      det.remove(b);
      assert.equal(reports.length, before + 1);
      assert.deepEqual(reports.at(-1)!.speakers, []);
    } finally {
      det.close();
    }
  });

  it("rejects bad options", () => {
    assert.throws(() => new ActiveSpeakerDetector({ threshold: 200 }, () => {}), RangeError);
    assert.throws(() => new ActiveSpeakerDetector({ windowMs: 100 }, () => {}), RangeError);
    assert.throws(() => new ActiveSpeakerDetector({ minActiveFraction: 0 }, () => {}), RangeError);
    assert.equal(SPEAKER_DEFAULTS.threshold, 30);
  });
});

describe("RoomSpeakers (one room across nodes)", () => {
  function room(owners: Record<string, string>) {
    let now = 0;
    const shared: SpeakerInfo[][] = [];
    const delivered: SpeakerInfo[][] = [];
    const speakers = new RoomSpeakers({
      ownerOf: (id) => owners[id],
      share: (l) => shared.push(l),
      deliver: (l) => delivered.push(l),
      now: () => now,
    });
    return {
      speakers,
      shared,
      delivered,
      advance: (ms: number) => {
        now += ms;
      },
    };
  }
  const ids = (l: SpeakerInfo[] | undefined) => l?.map((s) => s.identity);

  it("merges this node's speakers with other nodes', delivers on a change of order only", () => {
    const r = room({ "a-mic": "alice", "a-screen": "alice", "c-mic": "carol" });
    try {
      r.speakers.onLevels([
        { publisherId: "a-mic", level: 0.1, speaking: true },
        { publisherId: "a-screen", level: 0.3, speaking: true },
        { publisherId: "c-mic", level: 0.001, speaking: false },
        { publisherId: "relayed-bob", level: 0.9, speaking: true }, // another node's: not ours
      ]);
      assert.deepEqual(r.shared.at(-1), [{ identity: "alice", level: 0.3 }]);
      assert.deepEqual(ids(r.delivered.at(-1)), ["alice"]);
      r.speakers.onRemote("node-b", [{ identity: "bob", level: 0.5 }]);
      assert.deepEqual(ids(r.delivered.at(-1)), ["bob", "alice"]);
      const n = r.delivered.length;
      r.speakers.onRemote("node-b", [{ identity: "bob", level: 0.6 }]);
      assert.equal(r.delivered.length, n, "a level change alone is not a change");
      // nobody on this node any more: shared once as empty, then no more
      r.speakers.onLevels([{ publisherId: "a-mic", level: 0, speaking: false }]);
      r.speakers.onLevels([{ publisherId: "a-mic", level: 0, speaking: false }]);
      assert.deepEqual(r.shared.slice(-2), [[{ identity: "alice", level: 0.3 }], []]);
      assert.deepEqual(ids(r.delivered.at(-1)), ["bob"]);
      assert.deepEqual(ids(r.speakers.current), ["bob"]);
      // node B's "nobody" message is lost: its list expires
      r.advance(SPEAKERS_TTL_MS - 1);
      r.speakers.expire();
      assert.deepEqual(ids(r.delivered.at(-1)), ["bob"]);
      r.advance(2);
      r.speakers.expire();
      assert.deepEqual(r.delivered.at(-1), []);
      // a dead node's speakers go at once
      r.speakers.onRemote("node-c", [{ identity: "dave", level: 0.2 }]);
      r.speakers.nodeGone("node-c");
      assert.deepEqual(r.delivered.slice(-2).map(ids), [["dave"], []]);
    } finally {
      r.speakers.close();
    }
  });
});

describe("RoomView mute state", () => {
  it("applies track.muted / track.unmuted and turns a snapshot difference into events", () => {
    const v = new RoomView("ep", true);
    v.apply({ type: "participant.joined", identity: "alice" });
    v.apply({
      type: "track.published",
      identity: "alice",
      publisherId: "t1",
      kind: "audio",
      mimeType: "audio/opus",
    });
    assert.equal(v.apply({ type: "track.muted", identity: "alice", publisherId: "t1" }), true);
    assert.equal(v.apply({ type: "track.muted", identity: "alice", publisherId: "t1" }), false);
    assert.equal(v.apply({ type: "track.muted", identity: "alice", publisherId: "nope" }), false);
    assert.deepEqual(v.participants()[0].tracks[0], {
      publisherId: "t1",
      kind: "audio",
      mimeType: "audio/opus",
      muted: true,
    });
    const events = v.replace([
      {
        identity: "alice",
        tracks: [{ publisherId: "t1", kind: "audio", mimeType: "audio/opus" }],
      },
    ]);
    assert.deepEqual(events, [{ type: "track.unmuted", identity: "alice", publisherId: "t1" }]);
    assert.equal(v.participants()[0].tracks[0].muted, undefined);
  });
});

describe("Publisher mute on the forwarding path", () => {
  function vp8Packet(seq: number, keyframe: boolean): Buffer {
    const b = Buffer.alloc(12 + 2 + 10);
    b[0] = 0x80;
    b[1] = 96;
    b.writeUInt16BE(seq & 0xffff, 2);
    b.writeUInt32BE((seq * 3000) >>> 0, 4);
    b.writeUInt32BE(0xdef, 8);
    b[12] = 0x10; // S=1, partition 0
    b[13] = keyframe ? 0x00 : 0x01; // P bit: 0 = keyframe
    return b;
  }

  it("forwards nothing while muted; unmute asks for a keyframe and resumes on it, no seq gap", () => {
    const rtcp: Buffer[] = [];
    const video = new Publisher({
      id: "cam",
      kind: "video",
      mid: "1",
      codec: VP8,
      sourcePayloadType: 96,
      headerExtensions: [],
      host: { rtcpSsrc: 1, firNegotiated: false, sendRtcp: (p) => rtcp.push(Buffer.from(p)) },
    });
    const sent: { seq: number; key: boolean }[] = [];
    const sub = new Subscriber({
      id: "s",
      publisher: video,
      ssrc: 0x5555,
      payloadType: 96,
      extMap: new Uint8Array(256),
      host: {
        mediaReady: true,
        sendRtp: (buf: Uint8Array) => {
          sent.push({ seq: (buf[2] << 8) | buf[3], key: (buf[13] & 1) === 0 });
          return true;
        },
      },
    });
    video.addSubscriber(sub);
    const mutes: boolean[] = [];
    video.on("mutechange", (m) => mutes.push(m));
    let seq = 100;
    const feed = (n: number, keyAt = -1) => {
      for (let i = 0; i < n; i++) {
        const pkt = vp8Packet(seq++, i === keyAt);
        video.receive(pkt, parsed(pkt), performance.now());
      }
    };
    feed(5, 0);
    assert.equal(sent.length, 5);
    assert.equal(video.setMuted(true), true);
    assert.equal(video.setMuted(true), false, "no change, no event");
    feed(50, 20); // a keyframe while muted is not forwarded either
    assert.equal(sent.length, 5, "nothing forwarded while muted");
    assert.equal(video.getStats().packetsReceived, 55, "still received and counted");
    rtcp.length = 0;
    video.setMuted(false);
    assert.ok(
      rtcp.some((p) => p[1] === 206),
      "a PLI (RTCP 206) to the publisher at unmute",
    );
    feed(3); // deltas: the decoder could not use them
    assert.equal(sent.length, 5, "waits for a keyframe");
    feed(4, 0);
    assert.equal(sent.length, 9);
    assert.equal(sent[5].key, true, "resumes on the keyframe");
    for (let i = 1; i < sent.length; i++)
      assert.equal(sent[i].seq, (sent[i - 1].seq + 1) & 0xffff, "no sequence gap");
    assert.deepEqual(mutes, [true, false]);
    assert.equal(video.getStats().muted, false);
    video.close();
  });
});
