// A WHIP publisher and a WHEP viewer written from RFC 9725 (and RFC 8840 for trickle ICE)
// alone: plain RTCPeerConnection + fetch, no Weir client code. test/helpers/system.ts transforms
// this file with esbuild and injects it into a page (any 127.0.0.1 origin) as `window.rfc9725`;
// the Node test drives it with page.evaluate. Resources are kept in the page by a local id.

interface Resource {
  pc: RTCPeerConnection;
  /** Absolute URL of the session resource (the Location header resolved against the endpoint). */
  url: string;
  etag: string;
  token: string;
  /** Candidates gathered so far, with the mid of their m-section. */
  candidates: { candidate: string; mid: string | null }[];
  gathered: Promise<void>;
  media: MediaStream | null;
}

/** What the test asserts about a POST (offer) response. */
export interface OfferResult {
  id: string;
  status: number;
  location: string | null;
  etag: string | null;
  contentType: string | null;
  /** The response's Link header (RFC 9725 section 4.6) and the ICE servers read from it. */
  link: string | null;
  iceServers: RTCIceServer[];
  body: string;
}

export interface PatchResult {
  status: number;
  etag: string | null;
  body: string;
}

export interface InboundSummary {
  connectionState: string;
  videoFramesDecoded: number;
  videoPackets: number;
  frameWidth: number;
  audioPackets: number;
}

const resources = new Map<string, Resource>();
let nextId = 1;

function newPeer(): { pc: RTCPeerConnection; resource: Omit<Resource, "url" | "etag" | "token"> } {
  // No STUN/TURN unless a response's Link headers bring some (postOffer's useLinkServers).
  const pc = new RTCPeerConnection({ iceServers: [], bundlePolicy: "max-bundle" });
  const candidates: Resource["candidates"] = [];
  const gathered = new Promise<void>((resolve) => {
    pc.addEventListener("icecandidate", (e) => {
      if (e.candidate === null) resolve();
      else if (e.candidate.candidate !== "")
        candidates.push({ candidate: e.candidate.candidate, mid: e.candidate.sdpMid });
    });
  });
  return { pc, resource: { pc, candidates, gathered, media: null } };
}

/**
 * RFC 9725 section 4.6 / RFC 8288: the `rel="ice-server"` link-values of a Link header (several
 * headers arrive comma-joined) as RTCIceServer entries. Written here from the RFCs, apart from
 * Weir's client SDK, like the rest of this file.
 */
function iceServersOf(header: string | null): RTCIceServer[] {
  const servers: RTCIceServer[] = [];
  // <target> then ;-separated params, each a token or a quoted-string (with \-escapes)
  const linkValue =
    /\s*<([^>]*)>((?:\s*;\s*[^=;,\s]+(?:\s*=\s*(?:"(?:[^"\\]|\\.)*"|[^;,\s]*))?)*)\s*(?:,|$)/gy;
  const param = /;\s*([^=;,\s]+)(?:\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^;,\s]*)))?/g;
  for (const m of (header ?? "").matchAll(linkValue)) {
    const params = new Map<string, string>();
    for (const p of m[2].matchAll(param)) {
      const name = p[1].toLowerCase();
      const value = p[2] !== undefined ? p[2].replace(/\\(.)/g, "$1") : (p[3] ?? "");
      if (!params.has(name)) params.set(name, value);
    }
    if (!(params.get("rel") ?? "").split(/\s+/).includes("ice-server")) continue;
    const server: RTCIceServer = { urls: m[1] };
    if (params.has("username")) server.username = params.get("username");
    if (params.has("credential")) server.credential = params.get("credential");
    servers.push(server);
  }
  return servers;
}

/**
 * RFC 9725 section 4.2: POST the SDP offer (application/sdp, Bearer token) right after
 * setLocalDescription, without waiting for ICE gathering (candidates follow by PATCH).
 * `useLinkServers`: as section 4.6's note advises, POST the offer before setLocalDescription and
 * give the response's Link ice-servers to setConfiguration first, so that gathering uses them.
 */
