/**
 * How a peer connection's media flows, read from `getStats()`: the selected ICE candidate pair,
 * its local candidate's type and protocol (and, for a TURN relay, how the client reaches the TURN
 * server), and the pair's round-trip time.
 */

/** "udp" / "tcp": straight to the media node (ICE over UDP, or ICE-TCP); "relay": via TURN. */
export type MediaTransport = "udp" | "tcp" | "relay";
/** How the client reaches its TURN server: UDP, TCP, or TLS over TCP (`turns:`). */
export type RelayProtocol = "udp" | "tcp" | "tls";

export interface MediaPath {
  transport: MediaTransport;
  /** Set when `transport` is "relay". */
  relayProtocol: RelayProtocol | null;
  /** The local candidate's type: host, srflx, prflx or relay. */
  localCandidateType: string;
  /** The local candidate's address (for a relay: the TURN server's relayed address). */
  localAddress: string | null;
  /** The media node's address and port of the pair. */
  remoteAddress: string | null;
  remotePort: number | null;
  /** The pair's latest round-trip time in ms (from STUN consent checks), null before one. */
  rttMs: number | null;
}

type Stat = Record<string, unknown> & { id: string; type: string };

/** The selected pair: the transport's `selectedCandidatePairId`, else a pair marked selected. */
function selectedPair(report: RTCStatsReport): Stat | null {
  const stats = [...(report as Map<string, Stat>).values()];
  for (const s of stats) {
    if (s.type !== "transport" || typeof s.selectedCandidatePairId !== "string") continue;
    const pair = (report as Map<string, Stat>).get(s.selectedCandidatePairId);
    if (pair) return pair;
  }
  // Firefox marks the pair instead of naming it on the transport.
  return stats.find((s) => s.type === "candidate-pair" && s.selected === true) ?? null;
}

const str = (v: unknown): string | null => (typeof v === "string" && v !== "" ? v : null);

/** The media path of a stats report, or null while no pair is selected. */
export function mediaPathOf(report: RTCStatsReport): MediaPath | null {
  const pair = selectedPair(report);
  if (!pair) return null;
  const map = report as Map<string, Stat>;
  const local = map.get(String(pair.localCandidateId));
  const remote = map.get(String(pair.remoteCandidateId));
  if (!local) return null;
  const type = str(local.candidateType) ?? "host";
  const relayed = type === "relay";
  const relayProtocol = str(local.relayProtocol);
  const rtt = pair.currentRoundTripTime;
  return {
    transport: relayed ? "relay" : str(local.protocol) === "tcp" ? "tcp" : "udp",
    relayProtocol: relayed
      ? relayProtocol === "tcp" || relayProtocol === "tls"
        ? relayProtocol
        : "udp"
      : null,
    localCandidateType: type,
    localAddress: str(local.address) ?? str(local.ip),
    remoteAddress: remote ? (str(remote.address) ?? str(remote.ip)) : null,
    remotePort: remote && typeof remote.port === "number" ? remote.port : null,
    rttMs: typeof rtt === "number" ? Math.round(rtt * 1000 * 10) / 10 : null,
  };
}

/** Same pair (transport, relay protocol, addresses): RTT alone does not make a change. */
export function samePath(a: MediaPath | null, b: MediaPath | null): boolean {
  if (a === null || b === null) return a === b;
  return (
    a.transport === b.transport &&
    a.relayProtocol === b.relayProtocol &&
    a.localCandidateType === b.localCandidateType &&
    a.localAddress === b.localAddress &&
    a.remoteAddress === b.remoteAddress &&
    a.remotePort === b.remotePort
  );
}
