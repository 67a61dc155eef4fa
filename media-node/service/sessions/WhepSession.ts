import { WeirApiError } from "../../../shared/errors.ts";
import type { SubscribeTransport } from "../../src/SubscribeTransport.ts";
import { HttpSession } from "./HttpSession.ts";
import type { SessionContext } from "./Session.ts";

/** A WHEP resource: one SubscribeTransport answering the client's recvonly offer. */
export class WhepSession extends HttpSession {
  readonly kind = "whep";
  protected readonly transport: SubscribeTransport;

  constructor(ctx: SessionContext) {
    super(ctx);
    this.transport = ctx.room.router.createSubscribeTransport();
    this.transport.on("closed", () => ctx.end());
  }

  /** Answers the offer with the given publishers bound to its m-lines; returns the answer SDP. */
  async start(offerSdp: string, publisherIds: string[]): Promise<string> {
    if (publisherIds.length === 0) throw new WeirApiError("not_found", "nothing is published");
    const answer = await this.transport.answerOffer({ type: "offer", sdp: offerSdp }, publisherIds);
    this.negotiated(offerSdp, answer.sdp);
    return answer.sdp;
  }

  protected closeTransports(): Promise<void> {
    return this.transport.close();
  }
}
