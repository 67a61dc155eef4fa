// A process that records a VP8 publisher fed in real time (the 2 s fixture looped, 30 fps) until
// it is killed; prints "file <path>" when the file is created. Used by the SIGKILL test.
import { DEFAULT_CODECS } from "../../media-node/src/codecs.ts";
import { Publisher } from "../../media-node/src/Publisher.ts";
import { Recorder } from "../../media-node/src/recording/Recorder.ts";
import { parseRtp, RtpView } from "../../media-node/src/rtp/rtpPacket.ts";
import { packetizeVp8, rtpPacket, vp8Frames } from "../fixtures/packets/vp8Ivf.ts";

const codec = DEFAULT_CODECS.find((c) => c.mimeType === "video/VP8");
if (!codec) throw new Error("no VP8");
const publisher = new Publisher({
  ...{ id: "child", kind: "video", mid: "0", codec, sourcePayloadType: 96 },
  headerExtensions: [],
  host: { rtcpSsrc: 1, firNegotiated: false, sendRtcp: () => {} },
});
const rec = new Recorder({ publishers: [publisher], directory: process.argv[2] });
rec.on("filecreated", (f) => console.log(`file ${f.path}`));
const frames = vp8Frames();
const view = new RtpView();
let n = 0;
let seq = 0;
setInterval(() => {
  // frame n of an endless stream: the fixture's frame n % 60, sequence and timestamp continued
  const packets = packetizeVp8([{ ...frames[n % frames.length], pts: n }], seq, 0);
  seq += packets.length;
  for (const p of packets) {
    const buf = rtpPacket(p, 96, 0x42);
    parseRtp(buf, buf.length, view);
    publisher.receive(buf, view, performance.now());
  }
  n++;
}, 1000 / 30);
