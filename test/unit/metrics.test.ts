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
  candidatesIgnored: 7,
};

test("router stats render as Prometheus text with one HELP/TYPE per metric", () => {
  const stats: RouterStats = {
    id: 'la"b',
    publishers: [],
    publishTransports: [{ id: "pt", state: "connected", media, publishers: [] }],
    subscribeTransports: [{ id: "st", state: "connected", media, subscribers: [], mLines: 0 }],
  };
  const text = renderMetrics({ routers: [stats] });
  assert.match(text, /^# HELP weir_routers /m);
  assert.match(text, /^weir_routers 1$/m);
  assert.match(text, /^weir_rtp_packets_sent_total\{room="la_b"\} 60$/m);
  assert.match(text, /^weir_dropped_datagrams_total\{room="la_b",reason="malformed"\} 10$/m);
  assert.equal(text.match(/^# TYPE weir_dropped_datagrams_total counter$/gm)?.length, 1);
  assert.match(text, /^weir_socket_failures_total\{phase="open"\} 0$/m);
  assert.match(text, /^weir_ice_candidates_ignored_total\{room="la_b"\} 14$/m);
  assert.ok(text.endsWith("\n"));
});

test("relay port stats render as relays by role, datagrams in/out and drops by reason", () => {
  const transport = (id: string, role: "origin" | "downstream") => ({
    id,
    role,
    publisherId: "p",
    remote: null,
    ...media,
    droppedByTest: 0,
  });
  const relay = {
    address: { ip: "127.0.0.1", port: 50000 },
    relays: 3,
    packetsIn: 100,
    packetsOut: 200,
    droppedMalformed: 1,
    droppedUnknownSsrc: 2,
    droppedUnknownSource: 3,
    droppedAuth: 4,
    transports: [transport("a", "origin"), transport("b", "origin"), transport("c", "downstream")],
  };
  const text = renderMetrics({ routers: [], relay });
  assert.match(text, /^# TYPE weir_relays gauge$/m);
  assert.match(text, /^weir_relays\{role="origin"\} 2$/m);
  assert.match(text, /^weir_relays\{role="downstream"\} 1$/m);
  assert.match(text, /^weir_relay_packets_received_total 100$/m);
  assert.match(text, /^weir_relay_packets_sent_total 200$/m);
  const drops = [
    ...text.matchAll(/^weir_relay_dropped_datagrams_total\{reason="(\w+)"\} (\d+)$/gm),
  ];
  assert.deepEqual(
    drops.map((m) => `${m[1]}=${m[2]}`),
    ["malformed=1", "unknown_ssrc=2", "unknown_source=3", "auth=4"],
  );
  assert.equal(text.match(/^# TYPE weir_relay_dropped_datagrams_total counter$/gm)?.length, 1);
  assert.doesNotMatch(
    renderMetrics({ routers: [] }),
    /weir_relay/,
    "no relay port, no relay metrics",
  );
});

test("process and session gauges: what a soak watches for growth", () => {
  const text = renderMetrics({
    routers: [],
    sessions: 7,
    process: { residentBytes: 100, heapUsedBytes: 50, openFds: 12, timers: 3, handles: 4 },
  });
  for (const line of [
    "weir_sessions 7",
    "process_resident_memory_bytes 100",
    "nodejs_heap_size_used_bytes 50",
    "process_open_fds 12",
    "nodejs_active_timers 3",
    "nodejs_active_handles 4",
  ])
    assert.match(text, new RegExp(`^${line}$`, "m"));
  assert.match(text, /^# TYPE process_open_fds gauge$/m);
});
