// Unit tests of the browser client SDK's pure logic (SDP helpers, codec ordering, the
// negotiation queue, the emitter) and of the transports' state handling against a fake
// RTCPeerConnection. Runs in Node; no browser.
import assert from "node:assert/strict";
import { afterEach, beforeEach, describe, it } from "node:test";
import { WeirClientError } from "../../client/src/errors.ts";
import { deferred, NegotiationQueue } from "../../client/src/NegotiationQueue.ts";
import { PublishTransport } from "../../client/src/PublishTransport.ts";
import { roomChanges } from "../../client/src/roomChanges.ts";
import { SubscribeTransport } from "../../client/src/SubscribeTransport.ts";
import {
  buildSendEncodings,
  bundleTagMid,
  diffSubscriptions,
  type LiveEntry,
  parseMediaSections,
  preferCodec,
  publisherIdOf,
  remoteSends,
  sentTrackIds,
} from "../../client/src/sdp.ts";
import { TypedEmitter } from "../../client/src/TypedEmitter.ts";

const tick = (ms = 5) => new Promise((r) => setTimeout(r, ms));

function sdpOf(
  sections: { mid: string; kind?: string; dir: string; msid?: string; port?: number }[],
  sessionExtra = "",
): string {
  const lines = ["v=0", "o=- 1 2 IN IP4 127.0.0.1", "s=-", "t=0 0", "a=group:BUNDLE"];
  if (sessionExtra) lines.push(sessionExtra);
  for (const s of sections) {
    lines.push(`m=${s.kind ?? "video"} ${s.port ?? 9} UDP/TLS/RTP/SAVPF 96`, `a=mid:${s.mid}`);
    if (s.dir) lines.push(`a=${s.dir}`);
    if (s.msid) lines.push(`a=msid:${s.msid}`);
    lines.push("a=rtpmap:96 VP8/90000");
  }
  return lines.join("\r\n") + "\r\n";
}

describe("client sdp helpers", () => {
  it("reads mid, kind, port, direction, msid and rids per m-line", () => {
    const sdp = [
      "v=0",
      "o=- 1 2 IN IP4 127.0.0.1",
      "s=-",
      "t=0 0",
      "m=audio 9 UDP/TLS/RTP/SAVPF 111",
      "a=mid:0",
      "a=sendonly",
      "a=msid:stream-a track-a",
      "m=video 0 UDP/TLS/RTP/SAVPF 96",
      "a=mid:1",
      "a=inactive",
      "m=video 9 UDP/TLS/RTP/SAVPF 96",
      "a=mid:2",
      "a=sendonly",
      "a=msid:- track-v",
      "a=rid:q send",
      "a=rid:h send",
      "a=rid:f send",
      "a=simulcast:send q;h;f",
      "",
    ].join("\n");
    const s = parseMediaSections(sdp);
    assert.equal(s.length, 3);
    assert.deepEqual(
      s.map((x) => [x.index, x.mid, x.kind, x.port, x.direction]),
      [
        [0, "0", "audio", 9, "sendonly"],
        [1, "1", "video", 0, "inactive"],
        [2, "2", "video", 9, "sendonly"],
      ],
    );
    assert.deepEqual(s[0]!.msid, { streamId: "stream-a", trackId: "track-a" });
    assert.equal(s[1]!.msid, null);
    assert.deepEqual(s[2]!.rids, ["q", "h", "f"]);
    assert.deepEqual(sentTrackIds(sdp), ["track-a", "track-v"]);
  });

  it("uses the session-level direction when a section has none; defaults to sendrecv", () => {
    const sdp = sdpOf(
      [
        { mid: "0", dir: "" },
        { mid: "1", dir: "recvonly" },
      ],
      "a=sendonly",
    );
    assert.deepEqual(
      parseMediaSections(sdp).map((x) => x.direction),
      ["sendonly", "recvonly"],
    );
    assert.equal(parseMediaSections(sdpOf([{ mid: "0", dir: "" }]))[0]!.direction, "sendrecv");
  });

  it("port 0 rejects a section unless it is bundle-only", () => {
    const [rejected] = parseMediaSections(sdpOf([{ mid: "0", dir: "sendonly", port: 0 }]));
    assert.equal(remoteSends(rejected!), false);
    const [bundled] = parseMediaSections(
      sdpOf([{ mid: "0", dir: "sendonly", port: 0 }]).replace(
        "a=mid:0",
        "a=mid:0\r\na=bundle-only",
      ),
    );
    assert.equal(bundled!.bundleOnly, true);
    assert.equal(remoteSends(bundled!), true);
  });

  it("finds the BUNDLE tag mid", () => {
    assert.equal(bundleTagMid("v=0\r\na=group:BUNDLE 3 0 1\r\nm=audio 9 x 0\r\n"), "3");
    assert.equal(bundleTagMid("v=0\r\na=group:BUNDLE\r\n"), null);
    assert.equal(bundleTagMid("v=0\r\n"), null);
  });

  it("publisher id: msid track id, else stream id, never the '-' placeholder", () => {
    const id = (msid?: string) =>
      publisherIdOf(parseMediaSections(sdpOf([{ mid: "0", dir: "sendonly", msid }]))[0]!);
    assert.equal(id("pub-1 pub-1"), "pub-1");
    assert.equal(id("stream-x track-y"), "track-y");
    assert.equal(id("only-stream"), "only-stream");
    assert.equal(id("-"), null);
    assert.equal(id(undefined), null);
  });
});

