/**
 * RTP payloads (in sequence order, holes reported) to whole frames, per codec. Video frames
 * after a loss are dropped until the next keyframe: a decoder could not use them.
 */
import { parseVp8, Vp8Descriptor } from "../rtp/codecs/vp8.ts";
import { parseVp9, Vp9Descriptor } from "../rtp/codecs/vp9.ts";
import {
  OBU_PADDING,
  OBU_SEQUENCE_HEADER,
  OBU_TEMPORAL_DELIMITER,
  OBU_TILE_LIST,
  obuType,
  readLeb128,
  sequenceHeaderInfo,
  withSizeField,
} from "./av1.ts";
import { avcC, avcCodecString, spsSize } from "./h264.ts";
import type { RecPacket } from "./JitterBuffer.ts";

export interface Frame {
  data: Buffer;
  /** Extended RTP timestamp. */
  ts: number;
  keyframe: boolean;
  /** Picture size, when the frame tells it (video keyframes). */
  width?: number;
  height?: number;
  /** H.264 keyframes: the avcC record of their SPS and PPS, and the codec string. */
  description?: Uint8Array;
  codecString?: string;
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

/** Video: after a loss, frames are dropped until a keyframe comes (nothing could decode them). */
abstract class KeyframeGate {
  #needsKeyframe = true;
  #dropped = 0;

  get needsKeyframe(): boolean {
    return this.#needsKeyframe;
  }

  get dropped(): number {
    return this.#dropped;
  }

  /** A frame was lost or broken: count it, and wait for a keyframe. */
  protected lose(): void {
    this.#dropped++;
    this.#needsKeyframe = true;
  }

  protected waitForKeyframe(): void {
    this.#needsKeyframe = true;
  }

  /** Whether a complete frame may be written (it is a keyframe, or no loss is pending). */
  protected pass(keyframe: boolean): boolean {
    if (keyframe) this.#needsKeyframe = false;
    if (!this.#needsKeyframe) return true;
    this.#dropped++;
    return false;
  }
}

/** VP8 (RFC 7741): a frame is the packets of one timestamp from S=1/PID=0 to the marker. */
export class Vp8Depacketizer extends KeyframeGate implements Depacketizer {
  readonly #desc = new Vp8Descriptor();
  #parts: Buffer[] = [];
  #ts = -1;
  #key = false;
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
    this.waitForKeyframe();
  }

