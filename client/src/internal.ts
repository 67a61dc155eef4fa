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

/**
 * Remote candidates for one RTCPeerConnection: applied at once when it has a remote
 * description, else held until flush() (after the first offer/answer is applied).
 */
export class CandidateBuffer {
  #pending: (RTCIceCandidateInit | null)[] = [];
  constructor(private readonly pc: RTCPeerConnection) {}

  async add(candidate: RTCIceCandidateInit | null): Promise<void> {
    if (!this.pc.remoteDescription) {
      this.#pending.push(candidate);
      return;
    }
    await addCandidate(this.pc, candidate);
  }

  async flush(): Promise<void> {
    const pending = this.#pending;
    this.#pending = [];
    for (const c of pending) await addCandidate(this.pc, c).catch(() => {});
  }

  clear(): void {
    this.#pending = [];
  }
}
