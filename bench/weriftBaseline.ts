// The baseline: werift's plain forwarding, as a werift user writes an SFU. One RTCPeerConnection
// receives the publisher's tracks; each subscriber gets its own RTCPeerConnection with a sendonly
// transceiver per kind, and every received RTP packet is handed to every subscriber's sender
// (`sender.sendRtp(rtp)`), so werift does the per-subscriber rewrite, SRTP and send.
//
// The only departures from the most naive code are the ones FIELD-NOTES.md calls required for
// correctness: loopback ICE config with no STUN, explicit codecs and header extensions, the
// publisher's header extensions stripped once per packet (werift's sender copies them by
// numeric id over its own), and keyframe requests relayed to the publisher (a subscriber's
// PLI/FIR, and one when a subscriber connects, since sendRtp drops packets before DTLS is up).
import {
  type MediaStreamTrack,
  RTCPeerConnection,
  RTCRtpCodecParameters,
  RTCRtpHeaderExtensionParameters,
  type RTCRtpSender,
  type RTCRtpTransceiver,
} from "werift";
import { noStun, waitGathered } from "../test/helpers/weriftPeer.ts";
import { log } from "./lib/log.ts";
import type { Negotiate, Sdp, SfuCounters, SfuUnderTest } from "./lib/types.ts";

type Kind = "audio" | "video";

const CODECS = {
  audio: [
    new RTCRtpCodecParameters({
      mimeType: "audio/opus",
      clockRate: 48000,
      channels: 2,
      payloadType: 111,
    }),
  ],
  video: [
    new RTCRtpCodecParameters({
      mimeType: "video/VP8",
      clockRate: 90000,
      payloadType: 96,
      rtcpFeedback: [{ type: "nack" }, { type: "nack", parameter: "pli" }, { type: "goog-remb" }],
    }),
  ],
};

const MID = "urn:ietf:params:rtp-hdrext:sdes:mid";
const EXTENSIONS = {
  audio: [new RTCRtpHeaderExtensionParameters({ id: 1, uri: MID })],
  video: [new RTCRtpHeaderExtensionParameters({ id: 1, uri: MID })],
};

function sfuPeer(): RTCPeerConnection {
  return new RTCPeerConnection({
    iceServers: [],
    iceAdditionalHostAddresses: ["127.0.0.1"],
    iceUseIpv6: false,
    iceUseTcp: false,
    iceTcpPassive: false,
    bundlePolicy: "max-bundle",
    codecs: CODECS,
    headerExtensions: EXTENSIONS,
  });
}

/** Keeps only host candidates on loopback (werift also gathers the namespace's other addresses). */
function loopbackOnly(sdp: string): string {
  return sdp
    .split("\r\n")
    .filter((l) => !l.startsWith("a=candidate:") || l.split(" ")[4] === "127.0.0.1")
    .join("\r\n");
}

export class WeriftBaselineSfu implements SfuUnderTest {
  readonly #pcs: RTCPeerConnection[] = [];
  readonly #subscriberPcs = new Map<number, RTCPeerConnection>();
  readonly #senders: Record<Kind, RTCRtpSender[]> = { audio: [], video: [] };
  readonly #in: Record<Kind, number> = { audio: 0, video: 0 };
  #videoTrack: MediaStreamTrack | null = null;
  #videoReceiver: RTCRtpTransceiver | null = null;
  #lastPli = 0;

  async publish(offer: Sdp): Promise<Sdp> {
    const pc = sfuPeer();
    this.#pcs.push(pc);
    pc.connectionStateChange.subscribe((s) => {
      if (s === "failed" || s === "disconnected") log(`sfu(werift): upstream ${s}`);
    });
    pc.onTrack.subscribe((track) => {
      const kind = track.kind as Kind;
      const senders = this.#senders[kind];
      if (kind === "video") {
        this.#videoTrack = track;
        this.#videoReceiver = pc.getTransceivers().find((t) => t.kind === "video") ?? null;
      }
      track.onReceiveRtp.subscribe((rtp) => {
        this.#in[kind]++;
        rtp.header.extensions = [];
        for (const sender of senders) void sender.sendRtp(rtp);
      });
    });
    await pc.setRemoteDescription(offer);
    noStun(pc);
    await pc.setLocalDescription(await pc.createAnswer());
    await waitGathered(pc);
    return { type: "answer", sdp: loopbackOnly(pc.localDescription!.sdp) };
  }

  async addSubscriber(id: number, negotiate: Negotiate): Promise<void> {
    const pc = sfuPeer();
    this.#pcs.push(pc);
    this.#subscriberPcs.set(id, pc);
    const video = pc.addTransceiver("video", { direction: "sendonly" });
    const audio = pc.addTransceiver("audio", { direction: "sendonly" });
    video.sender.onRtcp.subscribe((rtcp) => {
      // PSFB (206): PLI or FIR from the subscriber.
      if (rtcp.type === 206) this.#requestKeyframe();
    });
    pc.connectionStateChange.subscribe((s) => {
      if (s === "connected") this.#requestKeyframe(true);
    });
    noStun(pc);
    await pc.setLocalDescription(await pc.createOffer());
    await waitGathered(pc);
    const answer = await negotiate({ type: "offer", sdp: loopbackOnly(pc.localDescription!.sdp) });
    await pc.setRemoteDescription(answer);
    this.#senders.video.push(video.sender);
    this.#senders.audio.push(audio.sender);
  }

  counters(): SfuCounters {
    let out = 0;
    for (const kind of ["audio", "video"] as const) {
      // werift keeps the count private; read it for the cross-check only.
      for (const s of this.#senders[kind])
        out += (s as unknown as { packetCount: number }).packetCount;
    }
    return { audioIn: this.#in.audio, videoIn: this.#in.video, out };
  }

  describe(id: number): unknown {
    const pc = this.#subscriberPcs.get(id);
    if (!pc) return null;
    return {
      state: pc.connectionState,
      ice: pc.iceConnectionState,
      sent: pc.getTransceivers().map((t) => ({
        kind: t.kind,
        packets: (t.sender as unknown as { packetCount: number }).packetCount,
      })),
    };
  }

  async close(): Promise<void> {
    await Promise.all(this.#pcs.map((pc) => pc.close().catch(() => {})));
  }

  /** PLI toward the publisher, at most one per 500 ms unless forced. */
  #requestKeyframe(force = false): void {
    const now = Date.now();
    if (!force && now - this.#lastPli < 500) return;
    const receiver = this.#videoReceiver?.receiver;
    const ssrc = this.#videoTrack?.ssrc;
    if (!receiver || ssrc === undefined) return;
    this.#lastPli = now;
    void receiver.sendRtcpPLI(ssrc);
  }
}