async function postOffer(
  endpoint: string,
  token: string,
  base: Omit<Resource, "url" | "etag" | "token">,
  useLinkServers = false,
): Promise<OfferResult> {
  const { pc } = base;
  const offer = await pc.createOffer();
  if (!useLinkServers) await pc.setLocalDescription(offer);
  const res = await fetch(endpoint, {
    method: "POST",
    headers: { "content-type": "application/sdp", authorization: `Bearer ${token}` },
    body: offer.sdp ?? "",
  });
  const body = await res.text();
  const location = res.headers.get("location");
  const etag = res.headers.get("etag");
  const link = res.headers.get("link");
  const iceServers = iceServersOf(link);
  const id = String(nextId++);
  if (useLinkServers && res.status === 201) {
    pc.setConfiguration({ ...pc.getConfiguration(), iceServers });
    await pc.setLocalDescription(offer);
  }
  if (res.status === 201 && location !== null) {
    await pc.setRemoteDescription({ type: "answer", sdp: body });
    resources.set(id, {
      ...base,
      url: new URL(location, endpoint).href,
      etag: etag ?? "",
      token,
    });
  } else {
    pc.close();
  }
  return {
    id,
    status: res.status,
    location,
    etag,
    contentType: res.headers.get("content-type"),
    link,
    iceServers,
    body,
  };
}

function get(id: string): Resource {
  const r = resources.get(id);
  if (!r) throw new Error(`no WHIP/WHEP resource ${id}`);
  return r;
}

const rfc9725 = {
  /** WHIP: send the fake camera and microphone (sendonly) to `endpoint`. */
  async publish(
    endpoint: string,
    token: string,
    width = 640,
    height = 480,
    simulcast = false,
    useLinkServers = false,
  ): Promise<OfferResult> {
    const media = await navigator.mediaDevices.getUserMedia({
      audio: true,
      video: { width, height },
    });
    const { pc, resource } = newPeer();
    // Simulcast as RFC 8853 offers it: three rids, each a quarter of the pixels of the next.
    const layers = [4, 2, 1].map((scale, i) => ({ rid: "qhf"[i], scaleResolutionDownBy: scale }));
    for (const track of media.getTracks())
      pc.addTransceiver(track, {
        direction: "sendonly",
        streams: [media],
        sendEncodings: simulcast && track.kind === "video" ? layers : undefined,
      });
    resource.media = media;
    return postOffer(endpoint, token, resource, useLinkServers);
  },

  /** WHEP: a recvonly audio + video offer to `endpoint`. */
  async play(endpoint: string, token: string, useLinkServers = false): Promise<OfferResult> {
    const { pc, resource } = newPeer();
    pc.addTransceiver("audio", { direction: "recvonly" });
    pc.addTransceiver("video", { direction: "recvonly" });
    return postOffer(endpoint, token, resource, useLinkServers);
  },

  /**
   * RFC 9725 section 4.3.1 / RFC 8840: PATCH an application/trickle-ice-sdpfrag with the ICE
   * credentials, one m-section per mid and the candidates gathered so far (waits for at least
   * one), with If-Match set to the resource's ETag. Adds a=end-of-candidates when gathering is
   * complete.
   */
  async trickle(id: string): Promise<PatchResult & { candidates: number }> {
    const r = get(id);
    const deadline = Date.now() + 5000;
    while (r.candidates.length === 0 && Date.now() < deadline)
      await new Promise((res) => setTimeout(res, 20));
    const complete = await Promise.race([
      r.gathered.then(() => true),
      new Promise<boolean>((res) => setTimeout(() => res(false), 500)),
    ]);
    const sdp = r.pc.localDescription?.sdp ?? "";
    const ufrag = /^a=ice-ufrag:(\S+)/m.exec(sdp)?.[1] ?? "";
    const pwd = /^a=ice-pwd:(\S+)/m.exec(sdp)?.[1] ?? "";
    const lines = [`a=ice-ufrag:${ufrag}`, `a=ice-pwd:${pwd}`];
    const mids = [...new Set(r.candidates.map((c) => c.mid ?? "0"))];
    for (const mid of mids) {
      const kind = r.pc.getTransceivers().find((t) => t.mid === mid)?.receiver.track.kind;
      lines.push(`m=${kind ?? "audio"} 9 UDP/TLS/RTP/SAVPF 0`, `a=mid:${mid}`);
      for (const c of r.candidates.filter((x) => (x.mid ?? "0") === mid))
        lines.push(`a=${c.candidate}`);
      if (complete) lines.push("a=end-of-candidates");
    }
    const res = await fetch(r.url, {
      method: "PATCH",
      headers: {
        "content-type": "application/trickle-ice-sdpfrag",
        authorization: `Bearer ${r.token}`,
        "if-match": r.etag,
      },
      body: `${lines.join("\r\n")}\r\n`,
    });
    const etag = res.headers.get("etag");
    if (etag) r.etag = etag;
    return { status: res.status, etag, body: await res.text(), candidates: r.candidates.length };
  },

  /** RFC 9725 section 4.2: DELETE the session resource, then close the peer connection. */
  async remove(id: string): Promise<number> {
    const r = get(id);
    const res = await fetch(r.url, {
      method: "DELETE",
      headers: { authorization: `Bearer ${r.token}` },
    });
    await res.body?.cancel();
    r.pc.close();
    for (const t of r.media?.getTracks() ?? []) t.stop();
    resources.delete(id);
    return res.status;
  },

  connectionState(id: string): string {
    return get(id).pc.connectionState;
  },

  /** Inbound video frames decoded and audio packets received on a resource's connection. */
  async inbound(id: string): Promise<InboundSummary> {
    return inboundOf(get(id).pc);
  },

  /** Outbound packets sent per kind on a resource's connection. */
  async outbound(id: string): Promise<{ audio: number; video: number }> {
    const out = { audio: 0, video: 0 };
    (await get(id).pc.getStats()).forEach((s) => {
      if (s.type === "outbound-rtp" && (s.kind === "audio" || s.kind === "video"))
        out[s.kind as "audio" | "video"] += Number(s.packetsSent ?? 0);
    });
    return out;
  },

  /** Video packets sent per simulcast rid (or "" without simulcast), and each layer's width. */
  async outboundVideo(id: string): Promise<{ rid: string; packets: number; width: number }[]> {
    const out: { rid: string; packets: number; width: number }[] = [];
    (await get(id).pc.getStats()).forEach((s) => {
      if (s.type === "outbound-rtp" && s.kind === "video")
        out.push({
          rid: String(s.rid ?? ""),
          packets: Number(s.packetsSent ?? 0),
          width: Number(s.frameWidth ?? 0),
        });
    });
    return out.sort((a, b) => a.width - b.width);
  },

  /** The same summary for any RTCPeerConnection (used on Weir's Room pages too). */
  inboundOf,

  /** The addresses of a resource's selected ICE candidate pair. */
  selectedPair(id: string): Promise<SelectedPair | null> {
    return selectedPairOf(get(id).pc);
  },

  selectedPairOf,

  close(): void {
    for (const r of resources.values()) {
      r.pc.close();
      for (const t of r.media?.getTracks() ?? []) t.stop();
    }
    resources.clear();
  },
};

