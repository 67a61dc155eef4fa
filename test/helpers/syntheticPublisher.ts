// A werift client publishing one synthetic VP8 video track to a Router, answering PLIs with
// keyframes: the publisher most integration tests need.
import type { Publisher, Router } from "../../media-node/src/index.ts";
import { MediaSource } from "./mediaSource.ts";
import { weriftPublisher } from "./weriftPeer.ts";

export interface SyntheticVideo {
  publisher: Publisher;
  answerSdp: string;
  source: MediaSource;
}

/** Publishes; pushes what ends it onto `closers` (peer, transport, source). */
export async function publishSyntheticVideo(
  router: Router,
  closers: (() => unknown)[],
): Promise<SyntheticVideo> {
  const pub = await weriftPublisher(["video"]);
  const transport = router.createPublishTransport();
  let trackId = "";
  transport.on("track", (t) => {
    trackId = t.trackId;
  });
  const answer = await transport.getAnswer(pub.offer);
  await pub.pc.setRemoteDescription(answer);
  const publisher = transport.publish(trackId);
  const source = new MediaSource(pub.tracks[0], undefined);
  pub.pc.getTransceivers()[0].sender.onRtcp.subscribe((rtcp) => {
    if (rtcp.type === 206) source.keyframe();
  });
  source.start();
  closers.push(
    () => source.stop(),
    () => pub.pc.close(),
    () => transport.close(),
  );
  return { publisher, answerSdp: answer.sdp, source };
}