describe("client diffSubscriptions", () => {
  const live = (...entries: [string, string][]) =>
    new Map<string, LiveEntry>(entries.map(([mid, publisherId]) => [mid, { mid, publisherId }]));

  it("starts new sendonly m-lines, ends inactive and stopped ones, reports m-line reuse", () => {
    const first = parseMediaSections(
      sdpOf([
        { mid: "0", dir: "sendonly", msid: "A A" },
        { mid: "1", dir: "sendonly", msid: "B B" },
      ]),
    );
    let d = diffSubscriptions(new Map(), first);
    assert.deepEqual(
      d.started.map((e) => e.publisherId),
      ["A", "B"],
    );
    assert.deepEqual(d.ended, []);

    // B released (inactive), A unchanged, C on a new m-line.
    const second = parseMediaSections(
      sdpOf([
        { mid: "0", dir: "sendonly", msid: "A A" },
        { mid: "1", dir: "inactive" },
        { mid: "2", dir: "sendonly", msid: "C C" },
      ]),
    );
    d = diffSubscriptions(d.live, second);
    assert.deepEqual(d.ended, [{ mid: "1", publisherId: "B" }]);
    assert.deepEqual(d.started, [{ mid: "2", publisherId: "C" }]);

    // mid 1 reused for D; A's m-line rejected with port 0.
    const third = parseMediaSections(
      sdpOf([
        { mid: "0", dir: "sendonly", msid: "A A", port: 0 },
        { mid: "1", dir: "sendonly", msid: "D D" },
        { mid: "2", dir: "sendonly", msid: "C C" },
      ]),
    );
    d = diffSubscriptions(d.live, third);
    assert.deepEqual(d.ended, [{ mid: "0", publisherId: "A" }]);
    assert.deepEqual(d.started, [{ mid: "1", publisherId: "D" }]);
    assert.deepEqual([...d.live.keys()], ["1", "2"]);
  });

  it("a m-line switched straight to another publisher ends the old and starts the new", () => {
    const sections = parseMediaSections(sdpOf([{ mid: "0", dir: "sendonly", msid: "Y Y" }]));
    const d = diffSubscriptions(live(["0", "X"]), sections);
    assert.deepEqual(d.ended, [{ mid: "0", publisherId: "X" }]);
    assert.deepEqual(d.started, [{ mid: "0", publisherId: "Y" }]);
  });

  it("honours stopped transceivers and falls back to the stream id, then the mid", () => {
    const sections = parseMediaSections(
      sdpOf([
        { mid: "0", dir: "sendonly", msid: "A A" },
        { mid: "1", dir: "sendonly" },
        { mid: "2", dir: "sendrecv" },
      ]),
    );
    const d = diffSubscriptions(live(["0", "A"]), sections, new Set(["0"]), (mid) =>
      mid === "1" ? "from-stream" : null,
    );
    assert.deepEqual(d.ended, [{ mid: "0", publisherId: "A" }]);
    assert.deepEqual(d.started, [
      { mid: "1", publisherId: "from-stream" },
      { mid: "2", publisherId: "2" },
    ]);
  });
});

