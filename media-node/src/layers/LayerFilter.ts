import type { RtpView } from "../rtp/rtpPacket.ts";
import type { PacketLayers } from "./PacketLayers.ts";

/** The layers a subscriber receives: simulcast encoding or SVC spatial layer, and temporal layer. */
export interface LayerTarget {
  spatial: number;
  temporal: number;
}

/**
 * A per-subscriber packet filter in the forward path (for example SVC spatial/temporal layer
 * dropping by VP9 descriptor or Dependency Descriptor). Runs after simulcast encoding selection
 * and VP8 temporal filtering, before the packet is rewritten. Hot path: must not allocate.
 */
export interface LayerFilter {
  /**
   * True to forward this packet for `target`; a false packet is dropped and its seq closed up.
   * Never called with a padding-only packet: the Subscriber drops those first.
   */
  accept(buf: Buffer, view: RtpView, layers: PacketLayers, target: Readonly<LayerTarget>): boolean;
  /**
   * Optional edit of the rewritten outgoing packet in place (`out[0..len)`, header `headerLen`
   * bytes), e.g. a Dependency Descriptor's active decode targets. Returns the new length.
   */
  rewrite?(out: Uint8Array, len: number, headerLen: number): number;
}
