// The client side of bench/forward.ts, in processes of their own: argv[2] = "publisher" (one
// werift publisher driven by the tests' synthetic VP8 + Opus MediaSource) or "subscribers"
// (N werift subscribers that count packets per track and detect loss from sequence gaps).
// Driven over the IPC channel by bench/forward.ts.
import type { RtcpPacket } from "werift";
import { MediaSource } from "../test/helpers/mediaSource.ts";
import { until, WeriftSubscriber, weriftPublisher } from "../test/helpers/weriftPeer.ts";
import { log } from "./lib/log.ts";
import { Rpc } from "./lib/rpc.ts";
import type { PeersWindow, PublisherWindow, Sdp, SubscribersStatus } from "./lib/types.ts";

type Kind = "audio" | "video";

const role = process.argv[2];
const rpc = new Rpc(process, role ?? "peers");
rpc.handle("ping", () => ({ pid: process.pid }));
process.on("disconnect", () => process.exit(0));
process.on("unhandledRejection", (err) => console.error(`${role} unhandled rejection:`, err));

if (role === "publisher") runPublisher();
else if (role === "subscribers") runSubscribers();
else {
  console.error(`forwardPeers: unknown role "${role}" (publisher | subscribers)`);
  process.exit(2);
}

function runPublisher(): void {
  let pub: Awaited<ReturnType<typeof weriftPublisher>> | null = null;
  let source: MediaSource | null = null;
  let keyframeRequests = 0;
  let window: {
    cpu: NodeJS.CpuUsage;
    t0: number;
    audio: number;
    video: number;
    keyframeRequests: number;
  } | null = null;

  rpc.handle("offer", async () => {
    pub = await weriftPublisher(["audio", "video"]);
    return pub.offer;
  });
  rpc.handle("setAnswer", async ({ answer }: { answer: Sdp }) => {
    if (!pub) throw new Error("no offer made");
    const p = pub;
    p.pc.connectionStateChange.subscribe((st) => {
      if (st === "failed" || st === "disconnected") log(`publisher: connection ${st}`);
    });
    await p.pc.setRemoteDescription(answer);
    await until(() => p.pc.connectionState === "connected", 15_000, "publisher connected");
    const [audioTrack, videoTrack] = p.tracks;
    // argv[3]: video bitrate in kbit/s (forward.ts --video-kbps)
    const kbps = Number(process.argv[3] ?? 1400);
    const s = new MediaSource(videoTrack, audioTrack, { videoBitrate: kbps * 1000 });
    source = s;
    const video = p.pc.getTransceivers().find((t) => t.kind === "video");
    video?.sender.onRtcp.subscribe((rtcp: RtcpPacket) => {
      if (rtcp.type === 206) {
        keyframeRequests++;
        s.keyframe();
      }
    });
    s.start();
  });
  rpc.handle("windowStart", () => {
    window = {
      cpu: process.cpuUsage(),
      t0: performance.now(),
      audio: source?.audioPackets ?? 0,
      video: source?.videoPackets ?? 0,
      keyframeRequests,
    };
  });
  rpc.handle("windowEnd", (): PublisherWindow => {
    if (!window || !source) throw new Error("no window started");
    const cpu = process.cpuUsage(window.cpu);
    return {
      cpuUs: cpu.user + cpu.system,
      elapsedMs: performance.now() - window.t0,
      audioSent: source.audioPackets - window.audio,
      videoSent: source.videoPackets - window.video,
      keyframeRequests: keyframeRequests - window.keyframeRequests,
    };
  });
  rpc.handle("close", async () => {
    source?.stop();
    await pub?.pc.close().catch(() => {});
    setTimeout(() => process.exit(0), 50);
  });
}

/** Received and lost packets of one track, from its sequence numbers. */
class SeqCounter {
  /** The sequence numbers of the last 1024 packets seen, by seq % 1024, to spot duplicates. */
  readonly #seen = new Int32Array(1024).fill(-1);
  last = -1;
  /** Distinct packets received. */
  received = 0;
  /** Sequence numbers skipped and not (yet) filled by a late packet. */
  lost = 0;
  /** Copies of packets already received (retransmissions answering a NACK, mostly). */
  duplicates = 0;

  push(seq: number): void {
    const slot = seq & 1023;
    if (this.#seen[slot] === seq) {
      this.duplicates++;
      return;
    }
    this.#seen[slot] = seq;
    this.received++;
    if (this.last < 0) {
      this.last = seq;
      return;
    }
    const d = (seq - this.last) & 0xffff;
    if (d < 0x8000) {
      this.lost += d - 1;
      this.last = seq;
    } else if (this.lost > 0) {
      this.lost--; // late (reordered or retransmitted): it was counted as lost
    }
  }
}

