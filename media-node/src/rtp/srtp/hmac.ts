import * as nodeCrypto from "node:crypto";

const W = new Int32Array(80);

/** One SHA-1 compression of the 16 words already in W[0..16) into state st (5 words). */
function compressW(st: Int32Array): void {
  for (let i = 16; i < 80; i++) {
    const x = W[i - 3] ^ W[i - 8] ^ W[i - 14] ^ W[i - 16];
    W[i] = (x << 1) | (x >>> 31);
  }
  let a = st[0];
  let b = st[1];
  let c = st[2];
  let d = st[3];
  let e = st[4];
  let t = 0;
  for (let i = 0; i < 20; i++) {
    t = (((a << 5) | (a >>> 27)) + ((b & c) | (~b & d)) + e + 0x5a827999 + W[i]) | 0;
    e = d;
    d = c;
    c = (b << 30) | (b >>> 2);
    b = a;
    a = t;
  }
  for (let i = 20; i < 40; i++) {
    t = (((a << 5) | (a >>> 27)) + (b ^ c ^ d) + e + 0x6ed9eba1 + W[i]) | 0;
    e = d;
    d = c;
    c = (b << 30) | (b >>> 2);
    b = a;
    a = t;
  }
  for (let i = 40; i < 60; i++) {
    t = (((a << 5) | (a >>> 27)) + ((b & c) | (b & d) | (c & d)) + e + 0x8f1bbcdc + W[i]) | 0;
    e = d;
    d = c;
    c = (b << 30) | (b >>> 2);
    b = a;
    a = t;
  }
  for (let i = 60; i < 80; i++) {
    t = (((a << 5) | (a >>> 27)) + (b ^ c ^ d) + e + 0xca62c1d6 + W[i]) | 0;
    e = d;
    d = c;
    c = (b << 30) | (b >>> 2);
    b = a;
    a = t;
  }
  st[0] = (st[0] + a) | 0;
  st[1] = (st[1] + b) | 0;
  st[2] = (st[2] + c) | 0;
  st[3] = (st[3] + d) | 0;
  st[4] = (st[4] + e) | 0;
}

function loadWords(src: Uint8Array, off: number, words: number): void {
  for (let i = 0; i < words; i++, off += 4) {
    W[i] = (src[off] << 24) | (src[off + 1] << 16) | (src[off + 2] << 8) | src[off + 3];
  }
}

/** The 20-byte digest as a latin1 string (one char per byte) into W[0..5). */
function loadDigestWords(d: string): void {
  for (let i = 0, off = 0; i < 5; i++, off += 4) {
    W[i] =
      (d.charCodeAt(off) << 24) |
      (d.charCodeAt(off + 1) << 16) |
      (d.charCodeAt(off + 2) << 8) |
      d.charCodeAt(off + 3);
  }
}

/**
 * SHA-1 as a latin1 string: a small heap string, where a Buffer result costs a fresh backing
 * store per packet (measured: 1.8 µs of CPU per 1164-byte hash against 0.9 µs, mostly GC).
 * Node >= 20.12 has the one-shot crypto.hash(); it skips creating a Hash object per call.
 */
const oneShot = (
  nodeCrypto as unknown as {
    hash?: (alg: string, data: Uint8Array, enc: "latin1") => string;
  }
).hash;
const sha1: (data: Uint8Array) => string =
  typeof oneShot === "function"
    ? (data) => oneShot("sha1", data, "latin1")
    : (data) => nodeCrypto.createHash("sha1").update(data).digest("binary"); // "binary" is latin1

const SCRATCH_SLACK = 32;

/**
 * Scratch shared by every HMAC context (all work is synchronous): 64 bytes for the ipad block,
 * then the message. Views of it by hashed length are kept so hashing allocates no view per packet.
 */
let scratch = Buffer.alloc(0);
let scratch32 = new Int32Array(0);
let hashViews: (Buffer | undefined)[] = [];

function growScratch(need: number): void {
  const ab = new ArrayBuffer((Math.max(need, scratch.length * 2, 2048) + 3) & ~3);
  scratch = Buffer.from(ab);
  scratch32 = new Int32Array(ab);
  hashViews = [];
}

