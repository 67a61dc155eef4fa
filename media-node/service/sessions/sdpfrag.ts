/**
 * `application/trickle-ice-sdpfrag` (RFC 8840) as WHIP/WHEP PATCH bodies use it (RFC 9725
 * section 4.3): ICE credentials, candidates and end-of-candidates, optionally grouped in
 * m-sections with a=mid. Pure functions; the credential rule is the SDK's (ice/credentials.ts).
 */

import { type IceCredentialName, iceCredentialError } from "../../src/ice/credentials.ts";

export interface SdpFragCandidate {
  /** The attribute value, "candidate:..." (no "a=" prefix). */
  candidate: string;
  /** The a=mid of the m-section the line was in, if any. */
  mid: string | null;
  /** Index of that m-section in the fragment (0 when outside any). */
  mLineIndex: number;
}

export interface SdpFrag {
  ufrag: string | null;
  pwd: string | null;
  candidates: SdpFragCandidate[];
  endOfCandidates: boolean;
}

export class SdpFragError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "SdpFragError";
  }
}

const MAX_LINES = 256;
const MAX_LINE = 1024;

/** Parses a fragment; throws SdpFragError on malformed input. Unknown lines are ignored. */
export function parseSdpFrag(text: string): SdpFrag {
  const lines = text.split(/\r?\n/);
  if (lines.length > MAX_LINES) throw new SdpFragError(`more than ${MAX_LINES} lines`);
  const frag: SdpFrag = { ufrag: null, pwd: null, candidates: [], endOfCandidates: false };
  let mid: string | null = null;
  let mIndex = -1;
  for (const raw of lines) {
    const line = raw.trim();
    if (line === "") continue;
    if (line.length > MAX_LINE) throw new SdpFragError(`a line is longer than ${MAX_LINE}`);
    if (!/^[a-z]=/.test(line)) throw new SdpFragError(`not an SDP line: ${line.slice(0, 40)}`);
    if (line.startsWith("m=")) {
      mIndex++;
      mid = null;
      continue;
    }
    if (!line.startsWith("a=")) continue;
    const attr = line.slice(2);
    const colon = attr.indexOf(":");
    const name = colon < 0 ? attr : attr.slice(0, colon);
    const value = colon < 0 ? "" : attr.slice(colon + 1);
    switch (name) {
      case "ice-ufrag":
        frag.ufrag = credential(frag.ufrag, value, "ice-ufrag");
        break;
      case "ice-pwd":
        frag.pwd = credential(frag.pwd, value, "ice-pwd");
        break;
      case "mid":
        mid = value;
        break;
      case "candidate":
        frag.candidates.push({
          candidate: checkCandidate(attr),
          mid,
          mLineIndex: Math.max(0, mIndex),
        });
        break;
      case "end-of-candidates":
        frag.endOfCandidates = true;
        break;
      default:
        break;
    }
  }
  return frag;
}

function credential(prev: string | null, value: string, name: IceCredentialName): string {
  const error = iceCredentialError(name, value);
  if (error !== null) throw new SdpFragError(error);
  if (prev !== null && prev !== value) throw new SdpFragError(`conflicting ${name} values`);
  return value;
}

/** candidate:<foundation> <component> <transport> <priority> <address> <port> typ <type> ... */
function checkCandidate(attr: string): string {
  const parts = attr.slice("candidate:".length).split(" ");
  if (
    parts.length < 8 ||
    parts[6] !== "typ" ||
    !/^\d+$/.test(parts[1]) ||
    !/^\d+$/.test(parts[5])
  ) {
    throw new SdpFragError(`malformed candidate: ${attr.slice(0, 60)}`);
  }
  return attr;
}

export interface SdpFragAnswer {
  ufrag: string;
  pwd: string;
  /** "candidate:..." values. */
  candidates: string[];
  /** The first m-section of the session (kind and mid), when known. */
  media?: { kind: string; mid: string };
}

/** The node's fragment in answer to an ICE restart. */
export function buildSdpFrag(answer: SdpFragAnswer): string {
  const lines = [`a=ice-ufrag:${answer.ufrag}`, `a=ice-pwd:${answer.pwd}`];
  if (answer.media) {
    lines.push(`m=${answer.media.kind} 9 UDP/TLS/RTP/SAVPF 0`, `a=mid:${answer.media.mid}`);
  }
  for (const c of answer.candidates) lines.push(`a=${c}`);
  lines.push("a=end-of-candidates");
  return `${lines.join("\r\n")}\r\n`;
}

/** The first m-section's kind and mid of a full SDP, for buildSdpFrag. */
export function firstMedia(sdp: string): { kind: string; mid: string } | undefined {
  const m = /^m=(\w+) /m.exec(sdp);
  const mid = /^a=mid:(\S+)/m.exec(sdp);
  return m && mid ? { kind: m[1], mid: mid[1] } : undefined;
}
