/**
 * Small pure helpers over SDP text and codec lists. No DOM objects here so that they can be
 * unit-tested in Node.
 */

export type SdpDirection = "sendrecv" | "sendonly" | "recvonly" | "inactive";

export interface MediaSection {
  /** Position of the m-line in the SDP (0-based). */
  index: number;
  /** `a=mid` value, or null when the section has none. */
  mid: string | null;
  /** Media type from the m-line: "audio", "video", "application"... */
  kind: string;
  /** Port from the m-line; 0 means rejected/stopped unless `bundleOnly`. */
  port: number;
  /** `a=bundle-only` is present (port 0 then does not mean rejected). */
  bundleOnly: boolean;
  /** The section's direction attribute, else the session-level one, else "sendrecv". */
  direction: SdpDirection;
  /** First `a=msid:<streamId> [<trackId>]` of the section, if any. */
  msid: { streamId: string; trackId: string | null } | null;
  /** RIDs declared with `a=rid:<id> send|recv`. */
  rids: string[];
}

const DIRECTIONS = new Set<string>(["sendrecv", "sendonly", "recvonly", "inactive"]);

/** Splits an SDP into its media sections and reads what the transports need from each. */
export function parseMediaSections(sdp: string): MediaSection[] {
  const sections: MediaSection[] = [];
  let sessionDirection: SdpDirection = "sendrecv";
  let current: (MediaSection & { explicitDirection: boolean }) | null = null;
  const finish = () => {
    if (!current) return;
    const { explicitDirection, ...section } = current;
    if (!explicitDirection) section.direction = sessionDirection;
    sections.push(section);
  };
  for (const raw of sdp.split(/\r?\n/)) {
    const line = raw.trim();
    if (line.startsWith("m=")) {
      finish();
      const [kind = "", port = "0"] = line.slice(2).split(/\s+/);
      current = {
        index: sections.length,
        mid: null,
        kind,
        port: Number.parseInt(port.split("/")[0] ?? "0", 10) || 0,
        bundleOnly: false,
        direction: "sendrecv",
        explicitDirection: false,
        msid: null,
        rids: [],
      };
      continue;
    }
    if (!line.startsWith("a=")) continue;
    const attr = line.slice(2);
    if (DIRECTIONS.has(attr)) {
      if (current) {
        current.direction = attr as SdpDirection;
        current.explicitDirection = true;
      } else {
        sessionDirection = attr as SdpDirection;
      }
      continue;
    }
    if (!current) continue;
    if (attr.startsWith("mid:")) {
      current.mid = attr.slice(4).trim();
    } else if (attr === "bundle-only") {
      current.bundleOnly = true;
    } else if (attr.startsWith("msid:") && !current.msid) {
      const [streamId = "", trackId] = attr.slice(5).trim().split(/\s+/);
      current.msid = { streamId, trackId: trackId ?? null };
    } else if (attr.startsWith("rid:")) {
      const rid = attr.slice(4).trim().split(/\s+/)[0];
      if (rid) current.rids.push(rid);
    }
  }
  finish();
  return sections;
}

/** Whether the section was rejected / its transceiver stopped (port 0 without bundle-only). */
export function isRejected(section: MediaSection): boolean {
  return section.port === 0 && !section.bundleOnly;
}

/** Whether the remote side (the offerer of `section`) sends media on it. */
export function remoteSends(section: MediaSection): boolean {
  return (
    !isRejected(section) && (section.direction === "sendonly" || section.direction === "sendrecv")
  );
}

/**
 * The publisher id a Weir media node puts on a subscription m-line:
 * `a=msid:<publisherId> <publisherId>`. Prefers the track id part, then the stream id.
 * Returns null when the section carries no usable msid (or only the "-" placeholder).
 */
export function publisherIdOf(section: MediaSection): string | null {
  const msid = section.msid;
  if (!msid) return null;
  if (msid.trackId) return msid.trackId;
  if (msid.streamId && msid.streamId !== "-") return msid.streamId;
  return null;
}

/**
 * The mid that tags the first BUNDLE group (its transport carries every bundled m-line), or
 * null. Stopping that m-line makes browsers move the bundle to another transport.
 */
export function bundleTagMid(sdp: string): string | null {
  const match = /^a=group:BUNDLE[ \t]+(\S+)/m.exec(sdp);
  return match?.[1] ?? null;
}

/** Finds the section with the given mid. */
export function sectionByMid(sections: MediaSection[], mid: string): MediaSection | undefined {
  return sections.find((s) => s.mid === mid);
}

