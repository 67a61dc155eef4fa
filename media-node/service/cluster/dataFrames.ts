/**
 * How DataChannel messages cross nodes over NATS (DataBridge): each message becomes one or more
 * text frames `<type><seq>:<part>/<parts>\n<payload>`. Type `s` carries a slice of a string
 * message as is, `b` a slice of a binary message in base64 (the bus carries text), `e` says the
 * origin's DataPublisher closed (no payload). `seq` numbers messages per publisher from 1, so the
 * receiver spots a lost message. Slices keep each frame far below NATS' max_payload (1 MiB by
 * default): a 256 KiB message is 2 to 4 frames.
 */

/** UTF-16 units per string slice: at most 192 KiB of UTF-8. */
export const STRING_SLICE = 64 * 1024;
/** Bytes per binary slice: 128 KiB of base64. */
export const BINARY_SLICE = 96 * 1024;

export type FrameType = "s" | "b" | "e";

export interface DataFrame {
  type: FrameType;
  seq: number;
  part: number;
  parts: number;
  payload: string;
}

/** The frames of message `seq`. */
export function encodeMessage(
  seq: number,
  data: string | Buffer,
  slices = { string: STRING_SLICE, binary: BINARY_SLICE },
): string[] {
  if (typeof data === "string") {
    const cuts = stringCuts(data, slices.string);
    return cuts.map((c, i) => frame("s", seq, i, cuts.length, data.slice(c, cuts[i + 1])));
  }
  const n = Math.max(1, Math.ceil(data.length / slices.binary));
  const out: string[] = [];
  for (let i = 0; i < n; i++) {
    const slice = data.subarray(i * slices.binary, (i + 1) * slices.binary);
    out.push(frame("b", seq, i, n, slice.toString("base64")));
  }
  return out;
}

export function encodeEnd(seq: number): string {
  return frame("e", seq, 0, 1, "");
}

function frame(type: FrameType, seq: number, part: number, parts: number, payload: string): string {
  return `${type}${seq}:${part}/${parts}\n${payload}`;
}

/** Slice starts, never splitting a surrogate pair (a slice would not be valid UTF-16). */
function stringCuts(s: string, size: number): number[] {
  const cuts = [0];
  let at = size;
  while (at < s.length) {
    const c = s.charCodeAt(at - 1);
    if (c >= 0xd800 && c <= 0xdbff) at--;
    cuts.push(at);
    at += size;
  }
  return cuts;
}

const HEADER = /^([sbe])(\d{1,15}):(\d{1,6})\/(\d{1,6})\n/;

/** One frame, or null when it is malformed. */
export function parseFrame(text: string): DataFrame | null {
  const m = HEADER.exec(text.slice(0, 48));
  if (!m) return null;
  const seq = Number(m[2]);
  const part = Number(m[3]);
  const parts = Number(m[4]);
  if (seq < 1 || parts < 1 || part >= parts) return null;
  return { type: m[1] as FrameType, seq, part, parts, payload: text.slice(m[0].length) };
}

export type Assembled =
  | { kind: "message"; seq: number; data: string | Buffer }
  | { kind: "end"; seq: number }
  | { kind: "malformed" }
  | null;

/**
 * Reassembles frames of one publisher, in the order NATS delivers them (ordered per publisher).
 * A frame out of turn is a gap: it is counted (`gaps`, `lost` messages), the partial message is
 * dropped, and the stream resumes at the first message that starts cleanly.
 */
export class Reassembler {
  /** The seq expected next. */
  next: number;
  gaps = 0;
  lost = 0;
  #parts: string[] = [];
  #bytes: Buffer[] = [];
  #type: FrameType = "s";

  constructor(next: number) {
    this.next = next;
  }

  /** Feeds one frame; returns a whole message, the end, malformed, or null (nothing yet). */
  push(text: string): Assembled {
    const f = parseFrame(text);
    if (!f) return { kind: "malformed" };
    if (f.seq < this.next) return null; // a repeat of something already delivered
    const fits = this.#parts.length === 0 || f.type === this.#type;
    if (f.seq !== this.next || f.part !== this.#parts.length || !fits) {
      this.gaps++;
      this.lost += f.seq - this.next + (f.part === 0 ? 0 : 1);
      this.#parts = [];
      this.#bytes = [];
      this.next = f.part === 0 ? f.seq : f.seq + 1;
      if (f.part !== 0) return null;
    }
    if (f.type === "e") {
      this.next = f.seq + 1;
      return { kind: "end", seq: f.seq };
    }
    this.#type = f.type;
    // each binary slice is base64 of its own (padding inside a joined string would cut it short)
    this.#parts.push(f.type === "b" ? "" : f.payload);
    if (f.type === "b") this.#bytes.push(Buffer.from(f.payload, "base64"));
    if (this.#parts.length < f.parts) return null;
    const data =
      f.type === "b"
        ? this.#bytes.length === 1
          ? this.#bytes[0]
          : Buffer.concat(this.#bytes)
        : this.#parts.join("");
    this.#parts = [];
    this.#bytes = [];
    this.next = f.seq + 1;
    return { kind: "message", seq: f.seq, data };
  }
}
