// Synthetic media at realistic rates: VP8 frames (keyframe every 2 s) and Opus packets, as RTP
// payloads that Weir's keyframe detection and a VP8 depacketizer accept.

export const VIDEO_FPS = 30;
export const AUDIO_PTIME_MS = 20;
export const MAX_PAYLOAD = 1100;

/** VP8 RTP payloads of one frame: descriptor with a 15-bit picture id, then frame bytes. */
export function vp8Frame(pictureId: number, keyframe: boolean, frameBytes: number): Buffer[] {
  const packets: Buffer[] = [];
  let remaining = frameBytes;
  let first = true;
  while (remaining > 0) {
    const size = Math.min(MAX_PAYLOAD, remaining);
    const p = Buffer.alloc(4 + size, 0x55);
    p[0] = 0x80 | (first ? 0x10 : 0); // X=1, S on the first packet, PID 0
    p[1] = 0x80; // I: picture id present
    p[2] = 0x80 | ((pictureId >> 8) & 0x7f); // M=1: 15-bit picture id
    p[3] = pictureId & 0xff;
    if (first) {
      // VP8 payload header: P=0 for keyframes, show_frame=1; keyframe start code + 640x360
      p[4] = keyframe ? 0x10 : 0x11;
      if (keyframe) Buffer.from([0, 0, 0x9d, 0x01, 0x2a, 0x80, 0x02, 0x68, 0x01]).copy(p, 5);
    }
    packets.push(p);
    remaining -= size;
    first = false;
  }
  return packets;
}

/** Bytes per frame for a target video bitrate. */
export function frameBytes(bitrate: number): number {
  return Math.round(bitrate / 8 / VIDEO_FPS);
}

export function opusPayload(n: number): Buffer {
  const p = Buffer.alloc(100, n & 0xff);
  p[0] = 0xfc; // TOC: CELT FB 20 ms, mono
  return p;
}
