/**
 * Makes the header mediabunny writes first read well in a file that is never finalized (the
 * process was killed). Until finalize, its Segment size covers only the header and its SeekHead
 * points at offset 0, so a demuxer jumps back and reads garbage. In the chunk that first writes
 * the Segment start we mark its size unknown (RFC 8794 6.2) and turn the SeekHead into a Void of
 * the same length; finalize overwrites both with the real values.
 *
 * Clusters too: mediabunny opens one with a 5-byte size that covers only its Timestamp and
 * writes the real size when the cluster closes, and it closes a cluster only at a keyframe of
 * every track. A camera in a call sends keyframes only when asked (Chromium: minutes apart), so a
 * cluster can hold 30 s, and a killed process (or a full disk) left its blocks outside any
 * cluster: nothing decoded. Each new cluster's size is written as unknown (RFC 8794 6.2: it ends
 * where the next level-1 element starts); closing it overwrites that with the real size.
 */
const EBML_ID = [0x1a, 0x45, 0xdf, 0xa3];
const SEGMENT_ID = [0x18, 0x53, 0x80, 0x67];
const SEEK_HEAD_ID = [0x11, 0x4d, 0x9b, 0x74];
const VOID_ID = 0xec;

function idAt(b: Uint8Array, off: number, id: readonly number[]): boolean {
  return id.every((v, i) => b[off + i] === v);
}

/** Width of an EBML variable-size integer from its first byte (0: invalid). */
function varIntWidth(first: number): number {
  for (let w = 1; w <= 8; w++) if (first & (0x80 >> (w - 1))) return w;
  return 0;
}

function readVarInt(b: Uint8Array, off: number, width: number): number {
  let v = b[off] & (0xff >> width);
  for (let i = 1; i < width; i++) v = v * 256 + b[off + i];
  return v;
}

/**
 * Watches the chunks a muxer writes and patches the Segment start (its size and the SeekHead
 * that follows) the first time it passes by. Later writes there (finalize) are left alone.
 */
export class CrashSafeHeader {
  #segment = -1;
  #done = false;

  /** Called with each chunk before it is written at `position`. */
  patch(chunk: Uint8Array, position: number): void {
    openClusters(chunk);
    if (this.#done) return;
    if (position === 0) {
      const w = varIntWidth(chunk[4]);
      if (w === 0 || !idAt(chunk, 0, EBML_ID)) {
        this.#done = true;
        return;
      }
      this.#segment = 4 + w + readVarInt(chunk, 4, w);
    }
    const at = this.#segment - position;
    if (this.#segment < 0 || at < 0 || at >= chunk.length) return;
    this.#done = true;
    patchSegmentStart(chunk, at);
  }
}

function patchSegmentStart(chunk: Uint8Array, seg: number): void {
  if (!idAt(chunk, seg, SEGMENT_ID)) return;
  const sizeWidth = varIntWidth(chunk[seg + 4]);
  if (sizeWidth === 0 || seg + 4 + sizeWidth > chunk.length) return;
  chunk[seg + 4] = 0xff >> (sizeWidth - 1); // marker bit plus all ones: unknown size
  chunk.fill(0xff, seg + 5, seg + 4 + sizeWidth);
  const head = seg + 4 + sizeWidth;
  if (!idAt(chunk, head, SEEK_HEAD_ID)) return;
  const w = varIntWidth(chunk[head + 4]);
  if (w === 0 || head + 4 + w > chunk.length) return;
  const total = 4 + w + readVarInt(chunk, head + 4, w);
  if (total < 9) return;
  // Void: 1-byte id, 8-byte size, then the rest of the old SeekHead's bytes as its content
  chunk[head] = VOID_ID;
  chunk[head + 1] = 0x01;
  let rest = total - 9;
  for (let i = 8; i >= 2; i--) {
    chunk[head + i] = rest & 0xff;
    rest = Math.floor(rest / 256);
  }
}

/**
 * A cluster as mediabunny opens it: the Cluster id, a 5-byte size of 3 (its Timestamp element
 * only, id 0xE7). Ten fixed bytes: media data matches them by chance with odds of 2^-80.
 */
const CLUSTER_OPEN = Buffer.from([0x1f, 0x43, 0xb6, 0x75, 0x08, 0x00, 0x00, 0x00, 0x03, 0xe7]);
/** A 5-byte EBML size with every value bit set: unknown. */
const UNKNOWN_SIZE_5 = [0x0f, 0xff, 0xff, 0xff, 0xff];

/** Marks the size of every cluster this chunk opens as unknown (closing it sets the real one). */
export function openClusters(chunk: Uint8Array): void {
  const b = Buffer.isBuffer(chunk)
    ? chunk
    : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.length);
  for (let at = b.indexOf(CLUSTER_OPEN); at >= 0; at = b.indexOf(CLUSTER_OPEN, at + 10)) {
    for (let i = 0; i < 5; i++) b[at + 4 + i] = UNKNOWN_SIZE_5[i];
  }
}