  #complete(): Frame | null {
    const data = Buffer.concat(this.#parts);
    const frame = { data, ts: this.#ts, keyframe: this.#key, ...vp8Dimensions(data) };
    this.#parts = [];
    this.#ts = -1;
    return this.pass(frame.keyframe) ? frame : null;
  }

  #abandon(): void {
    if (this.#parts.length === 0) return;
    this.#parts = [];
    this.#ts = -1;
    this.lose();
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

/**
 * VP9 (RFC 9628): a picture is the packets of one timestamp up to the marker; each of its
 * spatial layer frames runs from B to E. Several layer frames become one superframe (VP9
 * bitstream spec, Annex B), which is what a decoder and WebM take.
 */
export class Vp9Depacketizer extends KeyframeGate implements Depacketizer {
  readonly #desc = new Vp9Descriptor();
  /** Finished layer frames of the current picture, and the parts of the open one. */
  #layers: Buffer[] = [];
  #parts: Buffer[] = [];
  #ts = -1;
  #key = false;
  #width = 0;
  #height = 0;
  packet(p: RecPacket): Frame | null {
    const d = this.#desc;
    if (!parseVp9(p.payload, 0, p.payload.length, d)) return null;
    if (p.ts !== this.#ts) this.#startPicture(p.ts, d);
    const body = p.payload.subarray(d.headerLength);
    if (d.startOfFrame) {
      if (this.#parts.length > 0) this.#abandon();
      this.#parts = [body];
    } else if (this.#parts.length > 0) {
      this.#parts.push(body);
    } else {
      this.#abandon(); // a layer frame whose start we never saw
      return null;
    }
    if (d.endOfFrame) {
      this.#layers.push(Buffer.concat(this.#parts));
      this.#parts = [];
    }
    return p.marker ? this.#complete() : null;
  }

  gap(): void {
    this.#abandon();
    this.waitForKeyframe();
  }

  #startPicture(ts: number, d: Vp9Descriptor): void {
    if (this.#layers.length > 0 || this.#parts.length > 0) this.#abandon();
    this.#ts = ts;
    this.#key = d.isKeyframe;
    if (d.ssSpatialLayers > 0 && d.ssHasResolution) {
      this.#width = d.ssWidths[d.ssSpatialLayers - 1];
      this.#height = d.ssHeights[d.ssSpatialLayers - 1];
    }
  }

  #complete(): Frame | null {
    const layers = this.#layers;
    this.#layers = [];
    if (this.#parts.length > 0 || layers.length === 0) {
      this.#abandon();
      return null;
    }
    if (!this.pass(this.#key)) return null;
    const data = layers.length === 1 ? layers[0] : superframe(layers);
    const size = this.#key && this.#width > 0 ? { width: this.#width, height: this.#height } : {};
    return { data, ts: this.#ts, keyframe: this.#key, ...size };
  }

  #abandon(): void {
    if (this.#layers.length === 0 && this.#parts.length === 0) return;
    this.#layers = [];
    this.#parts = [];
    this.lose();
  }
}

/** Frames followed by a superframe index: marker, each size (little-endian), marker. */
export function superframe(frames: Buffer[]): Buffer {
  const max = Math.max(...frames.map((f) => f.length));
  const bytes = max < 0x100 ? 1 : max < 0x10000 ? 2 : max < 0x1000000 ? 3 : 4;
  const marker = 0xc0 | ((bytes - 1) << 3) | (frames.length - 1);
  const index = Buffer.alloc(2 + bytes * frames.length);
  index[0] = marker;
  for (let i = 0; i < frames.length; i++) index.writeUIntLE(frames[i].length, 1 + i * bytes, bytes);
  index[index.length - 1] = marker;
  return Buffer.concat([...frames, index]);
}

const NAL_IDR = 5;
const NAL_SPS = 7;
const NAL_PPS = 8;
const STAP_A = 24;
const FU_A = 28;

/**
 * H.264 (RFC 6184, packetization-mode 1: single NAL units, STAP-A, FU-A): an access unit is the
 * NAL units of one timestamp up to the marker, written length-prefixed (4 bytes). The latest SPS
 * and PPS make a keyframe's avcC record and size; an IDR without them is not written.
 */
export class H264Depacketizer extends KeyframeGate implements Depacketizer {
  #nals: Buffer[] = [];
  /** The open FU-A unit: its rebuilt header byte, then the fragments. */
  #fu: Buffer[] | null = null;
  #ts = -1;
  #broken = false;
  #sps: Buffer | null = null;
  #pps: Buffer | null = null;

  packet(p: RecPacket): Frame | null {
    const b = p.payload;
    if (b.length < 1) return null;
    if (p.ts !== this.#ts) {
      if (this.#nals.length > 0 || this.#fu) this.#abandon();
      this.#ts = p.ts;
      this.#broken = false;
    }
    const t = b[0] & 0x1f;
    if (t >= 1 && t <= 23) this.#nal(b);
    else if (t === STAP_A) this.#stap(b);
    else if (t === FU_A) this.#fuA(b);
    else this.#broken = true; // STAP-B, MTAP, FU-B: not in packetization-mode 1
    return p.marker ? this.#complete() : null;
  }

  gap(): void {
    this.#abandon();
    this.waitForKeyframe();
  }

  #stap(b: Buffer): void {
    for (let at = 1; at < b.length; ) {
      const n = at + 2 <= b.length ? b.readUInt16BE(at) : 0;
      at += 2;
      if (n === 0 || at + n > b.length) {
        this.#broken = true;
        return;
      }
      this.#nal(b.subarray(at, at + n));
      at += n;
    }
  }

  #fuA(b: Buffer): void {
    if (b.length < 3) {
      this.#broken = true;
      return;
    }
    const fu = b[1];
    if (fu & 0x80) {
      if (this.#fu) this.#broken = true; // the last unit never ended
      this.#fu = [Buffer.from([(b[0] & 0xe0) | (fu & 0x1f)]), b.subarray(2)];
    } else if (this.#fu) {
      this.#fu.push(b.subarray(2));
    } else {
      this.#broken = true; // a fragment whose start we never saw
      return;
    }
    if (fu & 0x40) {
      this.#nal(Buffer.concat(this.#fu));
      this.#fu = null;
    }
  }

  #nal(n: Buffer): void {
    const t = n[0] & 0x1f;
    if (t === NAL_SPS) this.#sps = Buffer.from(n);
    else if (t === NAL_PPS) this.#pps = Buffer.from(n);
    this.#nals.push(n);
  }

  #complete(): Frame | null {
    const nals = this.#nals;
    this.#nals = [];
    if (this.#broken || this.#fu || nals.length === 0) {
      this.#nals = nals;
      this.#abandon();
      return null;
    }
    const key = nals.some((n) => (n[0] & 0x1f) === NAL_IDR);
    const sps = this.#sps;
    const pps = this.#pps;
    const size = key && sps ? spsSize(sps) : null;
    if (key && (!sps || !pps || !size)) {
      this.lose(); // an IDR nobody can decode without its parameter sets
      return null;
    }
    if (!this.pass(key)) return null;
    const data = Buffer.alloc(nals.reduce((a, n) => a + 4 + n.length, 0));
    let at = 0;
    for (const n of nals) {
      data.writeUInt32BE(n.length, at);
      data.set(n, at + 4);
      at += 4 + n.length;
    }
    const frame: Frame = { data, ts: this.#ts, keyframe: key };
    if (key && sps && pps && size) {
      frame.width = size.width;
      frame.height = size.height;
      frame.description = avcC(sps, pps);
      frame.codecString = avcCodecString(sps);
    }
    return frame;
  }

  #abandon(): void {
    const had = this.#nals.length > 0 || this.#fu !== null;
    this.#nals = [];
    this.#fu = null;
    if (had) this.lose();
  }
}

/**
 * AV1 (AV1 RTP specification 4.4): a temporal unit is the OBUs of one timestamp up to the marker;
 * an OBU may be split across packets (Z: the first element continues one, Y: the last goes on).
 * Written in the low overhead format: each OBU with its size field, temporal delimiters, tile
 * lists and padding left out. A keyframe (N, or a sequence header) needs a sequence header, which
 * gives the picture size.
 */
export class Av1Depacketizer extends KeyframeGate implements Depacketizer {
  #obus: Buffer[] = [];
  #frag: Buffer[] | null = null;
  #ts = -1;
  #broken = false;
  #newSequence = false;
  #hasSequenceHeader = false;
  #info: { width: number; height: number; codecString: string } | null = null;

  packet(p: RecPacket): Frame | null {
    const b = p.payload;
    if (b.length < 2) return null;
    if (p.ts !== this.#ts) {
      if (this.#obus.length > 0 || this.#frag) this.#abandon();
      this.#ts = p.ts;
      this.#broken = false;
      this.#newSequence = false;
      this.#hasSequenceHeader = false;
    }
    const h = b[0];
    const z = (h & 0x80) !== 0;
    const y = (h & 0x40) !== 0;
    const w = (h >> 4) & 0x03;
    if (h & 0x08) this.#newSequence = true;
    let count = 0;
    for (let at = 1; at < b.length; ) {
      let size = b.length - at;
      if (w === 0 || count < w - 1) {
        const len = readLeb128(b, at, b.length);
        if (!len || at + len.bytes + len.value > b.length) {
          this.#broken = true;
          break;
        }
        at += len.bytes;
        size = len.value;
      }
      const el = b.subarray(at, at + size);
      at += size;
      count++;
      const last = at >= b.length || (w !== 0 && count === w);
      if (count === 1 && z) {
        if (this.#frag) this.#frag.push(el);
        else this.#broken = true; // the start of this OBU was lost
      } else {
        if (this.#frag) this.#broken = true; // the last OBU never ended
        this.#frag = [el];
      }
      if (!(last && y) && this.#frag) {
        this.#obu(Buffer.concat(this.#frag));
        this.#frag = null;
      }
      if (last) break;
    }
    return p.marker ? this.#complete() : null;
  }

  gap(): void {
    this.#abandon();
    this.waitForKeyframe();
  }

  #obu(o: Buffer): void {
    if (o.length === 0) return;
    const type = obuType(o[0]);
    if (type === OBU_TEMPORAL_DELIMITER || type === OBU_TILE_LIST || type === OBU_PADDING) return;
    const sized = withSizeField(o);
    if (!sized) {
      this.#broken = true;
      return;
    }
    if (type === OBU_SEQUENCE_HEADER) {
      const headerLen = 1 + (sized[0] & 0x04 ? 1 : 0);
      const len = readLeb128(sized, headerLen, sized.length);
      const info = len ? sequenceHeaderInfo(sized.subarray(headerLen + len.bytes)) : null;
      if (info) {
        this.#info = info;
        this.#hasSequenceHeader = true;
      }
    }
    this.#obus.push(sized);
  }

  #complete(): Frame | null {
    const obus = this.#obus;
    this.#obus = [];
    if (this.#broken || this.#frag) {
      this.#obus = obus;
      this.#abandon();
      return null;
    }
    if (obus.length === 0) return null; // a temporal delimiter alone
    const key = this.#newSequence || this.#hasSequenceHeader;
    const info = this.#info;
    if (key && !info) {
      this.lose(); // a keyframe nobody can decode without a sequence header
      return null;
    }
    if (!this.pass(key)) return null;
    const frame: Frame = { data: Buffer.concat(obus), ts: this.#ts, keyframe: key };
    if (key && info) {
      frame.width = info.width;
      frame.height = info.height;
      frame.codecString = info.codecString;
    }
    return frame;
  }

  #abandon(): void {
    const had = this.#obus.length > 0 || this.#frag !== null;
    this.#obus = [];
    this.#frag = null;
    if (had) this.lose();
  }
}
