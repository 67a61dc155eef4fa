import { AesCm } from "./aesCm.ts";
import { HmacSha1_80 } from "./hmac.ts";
import { deriveSessionKeys } from "./kdf.ts";
import { allocOutput, transientOutput } from "./slab.ts";

/** SRTP_AES128_CM_HMAC_SHA1_80: 80-bit tag on SRTP and SRTCP. */
export const TAG_LENGTH = 10;
/** E flag + 31-bit SRTCP index. */
export const SRTCP_INDEX_LENGTH = 4;
const MSG = HmacSha1_80.MSG;
const REPLAY_WINDOW = 64;

/** Bytes of keystream generated per batch (see KeystreamCache); packets per batch: 4 .. 32. */
const BATCH_BYTES = 16384;

/**
 * Per-SSRC keystream prefetch. AES-CM keystream depends only on (SSRC, index), and a stream's
 * indexes are consecutive, so when a packet follows its predecessor the keystreams of the next few
 * indexes are generated with it in one AES call (the per-call cost of Cipher.update dominates
 * at packet sizes). Each slot holds `blocks` blocks, the largest packet seen in the previous batch;
 * a larger packet, an index outside the batch or a non-consecutive index falls back to a single
 * keystream. Memory: at most one batch (about BATCH_BYTES) per SSRC and direction.
 */
class KeystreamCache {
  words: Int32Array | null = null;
  private base = 0;
  private count = 0;
  private blocks = 0;
  private maxSeen = 0;
  /** Highest index looked up so far. */
  private last = -2;

  /** Word offset of index's keystream in `words`, or -1 when the caller must compute it alone. */
  lookup(cm: AesCm, ssrc: number, index: number, blocks: number): number {
    const consecutive = index === this.last + 1;
    if (index > this.last) this.last = index; // a retransmission does not break the run
    if (blocks > this.maxSeen) this.maxSeen = blocks;
    const slot = index - this.base;
    if (this.words !== null && slot >= 0 && slot < this.count && blocks <= this.blocks) {
      return slot * this.blocks * 4;
    }
    if (!consecutive) return -1;
    const per = this.maxSeen;
    const count = Math.max(4, Math.min(32, Math.floor(BATCH_BYTES / (per * 16))));
    const ks = cm.keystreamBatch(ssrc, index, count, per);
    if ((ks.byteOffset & 3) !== 0) return -1;
    this.words = new Int32Array(ks.buffer, ks.byteOffset, ks.length >>> 2);
    this.base = index;
    this.count = count;
    this.blocks = per;
    this.maxSeen = blocks;
    return 0;
  }
}

/** Sender-side SRTP state per SSRC: ROC and the highest sequence number sent (s_l). */
class RtpTxState {
  roc = 0;
  sl: number;
  readonly ks = new KeystreamCache();
  constructor(seq: number) {
    this.sl = seq;
  }
}

/**
 * Receiver-side state per SSRC, shared by SRTP and SRTCP: the highest authenticated index and a
 * 64-entry replay bitmap (bit k = index `highest - k` seen; split in two int32 halves, no BigInt).
 * For SRTP, roc/sl are the RFC 3711 ROC and s_l (highest == roc * 2^16 + sl).
 */
class RxState {
  readonly ks = new KeystreamCache();
  roc = 0;
  sl = 0;
  highest = 0;
  winLo = 1;
  winHi = 0;
}

/** RFC 3711 §3.3.1: the ROC guess v for SEQ given the stored ROC and s_l. */
function guessRoc(roc: number, sl: number, seq: number): number {
  if (sl < 32768) return seq - sl > 32768 ? roc - 1 : roc;
  return sl - 32768 > seq ? roc + 1 : roc;
}

/** True when index is a replay or older than the window (the packet must be dropped). */
function isReplay(s: RxState, index: number): boolean {
  const delta = s.highest - index;
  if (delta < 0) return false;
  if (delta >= REPLAY_WINDOW) return true;
  return ((delta < 32 ? s.winLo >>> delta : s.winHi >>> (delta - 32)) & 1) === 1;
}

