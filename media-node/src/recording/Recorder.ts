/**
 * Records publishers of a router to WebM files, one per track, without transcoding. It takes
 * packets like a subscriber does (a tap on each publisher, after its subscribers are served),
 * so it never slows their forwarding; reordering, depacketizing and writing run on its own
 * timer.
 */
import { mkdirSync } from "node:fs";
import { ClosedError, UnsupportedCodecError, WeirError } from "../errors.ts";
import { newId } from "../ids.ts";
import type { Publisher } from "../Publisher.ts";
import { TypedEmitter } from "../TypedEmitter.ts";
import type {
  RecorderEvents,
  RecorderOptions,
  RecorderStats,
  RecordingFile,
} from "./RecorderTypes.ts";
import type { TrackCodec } from "./TrackFile.ts";
import { TrackRecorder, trackPath } from "./TrackRecorder.ts";

/** How often held packets are reordered and written. */
const TICK_MS = 20;
/** Default wait for a NACKed packet: a few round trips of a normal link. */
const REPAIR_WAIT_MS = 300;

function trackCodec(p: Publisher): TrackCodec {
  if (p.codecName === "vp8" || p.codecName === "opus") return p.codecName;
  throw new UnsupportedCodecError(`recording ${p.codec.mimeType} is not supported yet`);
}

export class Recorder extends TypedEmitter<RecorderEvents> {
  readonly id: string;
  readonly directory: string;
  readonly #tracks: TrackRecorder[];
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
    const host = {
      filecreated: (f: RecordingFile) => {
        this.#files.push(f);
        this.emit("filecreated", f);
      },
      error: (e: WeirError) => this.emit("error", e),
    };
    this.#tracks = publishers.map(
      (p, i) => new TrackRecorder(p, codecs[i], trackPath(directory, this.id, p.id), wait, host),
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
    return { id: this.id, state: this.#state, tracks: this.#tracks.map((t) => t.getStats()) };
  }

  async #stop(): Promise<void> {
    this.#state = "stopping";
    clearInterval(this.#timer);
    await Promise.all(this.#tracks.map((t) => t.stop()));
    this.#state = "closed";
    this.emit("closed");
    this.removeAllListeners();
  }

  #tick(): void {
    const now = performance.now();
    for (const t of this.#tracks) t.tick(now);
  }

  /** A track whose publisher left is finished; when none is left, the recorder stops. */
  #publisherClosed(t: TrackRecorder): void {
    void t.stop().then(() => {
      if (this.#tracks.every((x) => x.publisher.closed)) void this.stop();
    });
  }
}
