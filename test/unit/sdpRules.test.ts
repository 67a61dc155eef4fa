// SDP rewrites the node applies to what clients send and to what werift emits.
import assert from "node:assert/strict";
import { test } from "node:test";
import { withBundleOnlyAccepted } from "../../media-node/src/sdpRules.ts";
import { sessionLevelIceLite } from "../../media-node/src/weriftIceLite.ts";

const lines = (...l: string[]) => `${l.join("\r\n")}\r\n`;

test("a=ice-lite moves from the media sections to the session level (RFC 8839 5.3)", () => {
  const werift = lines(
    "v=0",
    "o=- 1 0 IN IP4 0.0.0.0",
    "s=-",
    "t=0 0",
    "a=group:BUNDLE 0 1",
    "m=audio 9 UDP/TLS/RTP/SAVPF 111",
    "a=ice-lite",
    "a=mid:0",
    "m=video 9 UDP/TLS/RTP/SAVPF 96",
    "a=ice-lite",
    "a=mid:1",
  );
  assert.equal(
    sessionLevelIceLite(werift),
    lines(
      "v=0",
      "o=- 1 0 IN IP4 0.0.0.0",
      "s=-",
      "t=0 0",
      "a=group:BUNDLE 0 1",
      "a=ice-lite",
      "m=audio 9 UDP/TLS/RTP/SAVPF 111",
      "a=mid:0",
      "m=video 9 UDP/TLS/RTP/SAVPF 96",
      "a=mid:1",
    ),
  );
  const plain = lines("v=0", "t=0 0", "m=audio 9 UDP/TLS/RTP/SAVPF 111", "a=mid:0");
  assert.equal(sessionLevelIceLite(plain), plain, "an SDP without ice-lite is left alone");
});

test("bundle-only m-lines with port 0 are accepted as bundled (RFC 8843 7.3.3)", () => {
  const offer = lines(
    "v=0",
    "t=0 0",
    "a=group:BUNDLE video0 audio1",
    "m=video 9 UDP/TLS/RTP/SAVPF 96",
    "a=mid:video0",
    "m=audio 0 UDP/TLS/RTP/SAVPF 111",
    "a=bundle-only",
    "a=mid:audio1",
    "m=audio 0 UDP/TLS/RTP/SAVPF 111",
    "a=mid:rejected",
  );
  const out = withBundleOnlyAccepted(offer);
  assert.match(out, /^m=audio 9 UDP\/TLS\/RTP\/SAVPF 111\r\na=bundle-only\r\na=mid:audio1$/m);
  assert.match(
    out,
    /^m=audio 0 UDP\/TLS\/RTP\/SAVPF 111\r\na=mid:rejected$/m,
    "a rejected m-line stays rejected",
  );
  assert.equal(out.length, offer.length);
});
