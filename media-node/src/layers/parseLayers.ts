import type { CodecName } from "../codecs.ts";
import { isKeyframe, parseVp8, type Vp8Descriptor } from "../rtp/codecs/index.ts";
import type { RtpView } from "../rtp/rtpPacket.ts";
import type { PacketLayers } from "./PacketLayers.ts";

/**
 * Fills `layers` (already reset to its encoding) for one video packet: keyframe, and for VP8
 * the temporal layer and picture ids from the payload descriptor. No allocation.
 */
export function parseLayers(
  codec: CodecName,
  buf: Buffer,
  view: RtpView,
  layers: PacketLayers,
  vp8: Vp8Descriptor,
): void {
  if (codec !== "vp8") {
    layers.keyframe = isKeyframe(codec, buf, view.payloadOffset, view.payloadLength);
    return;
  }
  if (!parseVp8(buf, view.payloadOffset, view.payloadLength, vp8)) return;
  layers.keyframe = vp8.isKeyframe;
  layers.temporal = vp8.tid;
  layers.layerSync = vp8.layerSync;
  layers.pictureStart = vp8.startOfPartition && vp8.partitionId === 0;
  layers.pictureId = vp8.pictureId;
  layers.pictureIdLong = vp8.pictureIdLong;
  layers.tl0PicIdx = vp8.tl0PicIdx;
}
