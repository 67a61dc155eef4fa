import type { Publisher } from "../Publisher.ts";
import { type ActiveSpeakerOptions, AudioLevelMeter, SPEAKER_DEFAULTS } from "./AudioLevelMeter.ts";

/** A publisher that is speaking, with its smoothed level (0..1, linear amplitude). */
export interface ActiveSpeaker {
  publisherId: string;
  level: number;
}

/** One audio publisher's level at an interval. */
export interface AudioLevelInfo {
  publisherId: string;
  /** Smoothed linear level over the window, 0..1 (0 without packets or while muted). */
  level: number;
  speaking: boolean;
}

export interface ActiveSpeakerReport {
  /** Every metered publisher (audio with the RFC 6464 extension negotiated). */
  levels: AudioLevelInfo[];
  /** The speaking ones, loudest first (ties by publisher id). */
  speakers: ActiveSpeaker[];
  /** Whether the speakers' order (their ids) differs from the last report's. */
  changed: boolean;
}

/**
 * One timer per interval length for every detector of the process: 500 rooms wake the process
 * 4 times a second, not 2000 (each wake-up of an idle node costs 50-70 µs of CPU).
 */
const tickers = new Map<number, { timer: NodeJS.Timeout; detectors: Set<ActiveSpeakerDetector> }>();

function startTicking(d: ActiveSpeakerDetector, intervalMs: number): void {
  let t = tickers.get(intervalMs);
  if (!t) {
    const detectors = new Set<ActiveSpeakerDetector>();
    const timer = setInterval(() => {
      for (const x of detectors) x.tick();
    }, intervalMs);
    timer.unref();
    t = { timer, detectors };
    tickers.set(intervalMs, t);
  }
  t.detectors.add(d);
}

function stopTicking(d: ActiveSpeakerDetector, intervalMs: number): void {
  const t = tickers.get(intervalMs);
  if (!t?.detectors.delete(d) || t.detectors.size > 0) return;
  clearInterval(t.timer);
  tickers.delete(intervalMs);
}

/**
 * A room's speaker detection: the audio publishers that negotiated the audio level extension
 * each get an AudioLevelMeter (fed on their forwarding path); every `intervalMs` it judges them
 * all and reports. It ticks (on a timer shared by the process's detectors) only while it has a
 * metered publisher.
 */
export class ActiveSpeakerDetector {
  readonly options: Required<ActiveSpeakerOptions>;
  readonly #publishers = new Set<Publisher>();
  readonly #onReport: (report: ActiveSpeakerReport) => void;
  #ticking = false;
  #key = "";
  #speakers: ActiveSpeaker[] = [];
  #levels: AudioLevelInfo[] = [];

  constructor(options: ActiveSpeakerOptions, onReport: (report: ActiveSpeakerReport) => void) {
    this.options = { ...SPEAKER_DEFAULTS, ...options };
    checkOptions(this.options);
    this.#onReport = onReport;
  }

  /** The speakers of the last report, loudest first. */
  get speakers(): readonly ActiveSpeaker[] {
    return this.#speakers;
  }

  /** Meters `publisher` when it is audio with the audio level extension; false otherwise. */
  add(publisher: Publisher): boolean {
    if (!publisher.meterAudioLevels(new AudioLevelMeter(this.options))) return false;
    this.#publishers.add(publisher);
    if (!this.#ticking) {
      this.#ticking = true;
      startTicking(this, this.options.intervalMs);
    }
    return true;
  }

  remove(publisher: Publisher): void {
    if (!this.#publishers.delete(publisher)) return;
    if (this.#publishers.size === 0) this.#stopTimer();
    const id = publisher.id;
    this.#levels = this.#levels.filter((l) => l.publisherId !== id);
    // a speaker that left is reported gone at once, not at the next interval
    if (!this.#speakers.some((s) => s.publisherId === id)) return;
    this.#report(this.#speakers.filter((s) => s.publisherId !== id));
  }

  /** Judges every metered publisher now (the timer calls it; tests call it with their clock). */
  tick(): void {
    const levels: AudioLevelInfo[] = [];
    const speakers: ActiveSpeaker[] = [];
    for (const p of this.#publishers) {
      const meter = p.audioLevelMeter;
      if (meter === null) continue;
      meter.evaluate(p.muted);
      levels.push({ publisherId: p.id, level: meter.level, speaking: meter.speaking });
      if (meter.speaking) speakers.push({ publisherId: p.id, level: meter.level });
    }
    speakers.sort(byLevel);
    this.#levels = levels;
    this.#report(speakers);
  }

  #report(speakers: ActiveSpeaker[]): void {
    const key = speakers.map((s) => s.publisherId).join("\n");
    const changed = key !== this.#key;
    this.#key = key;
    this.#speakers = speakers;
    this.#onReport({ levels: this.#levels, speakers, changed });
  }

  close(): void {
    this.#stopTimer();
    this.#publishers.clear();
  }

  #stopTimer(): void {
    if (!this.#ticking) return;
    this.#ticking = false;
    stopTicking(this, this.options.intervalMs);
  }
}

/** Loudest first; equal levels by key (an id), so an order never flips on a tie. */
export function rankByLevel(aLevel: number, aKey: string, bLevel: number, bKey: string): number {
  if (bLevel !== aLevel) return bLevel - aLevel;
  return aKey < bKey ? -1 : aKey > bKey ? 1 : 0;
}

function byLevel(a: ActiveSpeaker, b: ActiveSpeaker): number {
  return rankByLevel(a.level, a.publisherId, b.level, b.publisherId);
}

function checkOptions(o: Required<ActiveSpeakerOptions>): void {
  const bad = (what: string) => {
    throw new RangeError(`activeSpeakers.${what}`);
  };
  if (!(o.intervalMs >= 10)) bad("intervalMs must be at least 10");
  if (!(o.windowMs >= o.intervalMs)) bad("windowMs must be at least intervalMs");
  if (!(Number.isInteger(o.threshold) && o.threshold >= 0 && o.threshold <= 127))
    bad("threshold must be an integer from 0 to 127");
  if (!(o.minActiveFraction > 0 && o.minActiveFraction <= 1))
    bad("minActiveFraction must be in (0, 1]");
}
