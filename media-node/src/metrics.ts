import type { TcpMuxStats } from "./ice/TcpMux.ts";
import type { UdpMuxStats } from "./ice/UdpMuxTypes.ts";
import { livenessStats } from "./PeerLiveness.ts";
import type { ProcessStats } from "./processMetrics.ts";
import type { RouterStats } from "./RouterTypes.ts";
import type { RelayServerStats } from "./relay/RelayServerTypes.ts";
import { socketStats } from "./weriftSockets.ts";

/** One Prometheus sample: name, labels, value. */
type Sample = [string, Record<string, string>, number];

const HELP: Record<string, [type: "gauge" | "counter", help: string]> = {
  weir_routers: ["gauge", "Rooms hosted by this process."],
  weir_publishers: ["gauge", "Published tracks."],
  weir_subscribers: ["gauge", "Forwarded copies of tracks."],
  weir_transports: ["gauge", "Publish and subscribe transports."],
  weir_rtp_packets_received_total: ["counter", "RTP packets received from publishers."],
  weir_rtp_packets_sent_total: ["counter", "RTP packets sent to subscribers."],
  weir_bytes_received_total: ["counter", "Media bytes received."],
  weir_bytes_sent_total: ["counter", "Media bytes sent."],
  weir_packets_lost_total: ["counter", "Packets missing in publishers' sequences."],
  weir_nacks_sent_total: ["counter", "NACKs sent to publishers."],
  weir_retransmissions_total: ["counter", "Packets retransmitted to subscribers from the cache."],
  weir_keyframe_requests_total: ["counter", "PLI/FIR sent to publishers."],
  weir_dropped_datagrams_total: ["counter", "Datagrams dropped by reason."],
  weir_ice_candidates_ignored_total: [
    "counter",
    "Remote ICE candidates ignored (mDNS .local names: never resolved).",
  ],
  weir_transports_expired_total: [
    "counter",
    "Transports closed because they never connected (30 s) or their client went silent (30 s, no consent checks or packets).",
  ],
  weir_socket_failures_total: [
    "counter",
    "ICE UDP sockets that failed: to open (EMFILE, EADDRINUSE: the session got an error) or once bound (its transport failed).",
  ],
  weir_udp_mux_sessions: ["gauge", "ICE sessions on the node's one UDP port."],
  weir_udp_mux_tuples: ["gauge", "Client address:port tuples routed on the one UDP port."],
  weir_udp_mux_dropped_datagrams_total: [
    "counter",
    "Datagrams dropped at the one UDP port by reason (unknown source, STUN for no session or failing integrity, unclassified).",
  ],
  weir_udp_mux_tuples_evicted_total: [
    "counter",
    "Tuples let go because a session reached its bound on remote addresses.",
  ],
  weir_tcp_mux_connections: ["gauge", "ICE-TCP connections open on the node's one TCP port."],
  weir_tcp_mux_rejected_total: [
    "counter",
    "ICE-TCP connections closed because their first packet was no authentic Binding request (or came late).",
  ],
  weir_tcp_mux_dropped_packets_total: [
    "counter",
    "Packets dropped because an ICE-TCP connection's write queue was full (a client not reading).",
  ],
  weir_sessions: ["gauge", "Client sessions (WebSocket, WHIP, WHEP) on this node."],
  process_resident_memory_bytes: ["gauge", "Resident memory of the process."],
  nodejs_heap_size_used_bytes: ["gauge", "V8 heap in use."],
  process_open_fds: ["gauge", "Open file descriptors, sockets included."],
  nodejs_active_timers: ["gauge", "Pending timers and immediates."],
  nodejs_active_handles: ["gauge", "Other active libuv resources (sockets, servers, files)."],
  weir_relays: ["gauge", "Open relays to (origin) and from (downstream) other media nodes."],
  weir_relay_packets_received_total: ["counter", "Datagrams received at the relay port."],
  weir_relay_packets_sent_total: ["counter", "Datagrams sent from the relay port."],
  weir_relay_dropped_datagrams_total: ["counter", "Relay port datagrams dropped by reason."],
};

/** What renderMetrics shows: the routers, and the node's ports and process when given. */
export interface MetricsInput {
  routers: readonly RouterStats[];
  relay?: RelayServerStats | null;
  udpMux?: UdpMuxStats | null;
  tcpMux?: TcpMuxStats | null;
  sessions?: number;
  process?: ProcessStats;
}

