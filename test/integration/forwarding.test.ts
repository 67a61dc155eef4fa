import assert from "node:assert/strict";
import { after, test } from "node:test";
import { Router } from "../../media-node/src/index.ts";
import { MediaSource } from "../helpers/mediaSource.ts";
import { until, WeriftSubscriber, weriftPublisher } from "../helpers/weriftPeer.ts";

const transport = { listenIps: ["127.0.0.1"] };
const router = new Router({ transport });
after(() => router.close());

test("forwards VP8 and Opus from a werift publisher to a werift subscriber", async () => {
  const pub = await weriftPublisher(["audio", "video"]);
  const publishTransport = router.createPublishTransport();
  const offered = new Map<string, string>();
  publishTransport.on("track", (t) => offered.set(`${t.kind}:${t.mimeType}`, t.trackId));
  const answer = await publishTransport.getAnswer(pub.offer);
  await pub.pc.setRemoteDescription(answer);
  assert.deepEqual([...offered.keys()].sort(), ["audio:audio/opus", "video:video/VP8"]);
  const [audioTrack, videoTrack] = pub.tracks;
  const audio = publishTransport.publish(offered.get("audio:audio/opus")!);
  const video = publishTransport.publish(offered.get("video:video/VP8")!);
  const source = new MediaSource(videoTrack, audioTrack);
  pub.pc.getTransceivers()[1].sender.onRtcp.subscribe((rtcp) => {
    if (rtcp.type === 206) source.keyframe();
  });
  source.start();

  const sub = new WeriftSubscriber();
  const subscribeTransport = router.createSubscribeTransport();
  for (const publisher of [video, audio]) {
    const { offer } = await subscribeTransport.subscribe(publisher.id);
    await subscribeTransport.setAnswer(await sub.answer(offer));
  }
  await until(
    () => (sub.counts.get(video.id) ?? 0) > 100 && (sub.counts.get(audio.id) ?? 0) > 50,
    10_000,
    "media at the subscriber",
  );
  source.stop();

  const videoIn = sub.received.get(video.id)!;
  // The first forwarded video packet starts a keyframe (S=1, PID 0, P bit clear).
  const first = videoIn[0].payload;
  assert.equal(first[0] & 0x10, 0x10);
  assert.equal(first[4] & 0x01, 0);
  // Sequence numbers are continuous and the payload bytes are untouched.
  for (let i = 1; i < videoIn.length; i++) {
    assert.equal(
      videoIn[i].header.sequenceNumber,
      (videoIn[i - 1].header.sequenceNumber + 1) & 0xffff,
    );
  }
  const stats = router.getStats();
  const vstats = stats.publishers.find((p) => p.id === video.id)!;
  assert.ok(vstats.packetsReceived > 100);
  assert.ok(vstats.keyframesReceived >= 1);
  const sstats = subscribeTransport.getStats();
  assert.equal(sstats.subscribers.length, 2);
  assert.ok(sstats.subscribers.every((s) => s.packetsSent > 0));
  await Promise.all([
    publishTransport.close(),
    subscribeTransport.close(),
    pub.pc.close(),
    sub.pc.close(),
  ]);
});