/** The `a=msid` track ids of the sections this side sends on (what a server `publish()` expects). */
export function sentTrackIds(sdp: string): string[] {
  const ids: string[] = [];
  for (const s of parseMediaSections(sdp)) {
    if (isRejected(s) || !(s.direction === "sendonly" || s.direction === "sendrecv")) continue;
    if (s.msid?.trackId) ids.push(s.msid.trackId);
  }
  return ids;
}

/** One live remote track of a subscription, keyed by the mid that carries it. */
export interface LiveEntry {
  mid: string;
  publisherId: string;
}

export interface SubscriptionDiff {
  /** Entries that were live and are not any more (or now carry another publisher). */
  ended: LiveEntry[];
  /** Entries that are live now and were not (or carried another publisher). */
  started: LiveEntry[];
  /** The new live set, by mid. */
  live: Map<string, LiveEntry>;
}

/**
 * Compares the live subscriptions before a remote offer with those it describes.
 * `stoppedMids` are transceivers the browser reports stopped whatever the SDP says;
 * `fallbackId` names a live section that has no usable msid (e.g. from the track event's stream).
 */
export function diffSubscriptions(
  previous: ReadonlyMap<string, LiveEntry>,
  offerSections: MediaSection[],
  stoppedMids: ReadonlySet<string> = new Set(),
  fallbackId: (mid: string) => string | null = () => null,
): SubscriptionDiff {
  const live = new Map<string, LiveEntry>();
  for (const s of offerSections) {
    if (s.mid === null || !remoteSends(s) || stoppedMids.has(s.mid)) continue;
    const publisherId = publisherIdOf(s) ?? fallbackId(s.mid) ?? s.mid;
    live.set(s.mid, { mid: s.mid, publisherId });
  }
  const ended: LiveEntry[] = [];
  const started: LiveEntry[] = [];
  for (const [mid, before] of previous) {
    const now = live.get(mid);
    if (!now || now.publisherId !== before.publisherId) ended.push(before);
  }
  for (const [mid, now] of live) {
    const before = previous.get(mid);
    if (!before || before.publisherId !== now.publisherId) started.push(now);
  }
  return { ended, started, live };
}

/** The fields of RTCRtpCodec this module reads (structural, so Node tests need no DOM). */
export interface CodecLike {
  mimeType: string;
  clockRate?: number;
  channels?: number;
  sdpFmtpLine?: string;
}

/**
 * Reorders codec capabilities so that every entry of `mimeType` (case-insensitive, e.g.
 * "video/H264", all its profiles in their original order) comes first; everything else
 * (other codecs, rtx, red, ulpfec) follows in original order. Returns null when no entry
 * matches. A bare name without a kind ("H264") matches any kind.
 */
export function preferCodec<C extends CodecLike>(
  codecs: readonly C[],
  mimeType: string,
): C[] | null {
  const want = mimeType.toLowerCase();
  const matches = (c: C) => {
    const have = c.mimeType.toLowerCase();
    return want.includes("/") ? have === want : have.split("/")[1] === want;
  };
  const preferred = codecs.filter(matches);
  if (preferred.length === 0) return null;
  return [...preferred, ...codecs.filter((c) => !matches(c))];
}

/** The encoding fields `publish()` sets (a subset of RTCRtpEncodingParameters). */
export interface SendEncoding {
  rid?: string;
  active?: boolean;
  scaleResolutionDownBy?: number;
  maxBitrate?: number;
  scalabilityMode?: string;
}

/** The simulcast layers Weir publishes: rid, downscale factor, lowest first. */
export const SIMULCAST_LAYERS: readonly { rid: string; scaleResolutionDownBy: number }[] = [
  { rid: "q", scaleResolutionDownBy: 4 },
  { rid: "h", scaleResolutionDownBy: 2 },
  { rid: "f", scaleResolutionDownBy: 1 },
];

/**
 * The `sendEncodings` for `addTransceiver`. Simulcast and scalability modes only apply to
 * video; `maxBitrate` caps every encoding. Returns undefined when the browser's default
 * single encoding is enough.
 */
export function buildSendEncodings(
  kind: string,
  opts: { simulcast?: boolean; scalabilityMode?: string; maxBitrate?: number },
): SendEncoding[] | undefined {
  const video = kind === "video";
  const extra: SendEncoding = {};
  if (opts.maxBitrate !== undefined) extra.maxBitrate = opts.maxBitrate;
  if (video && opts.scalabilityMode) extra.scalabilityMode = opts.scalabilityMode;
  if (video && opts.simulcast) {
    return SIMULCAST_LAYERS.map((l) => ({
      rid: l.rid,
      active: true,
      scaleResolutionDownBy: l.scaleResolutionDownBy,
      ...extra,
    }));
  }
  return Object.keys(extra).length > 0 ? [extra] : undefined;
}
