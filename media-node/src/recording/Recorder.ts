/**
 * Records publishers of a router to WebM files, one per track, without transcoding. It takes
 * packets like a subscriber does (a tap on each publisher, after its subscribers are served),
 * so it never slows their forwarding; reordering, depacketizing and writing run on its own
 * timer.
 */
import { mkdirSync } from "node:fs";
import { ClosedError, UnsupportedCodecError, WeirError, WriteFailedError } from "../errors.ts";
import { newId } from "../ids.ts";
import type { Publisher } from "../Publisher.ts";
import { TypedEmitter } from "../TypedEmitter.ts";
import type { TrackCodec } from "./MuxFile.ts";
import {
  type OutputHost,
  type OutputTrack,
  ParticipantOutput,
  PerTrackOutput,
  type RecordingOutput,
} from "./outputs.ts";
import type {
  RecorderEvents,
  RecorderOptions,
  RecorderStats,
  RecordingFile,
} from "./RecorderTypes.ts";
import { TrackRecorder } from "./TrackRecorder.ts";

/** How often held packets are reordered and written. */
const TICK_MS = 20;
/** Default wait for a NACKed packet: a few round trips of a normal link. */
const REPAIR_WAIT_MS = 300;

function trackCodec(p: Publisher): TrackCodec {
  const c = p.codecName;
  if (c === "vp8" || c === "vp9" || c === "av1" || c === "h264" || c === "opus") return c;
  throw new UnsupportedCodecError(`recording ${p.codec.mimeType} is not supported yet`);
}

export class Recorder extends TypedEmitter<RecorderEvents> {
  readonly id: string;
  readonly directory: string;
  readonly #tracks: TrackRecorder[];
  readonly #output: RecordingOutput;
  readonly #files: RecordingFile[] = [];
  readonly #timer: NodeJS.Timeout;
  #state: RecorderStats["state"] = "recording";
  #stopping: Promise<void> | null = null;

  constructor(options: RecorderOptions) {
    super();
    const { publishers, directory } = options;
    if (publishers.length === 0) throw new WeirError("invalid_argument", "no publisher to record");
    if (new Set(publishers).size !== publishers.length) {
      throw new WeirError("invalid_argument", "a publisher is listed twice");
    }
    for (const p of publishers) if (p.closed) throw new ClosedError(`publisher ${p.id}`);
    const codecs = publishers.map(trackCodec);
    this.id = options.id ?? newId("rec");
    this.directory = directory;
    mkdirSync(directory, { recursive: true });
    const wait = options.repairWaitMs ?? REPAIR_WAIT_MS;
    const host: OutputHost = {
      filecreated: (f) => {
        this.#files.push(f);
        this.emit("filecreated", f);
      },
      error: (path, e, tracks) => {
        for (const i of tracks) this.#tracks[i].detach();
        this.emit("error", new WriteFailedError(path, e));
      },
    };
    const specs: OutputTrack[] = publishers.map((publisher, i) => ({
      publisher,
      codec: codecs[i],
      encoding: publisher.encodings.length - 1,
    }));
    const Output = options.layout === "participant" ? ParticipantOutput : PerTrackOutput;
    this.#output = new Output(directory, this.id, specs, host);
    const output = this.#output;
    this.#tracks = specs.map(
      (s, i) => new TrackRecorder(s.publisher, s.codec, wait, (f) => output.frame(i, f)),
    );
    for (const t of this.#tracks) t.publisher.on("closed", () => this.#publisherClosed(t));
    this.#timer = setInterval(() => this.#tick(), TICK_MS);
    this.#timer.unref();
  }

  get state(): RecorderStats["state"] {
    return this.#state;
  }

  /** The files opened so far. */
  get files(): readonly RecordingFile[] {
    return this.#files;
  }

  /** Writes what is held, finishes every file and closes. */
  stop(): Promise<void> {
    this.#stopping ??= this.#stop();
    return this.#stopping;
  }

  getStats(): RecorderStats {
    const tracks = this.#tracks.map((t, i) => t.getStats(this.#output.trackStats(i)));
    return { id: this.id, state: this.#state, tracks };
  }

  async #stop(): Promise<void> {
    this.#state = "stopping";
    clearInterval(this.#timer);
    for (const t of this.#tracks) t.stop();
    await this.#output.close();
    this.#state = "closed";
    this.emit("closed");
    this.removeAllListeners();
  }

  #tick(): void {
    const now = performance.now();
    for (const t of this.#tracks) t.tick(now);
  }

  /** A track whose publisher left takes no more; when none is left, the recorder stops. */
  #publisherClosed(t: TrackRecorder): void {
    t.stop();
    if (this.#tracks.every((x) => x.publisher.closed)) void this.stop();
  }
}
