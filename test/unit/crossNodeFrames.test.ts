// DataChannel frames between nodes (media-node/service/cluster/dataFrames.ts) and the mirrored room
// view (RoomView): bytes, slicing, gaps, snapshot differences.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { test } from "node:test";
import {
  encodeEnd,
  encodeMessage,
  parseFrame,
  Reassembler,
} from "../../media-node/service/cluster/dataFrames.ts";
import { RoomView } from "../../media-node/service/cluster/RoomView.ts";

const small = { string: 4, binary: 5 };

test("frames: exact bytes, slices, surrogate pairs kept whole", () => {
  assert.deepEqual(encodeMessage(7, "hi"), ["s7:0/1\nhi"]);
  assert.deepEqual(encodeMessage(1, Buffer.from([0, 255])), ["b1:0/1\nAP8="]);
  assert.deepEqual(encodeMessage(2, Buffer.alloc(0)), ["b2:0/1\n"]);
  assert.deepEqual(encodeMessage(3, ""), ["s3:0/1\n"]);
  assert.equal(encodeEnd(9), "e9:0/1\n");
  assert.deepEqual(encodeMessage(4, "abcdefghij", small), [
    "s4:0/3\nabcd",
    "s4:1/3\nefgh",
    "s4:2/3\nij",
  ]);
  const emoji = "abc\u{1F600}def"; // the pair sits on the cut at 4
  const frames = encodeMessage(5, emoji, small);
  assert.deepEqual(frames, ["s5:0/3\nabc", "s5:1/3\n\u{1F600}de", "s5:2/3\nf"]);
  assert.deepEqual(encodeMessage(6, Buffer.from("0123456789ab"), small).length, 3);
});

test("frames: malformed headers are rejected", () => {
  for (const bad of [
    "",
    "x1:0/1\n",
    "s0:0/1\n",
    "s1:1/1\n",
    "s1:0/0\n",
    "s1:0/1",
    "s-1:0/1\n",
    "s1:0/1x\n",
  ])
    assert.equal(parseFrame(bad), null, JSON.stringify(bad));
  assert.deepEqual(parseFrame("b12:1/3\nQUJD"), {
    type: "b",
    seq: 12,
    part: 1,
    parts: 3,
    payload: "QUJD",
  });
});

test("reassembly: sliced messages come back equal, string stays string", () => {
  const r = new Reassembler(1);
  const bin = randomBytes(1000);
  const out: unknown[] = [];
  for (const [seq, m] of [
    [1, "x".repeat(11)],
    [2, bin],
    [3, "é\u{1F600}z"],
  ] as const)
    for (const f of encodeMessage(seq, m, small)) {
      const a = r.push(f);
      if (a?.kind === "message") out.push(a.data);
    }
  assert.deepEqual(out, ["x".repeat(11), bin, "é\u{1F600}z"]);
  assert.ok(Buffer.isBuffer(out[1]));
  assert.equal(r.gaps, 0);
  assert.deepEqual(r.push(encodeEnd(4)), { kind: "end", seq: 4 });
  assert.equal(r.push("garbage")?.kind, "malformed");
});

test("reassembly: a lost message or slice is a counted gap; the stream resumes", () => {
  const r = new Reassembler(1);
  assert.equal(r.push(encodeMessage(1, "a")[0])?.kind, "message");
  assert.deepEqual(r.push(encodeMessage(3, "c")[0]), { kind: "message", seq: 3, data: "c" });
  assert.equal(r.gaps, 1);
  assert.equal(r.lost, 1, "message 2");
  const four = encodeMessage(4, "dddddddd", small);
  r.push(four[0]); // four[1] is lost
  assert.deepEqual(r.push(encodeMessage(5, "e")[0]), { kind: "message", seq: 5, data: "e" });
  assert.equal(r.lost, 2, "message 4 (half of it came)");
  const six = encodeMessage(6, "ffffffff", small);
  assert.equal(r.push(six[1]), null, "a message whose first slice is lost");
  assert.equal(r.lost, 3);
  assert.equal(r.push(encodeMessage(7, "g")[0])?.kind, "message");
  assert.equal(r.push(encodeMessage(5, "old")[0]), null, "repeats are ignored");
  assert.equal(r.gaps, 3);
});

test("room view: events, repeats, snapshot differences, clear", () => {
  const v = new RoomView("ep", true);
  assert.ok(v.apply({ type: "participant.joined", identity: "a" }));
  assert.ok(!v.apply({ type: "participant.joined", identity: "a" }));
  const t = { publisherId: "p1", kind: "video" as const, mimeType: "video/VP8" };
  assert.ok(v.apply({ type: "track.published", identity: "a", ...t }));
  assert.ok(
    v.apply({
      type: "data.published",
      identity: "a",
      dataPublisherId: "d1",
      label: "chat",
      ordered: true,
    }),
  );
  assert.equal(v.kindOf("p1"), "media");
  assert.equal(v.kindOf("d1"), "data");
  assert.equal(v.kindOf("zz"), undefined);
  assert.deepEqual(v.participants(), [
    { identity: "a", tracks: [t], data: [{ dataPublisherId: "d1", label: "chat", ordered: true }] },
  ]);
  const t2 = { publisherId: "p2", kind: "audio" as const, mimeType: "audio/opus" };
  const diff = v.replace([
    { identity: "a", tracks: [t2] },
    { identity: "b", tracks: [] },
  ]);
  assert.deepEqual(diff, [
    { type: "track.unpublished", identity: "a", publisherId: "p1" },
    { type: "data.unpublished", identity: "a", dataPublisherId: "d1" },
    { type: "track.published", identity: "a", ...t2 },
    { type: "participant.joined", identity: "b" },
  ]);
  assert.deepEqual(v.replace([]), [
    { type: "track.unpublished", identity: "a", publisherId: "p2" },
    { type: "participant.left", identity: "a" },
    { type: "participant.left", identity: "b" },
  ]);
  assert.ok(v.empty);
});