async function inboundOf(pc: RTCPeerConnection): Promise<InboundSummary> {
  const out: InboundSummary = {
    connectionState: pc.connectionState,
    videoFramesDecoded: 0,
    videoPackets: 0,
    frameWidth: 0,
    audioPackets: 0,
  };
  (await pc.getStats()).forEach((s) => {
    if (s.type !== "inbound-rtp") return;
    if (s.kind === "video") {
      out.videoFramesDecoded += Number(s.framesDecoded ?? 0);
      out.videoPackets += Number(s.packetsReceived ?? 0);
      out.frameWidth = Math.max(out.frameWidth, Number(s.frameWidth ?? 0));
    } else if (s.kind === "audio") {
      out.audioPackets += Number(s.packetsReceived ?? 0);
    }
  });
  return out;
}

export interface SelectedPair {
  local: string;
  remote: string;
  remotePort: number;
  protocol: string;
  /** The local candidate's type (host, srflx, prflx, relay) and, for relay, how TURN is reached. */
  candidateType: string;
  relayProtocol: string;
}

async function selectedPairOf(pc: RTCPeerConnection): Promise<SelectedPair | null> {
  const stats = await pc.getStats();
  let pairId: string | undefined;
  stats.forEach((s) => {
    if (s.type === "transport" && s.selectedCandidatePairId) pairId = s.selectedCandidatePairId;
  });
  const pair = pairId ? stats.get(pairId) : undefined;
  if (!pair) return null;
  const local = stats.get(pair.localCandidateId);
  const remote = stats.get(pair.remoteCandidateId);
  return {
    local: String(local?.address ?? ""),
    remote: String(remote?.address ?? ""),
    remotePort: Number(remote?.port ?? 0),
    protocol: String(local?.protocol ?? ""),
    candidateType: String(local?.candidateType ?? ""),
    relayProtocol: String(local?.relayProtocol ?? ""),
  };
}

export type Rfc9725 = typeof rfc9725;

declare global {
  interface Window {
    rfc9725: Rfc9725;
  }
}

window.rfc9725 = rfc9725;
