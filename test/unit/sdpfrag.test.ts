import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  buildSdpFrag,
  firstMedia,
  parseSdpFrag,
  SdpFragError,
} from "../../media-node/service/sessions/sdpfrag.ts";

const CAND = "candidate:1 1 udp 2130706431 192.0.2.1 50000 typ host";

describe("sdpfrag (RFC 8840)", () => {
  it("parses a trickle fragment from RFC 9725 section 4.3.1", () => {
    const frag = parseSdpFrag(
      [
        "a=group:BUNDLE 0 1",
        "m=audio 9 UDP/TLS/RTP/SAVPF 111",
        "a=mid:0",
        "a=ice-ufrag:EsAw",
        "a=ice-pwd:bP+XJMM09aR8AiX1jdukzR6Y",
        `a=${CAND}`,
        "a=end-of-candidates",
        "",
      ].join("\r\n"),
    );
    assert.equal(frag.ufrag, "EsAw");
    assert.equal(frag.pwd, "bP+XJMM09aR8AiX1jdukzR6Y");
    assert.deepEqual(frag.candidates, [{ candidate: CAND, mid: "0", mLineIndex: 0 }]);
    assert.equal(frag.endOfCandidates, true);
  });

  it("accepts session-level credentials, LF line ends and no m-section", () => {
    const frag = parseSdpFrag(`a=ice-ufrag:abcd\na=ice-pwd:0123456789012345678901\na=${CAND}\n`);
    assert.equal(frag.ufrag, "abcd");
    assert.deepEqual(frag.candidates, [{ candidate: CAND, mid: null, mLineIndex: 0 }]);
    assert.equal(frag.endOfCandidates, false);
  });

  it("tracks the mid of each m-section", () => {
    const frag = parseSdpFrag(
      `m=audio 9 RTP/AVP 0\r\na=mid:a\r\na=${CAND}\r\nm=video 9 RTP/AVP 0\r\na=mid:v\r\na=${CAND}`,
    );
    assert.deepEqual(
      frag.candidates.map((c) => [c.mid, c.mLineIndex]),
      [
        ["a", 0],
        ["v", 1],
      ],
    );
  });

  it("ignores attributes it does not know", () => {
    const frag = parseSdpFrag("a=ice-options:trickle ice2\r\na=group:BUNDLE 0\r\n");
    assert.deepEqual(frag, { ufrag: null, pwd: null, candidates: [], endOfCandidates: false });
  });

  it("rejects malformed input", () => {
    const bad = [
      "hello",
      "a=ice-ufrag:ab", // too short
      "a=ice-pwd:short",
      "a=ice-ufrag:abcd\r\na=ice-ufrag:efgh", // conflicting
      "a=ice-ufrag:ab cd",
      "a=candidate:1 1 udp",
      "a=candidate:1 x udp 1 192.0.2.1 5 typ host",
      `a=${"x".repeat(2000)}`,
      "a=x\r\n".repeat(300),
    ];
    for (const text of bad)
      assert.throws(() => parseSdpFrag(text), SdpFragError, text.slice(0, 30));
  });

  it("builds the node's restart answer and reads the first m-section of an SDP", () => {
    const media = firstMedia("v=0\r\nm=video 9 UDP/TLS/RTP/SAVPF 96\r\na=mid:1\r\nm=audio 9 x\r\n");
    assert.deepEqual(media, { kind: "video", mid: "1" });
    const text = buildSdpFrag({ ufrag: "wxyz", pwd: "p".repeat(22), candidates: [CAND], media });
    assert.equal(
      text,
      `a=ice-ufrag:wxyz\r\na=ice-pwd:${"p".repeat(22)}\r\nm=video 9 UDP/TLS/RTP/SAVPF 0\r\na=mid:1\r\na=${CAND}\r\na=end-of-candidates\r\n`,
    );
    const back = parseSdpFrag(text);
    assert.equal(back.ufrag, "wxyz");
    assert.equal(back.candidates[0].mid, "1");
  });
});
