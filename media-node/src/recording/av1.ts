/**
 * AV1 for recording: OBUs from RTP (which may leave out their size field) to the low overhead
 * bitstream format Matroska/WebM carry (every OBU with its size, no temporal delimiters), and the
 * picture size from a sequence header OBU.
 */

export const OBU_SEQUENCE_HEADER = 1;
export const OBU_TEMPORAL_DELIMITER = 2;
export const OBU_TILE_LIST = 8;
export const OBU_PADDING = 15;

/** Reads a LEB128 at `at`; null when malformed or past `end`. */
export function readLeb128(
  b: Uint8Array,
  at: number,
  end: number,
): { value: number; bytes: number } | null {
  let value = 0;
  let shift = 1;
  for (let i = 0; i < 8; i++) {
    if (at + i >= end) return null;
    const byte = b[at + i];
    value += (byte & 0x7f) * shift;
    shift *= 128;
    if ((byte & 0x80) === 0) return { value, bytes: i + 1 };
  }
  return null;
}

export function leb128(n: number): Buffer {
  const out: number[] = [];
  do {
    let byte = n % 128;
    n = Math.floor(n / 128);
    if (n > 0) byte |= 0x80;
    out.push(byte);
  } while (n > 0);
  return Buffer.from(out);
}

/** An OBU's type from its header byte. */
export function obuType(header: number): number {
  return (header >> 3) & 0x0f;
}

/**
 * One OBU (header, optional extension, payload, with or without its size field) as the low
 * overhead format writes it: with `obu_has_size_field` set. Null when it is malformed.
 */
export function withSizeField(obu: Buffer): Buffer | null {
  if (obu.length < 1 || obu[0] & 0x80) return null;
  const ext = obu[0] & 0x04 ? 1 : 0;
  const headerLen = 1 + ext;
  if (obu.length < headerLen) return null;
  if (obu[0] & 0x02) {
    const size = readLeb128(obu, headerLen, obu.length);
    if (!size || headerLen + size.bytes + size.value > obu.length) return null;
    return obu.subarray(0, headerLen + size.bytes + size.value);
  }
  const header = Buffer.from(obu.subarray(0, headerLen));
  header[0] |= 0x02;
  const payload = obu.subarray(headerLen);
  return Buffer.concat([header, leb128(payload.length), payload]);
}

/** MSB-first bit reader over a sequence header's payload. */
class Bits {
  #pos = 0;
  constructor(readonly b: Uint8Array) {}
  f(n: number): number {
    let v = 0;
    for (let i = 0; i < n; i++) {
      const byte = this.#pos >> 3;
      if (byte >= this.b.length) throw new RangeError("sequence header ends early");
      v = v * 2 + ((this.b[byte] >> (7 - (this.#pos & 7))) & 1);
      this.#pos++;
    }
    return v;
  }
  uvlc(): number {
    let zeros = 0;
    while (this.f(1) === 0) if (++zeros >= 32) throw new RangeError("bad uvlc");
    return zeros === 0 ? 0 : this.f(zeros) + 2 ** zeros - 1;
  }
}

/**
 * max_frame_width/height from a sequence header OBU's payload (AV1 spec 5.5.1), and the codec
 * string (`av01.P.LLT.08`); null when it cannot be read.
 */
export function sequenceHeaderInfo(
  payload: Uint8Array,
): { width: number; height: number; codecString: string } | null {
  try {
    const r = new Bits(payload);
    const profile = r.f(3);
    r.f(1); // still_picture
    const reduced = r.f(1);
    let level = 0;
    let tier = 0;
    if (reduced) {
      level = r.f(5);
    } else {
      let decoderModel = 0;
      let bufferDelayLength = 0;
      if (r.f(1)) {
        // timing_info
        r.f(32);
        r.f(32);
        if (r.f(1)) r.uvlc();
        decoderModel = r.f(1);
        if (decoderModel) {
          bufferDelayLength = r.f(5) + 1;
          r.f(32);
          r.f(5);
          r.f(5);
        }
      }
      const initialDisplayDelay = r.f(1);
      const ops = r.f(5) + 1;
      for (let i = 0; i < ops; i++) {
        r.f(12); // operating_point_idc
        const l = r.f(5);
        const t = l > 7 ? r.f(1) : 0;
        if (i === 0) [level, tier] = [l, t];
        if (decoderModel && r.f(1)) {
          r.f(bufferDelayLength);
          r.f(bufferDelayLength);
          r.f(1);
        }
        if (initialDisplayDelay && r.f(1)) r.f(4);
      }
    }
    const wBits = r.f(4) + 1;
    const hBits = r.f(4) + 1;
    const width = r.f(wBits) + 1;
    const height = r.f(hBits) + 1;
    const codecString = `av01.${profile}.${String(level).padStart(2, "0")}${tier ? "H" : "M"}.08`;
    return { width, height, codecString };
  } catch {
    return null;
  }
}