/** Marks index as received (call only after the packet authenticated). */
function markReceived(s: RxState, index: number): void {
  const delta = s.highest - index;
  if (delta < 0) {
    const shift = -delta;
    if (shift >= REPLAY_WINDOW) {
      s.winHi = 0;
      s.winLo = 1;
    } else if (shift >= 32) {
      s.winHi = s.winLo << (shift - 32);
      s.winLo = 1;
    } else {
      s.winHi = (s.winHi << shift) | (s.winLo >>> (32 - shift));
      s.winLo = (s.winLo << shift) | 1;
    }
    s.highest = index;
  } else if (delta < 32) {
    s.winLo |= 1 << delta;
  } else {
    s.winHi |= 1 << (delta - 32);
  }
}

function readU32(b: Uint8Array, o: number): number {
  return ((b[o] << 24) | (b[o + 1] << 16) | (b[o + 2] << 8) | b[o + 3]) >>> 0;
}

function writeU32(b: Uint8Array, o: number, v: number): void {
  b[o] = v >>> 24;
  b[o + 1] = v >>> 16;
  b[o + 2] = v >>> 8;
  b[o + 3] = v;
}

/**
 * XORs the keystream ks into h.buf[off .. off + n). Word-wise when off is 4-aligned (always for
 * RTP/RTCP payloads); whole words past n only touch scratch slack, which callers overwrite or
 * ignore.
 */
function xorKeystream(h: HmacSha1_80, off: number, ks: Buffer, n: number): void {
  if ((off & 3) === 0 && (ks.byteOffset & 3) === 0) {
    xorWords(h, off, new Int32Array(ks.buffer, ks.byteOffset, ks.length >>> 2), 0, n);
  } else {
    const d = h.buf;
    for (let i = 0; i < n; i++) d[off + i] ^= ks[i];
  }
}

/** XORs n bytes of cached keystream words[from..] into h.buf[off..) (off 4-aligned). */
function xorWords(h: HmacSha1_80, off: number, k32: Int32Array, from: number, n: number): void {
  const words = (n + 3) >>> 2;
  const d = h.buf32;
  let i = from;
  let j = off >>> 2;
  // Unrolled by 4: about twice as fast as the plain loop in V8.
  for (const end = from + (words & ~3); i < end; i += 4, j += 4) {
    d[j] ^= k32[i];
    d[j + 1] ^= k32[i + 1];
    d[j + 2] ^= k32[i + 2];
    d[j + 3] ^= k32[i + 3];
  }
  for (const end = from + words; i < end; i++, j++) d[j] ^= k32[i];
}

/** Payload keystream for one RTP packet: from the SSRC's batch when possible. */
function applyRtpKeystream(
  h: HmacSha1_80,
  cm: AesCm,
  cache: KeystreamCache,
  ssrc: number,
  roc: number,
  seq: number,
  off: number,
  n: number,
): void {
  const blocks = (n + 15) >>> 4;
  if ((off & 3) === 0) {
    const w = cache.lookup(cm, ssrc, roc * 65536 + seq, blocks);
    if (w >= 0) {
      xorWords(h, off, cache.words!, w, n);
      return;
    }
  }
  xorKeystream(h, off, cm.keystream(ssrc, roc, seq, blocks), n);
}

function copyIn(dst: Buffer, dstOff: number, src: Uint8Array, len: number): void {
  dst.set(len === src.length ? src : src.subarray(0, len), dstOff);
}

/**
 * One direction of an SRTP_AES128_CM_HMAC_SHA1_80 crypto context (RFC 3711): use the local master
 * key/salt for encryption, the remote ones for decryption. Session keys are derived once (kdr = 0);
 * per packet there is one native SHA-1 one-shot, one JS SHA-1 compression, one output allocation on
 * encrypt, and a share of one AES-ECB update (keystreams are generated a few packets ahead per
 * SSRC, see KeystreamCache).
 */
export class SrtpContext {
  private readonly rtpCm: AesCm;
  private readonly rtcpCm: AesCm;
  private readonly rtpAuth: HmacSha1_80;
  private readonly rtcpAuth: HmacSha1_80;
  private readonly rtpTx = new Map<number, RtpTxState>();
  private readonly rtpRx = new Map<number, RxState>();
  private readonly rtcpTx = new Map<number, { next: number }>();
  private readonly rtcpRx = new Map<number, RxState>();

