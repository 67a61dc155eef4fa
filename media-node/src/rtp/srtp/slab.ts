/**
 * Output buffers for encrypted packets, carved from large slabs. Node's Buffer pool is 8 KiB, so
 * at ~1.2 KiB per packet it makes a new ArrayBuffer every six packets; a 256 KiB slab makes one
 * every ~200, which takes most of the forwarding path's garbage-collection work away. A slab is
 * never rewritten: a packet still queued in the socket keeps its bytes.
 */
const SLAB_BYTES = 256 * 1024;
let slab = Buffer.allocUnsafeSlow(SLAB_BYTES);
let used = 0;

export function allocOutput(bytes: number): Buffer {
  if (bytes > SLAB_BYTES / 4) return Buffer.allocUnsafe(bytes);
  if (used + bytes > SLAB_BYTES) {
    slab = Buffer.allocUnsafeSlow(SLAB_BYTES);
    used = 0;
  }
  const out = slab.subarray(used, used + bytes);
  used = (used + bytes + 7) & ~7; // keep 8-byte alignment for word-wise XOR
  return out;
}

/** Largest packet served from the transient area; bigger ones get slab memory. */
const TRANSIENT_BYTES = 2048;
let transient = Buffer.allocUnsafeSlow(TRANSIENT_BYTES);
/** One view per length over the transient area, so handing out a packet allocates nothing. */
let transientViews: (Buffer | undefined)[] = [];

/**
 * Output memory for a packet that is sent before the next call: the same bytes every time. If
 * the send could not complete at once (the bytes are still queued), call retireTransientOutput.
 */
export function transientOutput(bytes: number): Buffer {
  if (bytes > TRANSIENT_BYTES) return allocOutput(bytes);
  let view = transientViews[bytes];
  if (view === undefined) {
    view = transient.subarray(0, bytes);
    transientViews[bytes] = view;
  }
  return view;
}

/** The last transient packet is still in use: later ones get fresh memory. */
export function retireTransientOutput(): void {
  transient = Buffer.allocUnsafeSlow(TRANSIENT_BYTES);
  transientViews = [];
}
