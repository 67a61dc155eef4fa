import { createHash } from "node:crypto";
import { WeirApiError } from "../../../shared/errors.ts";
import { sdpIceCredentials } from "../../src/ice/credentials.ts";
import type { IceCandidateInit, IceRestartResult } from "../../src/TransportTypes.ts";
import { Session } from "./Session.ts";
import { buildSdpFrag, firstMedia, parseSdpFrag } from "./sdpfrag.ts";

/** The transport side a WHIP/WHEP resource needs for PATCH. */
export interface AnsweringTransport {
  addIceCandidate(candidate: IceCandidateInit | null): Promise<void>;
  restartIceWithFragment(ufrag: string, pwd: string): Promise<IceRestartResult>;
}

export interface PatchResult {
  sdpfrag?: string;
  etag: string;
}

/**
 * A WHIP or WHEP resource (RFC 9725): the client offered once, the node answered; later PATCHes
 * trickle candidates or restart ICE. The ETag changes with every ICE restart.
 */
export abstract class HttpSession extends Session {
  protected abstract readonly transport: AnsweringTransport;
  /** The node's latest local SDP (answer), for the m-section of restart fragments. */
  #localSdp = "";
  #remoteUfrag = "";
  #localUfrag = "";
  #generation = 0;

  /** Records the negotiated state after the answer. */
  protected negotiated(offerSdp: string, answerSdp: string): void {
    this.#localSdp = answerSdp;
    this.#remoteUfrag = sdpIceCredentials(offerSdp).ufrag;
    this.#localUfrag = sdpIceCredentials(answerSdp).ufrag;
  }

  /** A strong entity-tag, quotes included, for the ETag header. */
  get etag(): string {
    const h = createHash("sha256")
      .update(`${this.id}\n${this.#generation}\n${this.#localUfrag}\n${this.#remoteUfrag}`)
      .digest("base64url")
      .slice(0, 22);
    return `"${h}"`;
  }

  /** PATCH with a trickle-ice-sdpfrag body; `ifMatch` is the request's If-Match, if any. */
  async patch(text: string, ifMatch?: string): Promise<PatchResult> {
    if (ifMatch !== undefined && ifMatch !== "*" && ifMatch !== this.etag) {
      throw new WeirApiError("precondition_failed", "If-Match does not match the session's ETag");
    }
    const frag = parseSdpFrag(text);
    const restart = frag.ufrag !== null && frag.ufrag !== this.#remoteUfrag;
    let answer: string | undefined;
    if (restart) {
      if (!frag.pwd || !frag.ufrag) {
        throw new WeirApiError("bad_request", "an ICE restart needs a=ice-ufrag and a=ice-pwd");
      }
      const r = await this.transport.restartIceWithFragment(frag.ufrag, frag.pwd);
      this.#remoteUfrag = frag.ufrag;
      this.#localUfrag = r.ufrag;
      this.#generation++;
      answer = buildSdpFrag({ ...r, media: firstMedia(this.#localSdp) });
    }
    const defaultMid = firstMedia(this.#localSdp)?.mid;
    for (const c of frag.candidates) {
      await this.transport.addIceCandidate({
        candidate: c.candidate,
        sdpMid: c.mid ?? defaultMid,
        sdpMLineIndex: c.mid ? undefined : c.mLineIndex,
        usernameFragment: this.#remoteUfrag,
      });
    }
    return answer === undefined ? { etag: this.etag } : { sdpfrag: answer, etag: this.etag };
  }
}
