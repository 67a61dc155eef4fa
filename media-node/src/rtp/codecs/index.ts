/** Codec payload inspection for the forwarding path: key frames and layer descriptors. */
import { av1IsKeyframe } from "./av1.ts";
import { h264IsKeyframe } from "./h264.ts";
import { vp8IsKeyframe } from "./vp8.ts";
import { vp9IsKeyframe } from "./vp9.ts";

export * from "./av1.ts";
export * from "./h264.ts";
export * from "./vp8.ts";
export * from "./vp9.ts";

/**
 * The codecs whose RTP payloads these inspectors know (the router's own set of forwardable
 * codecs is `CodecName` in ../../codecs.ts).
 */
export type VideoPayloadCodec = "vp8" | "vp9" | "h264" | "av1";
export type AudioPayloadCodec = "opus" | "pcmu" | "pcma" | "g722";
export type PayloadCodec = VideoPayloadCodec | AudioPayloadCodec;

/**
 * True if the RTP payload at payload[offset..offset+length) starts (or, for H.264, carries)
 * an independently decodable frame. Audio packets are always true. Malformed video payloads
 * are false. "other" (a codec we cannot inspect) is true, so that forwarding of an unknown
 * codec is never blocked waiting for a key frame it cannot recognise.
 */
export function isKeyframe(
  codec: PayloadCodec | "other",
  payload: Uint8Array,
  offset: number,
  length: number,
): boolean {
  switch (codec) {
    case "vp8":
      return vp8IsKeyframe(payload, offset, length);
    case "vp9":
      return vp9IsKeyframe(payload, offset, length);
    case "h264":
      return h264IsKeyframe(payload, offset, length);
    case "av1":
      return av1IsKeyframe(payload, offset, length);
    case "opus":
    case "pcmu":
    case "pcma":
    case "g722":
    case "other":
      return true;
    default:
      return false;
  }
}

/** Map an SDP/WebRTC MIME type or encoding name ("video/VP8", "H264", "audio/opus"). */
export function codecFromMimeType(mime: string): PayloadCodec | undefined {
  const slash = mime.indexOf("/");
  const name = (slash >= 0 ? mime.slice(slash + 1) : mime).toLowerCase();
  switch (name) {
    case "vp8":
    case "vp9":
    case "h264":
    case "av1":
    case "opus":
    case "pcmu":
    case "pcma":
    case "g722":
      return name;
    default:
      return undefined;
  }
}

/** True for video codecs (those that have key frames). */
export function isVideoCodec(codec: PayloadCodec): codec is VideoPayloadCodec {
  return codec === "vp8" || codec === "vp9" || codec === "h264" || codec === "av1";
}
