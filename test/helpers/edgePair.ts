// A werift WHIP publisher (synthetic audio + video) and a werift WHEP viewer in one room, through
// an edge's HTTP routes or node commands: the "existing sessions" abuse tests watch keep media.
import { readdirSync, readFileSync, readlinkSync } from "node:fs";
import { signToken } from "../../edge/src/auth/jwt.ts";
import type { Grant } from "../../shared/token.ts";
import { MediaSource } from "./mediaSource.ts";
import { until, weriftPublisher, weriftViewer } from "./weriftPeer.ts";

export function edgeToken(secret: string, room: string, sub: string, grants: Grant[]) {
  return signToken({ sub, room, grants, exp: Math.floor(Date.now() / 1000) + 600 }, secret);
}

/** POST an SDP offer to /v1/rooms/:room/whip or /whep. */
export function postOffer(
  edgeUrl: string,
  room: string,
  kind: "whip" | "whep",
  token: string,
  sdp: string,
): Promise<Response> {
  return fetch(`${edgeUrl}/v1/rooms/${room}/${kind}`, {
    method: "POST",
    body: sdp,
    headers: { authorization: `Bearer ${token}`, "content-type": "application/sdp" },
  });
}

/** Sends a WHIP or WHEP offer as `identity`; returns the answer SDP. */
export type SendOffer = (kind: "whip" | "whep", identity: string, sdp: string) => Promise<string>;

export interface MediaPair {
  /** Video packets the viewer has received so far. */
  videoReceived(): number;
  close(): Promise<void>;
}

/** A werift publisher and viewer negotiated through `send`; waits until the viewer gets video. */
export async function startPair(send: SendOffer): Promise<MediaPair> {
  const pub = await weriftPublisher(["audio", "video"]);
  const source = new MediaSource(pub.tracks[1], pub.tracks[0]);
  const viewer = await weriftViewer(["audio", "video"]);
  const close = async () => {
    source.stop();
    await Promise.all([pub.pc.close(), viewer.pc.close()]);
  };
  try {
    // as a trickling client offers (no end-of-candidates): the node then takes PATCHed candidates
    const offer = pub.offer.sdp.replace(/a=end-of-candidates\r\n/g, "");
    await pub.pc.setRemoteDescription({
      type: "answer",
      sdp: await send("whip", "pair-publisher", offer),
    });
    pub.pc.getTransceivers()[1].sender.onRtcp.subscribe((rtcp) => {
      if (rtcp.type === 206) source.keyframe();
    });
    source.start();
    await viewer.pc.setRemoteDescription({
      type: "answer",
      sdp: await send("whep", "pair-viewer", viewer.offer.sdp),
    });
    await until(() => viewer.counts.video > 30, 15_000, "the viewer receives video");
    return { videoReceived: () => viewer.counts.video, close };
  } catch (err) {
    await close();
    throw err;
  }
}

export interface EdgePair extends MediaPair {
  /** The publisher's session resource, `/v1/sessions/...`. */
  publisherLocation: string;
  publisherToken: string;
}

/** startPair through an edge's WHIP and WHEP routes, in `room`. */
export async function startEdgePair(
  edgeUrl: string,
  secret: string,
  room: string,
): Promise<EdgePair> {
  let publisherLocation = "";
  let publisherToken = "";
  const pair = await startPair(async (kind, identity, sdp) => {
    const grant = kind === "whip" ? "publish" : "subscribe";
    const token = await edgeToken(secret, room, identity, [grant]);
    const res = await postOffer(edgeUrl, room, kind, token, sdp);
    if (res.status !== 201) throw new Error(`${kind}: ${res.status} ${await res.text()}`);
    if (kind === "whip") {
      publisherLocation = res.headers.get("location") ?? "";
      publisherToken = token;
    }
    return res.text();
  });
  return { ...pair, publisherLocation, publisherToken };
}

/**
 * Watches a count that should keep growing (packets received); `stop()` returns the longest
 * time it stood still, in ms.
 */
export function watchGrowth(count: () => number, everyMs = 50): { stop(): number } {
  let last = count();
  let lastChange = performance.now();
  let longest = 0;
  const timer = setInterval(() => {
    const now = performance.now();
    const n = count();
    if (n !== last) {
      last = n;
      lastChange = now;
    }
    longest = Math.max(longest, now - lastChange);
  }, everyMs);
  return {
    stop() {
      clearInterval(timer);
      return Math.round(longest);
    },
  };
}

/** Open file descriptors of a process, and how many of them are UDP sockets. */
export function openFds(pid: number | "self" = "self"): { total: number; udp: number } {
  const udpInodes = new Set<string>();
  for (const table of ["udp", "udp6"]) {
    let text = "";
    try {
      text = readFileSync(`/proc/${pid}/net/${table}`, "utf8");
    } catch {
      continue;
    }
    for (const line of text.split("\n").slice(1)) {
      const inode = line.trim().split(/\s+/)[9];
      if (inode) udpInodes.add(inode);
    }
  }
  let total = 0;
  let udp = 0;
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    let target = "";
    try {
      target = readlinkSync(`/proc/${pid}/fd/${fd}`);
    } catch {
      continue; // closed while listing (readdir's own fd)
    }
    total++;
    const inode = /^socket:\[(\d+)\]$/.exec(target)?.[1];
    if (inode && udpInodes.has(inode)) udp++;
  }
  return { total, udp };
}
