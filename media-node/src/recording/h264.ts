/**
 * H.264 for recording: the sequence parameter set's picture size, and the
 * AVCDecoderConfigurationRecord (ISO/IEC 14496-15 5.3.3, "avcC") that MP4 and Matroska carry as
 * the codec's private data. Samples are written length-prefixed (4 bytes), as avcC says.
 */

/** RBSP bits of a NAL unit (emulation prevention bytes removed), read MSB first. */
class Bits {
  readonly #b: Uint8Array;
  #pos = 0;
  constructor(nal: Uint8Array) {
    const out: number[] = [];
    let zeros = 0;
    for (let i = 1; i < nal.length; i++) {
      const v = nal[i];
      if (zeros >= 2 && v === 3) {
        zeros = 0;
        continue; // 0x000003: the 03 is not data
      }
      zeros = v === 0 ? zeros + 1 : 0;
      out.push(v);
    }
    this.#b = Uint8Array.from(out);
  }

  bit(): number {
    const byte = this.#pos >> 3;
    if (byte >= this.#b.length) throw new RangeError("SPS ends early");
    const v = (this.#b[byte] >> (7 - (this.#pos & 7))) & 1;
    this.#pos++;
    return v;
  }

  bits(n: number): number {
    let v = 0;
    for (let i = 0; i < n; i++) v = v * 2 + this.bit();
    return v;
  }

  /** Exp-Golomb unsigned. */
  ue(): number {
    let zeros = 0;
    while (this.bit() === 0) {
      if (++zeros > 31) throw new RangeError("bad exp-Golomb code");
    }
    return 2 ** zeros - 1 + this.bits(zeros);
  }

  se(): number {
    const k = this.ue();
    return k % 2 === 1 ? (k + 1) / 2 : -k / 2;
  }
}

const HIGH_PROFILES = new Set([100, 110, 122, 244, 44, 83, 86, 118, 128, 138, 139, 134, 135]);

function skipScalingList(r: Bits, size: number): void {
  let last = 8;
  let next = 8;
  for (let j = 0; j < size; j++) {
    if (next !== 0) next = (last + r.se() + 256) % 256;
    last = next === 0 ? last : next;
  }
}

/** Width and height (cropped) from an SPS NAL unit (header byte included); null if unreadable. */
export function spsSize(sps: Uint8Array): { width: number; height: number } | null {
  try {
    const r = new Bits(sps);
    const profile = r.bits(8);
    r.bits(16); // constraint flags, level
    r.ue(); // seq_parameter_set_id
    let chroma = 1;
    if (HIGH_PROFILES.has(profile)) {
      chroma = r.ue();
      if (chroma === 3) r.bit(); // separate_colour_plane_flag
      r.ue(); // bit_depth_luma_minus8
      r.ue(); // bit_depth_chroma_minus8
      r.bit(); // qpprime_y_zero_transform_bypass_flag
      if (r.bit()) {
        for (let i = 0; i < (chroma !== 3 ? 8 : 12); i++) {
          if (r.bit()) skipScalingList(r, i < 6 ? 16 : 64);
        }
      }
    }
    r.ue(); // log2_max_frame_num_minus4
    const pocType = r.ue();
    if (pocType === 0) r.ue();
    else if (pocType === 1) {
      r.bit();
      r.se();
      r.se();
      const n = r.ue();
      for (let i = 0; i < n; i++) r.se();
    }
    r.ue(); // max_num_ref_frames
    r.bit(); // gaps_in_frame_num_value_allowed_flag
    const widthMbs = r.ue() + 1;
    const heightMapUnits = r.ue() + 1;
    const frameMbsOnly = r.bit();
    if (!frameMbsOnly) r.bit(); // mb_adaptive_frame_field_flag
    r.bit(); // direct_8x8_inference_flag
    let [left, right, top, bottom] = [0, 0, 0, 0];
    if (r.bit()) [left, right, top, bottom] = [r.ue(), r.ue(), r.ue(), r.ue()];
    const cropX = chroma === 0 || chroma === 3 ? 1 : 2;
    const cropY = (chroma === 1 ? 2 : 1) * (2 - frameMbsOnly);
    const width = widthMbs * 16 - cropX * (left + right);
    const height = (2 - frameMbsOnly) * heightMapUnits * 16 - cropY * (top + bottom);
    return width > 0 && height > 0 ? { width, height } : null;
  } catch {
    return null;
  }
}

/** AVCDecoderConfigurationRecord of one SPS and one PPS (NAL units, header bytes included). */
export function avcC(sps: Uint8Array, pps: Uint8Array): Uint8Array {
  const out = Buffer.alloc(11 + sps.length + pps.length);
  out[0] = 1; // configurationVersion
  out[1] = sps[1]; // AVCProfileIndication
  out[2] = sps[2]; // profile_compatibility
  out[3] = sps[3]; // AVCLevelIndication
  out[4] = 0xff; // 6 reserved bits, lengthSizeMinusOne = 3
  out[5] = 0xe1; // 3 reserved bits, one SPS
  out.writeUInt16BE(sps.length, 6);
  out.set(sps, 8);
  let at = 8 + sps.length;
  out[at++] = 1; // one PPS
  out.writeUInt16BE(pps.length, at);
  out.set(pps, at + 2);
  return out;
}

/** The WebCodecs codec string of an SPS: avc1.PPCCLL. */
export function avcCodecString(sps: Uint8Array): string {
  const hex = (v: number) => v.toString(16).padStart(2, "0");
  return `avc1.${hex(sps[1])}${hex(sps[2])}${hex(sps[3])}`;
}
