/**
 * Muxer choice for recording (issue 15): muxes the same VP8 frames (an IVF file, e.g. from
 * `ffmpeg -f lavfi -i testsrc=size=640x480:rate=30 -t 20 -c:v libvpx -g 60 -f ivf vp8.ivf`) to WebM
 * with mediabunny and with werift's WEBMContainer, prints CPU per frame; check the files with
 * `ffprobe -count_frames`. Usage: node --import tsx bench/muxerCompare.ts vp8.ivf outDir
 */
import { closeSync, openSync, readFileSync, writeSync } from "node:fs";
import { join } from "node:path";
import {
  EncodedPacket,
  EncodedVideoPacketSource,
  Output,
  StreamTarget,
  type StreamTargetChunk,
  WebMOutputFormat,
} from "mediabunny";
import { WEBMContainer } from "werift/nonstandard";

interface Frame {
  data: Buffer;
  ptsMs: number;
  key: boolean;
}

function readIvf(path: string): { frames: Frame[]; width: number; height: number } {
  const b = readFileSync(path);
  const width = b.readUInt16LE(12);
  const height = b.readUInt16LE(14);
  const den = b.readUInt32LE(16);
  const num = b.readUInt32LE(20);
  const frames: Frame[] = [];
  for (let off = b.readUInt16LE(6); off + 12 <= b.length; ) {
    const size = b.readUInt32LE(off);
    const pts = Number(b.readBigUInt64LE(off + 4));
    const data = b.subarray(off + 12, off + 12 + size);
    frames.push({ data, ptsMs: (pts * num * 1000) / den, key: (data[0] & 1) === 0 });
    off += 12 + size;
  }
  return { frames, width, height };
}

async function withMediabunny(frames: Frame[], w: number, h: number, out: string): Promise<void> {
  const fd = openSync(out, "w");
  const sink = new WritableStream<StreamTargetChunk>({
    write(c) {
      writeSync(fd, c.data, 0, c.data.length, c.position);
    },
  });
  const output = new Output({
    format: new WebMOutputFormat({ minimumClusterDuration: 1 }),
    target: new StreamTarget(sink),
  });
  const video = new EncodedVideoPacketSource("vp8");
  output.addVideoTrack(video);
  await output.start();
  const meta = { decoderConfig: { codec: "vp8", codedWidth: w, codedHeight: h } };
  for (let i = 0; i < frames.length; i++) {
    const f = frames[i];
    const p = new EncodedPacket(f.data, f.key ? "key" : "delta", f.ptsMs / 1000, 1 / 30);
    await video.add(p, i === 0 ? meta : undefined);
  }
  await output.finalize();
  closeSync(fd);
}

function withWerift(frames: Frame[], w: number, h: number, out: string): void {
  const c = new WEBMContainer([
    { kind: "video", codec: "VP8", trackNumber: 1, width: w, height: h },
  ]);
  const fd = openSync(out, "w");
  writeSync(fd, c.ebmlHeader);
  writeSync(fd, c.createSegment());
  let clusterMs = -Infinity;
  for (const f of frames) {
    if (f.key || f.ptsMs - clusterMs > 30000) {
      clusterMs = f.ptsMs;
      writeSync(fd, c.createCluster(clusterMs));
    }
    writeSync(fd, c.createSimpleBlock(f.data, f.key, 1, f.ptsMs - clusterMs));
  }
  closeSync(fd);
}

async function cpuUs(fn: () => unknown): Promise<number> {
  const start = process.cpuUsage();
  await fn();
  const d = process.cpuUsage(start);
  return d.user + d.system;
}

const [ivf, dir] = process.argv.slice(2);
const { frames, width, height } = readIvf(ivf);
const runs = 5;
let mb = 0;
let wf = 0;
for (let r = 0; r < runs; r++) {
  mb += await cpuUs(() => withMediabunny(frames, width, height, join(dir, "mediabunny.webm")));
  wf += await cpuUs(() => withWerift(frames, width, height, join(dir, "werift.webm")));
}
const per = (us: number) => (us / runs / frames.length).toFixed(1);
console.log(`${frames.length} frames ${width}x${height}, ${runs} runs each`);
console.log(`mediabunny: ${per(mb)} µs CPU per frame`);
console.log(`werift WEBMContainer: ${per(wf)} µs CPU per frame`);
