// An independent decoder's view of a recorded file: Debian's ffprobe counts the frames of each
// stream (decoding them), ffmpeg decodes the whole file and reports what it could not parse.
import { execFileSync, spawnSync } from "node:child_process";

export interface ProbedStream {
  codec: string;
  frames: number;
  width?: number;
  /** Seconds. */
  startTime: number;
}

export interface Probe {
  streams: ProbedStream[];
  /** Seconds from the container (NaN when it has none). */
  duration: number;
  /** What `ffmpeg -v error -i file -f null -` printed: "" when every packet parsed and decoded. */
  decodeErrors: string;
}

export function probe(path: string): Probe {
  const out = execFileSync("ffprobe", [
    ...["-v", "error", "-count_frames", "-show_entries"],
    "stream=codec_name,nb_read_frames,width,start_time:format=duration",
    ...["-of", "json", path],
  ]).toString();
  const j = JSON.parse(out);
  // passthrough: frames keep their own timestamps (a camera's are not on an exact fps grid), in
  // the file's own time base (-enc_time_base -1): with ffmpeg's default 1/fps, two frames a few
  // ms apart were reported as "non monotonically increasing dts" though the file was right
  const args = [
    "-nostdin",
    "-v",
    "error",
    "-i",
    path,
    "-fps_mode",
    "passthrough",
    "-enc_time_base",
    "-1",
    "-f",
    "null",
    "-",
  ];
  const ff = spawnSync("ffmpeg", args);
  return {
    streams: j.streams.map((s: Record<string, string | number>) => ({
      codec: s.codec_name,
      frames: Number(s.nb_read_frames),
      width: s.width === undefined ? undefined : Number(s.width),
      startTime: Number(s.start_time),
    })),
    duration: Number(j.format.duration),
    decodeErrors: `${ff.stderr}`.trim() + (ff.status === 0 ? "" : ` (exit ${ff.status})`),
  };
}