describe("client codecs and encodings", () => {
  const codecs = [
    { mimeType: "video/VP8", clockRate: 90000 },
    { mimeType: "video/rtx", clockRate: 90000, sdpFmtpLine: "apt=96" },
    { mimeType: "video/H264", clockRate: 90000, sdpFmtpLine: "profile-level-id=42001f" },
    { mimeType: "video/VP9", clockRate: 90000 },
    { mimeType: "video/H264", clockRate: 90000, sdpFmtpLine: "profile-level-id=42e01f" },
  ];

  it("moves every profile of the preferred codec first, keeping the rest in order", () => {
    const ordered = preferCodec(codecs, "video/h264")!;
    assert.deepEqual(
      ordered.map((c) => `${c.mimeType} ${c.sdpFmtpLine ?? ""}`.trim()),
      [
        "video/H264 profile-level-id=42001f",
        "video/H264 profile-level-id=42e01f",
        "video/VP8",
        "video/rtx apt=96",
        "video/VP9",
      ],
    );
    assert.equal(preferCodec(codecs, "VP9")![0]!.mimeType, "video/VP9");
    assert.equal(preferCodec(codecs, "video/AV1"), null);
    assert.equal(preferCodec(codecs, "audio/VP8"), null);
  });

  it("builds simulcast q/h/f at 1/4, 1/2, 1 with the bitrate cap and SVC mode on each", () => {
    assert.deepEqual(
      buildSendEncodings("video", {
        simulcast: true,
        maxBitrate: 1_000_000,
        scalabilityMode: "L1T3",
      }),
      [
        {
          rid: "q",
          active: true,
          scaleResolutionDownBy: 4,
          maxBitrate: 1_000_000,
          scalabilityMode: "L1T3",
        },
        {
          rid: "h",
          active: true,
          scaleResolutionDownBy: 2,
          maxBitrate: 1_000_000,
          scalabilityMode: "L1T3",
        },
        {
          rid: "f",
          active: true,
          scaleResolutionDownBy: 1,
          maxBitrate: 1_000_000,
          scalabilityMode: "L1T3",
        },
      ],
    );
    assert.equal(buildSendEncodings("video", {}), undefined);
    assert.deepEqual(buildSendEncodings("video", { scalabilityMode: "L3T3" }), [
      { scalabilityMode: "L3T3" },
    ]);
    // Audio ignores simulcast and SVC.
    assert.equal(
      buildSendEncodings("audio", { simulcast: true, scalabilityMode: "L1T3" }),
      undefined,
    );
    assert.deepEqual(buildSendEncodings("audio", { simulcast: true, maxBitrate: 64000 }), [
      { maxBitrate: 64000 },
    ]);
  });
});

describe("client NegotiationQueue", () => {
  it("runs tasks one at a time in call order; a failure does not block the next", async () => {
    const q = new NegotiationQueue();
    const log: string[] = [];
    const task = (name: string, ms: number, fail = false) =>
      q.run(async () => {
        log.push(`start ${name}`);
        await tick(ms);
        log.push(`end ${name}`);
        if (fail) throw new Error(name);
        return name;
      });
    const results = await Promise.allSettled([task("a", 10), task("b", 1, true), task("c", 1)]);
    assert.deepEqual(log, ["start a", "end a", "start b", "end b", "start c", "end c"]);
    assert.deepEqual(
      results.map((r) => r.status),
      ["fulfilled", "rejected", "fulfilled"],
    );
    await q.idle();
    assert.equal(q.pending, 0);
  });

  it("a held slot blocks later tasks until the held promise settles", async () => {
    const q = new NegotiationQueue();
    const answer = deferred<void>();
    const first = await q.run((hold) => {
      hold(answer.promise);
      return "offer-1";
    });
    assert.equal(first, "offer-1");
    let secondRan = false;
    const second = q.run(() => {
      secondRan = true;
      return "offer-2";
    });
    await tick();
    assert.equal(secondRan, false);
    assert.equal(q.pending, 2);
    answer.reject(new Error("answer failed")); // settles either way
    assert.equal(await second, "offer-2");
  });

  it("close() rejects queued and later tasks with code 'closed'", async () => {
    const q = new NegotiationQueue();
    const gate = deferred<void>();
    void q.run((hold) => hold(gate.promise));
    const queued = q.run(() => "never");
    q.close();
    gate.resolve();
    await assert.rejects(
      queued,
      (e: unknown) => e instanceof WeirClientError && e.code === "closed",
    );
    await assert.rejects(
      q.run(() => 1),
      { code: "closed" },
    );
  });
});

describe("client TypedEmitter", () => {
  it("on/once/off/emit with typed arguments; a throwing listener does not stop the rest", async () => {
    const em = new TypedEmitter<{ ping: [n: number, s: string]; done: [] }>();
    const seen: string[] = [];
    const a = (n: number, s: string) => seen.push(`a${n}${s}`);
    em.on("ping", a);
    em.once("ping", (n) => seen.push(`once${n}`));
    const thrower = () => {
      throw new Error("listener bug");
    };
    em.on("ping", thrower);
    em.on("ping", (n) => seen.push(`c${n}`));
    const g = globalThis as { reportError?: (e: unknown) => void };
    const savedReport = g.reportError;
    const reported: unknown[] = [];
    g.reportError = (e) => reported.push(e);
    try {
      assert.equal(em.emit("ping", 1, "x"), true);
    } finally {
      g.reportError = savedReport;
    }
    em.off("ping", thrower);
    em.emit("ping", 2, "y");
    em.off("ping", a);
    em.emit("ping", 3, "z");
    assert.deepEqual(seen, ["a1x", "once1", "c1", "a2y", "c2", "c3"]);
    assert.equal((reported[0] as Error).message, "listener bug");
    assert.equal(em.emit("done"), false);
    assert.equal(em.listenerCount("ping"), 1);
    em.off("ping");
    assert.equal(em.listenerCount("ping"), 0);
  });
});

