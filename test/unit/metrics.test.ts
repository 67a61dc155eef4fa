import assert from "node:assert/strict";
import { test } from "node:test";
import { renderMetrics } from "../../media-node/src/metrics.ts";
import type { RouterStats } from "../../media-node/src/RouterTypes.ts";

const media = {
  rtpPacketsIn: 10,
  rtcpPacketsIn: 1,
  rtpPacketsOut: 30,
  rtcpPacketsOut: 2,
  bytesIn: 1000,
  bytesOut: 3000,
  droppedAuth: 4,
  droppedMalformed: 5,
  droppedUnknown: 6,
};

test("router stats render as Prometheus text with one HELP/TYPE per metric", () => {
  const stats: RouterStats = {
    id: 'la"b',
    publishers: [],
    publishTransports: [{ id: "pt", state: "connected", media, publishers: [] }],
    subscribeTransports: [{ id: "st", state: "connected", media, subscribers: [], mLines: 0 }],
  };
  const text = renderMetrics([stats]);
  assert.match(text, /^# HELP weir_routers /m);
  assert.match(text, /^weir_routers 1$/m);
  assert.match(text, /^weir_rtp_packets_sent_total\{room="la_b"\} 60$/m);
  assert.match(text, /^weir_dropped_datagrams_total\{room="la_b",reason="malformed"\} 10$/m);
  assert.equal(text.match(/^# TYPE weir_dropped_datagrams_total counter$/gm)?.length, 1);
  assert.ok(text.endsWith("\n"));
});