/**
 * HMAC-SHA1 truncated to 80 bits (RFC 3711 §4.2.1) for a fixed 20-byte session auth key.
 *
 * The message is written by the caller into `buf` at offset 64 (MSG); compute() puts the key XOR
 * ipad block in buf[0..64), so the inner hash is ONE native one-shot SHA-1 over buf[0..64+len)
 * with no Hash/Hmac object per packet. The outer hash is a single SHA-1 compression (opad state
 * is precomputed, the 20-byte inner digest plus padding fit one block) done in JS, which is
 * cheaper than another trip into native code for 84 bytes. `buf` is shared by all contexts: it
 * is valid from ensure() until the caller's synchronous work is done.
 */
export class HmacSha1_80 {
  static readonly MSG = 64;
  private readonly ipad = new Uint8Array(64);
  private readonly opadState = new Int32Array(5);
  private readonly st = new Int32Array(5);
  /** First 10 bytes of the last MAC, as big-endian words: t0, t1 and the top 16 bits of t2. */
  t0 = 0;
  t1 = 0;
  t2 = 0;

  constructor(authKey: Uint8Array) {
    if (authKey.length > 64) throw new RangeError("HMAC: key longer than one block");
    const opad = new Uint8Array(64);
    for (let i = 0; i < 64; i++) {
      const k = i < authKey.length ? authKey[i] : 0;
      this.ipad[i] = k ^ 0x36;
      opad[i] = k ^ 0x5c;
    }
    const s = this.opadState;
    s[0] = 0x67452301;
    s[1] = 0xefcdab89 | 0;
    s[2] = 0x98badcfe | 0;
    s[3] = 0x10325476;
    s[4] = 0xc3d2e1f0 | 0;
    loadWords(opad, 0, 16);
    compressW(s);
    this.ensure(1500);
  }

  /** ipad block followed by the message area (byteOffset 0); grown by ensure(). */
  get buf(): Buffer {
    return scratch;
  }

  /** Int32 view over buf (for word-wise XOR by the caller). */
  get buf32(): Int32Array {
    return scratch32;
  }

  /** Makes room for a message of msgLen bytes (plus word-XOR slack); returns buf. */
  ensure(msgLen: number): Buffer {
    const need = 64 + msgLen + SCRATCH_SLACK;
    if (need > scratch.length) growScratch(need);
    return scratch;
  }

  /** MAC over buf[64 .. 64+msgLen); the truncated tag lands in t0/t1/t2. */
  compute(msgLen: number): void {
    const total = 64 + msgLen;
    scratch.set(this.ipad, 0);
    let view = hashViews[total];
    if (view === undefined) {
      view = scratch.subarray(0, total);
      hashViews[total] = view;
    }
    loadDigestWords(sha1(view));
    W[5] = 0x80000000 | 0;
    W[6] = 0;
    W[7] = 0;
    W[8] = 0;
    W[9] = 0;
    W[10] = 0;
    W[11] = 0;
    W[12] = 0;
    W[13] = 0;
    W[14] = 0;
    W[15] = (64 + 20) * 8;
    const st = this.st;
    st.set(this.opadState);
    compressW(st);
    this.t0 = st[0];
    this.t1 = st[1];
    this.t2 = st[2];
  }

  writeTag(dst: Uint8Array, off: number): void {
    const t0 = this.t0;
    const t1 = this.t1;
    const t2 = this.t2;
    dst[off] = t0 >>> 24;
    dst[off + 1] = t0 >>> 16;
    dst[off + 2] = t0 >>> 8;
    dst[off + 3] = t0;
    dst[off + 4] = t1 >>> 24;
    dst[off + 5] = t1 >>> 16;
    dst[off + 6] = t1 >>> 8;
    dst[off + 7] = t1;
    dst[off + 8] = t2 >>> 24;
    dst[off + 9] = t2 >>> 16;
  }

  /** Compares the last MAC with the 10-byte tag at src[off..off+10) without early exit. */
  matches(src: Uint8Array, off: number): boolean {
    const a = (src[off] << 24) | (src[off + 1] << 16) | (src[off + 2] << 8) | src[off + 3];
    const b = (src[off + 4] << 24) | (src[off + 5] << 16) | (src[off + 6] << 8) | src[off + 7];
    const c = (src[off + 8] << 8) | src[off + 9];
    return ((a ^ this.t0) | (b ^ this.t1) | (c ^ (this.t2 >>> 16))) === 0;
  }
}
