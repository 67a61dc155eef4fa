import { toClientError } from "./errors.ts";

/** Adds a remote ICE candidate; null or an empty candidate string marks end-of-candidates. */
export async function addCandidate(
  pc: RTCPeerConnection,
  candidate: RTCIceCandidateInit | null,
): Promise<void> {
  try {
    if (!candidate?.candidate) await pc.addIceCandidate();
    else await pc.addIceCandidate(candidate);
  } catch (err) {
    throw toClientError(err, "invalid_argument", "addIceCandidate");
  }
}
