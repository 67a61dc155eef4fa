// Drives a werift publisher's tracks with synthetic VP8 (about 1.4 Mbps, 30 fps) and Opus (50 pps).
import { type MediaStreamTrack, RtpHeader, RtpPacket } from "werift";
import { AUDIO_PTIME_MS, frameBytes, opusPayload, VIDEO_FPS, vp8Frame } from "./synthetic.ts";

export interface MediaSourceOptions {
  videoBitrate?: number;
  keyframeIntervalMs?: number;
  /**
   * Writes the RFC 6464 audio level extension with this id on every audio packet, at
   * `audioLevel`: the id negotiated for it (werift numbers its offer's extensions 1, 2, ...
   * whatever ids it was configured with; see `audioLevelExtId()`).
   */
  audioLevelExtId?: number;
}

/** The id an SDP (an answer) gives urn:ietf:params:rtp-hdrext:ssrc-audio-level, or 0. */
export function audioLevelExtId(sdp: string): number {
  const m = /^a=extmap:(\d+)(?:\/\w+)? urn:ietf:params:rtp-hdrext:ssrc-audio-level\s*$/m.exec(sdp);
  return m ? Number(m[1]) : 0;
}

export class MediaSource {
  #timers: NodeJS.Timeout[] = [];
  #videoSeq = 1000;
  #audioSeq = 5000;
  #pictureId = 0;
  #frames = 0;
  #forceKeyframe = true;
  videoPackets = 0;
  audioPackets = 0;
  /** The level written with audioLevelExtId: -dBov, 0 (loudest) .. 127 (silence). */
  audioLevel = 127;

  constructor(
    readonly video: MediaStreamTrack | undefined,
    readonly audio: MediaStreamTrack | undefined,
    readonly options: MediaSourceOptions = {},
  ) {}

  start(): void {
    const bytes = frameBytes(this.options.videoBitrate ?? 1_400_000);
    const keyEvery = Math.round(((this.options.keyframeIntervalMs ?? 2000) / 1000) * VIDEO_FPS);
    if (this.video) {
      const track = this.video;
      this.#timers.push(
        setInterval(() => {
          const key = this.#forceKeyframe || this.#frames % keyEvery === 0;
          this.#forceKeyframe = false;
          const ts = (this.#frames * 3000) >>> 0;
          const payloads = vp8Frame(this.#pictureId, key, key ? bytes * 3 : bytes);
          payloads.forEach((payload, i) => {
            const header = new RtpHeader({
              payloadType: 96,
              sequenceNumber: this.#videoSeq++ & 0xffff,
              timestamp: ts,
              marker: i === payloads.length - 1,
            });
            track.writeRtp(new RtpPacket(header, payload));
            this.videoPackets++;
          });
          this.#pictureId = (this.#pictureId + 1) & 0x7fff;
          this.#frames++;
        }, 1000 / VIDEO_FPS),
      );
    }
    if (this.audio) {
      const track = this.audio;
      let n = 0;
      this.#timers.push(
        setInterval(() => {
          const extId = this.options.audioLevelExtId;
          const header = new RtpHeader({
            payloadType: 111,
            sequenceNumber: this.#audioSeq++ & 0xffff,
            timestamp: (n * 960) >>> 0,
            ...(extId
              ? {
                  extension: true,
                  extensions: [{ id: extId, payload: Buffer.from([this.audioLevel & 0x7f]) }],
                }
              : {}),
          });
          track.writeRtp(new RtpPacket(header, opusPayload(n++)));
          this.audioPackets++;
        }, AUDIO_PTIME_MS),
      );
    }
  }

  /** The next frame is a keyframe (what a real encoder does on PLI). */
  keyframe(): void {
    this.#forceKeyframe = true;
  }

  stop(): void {
    for (const t of this.#timers) clearInterval(t);
    this.#timers = [];
  }
}
