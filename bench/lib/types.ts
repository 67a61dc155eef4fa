// Shapes shared by the benchmark's processes (everything crosses the IPC channel as JSON).

export interface Sdp {
  type: "offer" | "answer";
  sdp: string;
}

export type Negotiate = (offer: Sdp) => Promise<Sdp>;

/** What the SFU process needs from an SFU under test. */
export interface SfuUnderTest {
  /** Takes the publisher's offer (audio + video), returns the answer; forwarding starts. */
  publish(offer: Sdp): Promise<Sdp>;
  /** Adds one subscriber receiving both tracks; `negotiate` carries each offer to it. */
  addSubscriber(id: number, negotiate: Negotiate): Promise<void>;
  /** Counters kept by the SFU itself (cheap to read; read only at window edges). */
  counters(): SfuCounters;
  /** What the SFU knows about one subscriber (for diagnosing one that gets no media). */
  describe(id: number): unknown;
  close(): Promise<void>;
}

export interface SfuCounters {
  /** RTP packets received from the publisher, per kind. */
  audioIn: number;
  videoIn: number;
  /** RTP packets the SFU sent to subscribers. */
  out: number;
}

export interface MemorySample {
  rss: number;
  heapUsed: number;
}

export interface SfuWindow {
  cpuUserUs: number;
  cpuSystemUs: number;
  elapsedMs: number;
  /** Event-loop delay beyond the 10 ms timer resolution. */
  eldP50Ms: number;
  eldP99Ms: number;
  eldMaxMs: number;
  countersStart: SfuCounters;
  countersEnd: SfuCounters;
}

export interface PeersWindow {
  cpuUs: number;
  elapsedMs: number;
  /** Distinct packets received by all subscribers. */
  received: number;
  /** Sequence gaps not filled by a late packet. */
  lost: number;
  /** Copies of packets already received (NACK retransmissions, mostly); not in `received`. */
  duplicates: number;
  perKind: Record<"audio" | "video", { received: number; lost: number; duplicates: number }>;
  /** Subscribers that received nothing on some kind during the window. */
  starved: number;
}

export interface PublisherWindow {
  cpuUs: number;
  elapsedMs: number;
  audioSent: number;
  videoSent: number;
  /** PLI/FIR the publisher received during the window. */
  keyframeRequests: number;
}

export interface SubscribersStatus {
  subscribers: number;
  /** Subscribers that have received both audio and video. */
  receivingBoth: number;
}