// ---------------------------------------------------------------------------------------
// A fake RTCPeerConnection, just enough to drive the transports' state handling.

class FakeTrack extends EventTarget {
  readyState: "live" | "ended" = "live";
  constructor(
    readonly id: string,
    readonly kind: string,
  ) {
    super();
  }
  stop() {
    this.readyState = "ended";
    this.dispatchEvent(new Event("ended"));
  }
}

interface FakeTransceiver {
  mid: string | null;
  direction: string;
  currentDirection: string | null;
  sender: { track: FakeTrack | null; replaceTrack(t: FakeTrack | null): Promise<void> };
  receiver: { track: FakeTrack };
  init?: { direction?: string; streams?: { id: string }[]; sendEncodings?: unknown[] };
  codecs?: unknown[];
  stop(): void;
  setCodecPreferences(c: unknown[]): void;
}

let lastPc: FakePeerConnection | undefined;
let trackSeq = 0;

class FakePeerConnection {
  signalingState = "stable";
  connectionState = "new";
  localDescription: { type: string; sdp: string } | null = null;
  remoteDescription: { type: string; sdp: string } | null = null;
  transceivers: FakeTransceiver[] = [];
  candidates: unknown[] = [];
  offers = 0;
  closed = false;
  onicecandidate: ((e: unknown) => void) | null = null;
  onconnectionstatechange: (() => void) | null = null;
  ontrack: ((e: unknown) => void) | null = null;
  #nextMid = 0;
  #pendingLocalMids: FakeTransceiver[] = [];

  constructor(readonly config: unknown) {
    lastPc = this;
  }

