import { WeirApiError } from "../../../shared/errors.ts";
import type { PublishTransport } from "../../src/PublishTransport.ts";
import type { OfferedTrack } from "../../src/PublishTransportTypes.ts";
import { HttpSession } from "./HttpSession.ts";
import type { SessionContext } from "./Session.ts";

/** A WHIP resource: one PublishTransport; every offered track is published. */
export class WhipSession extends HttpSession {
  readonly kind = "whip";
  protected readonly transport: PublishTransport;

  constructor(ctx: SessionContext) {
    super(ctx);
    this.transport = ctx.room.router.createPublishTransport();
    this.transport.on("closed", () => ctx.end());
  }

  /** Answers the offer and publishes its tracks; returns the answer SDP. */
  async start(offerSdp: string): Promise<string> {
    const offered: OfferedTrack[] = [];
    const onTrack = (t: OfferedTrack) => offered.push(t);
    this.transport.on("track", onTrack);
    let answer: string;
    try {
      answer = (await this.transport.getAnswer({ type: "offer", sdp: offerSdp })).sdp;
    } finally {
      this.transport.off("track", onTrack);
    }
    if (offered.length === 0) throw new WeirApiError("invalid_sdp", "the offer sends no media");
    for (const t of offered) {
      const publisher = this.transport.publish(t.trackId);
      this.room.trackPublished(this.identity, publisher);
    }
    this.negotiated(offerSdp, answer);
    return answer;
  }

  protected closeTransports(): Promise<void> {
    return this.transport.close();
  }
}