/** Renders the node's statistics in the Prometheus text exposition format (version 0.0.4). */
export function renderMetrics({
  routers,
  relay,
  udpMux,
  tcpMux,
  sessions,
  process,
}: MetricsInput): string {
  const samples: Sample[] = [["weir_routers", {}, routers.length]];
  if (sessions !== undefined) samples.push(["weir_sessions", {}, sessions]);
  if (process) samples.push(...processSamples(process));
  for (const r of routers) samples.push(...routerSamples(r));
  samples.push(
    ["weir_socket_failures_total", { phase: "open" }, socketStats.openFailures],
    ["weir_socket_failures_total", { phase: "bound" }, socketStats.socketErrors],
    ["weir_transports_expired_total", { reason: "never_connected" }, livenessStats.never_connected],
    ["weir_transports_expired_total", { reason: "consent_expired" }, livenessStats.consent_expired],
  );
  if (relay) samples.push(...relaySamples(relay));
  if (udpMux) samples.push(...udpMuxSamples(udpMux));
  if (tcpMux) {
    samples.push(
      ["weir_tcp_mux_connections", {}, tcpMux.connections],
      ["weir_tcp_mux_rejected_total", {}, tcpMux.rejected],
      ["weir_tcp_mux_dropped_packets_total", {}, tcpMux.droppedQueueFull],
    );
  }
  const byName = new Map<string, Sample[]>();
  for (const s of samples) byName.set(s[0], [...(byName.get(s[0]) ?? []), s]);
  const lines: string[] = [];
  for (const [name, list] of byName) {
    const [type, help] = HELP[name];
    lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
    for (const [, labels, value] of list) lines.push(`${name}${formatLabels(labels)} ${value}`);
  }
  return `${lines.join("\n")}\n`;
}

function processSamples(p: ProcessStats): Sample[] {
  const out: Sample[] = [
    ["process_resident_memory_bytes", {}, p.residentBytes],
    ["nodejs_heap_size_used_bytes", {}, p.heapUsedBytes],
    ["nodejs_active_timers", {}, p.timers],
    ["nodejs_active_handles", {}, p.handles],
  ];
  if (p.openFds !== null) out.push(["process_open_fds", {}, p.openFds]);
  return out;
}

function routerSamples(r: RouterStats): Sample[] {
  const room = { room: r.id };
  const subs = r.subscribeTransports.flatMap((t) => t.subscribers);
  const transports = [...r.publishTransports, ...r.subscribeTransports];
  const sum = <T>(xs: T[], f: (x: T) => number) => xs.reduce((a, x) => a + f(x), 0);
  const media = (f: (m: (typeof transports)[number]["media"]) => number) =>
    sum(transports, (t) => f(t.media));
  return [
    ["weir_publishers", room, r.publishers.length],
    ["weir_subscribers", room, subs.length],
    ["weir_transports", room, transports.length],
    ["weir_rtp_packets_received_total", room, media((m) => m.rtpPacketsIn)],
    ["weir_rtp_packets_sent_total", room, media((m) => m.rtpPacketsOut)],
    ["weir_bytes_received_total", room, media((m) => m.bytesIn)],
    ["weir_bytes_sent_total", room, media((m) => m.bytesOut)],
    ["weir_packets_lost_total", room, sum(r.publishers, (p) => p.packetsLost)],
    ["weir_nacks_sent_total", room, sum(r.publishers, (p) => p.nacksSent)],
    ["weir_retransmissions_total", room, sum(subs, (s) => s.packetsRetransmitted)],
    ["weir_keyframe_requests_total", room, sum(r.publishers, (p) => p.keyframesRequested)],
    ["weir_dropped_datagrams_total", { ...room, reason: "auth" }, media((m) => m.droppedAuth)],
    [
      "weir_dropped_datagrams_total",
      { ...room, reason: "malformed" },
      media((m) => m.droppedMalformed),
    ],
    [
      "weir_dropped_datagrams_total",
      { ...room, reason: "unknown" },
      media((m) => m.droppedUnknown),
    ],
    ["weir_ice_candidates_ignored_total", room, media((m) => m.candidatesIgnored)],
  ];
}

function relaySamples(r: RelayServerStats): Sample[] {
  const roles = (role: string) => r.transports.filter((t) => t.role === role).length;
  const dropped = (reason: string, n: number): Sample => [
    "weir_relay_dropped_datagrams_total",
    { reason },
    n,
  ];
  return [
    ["weir_relays", { role: "origin" }, roles("origin")],
    ["weir_relays", { role: "downstream" }, roles("downstream")],
    ["weir_relay_packets_received_total", {}, r.packetsIn],
    ["weir_relay_packets_sent_total", {}, r.packetsOut],
    dropped("malformed", r.droppedMalformed),
    dropped("unknown_ssrc", r.droppedUnknownSsrc),
    dropped("unknown_source", r.droppedUnknownSource),
    dropped("auth", r.droppedAuth),
  ];
}

function udpMuxSamples(m: UdpMuxStats): Sample[] {
  const dropped = (reason: string, n: number): Sample => [
    "weir_udp_mux_dropped_datagrams_total",
    { reason },
    n,
  ];
  return [
    ["weir_udp_mux_sessions", {}, m.sessions],
    ["weir_udp_mux_tuples", {}, m.tuples],
    dropped("unknown_source", m.droppedUnknownSource),
    dropped("stun", m.droppedStun),
    dropped("unclassified", m.droppedUnclassified),
    ["weir_udp_mux_tuples_evicted_total", {}, m.tuplesEvicted],
  ];
}

function formatLabels(labels: Record<string, string>): string {
  const parts = Object.entries(labels).map(([k, v]) => `${k}="${v.replace(/["\\\n]/g, "_")}"`);
  return parts.length > 0 ? `{${parts.join(",")}}` : "";
}