  #transceiver(mid: string | null, kind: string, direction: string): FakeTransceiver {
    const t: FakeTransceiver = {
      mid,
      direction,
      currentDirection: null,
      sender: {
        track: null,
        async replaceTrack(track) {
          t.sender.track = track;
        },
      },
      receiver: { track: new FakeTrack(`remote-${++trackSeq}`, kind) },
      stop() {
        t.direction = "stopped";
        t.sender.track = null;
      },
      setCodecPreferences(c) {
        t.codecs = c;
      },
    };
    return t;
  }

  addTransceiver(track: FakeTrack, init: FakeTransceiver["init"]) {
    const t = this.#transceiver(null, track.kind, init?.direction ?? "sendrecv");
    t.sender.track = track;
    t.init = init;
    this.transceivers.push(t);
    return t;
  }
  removeTrack() {}
  getTransceivers() {
    return this.transceivers;
  }

  async createOffer() {
    this.offers++;
    const lines = ["v=0", "o=- 1 2 IN IP4 0.0.0.0", "s=-", "t=0 0", "a=group:BUNDLE"];
    this.#pendingLocalMids = [];
    for (const t of this.transceivers) {
      if (t.mid === null) this.#pendingLocalMids.push(t);
      const mid = t.mid ?? String(this.#nextMid + this.#pendingLocalMids.length - 1);
      const stopped = t.direction === "stopped";
      lines.push(`m=${t.receiver.track.kind} ${stopped ? 0 : 9} UDP/TLS/RTP/SAVPF 96`);
      lines.push(`a=mid:${mid}`, `a=${stopped ? "inactive" : t.direction}`);
      if (t.sender.track)
        lines.push(`a=msid:${t.init?.streams?.[0]?.id ?? "-"} ${t.sender.track.id}`);
    }
    const bundled = parseMediaSections(lines.join("\n")).filter((x) => x.port !== 0);
    lines[4] = `a=group:BUNDLE ${bundled.map((x) => x.mid).join(" ")}`;
    return { type: "offer", sdp: lines.join("\r\n") + "\r\n" };
  }

  async createAnswer() {
    if (this.signalingState !== "have-remote-offer") throw new Error("InvalidStateError");
    const sections = parseMediaSections(this.remoteDescription!.sdp);
    const lines = ["v=0", "o=- 3 4 IN IP4 0.0.0.0", "s=-", "t=0 0"];
    for (const s of sections) {
      const recv = remoteSends(s) ? "recvonly" : "inactive";
      lines.push(`m=${s.kind} ${s.port} UDP/TLS/RTP/SAVPF 96`, `a=mid:${s.mid}`, `a=${recv}`);
    }
    return { type: "answer", sdp: lines.join("\r\n") + "\r\n" };
  }

  async setLocalDescription(desc: { type: string; sdp?: string }) {
    await tick(1);
    if (this.closed) throw new Error("closed");
    if (desc.type === "rollback") {
      this.signalingState = "stable";
      this.localDescription = null;
      return;
    }
    this.localDescription = { type: desc.type, sdp: desc.sdp ?? "" };
    if (desc.type === "offer") {
      this.signalingState = "have-local-offer";
      for (const t of this.#pendingLocalMids) t.mid = String(this.#nextMid++);
    } else {
      this.signalingState = "stable";
    }
  }

  async setRemoteDescription(desc: { type: string; sdp?: string }) {
    await tick(1);
    if (this.closed) throw new Error("closed");
    if (desc.type === "rollback") {
      this.signalingState = "stable";
      return;
    }
    if (desc.sdp?.includes("BROKEN")) throw new Error("OperationError: bad SDP");
    this.remoteDescription = { type: desc.type, sdp: desc.sdp ?? "" };
    if (desc.type === "answer") {
      if (this.signalingState !== "have-local-offer") throw new Error("InvalidStateError");
      this.signalingState = "stable";
      return;
    }
    this.signalingState = "have-remote-offer";
    for (const s of parseMediaSections(desc.sdp ?? "")) {
      let t = this.transceivers.find((x) => x.mid === s.mid);
      if (!t) {
        t = this.#transceiver(s.mid, s.kind, "recvonly");
        this.transceivers.push(t);
      }
      if (s.port === 0) {
        if (t.currentDirection !== "stopped") {
          t.currentDirection = "stopped";
          t.direction = "stopped";
          t.receiver.track.stop();
        }
        continue;
      }
      const wasReceiving = t.currentDirection === "recvonly";
      t.currentDirection = remoteSends(s) ? "recvonly" : "inactive";
      if (!wasReceiving && remoteSends(s)) {
        const streams = s.msid && s.msid.streamId !== "-" ? [{ id: s.msid.streamId }] : [];
        this.ontrack?.({ track: t.receiver.track, streams, transceiver: t });
      }
    }
  }

  async addIceCandidate(c?: unknown) {
    if (!this.remoteDescription) throw new Error("InvalidStateError: no remote description");
    this.candidates.push(c ?? null);
  }
  async getStats() {
    return new Map();
  }
  close() {
    this.closed = true;
    this.connectionState = "closed";
    this.signalingState = "closed";
  }
}

function installFakes() {
  const g = globalThis as Record<string, unknown>;
  const saved = { pc: g.RTCPeerConnection, sender: g.RTCRtpSender, receiver: g.RTCRtpReceiver };
  g.RTCPeerConnection = FakePeerConnection;
  const caps = {
    getCapabilities: (kind: string) =>
      kind === "video"
        ? {
            codecs: [
              { mimeType: "video/VP8", clockRate: 90000 },
              { mimeType: "video/H264", clockRate: 90000 },
            ],
          }
        : { codecs: [{ mimeType: "audio/opus", clockRate: 48000, channels: 2 }] },
  };
  g.RTCRtpSender = caps;
  g.RTCRtpReceiver = caps;
  return () => {
    g.RTCPeerConnection = saved.pc;
    g.RTCRtpSender = saved.sender;
    g.RTCRtpReceiver = saved.receiver;
  };
}

const asTrack = (t: FakeTrack) => t as unknown as MediaStreamTrack;
const answerFor = (offerSdp: string) => {
  const lines = ["v=0", "o=- 9 9 IN IP4 0.0.0.0", "s=-", "t=0 0"];
  for (const s of parseMediaSections(offerSdp)) {
    lines.push(`m=${s.kind} ${s.port} UDP/TLS/RTP/SAVPF 96`, `a=mid:${s.mid}`, "a=recvonly");
  }
  return { type: "answer" as const, sdp: lines.join("\r\n") + "\r\n" };
};

describe("client PublishTransport (fake RTCPeerConnection)", () => {
  let restore: () => void;
  beforeEach(() => {
    restore = installFakes();
  });
  afterEach(() => restore());

  it("publish adds a sendonly transceiver and returns an offer naming the track", async () => {
    const pub = new PublishTransport();
    const pc = lastPc!;
    assert.deepEqual(pc.config, { iceServers: [], bundlePolicy: "max-bundle" });
    const track = new FakeTrack("cam-1", "video");
    const { trackId, offer } = await pub.publish(asTrack(track), {
      simulcast: true,
      codec: "video/H264",
    });
    assert.equal(trackId, "cam-1");
    assert.equal(offer.type, "offer");
    assert.deepEqual(sentTrackIds(offer.sdp!), ["cam-1"]);
    const t = pc.transceivers[0]!;
    assert.equal(t.init?.direction, "sendonly");
    assert.deepEqual(
      (t.init!.sendEncodings as { rid: string }[]).map((e) => e.rid),
      ["q", "h", "f"],
    );
    assert.equal((t.codecs![0] as { mimeType: string }).mimeType, "video/H264");
    assert.deepEqual(pub.trackIds, ["cam-1"]);
    await pub.setAnswer(answerFor(offer.sdp!));
    assert.equal(pc.signalingState, "stable");
    await assert.rejects(pub.publish(asTrack(track)), { code: "invalid_argument" });
    await assert.rejects(
      pub.publish(asTrack(new FakeTrack("mic", "audio")), { codec: "audio/G722" }),
      { code: "codec_unsupported" },
    );
    pub.close();
  });

  it("concurrent publishes queue: the second offer waits for the first answer", async () => {
    const pub = new PublishTransport();
    const pc = lastPc!;
    const p1 = pub.publish(asTrack(new FakeTrack("a", "audio")));
    const p2 = pub.publish(asTrack(new FakeTrack("v", "video")));
    let p2done = false;
    void p2.then(() => {
      p2done = true;
    });
    const r1 = await p1;
    await tick(20);
    assert.equal(p2done, false);
    assert.equal(pc.offers, 1);
    await pub.setAnswer(answerFor(r1.offer.sdp!));
    const r2 = await p2;
    assert.equal(pc.offers, 2);
    assert.deepEqual(sentTrackIds(r2.offer.sdp!), ["a", "v"]);
    await pub.setAnswer(answerFor(r2.offer.sdp!));
    pub.close();
  });

  it("setAnswer with no offer pending is invalid_state; a bad answer rolls back and frees the queue", async () => {
    const pub = new PublishTransport();
    const pc = lastPc!;
    await assert.rejects(pub.setAnswer({ type: "answer", sdp: "v=0\r\n" }), {
      code: "invalid_state",
    });
    const r1 = await pub.publish(asTrack(new FakeTrack("a", "audio")));
    const next = pub.publish(asTrack(new FakeTrack("b", "audio")));
    await assert.rejects(pub.setAnswer({ type: "answer", sdp: "BROKEN" }), {
      code: "negotiation_failed",
    });
    const r2 = await next; // the queue moved on to the next offer
    assert.equal(pc.signalingState, "have-local-offer");
    assert.deepEqual(sentTrackIds(r2.offer.sdp!), ["a", "b"]);
    assert.notEqual(r1.offer.sdp, r2.offer.sdp);
    pub.close();
  });

  it("unpublish stops the m-line (parks the BUNDLE-tag one as inactive) and returns an offer", async () => {
    const pub = new PublishTransport();
    const first = new FakeTrack("a", "video");
    const second = new FakeTrack("b", "audio");
    await pub.setAnswer(answerFor((await pub.publish(asTrack(first))).offer.sdp!));
    const r2 = await pub.publish(asTrack(second));
    assert.equal(bundleTagMid(r2.offer.sdp!), "0");
    await pub.setAnswer(answerFor(r2.offer.sdp!));
    await assert.rejects(pub.unpublish("nope"), { code: "not_published" });

    // "a" is on mid 0, the BUNDLE tag: parked, not stopped.
    let offer = await pub.unpublish("a");
    let sections = parseMediaSections(offer.sdp!);
    assert.deepEqual(
      sections.map((x) => [x.mid, x.port, x.direction]),
      [
        ["0", 9, "inactive"],
        ["1", 9, "sendonly"],
      ],
    );
    assert.deepEqual(sentTrackIds(offer.sdp!), ["b"]);
    await pub.setAnswer(answerFor(offer.sdp!));

    offer = await pub.unpublish("b");
    sections = parseMediaSections(offer.sdp!);
    assert.equal(sections[1]!.port, 0);
    assert.deepEqual(pub.trackIds, []);
    assert.equal(first.readyState, "live"); // the app's tracks are left alone
    assert.equal(second.readyState, "live");
    await pub.setAnswer(answerFor(offer.sdp!));
    pub.close();
  });

  it("an unanswered offer times out, is rolled back and the next negotiation proceeds", async () => {
    const pub = new PublishTransport({ negotiationTimeoutMs: 20 });
    const pc = lastPc!;
    await pub.publish(asTrack(new FakeTrack("a", "audio")));
    const r2 = await pub.publish(asTrack(new FakeTrack("b", "audio")));
    assert.equal(pc.offers, 2);
    assert.deepEqual(sentTrackIds(r2.offer.sdp!), ["a", "b"]);
    pub.close();
  });

  it("buffers remote candidates until the first answer; restartIce queues too", async () => {
    const pub = new PublishTransport();
    const pc = lastPc!;
    const r1 = await pub.publish(asTrack(new FakeTrack("a", "audio")));
    await pub.addIceCandidate({
      candidate: "candidate:1 1 udp 1 127.0.0.1 5000 typ host",
      sdpMid: "0",
    });
    await pub.addIceCandidate(null);
    assert.equal(pc.candidates.length, 0);
    const restart = pub.restartIce();
    await pub.setAnswer(answerFor(r1.offer.sdp!));
    assert.equal(pc.candidates.length, 2);
    assert.equal(pc.candidates[1], null);
    const offer = await restart;
    assert.equal(offer.type, "offer");
    pub.close();
  });

  it("close() emits closed, rejects queued work and later calls with 'closed'", async () => {
    const pub = new PublishTransport();
    const events: string[] = [];
    pub.on("connectionstatechange", (s) => events.push(s));
    pub.on("closed", () => events.push("closed"));
    await pub.publish(asTrack(new FakeTrack("a", "audio")));
    const queued = pub.publish(asTrack(new FakeTrack("b", "audio")));
    pub.close();
    pub.close();
    await assert.rejects(queued, { code: "closed" });
    await assert.rejects(pub.publish(asTrack(new FakeTrack("c", "audio"))), { code: "closed" });
    assert.deepEqual(events, ["closed", "closed"]);
    assert.equal(pub.connectionState, "closed");
    await pub.addIceCandidate(null); // ignored once closed
  });

  it("forwards local ICE candidates as init objects, null at the end", () => {
    const pub = new PublishTransport();
    const got: unknown[] = [];
    pub.on("icecandidate", (c) => got.push(c));
    const init = { candidate: "candidate:x", sdpMid: "0", sdpMLineIndex: 0 };
    lastPc!.onicecandidate!({ candidate: { toJSON: () => init } });
    lastPc!.onicecandidate!({ candidate: null });
    assert.deepEqual(got, [init, null]);
    pub.close();
  });
});

describe("client SubscribeTransport (fake RTCPeerConnection)", () => {
  let restore: () => void;
  beforeEach(() => {
    restore = installFakes();
  });
  afterEach(() => restore());

  it("emits track/trackended from the offers' msid and directions, reusing m-lines", async () => {
    const sub = new SubscribeTransport();
    const events: string[] = [];
    sub.on("track", (e) => events.push(`track ${e.mid} ${e.publisherId} ${e.streams[0]?.id}`));
    sub.on("trackended", (e) => events.push(`ended ${e.mid} ${e.publisherId}`));

    const answer = await sub.setOffer({
      type: "offer",
      sdp: sdpOf([
        { mid: "0", kind: "audio", dir: "sendonly", msid: "P1 P1" },
        { mid: "1", dir: "sendonly", msid: "P2 P2" },
      ]),
    });
    assert.equal(answer.type, "answer");
    assert.deepEqual(
      parseMediaSections(answer.sdp!).map((s) => s.direction),
      ["recvonly", "recvonly"],
    );
    assert.deepEqual(events.splice(0), ["track 0 P1 P1", "track 1 P2 P2"]);
    assert.deepEqual([...sub.getTracks().keys()], ["P1", "P2"]);

    // P2 released; then its m-line reused for P3; then P1's m-line stopped.
    await sub.setOffer({
      type: "offer",
      sdp: sdpOf([
        { mid: "0", kind: "audio", dir: "sendonly", msid: "P1 P1" },
        { mid: "1", dir: "inactive" },
      ]),
    });
    assert.deepEqual(events.splice(0), ["ended 1 P2"]);
    await sub.setOffer({
      type: "offer",
      sdp: sdpOf([
        { mid: "0", kind: "audio", dir: "sendonly", msid: "P1 P1" },
        { mid: "1", dir: "sendonly", msid: "P3 P3" },
      ]),
    });
    assert.deepEqual(events.splice(0), ["track 1 P3 P3"]);
    await sub.setOffer({
      type: "offer",
      sdp: sdpOf([
        { mid: "0", kind: "audio", dir: "sendonly", msid: "P1 P1", port: 0 },
        { mid: "1", dir: "sendonly", msid: "P3 P3" },
      ]),
    });
    assert.deepEqual(events.splice(0), ["ended 0 P1"]);
    assert.deepEqual([...sub.getTracks().keys()], ["P3"]);
    assert.equal(sub.getSubscriptions()[0]!.mid, "1");

    sub.on("closed", () => events.push("closed"));
    sub.close();
    assert.deepEqual(events, ["ended 1 P3", "closed"]);
    assert.equal(sub.getTracks().size, 0);
  });

  it("a remote track ending emits trackended once", async () => {
    const sub = new SubscribeTransport();
    const ended: string[] = [];
    sub.on("trackended", (e) => ended.push(e.publisherId));
    await sub.setOffer({ type: "offer", sdp: sdpOf([{ mid: "0", dir: "sendonly", msid: "P P" }]) });
    const track = sub.getTracks().get("P") as unknown as FakeTrack;
    track.stop();
    track.stop();
    assert.deepEqual(ended, ["P"]);
    await sub.setOffer({ type: "offer", sdp: sdpOf([{ mid: "0", dir: "inactive" }]) });
    assert.deepEqual(ended, ["P"]);
    sub.close();
  });

  it("queues offers, buffers early candidates, and survives a bad offer", async () => {
    const sub = new SubscribeTransport();
    const pc = lastPc!;
    await sub.addIceCandidate({
      candidate: "candidate:1 1 udp 1 127.0.0.1 5000 typ host",
      sdpMid: "0",
    });
    const order: string[] = [];
    const a = sub
      .setOffer({ type: "offer", sdp: sdpOf([{ mid: "0", dir: "sendonly", msid: "A A" }]) })
      .then(() => order.push("a"));
    const bad = sub.setOffer({ type: "offer", sdp: "BROKEN" });
    const c = sub
      .setOffer({
        type: "offer",
        sdp: sdpOf([
          { mid: "0", dir: "sendonly", msid: "A A" },
          { mid: "1", dir: "sendonly", msid: "B B" },
        ]),
      })
      .then(() => order.push("c"));
    await assert.rejects(bad, { code: "negotiation_failed" });
    await Promise.all([a, c]);
    assert.deepEqual(order, ["a", "c"]);
    assert.equal(pc.candidates.length, 1);
    assert.deepEqual([...sub.getTracks().keys()], ["A", "B"]);
    await assert.rejects(sub.setOffer({ type: "answer", sdp: "" }), { code: "invalid_argument" });
    sub.close();
    await assert.rejects(sub.setOffer({ type: "offer", sdp: "" }), { code: "closed" });
  });
});

describe("client roomChanges (what a reconnect missed)", () => {
  const video = (id: string, muted?: boolean) => ({
    publisherId: id,
    kind: "video" as const,
    mimeType: "video/VP8",
    ...(muted ? { muted } : {}),
  });
  const chat = { dataPublisherId: "d1", label: "chat", ordered: true };

  it("a participant who published again under new ids: old ones unpublished, new published", () => {
    const c = roomChanges(
      [{ identity: "bob", tracks: [video("v1"), { ...video("a1"), kind: "audio" }] }],
      [{ identity: "bob", tracks: [video("v2", true)] }],
    );
    assert.deepEqual(c.unpublished, [
      { publisherId: "v1", identity: "bob" },
      { publisherId: "a1", identity: "bob" },
    ]);
    assert.deepEqual(c.published, [
      { identity: "bob", publisherId: "v2", kind: "video", mimeType: "video/VP8", muted: true },
    ]);
    assert.deepEqual([c.left, c.joined], [[], []]);
  });

  it("who left and who joined, with their tracks and data channels", () => {
    const c = roomChanges(
      [
        { identity: "bob", tracks: [video("v1")], data: [chat] },
        { identity: "carol", tracks: [video("v3")] },
      ],
      [
        { identity: "carol", tracks: [video("v3")] },
        { identity: "dave", tracks: [video("v4")], data: [{ ...chat, dataPublisherId: "d4" }] },
      ],
    );
    assert.deepEqual(c.left, ["bob"]);
    assert.deepEqual(c.joined, ["dave"]);
    assert.deepEqual(c.unpublished, [{ publisherId: "v1", identity: "bob" }]);
    assert.deepEqual(c.dataUnpublished, [{ dataPublisherId: "d1", identity: "bob" }]);
    assert.deepEqual(
      c.published.map((t) => t.publisherId),
      ["v4"],
    );
    assert.deepEqual(c.dataPublished, [{ ...chat, dataPublisherId: "d4", identity: "dave" }]);
  });

  it("nothing changed: nothing to emit", () => {
    const room = [{ identity: "bob", tracks: [video("v1")], data: [chat] }];
    const c = roomChanges(room, structuredClone(room));
    assert.deepEqual(Object.values(c).flat(), []);
  });
});
