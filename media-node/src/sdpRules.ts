/**
 * Rules for SDP and candidates from clients that werift would turn into sockets or lookups.
 * WebRtcPeer.checkSdp and WebRtcPeer.addIceCandidate apply them; nothing else should.
 */
import { isIP } from "node:net";
import { InvalidSdpError } from "./errors.ts";

/**
 * Most m-lines an offer may carry. A WHIP/WHEP client offers 2-3, a Room's publish transport one
 * per published track plus one for DataChannels; 64 leaves room for many tracks and recycled
 * m-lines while bounding what one offer makes werift parse and set up (one transceiver each).
 */
export const MAX_OFFER_MEDIA_SECTIONS = 64;

/**
 * An offer must bundle: one a=group:BUNDLE at session level holding every m-line that is not
 * rejected (port 0). werift ignores max-bundle for a remote offer and gives each m-line outside a
 * group (and each group) its own ICE transport and UDP socket: 400 m-lines opened 400 sockets.
 */
export function checkOfferBundle(sdp: string): void {
  const sections = sdp.split(/\r?\nm=/);
  const media = sections.length - 1;
  if (media > MAX_OFFER_MEDIA_SECTIONS) {
    throw new InvalidSdpError(
      `the offer has ${media} media sections; the limit is ${MAX_OFFER_MEDIA_SECTIONS}`,
    );
  }
  const groups = [...sections[0].matchAll(/^a=group:BUNDLE(.*)$/gm)];
  if (groups.length !== 1) {
    throw new InvalidSdpError(
      groups.length === 0
        ? "the offer has no a=group:BUNDLE: this server needs every media section bundled on one transport (WHIP/WHEP clients bundle, RFC 9725)"
        : "the offer has several BUNDLE groups: this server needs one transport for all media (RFC 9725)",
    );
  }
  const bundled = new Set(groups[0][1].trim().split(/\s+/));
  for (const section of sections.slice(1)) {
    if (/^\S+ 0 /.test(section)) continue; // rejected m-line: no transport
    const mid = /^a=mid:(\S+)/m.exec(section)?.[1];
    if (mid === undefined || !bundled.has(mid)) {
      throw new InvalidSdpError(
        `media section ${mid ?? "without a=mid"} is outside the BUNDLE group: this server needs every media section bundled on one transport (RFC 9725)`,
      );
    }
  }
}

/**
 * Whether a remote candidate names its address by hostname (an mDNS `.local` name, or any other
 * name). werift resolves those itself: `.local` through a multicast socket on UDP 5353 whose
 * errors are unhandled and a 10 s wait, other names by DNS. An ICE-lite server never needs remote
 * candidates (clients send the checks), so these are dropped.
 */
export function isHostnameCandidate(candidate: string): boolean {
  const address = candidate.replace(/^a=/, "").split(/\s+/)[4];
  return address !== undefined && isIP(address) === 0;
}

/** The SDP without hostname candidates (see isHostnameCandidate), and how many it dropped. */
export function withoutHostnameCandidates(sdp: string): { sdp: string; dropped: number } {
  let dropped = 0;
  const kept = sdp.replace(/^a=candidate:[^\r\n]*(\r?\n|$)/gm, (line) => {
    if (!isHostnameCandidate(line)) return line;
    dropped++;
    return "";
  });
  return { sdp: kept, dropped };
}

/**
 * RFC 8843 section 7.3.3: an offer may mark bundled m-lines other than the first `a=bundle-only`
 * with port 0 (GStreamer's webrtcbin does with max-bundle). werift reads port 0 as rejected and
 * answers the m-line inactive, so such a publisher's audio never arrived. Gives them the
 * placeholder port 9 the other bundled m-lines carry.
 */
export function withBundleOnlyAccepted(sdp: string): string {
  return sdp
    .split(/(?=\r?\nm=)/)
    .map((section) =>
      /^\r?\nm=\S+ 0 /.test(section) && /^a=bundle-only\r?$/m.test(section)
        ? section.replace(/^(\r?\nm=\S+) 0 /, "$1 9 ")
        : section,
    )
    .join("");
}