  constructor(masterKey: Uint8Array, masterSalt: Uint8Array) {
    const k = deriveSessionKeys(masterKey, masterSalt);
    this.rtpCm = new AesCm(k.rtpKey, k.rtpSalt);
    this.rtcpCm = new AesCm(k.rtcpKey, k.rtcpSalt);
    this.rtpAuth = new HmacSha1_80(k.rtpAuthKey);
    this.rtcpAuth = new HmacSha1_80(k.rtcpAuthKey);
  }

  /**
   * Encrypts the RTP packet in src[0..len) whose header (with CSRCs and extension) is headerLen
   * bytes. Returns a new Buffer of len + 10 bytes. Throws RangeError on bad lengths.
   */
  encryptRtp(src: Uint8Array, len: number, headerLen: number): Buffer {
    this.#sealRtp(src, len, headerLen);
    return this.#emit(this.rtpAuth, len, allocOutput(len + TAG_LENGTH));
  }

  /**
   * encryptRtp into memory shared by every context and reused by the next call (see
   * transientOutput): for a packet sent at once. Call retireTransientOutput() if it is kept.
   */
  encryptRtpTransient(src: Uint8Array, len: number, headerLen: number): Buffer {
    this.#sealRtp(src, len, headerLen);
    return this.#emit(this.rtpAuth, len, transientOutput(len + TAG_LENGTH));
  }