interface Count {
  received: number;
  lost: number;
  duplicates: number;
}

const count = (c: SeqCounter): Count => ({
  received: c.received,
  lost: c.lost,
  duplicates: c.duplicates,
});
const zero = (): Count => ({ received: 0, lost: 0, duplicates: 0 });

interface BenchSubscriber {
  peer: WeriftSubscriber;
  counters: Record<Kind, SeqCounter>;
}

function runSubscribers(): void {
  const subs = new Map<number, BenchSubscriber>();
  let window: {
    cpu: NodeJS.CpuUsage;
    t0: number;
    snap: Map<number, Record<Kind, Count>>;
  } | null = null;

  const snapshot = () => {
    const m = new Map<number, Record<Kind, Count>>();
    for (const [id, s] of subs) {
      m.set(id, {
        audio: count(s.counters.audio),
        video: count(s.counters.video),
      });
    }
    return m;
  };

  rpc.handle("answer", async ({ id, offer }: { id: number; offer: Sdp }) => {
    let s = subs.get(id);
    if (!s) {
      const peer = new WeriftSubscriber();
      peer.keep = false;
      const counters = { audio: new SeqCounter(), video: new SeqCounter() };
      peer.pc.onTrack.subscribe((track) => {
        const c = counters[track.kind as Kind];
        track.onReceiveRtp.subscribe((rtp) => c.push(rtp.header.sequenceNumber));
      });
      peer.pc.connectionStateChange.subscribe((st) => {
        if (st === "failed") log(`subscriber ${id}: connection failed`);
      });
      s = { peer, counters };
      subs.set(id, s);
    }
    if (offer.type !== "offer") throw new Error("expected an offer");
    // A werift client that gets a renegotiation offer while its first ICE/DTLS connect is still
    // under way can restart DTLS and never connect (seen under load at N = 100): let the first
    // connect settle, as Weir's own WebRtcPeer does on its side.
    const pc = s.peer.pc;
    if (pc.remoteDescription) {
      await until(
        () => pc.connectionState !== "new" && pc.connectionState !== "connecting",
        15_000,
        `subscriber ${id} connected before renegotiating`,
      ).catch(() => {});
    }
    return s.peer.answer(offer);
  });
  rpc.handle("status", (): SubscribersStatus => {
    let receivingBoth = 0;
    for (const s of subs.values()) {
      if (s.counters.audio.received > 0 && s.counters.video.received > 0) receivingBoth++;
    }
    return { subscribers: subs.size, receivingBoth };
  });
  rpc.handle("hungry", () => {
    const out: unknown[] = [];
    for (const [id, s] of subs) {
      if (s.counters.audio.received > 0 && s.counters.video.received > 0) continue;
      out.push({
        id,
        state: s.peer.pc.connectionState,
        ice: s.peer.pc.iceConnectionState,
        signaling: s.peer.pc.signalingState,
        tracks: s.peer.pc.getTransceivers().map((t) => `${t.mid}:${t.kind}:${t.currentDirection}`),
        audio: count(s.counters.audio),
        video: count(s.counters.video),
      });
    }
    return out;
  });
  rpc.handle("windowStart", () => {
    window = { cpu: process.cpuUsage(), t0: performance.now(), snap: snapshot() };
  });
  rpc.handle("windowEnd", (): PeersWindow => {
    if (!window) throw new Error("no window started");
    const cpu = process.cpuUsage(window.cpu);
    const elapsedMs = performance.now() - window.t0;
    const end = snapshot();
    const perKind = { audio: zero(), video: zero() };
    let starved = 0;
    for (const [id, e] of end) {
      const b = window.snap.get(id) ?? { audio: zero(), video: zero() };
      let hungry = false;
      for (const k of ["audio", "video"] as const) {
        const r = e[k].received - b[k].received;
        perKind[k].received += r;
        perKind[k].lost += e[k].lost - b[k].lost;
        perKind[k].duplicates += e[k].duplicates - b[k].duplicates;
        if (r === 0) hungry = true;
      }
      if (hungry) starved++;
    }
    return {
      cpuUs: cpu.user + cpu.system,
      elapsedMs,
      received: perKind.audio.received + perKind.video.received,
      lost: perKind.audio.lost + perKind.video.lost,
      duplicates: perKind.audio.duplicates + perKind.video.duplicates,
      perKind,
      starved,
    };
  });
  rpc.handle("close", async () => {
    await Promise.all([...subs.values()].map((s) => s.peer.pc.close().catch(() => {})));
    setTimeout(() => process.exit(0), 50);
  });
}
