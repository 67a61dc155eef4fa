import { RTCRtpHeaderExtensionParameters } from "werift";
import type { CodecName } from "./codecs.ts";

/** RTP header extension URIs Weir negotiates. Ids are negotiated per transport, never fixed. */
export const EXT_URI = {
  mid: "urn:ietf:params:rtp-hdrext:sdes:mid",
  rid: "urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id",
  rrid: "urn:ietf:params:rtp-hdrext:sdes:repaired-rtp-stream-id",
  audioLevel: "urn:ietf:params:rtp-hdrext:ssrc-audio-level",
  absSendTime: "http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time",
  videoOrientation: "urn:3gpp:video-orientation",
  dependencyDescriptor:
    "https://aomediacodec.github.io/av1-rtp-spec/#dependency-descriptor-rtp-header-extension",
} as const;

/** What a publisher may send us. transport-cc is left out on purpose: werift's feedback is broken. */
const PUBLISH = {
  audio: [EXT_URI.mid, EXT_URI.audioLevel, EXT_URI.absSendTime],
  video: [
    EXT_URI.mid,
    EXT_URI.rid,
    EXT_URI.rrid,
    EXT_URI.absSendTime,
    EXT_URI.videoOrientation,
    EXT_URI.dependencyDescriptor,
  ],
};

/** What we forward to subscribers: extensions whose meaning survives the hop unchanged. */
const SUBSCRIBE = {
  audio: [EXT_URI.audioLevel],
  video: [EXT_URI.videoOrientation, EXT_URI.dependencyDescriptor],
};

function toParams(uris: readonly string[]) {
  return uris.map((uri, i) => new RTCRtpHeaderExtensionParameters({ id: i + 1, uri }));
}

export function publishHeaderExtensions() {
  return { audio: toParams(PUBLISH.audio), video: toParams(PUBLISH.video) };
}

/**
 * Whether a publisher's track sending `codec` may use the extension. VP8 leaves the Dependency
 * Descriptor out: with it negotiated Chromium shrinks the VP8 payload descriptor to one byte (no
 * picture id, TL0PICIDX or temporal id), which simulcast temporal filtering and picture id
 * rewriting read. VP9, AV1 and H264 keep it (their SVC layers come from it).
 */
export function publishExtensionAllowed(uri: string, codec: CodecName): boolean {
  return !(codec === "vp8" && uri === EXT_URI.dependencyDescriptor);
}

export function subscribeHeaderExtensions() {
  return { audio: toParams(SUBSCRIBE.audio), video: toParams(SUBSCRIBE.video) };
}

/**
 * Builds a source-id -> destination-id table (0 = drop) from two negotiated extension lists,
 * matched by URI. Built once per subscriber, used per packet.
 */
export function buildExtMap(
  source: readonly { id: number; uri: string }[],
  destination: readonly { id: number; uri: string }[],
): Uint8Array {
  const map = new Uint8Array(256);
  for (const s of source) {
    const d = destination.find((x) => x.uri === s.uri);
    if (d) map[s.id] = d.id;
  }
  return map;
}