  /** Encrypts src[0..len) and computes its tag, in the auth scratch buffer. */
  #sealRtp(src: Uint8Array, len: number, headerLen: number): void {
    if (!(headerLen >= 12 && headerLen <= len && len <= src.length)) {
      throw new RangeError(`SRTP: bad RTP lengths (len ${len}, header ${headerLen})`);
    }
    const seq = (src[2] << 8) | src[3];
    const ssrc = readU32(src, 8);
    let roc = 0;
    let s = this.rtpTx.get(ssrc);
    if (s === undefined) {
      s = new RtpTxState(seq);
      this.rtpTx.set(ssrc, s);
    } else {
      roc = guessRoc(s.roc, s.sl, seq);
      if (roc < 0) roc = 0;
      else if (roc > s.roc || (roc === s.roc && seq > s.sl)) {
        s.roc = roc;
        s.sl = seq;
      }
    }
    const h = this.rtpAuth;
    const m = h.ensure(len + 4);
    copyIn(m, MSG, src, len);
    const plen = len - headerLen;
    if (plen > 0) applyRtpKeystream(h, this.rtpCm, s.ks, ssrc, roc, seq, MSG + headerLen, plen);
    writeU32(m, MSG + len, roc);
    h.compute(len + 4);
  }

  /** Copies the sealed packet (len bytes) and its tag into out. */
  #emit(h: HmacSha1_80, len: number, out: Buffer): Buffer {
    h.buf.copy(out, 0, MSG, MSG + len);
    h.writeTag(out, len);
    return out;
  }

  /**
   * Authenticates and decrypts the SRTP packet in buf[0..len) in place. Returns the RTP packet
   * length (len - 10), or -1 for a short/malformed packet, a replay or an authentication failure.
   * Never throws; buf is left untouched unless it returns a length.
   */
  decryptRtp(buf: Buffer, len: number, headerLen: number): number {
    if (!(headerLen >= 12 && headerLen + TAG_LENGTH <= len && len <= buf.length)) return -1;
    const seq = (buf[2] << 8) | buf[3];
    const ssrc = readU32(buf, 8);
    const s = this.rtpRx.get(ssrc);
    let roc = 0;
    let index = seq;
    if (s !== undefined) {
      roc = guessRoc(s.roc, s.sl, seq);
      if (roc < 0) return -1;
      index = roc * 65536 + seq;
      if (isReplay(s, index)) return -1;
    }
    const mlen = len - TAG_LENGTH;
    const h = this.rtpAuth;
    const m = h.ensure(mlen + 4);
    buf.copy(m, MSG, 0, mlen);
    writeU32(m, MSG + mlen, roc);
    h.compute(mlen + 4);
    if (!h.matches(buf, mlen)) return -1;
    let st = s;
    if (st === undefined) {
      st = new RxState();
      st.roc = roc;
      st.sl = seq;
      st.highest = index;
      this.rtpRx.set(ssrc, st);
    } else {
      if (index > st.highest) {
        st.roc = roc;
        st.sl = seq;
      }
      markReceived(st, index);
    }
    const plen = mlen - headerLen;
    if (plen > 0) {
      applyRtpKeystream(h, this.rtpCm, st.ks, ssrc, roc, seq, MSG + headerLen, plen);
      m.copy(buf, headerLen, MSG + headerLen, MSG + mlen);
    }
    return mlen;
  }

  /**
   * Encrypts the compound RTCP packet in src[0..len): payload after the first 8 bytes is encrypted,
   * then E flag | 31-bit SRTCP index (per sender SSRC, starting at 0) and the tag are appended.
   * Returns a new Buffer of len + 14 bytes. Throws RangeError on bad lengths.
   */
  encryptRtcp(src: Uint8Array, len: number): Buffer {
    if (!(len >= 8 && len <= src.length)) throw new RangeError(`SRTCP: bad RTCP length ${len}`);
    const ssrc = readU32(src, 4);
    let s = this.rtcpTx.get(ssrc);
    if (s === undefined) {
      s = { next: 0 };
      this.rtcpTx.set(ssrc, s);
    }
    const index = s.next;
    s.next = (index + 1) & 0x7fffffff;
    const h = this.rtcpAuth;
    const m = h.ensure(len + SRTCP_INDEX_LENGTH);
    copyIn(m, MSG, src, len);
    const plen = len - 8;
    if (plen > 0) {
      const ks = this.rtcpCm.keystream(ssrc, index >>> 16, index & 0xffff, (plen + 15) >>> 4);
      xorKeystream(h, MSG + 8, ks, plen);
    }
    writeU32(m, MSG + len, (index | 0x80000000) >>> 0);
    h.compute(len + SRTCP_INDEX_LENGTH);
    const out = allocOutput(len + SRTCP_INDEX_LENGTH + TAG_LENGTH);
    m.copy(out, 0, MSG, MSG + len + SRTCP_INDEX_LENGTH);
    h.writeTag(out, len + SRTCP_INDEX_LENGTH);
    return out;
  }

  /**
   * Authenticates and decrypts the SRTCP packet in buf[0..len) in place. Returns the RTCP length
   * (len - 14), or -1 for a short packet, a replay or an authentication failure. Never throws.
   */
  decryptRtcp(buf: Buffer, len: number): number {
    const tail = len - TAG_LENGTH - SRTCP_INDEX_LENGTH;
    if (!(tail >= 8 && len <= buf.length)) return -1;
    const ssrc = readU32(buf, 4);
    const eIndex = readU32(buf, tail);
    const index = eIndex & 0x7fffffff;
    const s = this.rtcpRx.get(ssrc);
    if (s !== undefined && isReplay(s, index)) return -1;
    const mlen = len - TAG_LENGTH;
    const h = this.rtcpAuth;
    const m = h.ensure(mlen);
    buf.copy(m, MSG, 0, mlen);
    h.compute(mlen);
    if (!h.matches(buf, mlen)) return -1;
    const plen = tail - 8;
    if (eIndex >>> 31 === 1 && plen > 0) {
      const ks = this.rtcpCm.keystream(ssrc, index >>> 16, index & 0xffff, (plen + 15) >>> 4);
      xorKeystream(h, MSG + 8, ks, plen);
      m.copy(buf, 8, MSG + 8, MSG + tail);
    }
    if (s === undefined) {
      const n = new RxState();
      n.highest = index;
      this.rtcpRx.set(ssrc, n);
    } else {
      markReceived(s, index);
    }
    return tail;
  }
}

export interface SrtpKeys {
  localKey: Uint8Array;
  localSalt: Uint8Array;
  remoteKey: Uint8Array;
  remoteSalt: Uint8Array;
}

/** tx encrypts with the local master key/salt, rx decrypts with the remote ones. */
export function createSrtpPair(keys: SrtpKeys): { tx: SrtpContext; rx: SrtpContext } {
  return {
    tx: new SrtpContext(keys.localKey, keys.localSalt),
    rx: new SrtpContext(keys.remoteKey, keys.remoteSalt),
  };
}
