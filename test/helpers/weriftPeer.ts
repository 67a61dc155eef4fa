// A plain werift RTCPeerConnection playing the client role in tests and benchmarks: it publishes
// synthetic RTP or counts what it receives. Loopback only, no STUN.
import {
  MediaStreamTrack,
  RTCPeerConnection,
  type RTCPeerConnectionConfig,
  RTCRtpCodecParameters,
  RTCRtpHeaderExtensionParameters,
  type RtpPacket,
} from "werift";

export const CLIENT_CODECS = {
  audio: [
    new RTCRtpCodecParameters({
      mimeType: "audio/opus",
      clockRate: 48000,
      channels: 2,
      payloadType: 109,
    }),
  ],
  video: [
    new RTCRtpCodecParameters({
      mimeType: "video/VP8",
      clockRate: 90000,
      payloadType: 120,
      rtcpFeedback: [{ type: "nack" }, { type: "nack", parameter: "pli" }, { type: "goog-remb" }],
    }),
  ],
};

const CLIENT_EXTENSIONS = {
  audio: [
    new RTCRtpHeaderExtensionParameters({ id: 4, uri: "urn:ietf:params:rtp-hdrext:sdes:mid" }),
    new RTCRtpHeaderExtensionParameters({
      id: 10,
      uri: "urn:ietf:params:rtp-hdrext:ssrc-audio-level",
    }),
  ],
  video: [
    new RTCRtpHeaderExtensionParameters({ id: 4, uri: "urn:ietf:params:rtp-hdrext:sdes:mid" }),
    new RTCRtpHeaderExtensionParameters({ id: 13, uri: "urn:3gpp:video-orientation" }),
  ],
};

/**
 * werift falls back to a public STUN server even with `iceServers: []`; clear it on every ICE
 * connection before gathering so no packet leaves loopback.
 */
export function noStun(pc: RTCPeerConnection): void {
  for (const t of pc.iceTransports)
    (t.connection as { stunServer?: unknown }).stunServer = undefined;
}

/** A loopback-only werift client with the test codecs and extensions; `extra` overrides. */
export function clientPeer(extra: RTCPeerConnectionConfig = {}): RTCPeerConnection {
  return new RTCPeerConnection({
    iceServers: [],
    iceAdditionalHostAddresses: ["127.0.0.1"],
    iceUseIpv6: false,
    iceUseTcp: false,
    iceTcpPassive: false,
    bundlePolicy: "max-bundle",
    codecs: CLIENT_CODECS,
    headerExtensions: CLIENT_EXTENSIONS,
    ...extra,
  });
}

/** A werift publisher with one sendonly track per kind; returns its offer. */
export async function weriftPublisher(kinds: ("audio" | "video")[]) {
  const pc = clientPeer();
  const tracks = kinds.map((kind) => {
    const track = new MediaStreamTrack({ kind });
    pc.addTransceiver(track, { direction: "sendonly" });
    return track;
  });
  noStun(pc);
  await pc.setLocalDescription(await pc.createOffer());
  await waitGathered(pc);
  const offer = { type: "offer" as const, sdp: pc.localDescription!.sdp };
  return { pc, tracks, offer };
}

export async function waitGathered(pc: RTCPeerConnection, timeoutMs = 10_000): Promise<void> {
  if (pc.iceGatheringState === "complete") return;
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("ICE gathering did not complete")), timeoutMs);
    pc.iceGatheringStateChange.subscribe((s) => {
      if (s !== "complete") return;
      clearTimeout(timer);
      resolve();
    });
  });
}

/** Answers a node offer and counts received RTP per track id. */
export class WeriftSubscriber {
  readonly pc: RTCPeerConnection;
  readonly received = new Map<string, RtpPacket[]>();
  readonly counts = new Map<string, number>();
  keep = true;

  /** mid -> publisher id, from the msid lines of the node's offers. */
  readonly #publisherByMid = new Map<string, string>();

  /** `extra` configures its peer (clientPeer), e.g. ICE-TCP. */
  constructor(extra: RTCPeerConnectionConfig = {}) {
    this.pc = clientPeer(extra);
    this.pc.onTrack.subscribe((track) => {
      const transceiver = this.pc.getTransceivers().find((t) => t.receiver.tracks.includes(track));
      track.onReceiveRtp.subscribe((rtp) => {
        const id = this.#publisherByMid.get(transceiver?.mid ?? "") ?? track.id ?? "";
        this.counts.set(id, (this.counts.get(id) ?? 0) + 1);
        if (this.keep) {
          const list = this.received.get(id) ?? [];
          list.push(rtp);
          this.received.set(id, list);
        }
      });
    });
  }

  async answer(offer: { type: string; sdp: string }) {
    if (offer.type !== "offer") throw new Error("expected an offer");
    for (const section of offer.sdp.split("\r\nm=").slice(1)) {
      const mid = /a=mid:(\S+)/.exec(section)?.[1];
      const msid = /a=msid:\S+ (\S+)/.exec(section)?.[1];
      if (mid && msid) this.#publisherByMid.set(mid, msid);
    }
    await this.pc.setRemoteDescription({ type: "offer", sdp: offer.sdp });
    noStun(this.pc);
    await this.pc.setLocalDescription(await this.pc.createAnswer());
    await waitGathered(this.pc);
    return { type: "answer" as const, sdp: this.pc.localDescription!.sdp };
  }

  total(): number {
    let n = 0;
    for (const c of this.counts.values()) n += c;
    return n;
  }
}

export async function until(cond: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const start = Date.now();
  while (!cond()) {
    if (Date.now() - start > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms: ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** A WHEP-style werift viewer: recvonly transceivers; counts received RTP per kind. */
export async function weriftViewer(kinds: ("audio" | "video")[] = ["audio", "video"]) {
  const pc = clientPeer();
  for (const kind of kinds) pc.addTransceiver(kind, { direction: "recvonly" });
  const counts = { audio: 0, video: 0 };
  const payloadTypes = new Set<number>();
  pc.onTrack.subscribe((track) => {
    track.onReceiveRtp.subscribe((rtp) => {
      counts[track.kind as "audio" | "video"]++;
      payloadTypes.add(rtp.header.payloadType);
    });
  });
  noStun(pc);
  await pc.setLocalDescription(await pc.createOffer());
  await waitGathered(pc);
  const offer = { type: "offer" as const, sdp: pc.localDescription?.sdp ?? "" };
  return { pc, counts, payloadTypes, offer };
}
