/**
 * RTP payloads (in sequence order, holes reported) to whole frames, per codec. Video frames
 * after a loss are dropped until the next keyframe: a decoder could not use them.
 */
import { parseVp8, Vp8Descriptor } from "../rtp/codecs/vp8.ts";
import type { RecPacket } from "./JitterBuffer.ts";

export interface Frame {
  data: Buffer;
  /** Extended RTP timestamp. */
  ts: number;
  keyframe: boolean;
}

export interface Depacketizer {
  /** A packet in sequence order; returns the frame it completes, if any. */
  packet(p: RecPacket): Frame | null;
  /** Packets were lost before the next one. */
  gap(): void;
  /** True while frames are dropped until a keyframe (the recorder asks for one). */
  readonly needsKeyframe: boolean;
  /** Frames given up (incomplete, or waiting for a keyframe). */
  readonly dropped: number;
}

/** Opus: one packet is one frame; a loss needs nothing (the decoder conceals it). */
export class OpusDepacketizer implements Depacketizer {
  readonly needsKeyframe = false;
  readonly dropped = 0;

  packet(p: RecPacket): Frame | null {
    return p.payload.length > 0 ? { data: p.payload, ts: p.ts, keyframe: true } : null;
  }

  gap(): void {}
}

/** VP8 (RFC 7741): a frame is the packets of one timestamp from S=1/PID=0 to the marker. */
export class Vp8Depacketizer implements Depacketizer {
  readonly #desc = new Vp8Descriptor();
  #parts: Buffer[] = [];
  #ts = -1;
  #key = false;
  #needsKeyframe = true;
  #dropped = 0;

  get needsKeyframe(): boolean {
    return this.#needsKeyframe;
  }

  get dropped(): number {
    return this.#dropped;
  }

  packet(p: RecPacket): Frame | null {
    const d = this.#desc;
    if (!parseVp8(p.payload, 0, p.payload.length, d)) return null;
    const body = p.payload.subarray(d.headerLength);
    if (d.startOfPartition && d.partitionId === 0) {
      this.#abandon();
      this.#ts = p.ts;
      this.#key = d.isKeyframe;
      this.#parts = [body];
    } else if (this.#ts === p.ts && this.#parts.length > 0) {
      this.#parts.push(body);
    } else {
      if (this.#ts !== p.ts) this.#abandon();
      return null;
    }
    return p.marker ? this.#complete() : null;
  }

  gap(): void {
    this.#abandon();
    this.#needsKeyframe = true;
  }

  #complete(): Frame | null {
    const frame = { data: Buffer.concat(this.#parts), ts: this.#ts, keyframe: this.#key };
    this.#parts = [];
    this.#ts = -1;
    if (frame.keyframe) this.#needsKeyframe = false;
    if (this.#needsKeyframe) {
      this.#dropped++;
      return null;
    }
    return frame;
  }

  #abandon(): void {
    if (this.#parts.length === 0) return;
    this.#parts = [];
    this.#ts = -1;
    this.#dropped++;
    this.#needsKeyframe = true;
  }
}

/** Width and height from a VP8 keyframe (RFC 6386 9.1), null if it is not one. */
export function vp8Dimensions(frame: Uint8Array): { width: number; height: number } | null {
  if (frame.length < 10 || (frame[0] & 1) !== 0) return null;
  if (frame[3] !== 0x9d || frame[4] !== 0x01 || frame[5] !== 0x2a) return null;
  return {
    width: (frame[6] | (frame[7] << 8)) & 0x3fff,
    height: (frame[8] | (frame[9] << 8)) & 0x3fff,
  };
}
