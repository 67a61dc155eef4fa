import { type Cipher, createCipheriv } from "node:crypto";

/** Largest keystream one call can produce: the 16-bit block counter of RFC 3711 §4.1.1. */
export const MAX_BLOCKS = 0x10000;

/**
 * AES-128 Counter Mode keystream (RFC 3711 §4.1.1) from one reused AES-ECB context.
 *
 * Counter block j of a packet is IV + j, with IV = (salt << 16) XOR (SSRC << 64) XOR (index << 16).
 * The low 16 bits of IV are always zero, so "+ j" only sets bytes 14..15: those are written once per
 * block slot and kept; per packet only words 1..3 of each block are rewritten (word 0 is salt only).
 */
export class AesCm {
  private readonly ecb: Cipher;
  private readonly salt: Uint8Array;
  private readonly iv = new Uint8Array(16);
  private readonly iv32 = new Int32Array(this.iv.buffer);
  private ctr = Buffer.alloc(0);
  private ctr32 = new Int32Array(0);
  /** ctrLow[j]: word 3 of counter block j with only bytes 14..15 (= j) set, in native byte order. */
  private ctrLow = new Int32Array(0);
  /** views[n]: ctr[0 .. n*16), created on first use so no per-packet subarray is allocated. */
  private views: Buffer[] = [];
  private blocks = 0;

  constructor(sessionKey: Uint8Array, sessionSalt: Uint8Array) {
    if (sessionKey.length !== 16) throw new RangeError("AES-CM: session key must be 16 bytes");
    if (sessionSalt.length !== 14) throw new RangeError("AES-CM: session salt must be 14 bytes");
    this.ecb = createCipheriv("aes-128-ecb", sessionKey, null);
    this.ecb.setAutoPadding(false);
    this.salt = Uint8Array.from(sessionSalt);
    this.iv.set(this.salt);
    this.grow(96); // 1536 bytes: any MTU-sized packet without growing
  }

  private grow(blocks: number): void {
    const n = Math.min(MAX_BLOCKS, Math.max(blocks, this.blocks * 2));
    const ab = new ArrayBuffer(n * 16);
    const ctr = Buffer.from(ab);
    const ctr32 = new Int32Array(ab);
    const low = new Int32Array(n);
    // Word 0 (salt bytes 0..3) is the same for every block and every packet.
    const w0 = this.iv32[0];
    for (let j = 0; j < n; j++) {
      ctr[j * 16 + 14] = j >>> 8;
      ctr[j * 16 + 15] = j & 0xff;
      low[j] = ctr32[j * 4 + 3];
      ctr32[j * 4] = w0;
    }
    this.ctr = ctr;
    this.ctr32 = ctr32;
    this.ctrLow = low;
    this.views = [];
    this.blocks = n;
  }

  /**
   * Keystream of `blocks` AES blocks for (ssrc, index) with index = indexHi * 2^16 + indexLo
   * (SRTP: ROC and SEQ; SRTCP: index >>> 16 and index & 0xffff). Returns a fresh Buffer of
   * exactly blocks * 16 bytes (its byteOffset is 0 in practice; callers must not rely on it).
   */
  keystream(ssrc: number, indexHi: number, indexLo: number, blocks: number): Buffer {
    if (blocks > this.blocks) this.ensure(blocks);
    this.fillSlot(0, ssrc, indexHi, indexLo, blocks);
    return this.ecb.update(this.view(blocks));
  }

  /**
   * Keystreams for `count` consecutive packet indexes starting at `firstIndex` (a 48-bit SRTP index,
   * ROC * 2^16 + SEQ; the ROC carry is handled), `blocks` blocks each, in ONE AES call: packet p's
   * keystream is bytes [p * blocks * 16, (p + 1) * blocks * 16) of the result. One large update()
   * costs far less than `count` small ones in Node.
   */
  keystreamBatch(ssrc: number, firstIndex: number, count: number, blocks: number): Buffer {
    const total = count * blocks;
    if (total > this.blocks) this.ensure(total);
    for (let p = 0; p < count; p++) {
      const index = firstIndex + p;
      this.fillSlot(p * blocks, ssrc, Math.floor(index / 65536), index & 0xffff, blocks);
    }
    return this.ecb.update(this.view(total));
  }

  private ensure(blocks: number): void {
    if (blocks > MAX_BLOCKS) throw new RangeError("AES-CM: keystream longer than 2^16 blocks");
    this.grow(blocks);
  }

  private view(blocks: number): Buffer {
    let view = this.views[blocks];
    if (view === undefined) {
      view = this.ctr.subarray(0, blocks * 16);
      this.views[blocks] = view;
    }
    return view;
  }

  /** Writes counter blocks first .. first+blocks-1 for one packet (block counter 0 .. blocks-1). */
  private fillSlot(first: number, ssrc: number, hi: number, lo: number, blocks: number): void {
    const iv = this.iv;
    const s = this.salt;
    iv[4] = s[4] ^ (ssrc >>> 24);
    iv[5] = s[5] ^ ((ssrc >>> 16) & 0xff);
    iv[6] = s[6] ^ ((ssrc >>> 8) & 0xff);
    iv[7] = s[7] ^ (ssrc & 0xff);
    iv[8] = s[8] ^ (hi >>> 24);
    iv[9] = s[9] ^ ((hi >>> 16) & 0xff);
    iv[10] = s[10] ^ ((hi >>> 8) & 0xff);
    iv[11] = s[11] ^ (hi & 0xff);
    iv[12] = s[12] ^ ((lo >>> 8) & 0xff);
    iv[13] = s[13] ^ (lo & 0xff);
    const iv32 = this.iv32;
    const w1 = iv32[1];
    const w2 = iv32[2];
    const w3 = iv32[3];
    const c = this.ctr32;
    const low = this.ctrLow;
    for (let j = 0, k = first * 4 + 1; j < blocks; j++, k += 4) {
      c[k] = w1;
      c[k + 1] = w2;
      c[k + 2] = w3 | low[j];
    }
  }
}
