// ICE restart by SDP fragment from a werift client's side (RFC 9725 section 4.3): what a
// WHIP/WHEP client does with the node's PATCH answer.
import type { RTCPeerConnection } from "werift";
import type { IceRestartResult } from "../../media-node/src/TransportTypes.ts";
import { waitGathered } from "./weriftPeer.ts";

export function iceOf(sdp: string): { ufrag: string; pwd: string } {
  return {
    ufrag: /^a=ice-ufrag:(\S+)/m.exec(sdp)![1],
    pwd: /^a=ice-pwd:(\S+)/m.exec(sdp)![1],
  };
}

/**
 * What a WHIP/WHEP client does with the PATCH response: its last answer with the node's new
 * credentials and candidates put in (RFC 9725 section 4.3.2).
 */
export function patchedAnswer(previous: string, node: IceRestartResult): string {
  const lines = previous.split("\r\n").filter((l) => !l.startsWith("a=candidate:"));
  const out: string[] = [];
  for (const line of lines) {
    if (line.startsWith("a=ice-ufrag:")) out.push(`a=ice-ufrag:${node.ufrag}`);
    else if (line.startsWith("a=ice-pwd:")) {
      out.push(`a=ice-pwd:${node.pwd}`, ...node.candidates.map((c) => `a=${c}`));
    } else out.push(line);
  }
  return out.join("\r\n");
}

/** Restarts ICE on a werift client (the offerer) through a node transport's fragment API. */
export async function restartClientIce(
  pc: RTCPeerConnection,
  previousAnswer: string,
  restart: (ufrag: string, pwd: string) => Promise<IceRestartResult>,
): Promise<IceRestartResult> {
  pc.restartIce();
  await pc.setLocalDescription(await pc.createOffer());
  await waitGathered(pc);
  const client = iceOf(pc.localDescription!.sdp);
  const node = await restart(client.ufrag, client.pwd);
  await pc.setRemoteDescription({ type: "answer", sdp: patchedAnswer(previousAnswer, node) });
  // werift's connect() skips ICE while DTLS is up, so its own restart never runs the checks
  // (the node works around the same thing in WebRtcPeer): start the client's ICE agent by hand.
  for (const t of pc.iceTransports) if (!t.connection.nominated) void t.start().catch(() => {});
  return node;
}

/** An IceRestartResult read back from a PATCH response's sdpfrag body. */
export function fragResult(frag: string): IceRestartResult {
  return {
    ...iceOf(frag),
    candidates: (frag.match(/^a=candidate:.*$/gm) ?? []).map((c) => c.slice(2)),
  };
}
