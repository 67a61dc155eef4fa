import { RTCRtpCodecParameters } from "werift";

/** A codec the router can forward. Payload types are the router's own numbering toward subscribers. */
export interface CodecCapability {
  kind: "audio" | "video";
  /** e.g. "audio/opus", "video/VP8" (case-insensitive when matched). */
  mimeType: string;
  clockRate: number;
  channels?: number;
  /** The payload type this codec gets in offers the node makes (subscriber side). */
  payloadType: number;
  /** fmtp line content, e.g. "packetization-mode=1;profile-level-id=42e01f". */
  parameters?: string;
}

export type CodecName = "opus" | "vp8" | "vp9" | "h264" | "av1" | "other";

const FEEDBACK_VIDEO = [
  { type: "nack" },
  { type: "nack", parameter: "pli" },
  { type: "ccm", parameter: "fir" },
  { type: "goog-remb" },
];

export const DEFAULT_CODECS: readonly CodecCapability[] = [
  {
    kind: "audio",
    mimeType: "audio/opus",
    clockRate: 48000,
    channels: 2,
    payloadType: 111,
    parameters: "minptime=10;useinbandfec=1",
  },
  { kind: "video", mimeType: "video/VP8", clockRate: 90000, payloadType: 96 },
  {
    kind: "video",
    mimeType: "video/VP9",
    clockRate: 90000,
    payloadType: 98,
    parameters: "profile-id=0",
  },
  {
    kind: "video",
    mimeType: "video/H264",
    clockRate: 90000,
    payloadType: 102,
    parameters: "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f",
  },
  {
    kind: "video",
    mimeType: "video/H264",
    clockRate: 90000,
    payloadType: 104,
    parameters: "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=640c1f",
  },
  { kind: "video", mimeType: "video/AV1", clockRate: 90000, payloadType: 45 },
];

export function codecName(mimeType: string): CodecName {
  switch (mimeType.toLowerCase()) {
    case "audio/opus":
      return "opus";
    case "video/vp8":
      return "vp8";
    case "video/vp9":
      return "vp9";
    case "video/h264":
      return "h264";
    case "video/av1":
      return "av1";
    default:
      return "other";
  }
}

export function parseFmtp(parameters: string | undefined): Map<string, string> {
  const out = new Map<string, string>();
  if (!parameters) return out;
  for (const part of parameters.split(";")) {
    const eq = part.indexOf("=");
    if (eq > 0) out.set(part.slice(0, eq).trim().toLowerCase(), part.slice(eq + 1).trim());
  }
  return out;
}

/** H264 profile (profile_idc plus the constraint bits that define Baseline vs Constrained Baseline). */
function h264Profile(fmtp: Map<string, string>): string {
  const pli = (fmtp.get("profile-level-id") ?? "42001f").toLowerCase();
  const idc = pli.slice(0, 2);
  const iop = Number.parseInt(pli.slice(2, 4), 16);
  // Constrained Baseline: 42 with constraint_set1 (0x40), or 4d/58 with their constrained forms.
  if (idc === "42") return iop & 0x40 ? "cb" : "b";
  return idc;
}

/**
 * Whether two descriptions of a codec can carry each other's bitstream unchanged: same MIME type,
 * clock rate, channels, and the fmtp parameters that change the bitstream (RFC 6184 / 7741 /
 * VP9 and AV1 RTP specs).
 */
export function codecsMatch(
  a: Pick<CodecCapability, "mimeType" | "clockRate" | "channels" | "parameters">,
  b: Pick<CodecCapability, "mimeType" | "clockRate" | "channels" | "parameters">,
): boolean {
  if (a.mimeType.toLowerCase() !== b.mimeType.toLowerCase()) return false;
  if (a.clockRate !== b.clockRate) return false;
  if (a.mimeType.toLowerCase().startsWith("audio/") && (a.channels ?? 1) !== (b.channels ?? 1)) {
    return false;
  }
  const fa = parseFmtp(a.parameters);
  const fb = parseFmtp(b.parameters);
  switch (codecName(a.mimeType)) {
    case "h264":
      return (
        (fa.get("packetization-mode") ?? "0") === (fb.get("packetization-mode") ?? "0") &&
        h264Profile(fa) === h264Profile(fb)
      );
    case "vp9":
      return (fa.get("profile-id") ?? "0") === (fb.get("profile-id") ?? "0");
    case "av1":
      return (fa.get("profile") ?? "0") === (fb.get("profile") ?? "0");
    default:
      return true;
  }
}

export function isRtxCodec(mimeType: string): boolean {
  const m = mimeType.toLowerCase();
  return (
    m.endsWith("/rtx") || m.endsWith("/red") || m.endsWith("/ulpfec") || m.endsWith("/flexfec-03")
  );
}

/** werift's codec parameters for one of our codecs, with the given payload type. */
export function toWeriftCodec(codec: CodecCapability, payloadType = codec.payloadType) {
  return new RTCRtpCodecParameters({
    mimeType: codec.mimeType,
    clockRate: codec.clockRate,
    channels: codec.channels,
    payloadType,
    parameters: codec.parameters,
    rtcpFeedback: codec.kind === "video" ? FEEDBACK_VIDEO : [],
  });
}
