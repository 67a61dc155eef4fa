// WHEP-style subscribing (the client offers recvonly m-lines, the node answers with the room's
// tracks) and ICE restart by SDP fragment (WHIP/WHEP PATCH), against real werift peers.
import assert from "node:assert/strict";
import { after, test } from "node:test";
import {
  NotFoundError,
  type Publisher,
  type PublishTransport,
  Router,
  type SubscribeTransport,
} from "../../media-node/src/index.ts";
import { iceOf, restartClientIce } from "../helpers/iceRestart.ts";
import { MediaSource } from "../helpers/mediaSource.ts";
import {
  CLIENT_CODECS,
  until,
  WeriftSubscriber,
  waitGathered,
  weriftPublisher,
  weriftViewer,
} from "../helpers/weriftPeer.ts";

type Kind = "audio" | "video";

const router = new Router({ transport: { listenIps: ["127.0.0.1"] } });
const closers: (() => unknown)[] = [];
after(async () => {
  for (const close of closers.reverse()) await close();
  await router.close();
});

/** A werift publisher of audio + video with synthetic media flowing, published in the router. */
async function publishAv(): Promise<{
  audio: Publisher;
  video: Publisher;
  pub: Awaited<ReturnType<typeof weriftPublisher>>;
  transport: PublishTransport;
  answer: { type: "answer" | "offer"; sdp: string };
}> {
  const pub = await weriftPublisher(["audio", "video"]);
  const transport = router.createPublishTransport();
  const ids = new Map<string, string>();
  transport.on("track", (t) => ids.set(t.kind, t.trackId));
  const answer = await transport.getAnswer(pub.offer);
  await pub.pc.setRemoteDescription(answer);
  const audio = transport.publish(ids.get("audio")!);
  const video = transport.publish(ids.get("video")!);
  const source = new MediaSource(pub.tracks[1], pub.tracks[0]);
  pub.pc.getTransceivers()[1].sender.onRtcp.subscribe((rtcp) => {
    if (rtcp.type === 206) source.keyframe();
  });
  source.start();
  closers.push(
    () => pub.pc.close(),
    () => transport.close(),
    () => source.stop(),
  );
  return { audio, video, pub, transport, answer };
}

/** A WHEP-style werift client, closed after the tests. */
async function whepClient(kinds: Kind[]) {
  const viewer = await weriftViewer(kinds);
  closers.push(() => viewer.pc.close());
  return viewer;
}

function subscribeTransport(): SubscribeTransport {
  const transport = router.createSubscribeTransport();
  closers.push(() => transport.close());
  return transport;
}

/** The sections of an SDP after the session part, one per m-line. */
function mediaSections(sdp: string): string[] {
  return sdp.split("\r\nm=").slice(1);
}

test("WHEP: a recvonly offer is answered with the room's audio and video, media flows", async () => {
  const { audio, video } = await publishAv();
  const client = await whepClient(["audio", "video"]);
  const transport = subscribeTransport();
  const answer = await transport.answerOffer(client.offer, [video.id, audio.id]);
  await client.pc.setRemoteDescription(answer);

  const [audioSection, videoSection] = mediaSections(answer.sdp);
  assert.match(audioSection, /^a=sendonly$/m);
  assert.match(videoSection, /^a=sendonly$/m);
  assert.match(audioSection, new RegExp(`^a=msid:${audio.id} ${audio.id}$`, "m"));
  assert.match(videoSection, new RegExp(`^a=msid:${video.id} ${video.id}$`, "m"));
  // The client's payload types, not the router's (111 / 96).
  const clientAudioPt = CLIENT_CODECS.audio[0].payloadType;
  const clientVideoPt = CLIENT_CODECS.video[0].payloadType;
  assert.match(audioSection, new RegExp(`^audio 9 UDP/TLS/RTP/SAVPF ${clientAudioPt}$`, "m"));
  assert.match(videoSection, new RegExp(`^video 9 UDP/TLS/RTP/SAVPF ${clientVideoPt}$`, "m"));
  const subs = transport.subscribers;
  assert.deepEqual(subs.map((s) => [s.kind, s.payloadType]).sort(), [
    ["audio", clientAudioPt],
    ["video", clientVideoPt],
  ]);

  await until(
    () => client.counts.video >= 100 && client.counts.audio >= 40,
    10_000,
    "WHEP client receives media",
  );
  assert.deepEqual([...client.payloadTypes].sort(), [clientAudioPt, clientVideoPt].sort());
  const stats = transport.getStats();
  assert.equal(stats.state, "connected");
  assert.equal(stats.mLines, 2);
  assert.ok(stats.subscribers.every((s) => s.packetsSent > 0));
  // An answering transport never offers.
  await assert.rejects(transport.subscribe(audio.id), { code: "invalid_state" });
  await assert.rejects(transport.createOffer(), { code: "invalid_state" });
});

test("WHEP: an unknown publisher id is a NotFoundError and the transport stays fresh", async () => {
  const { audio, video } = await publishAv();
  const client = await whepClient(["audio", "video"]);
  const transport = subscribeTransport();
  await assert.rejects(transport.answerOffer(client.offer, [video.id, "nobody"]), NotFoundError);
  assert.equal(transport.subscribers.length, 0);
  // Nothing was applied: the same transport can still answer the offer.
  const answer = await transport.answerOffer(client.offer, [video.id, audio.id]);
  assert.equal(transport.subscribers.length, 2);
  await client.pc.setRemoteDescription(answer);
  await until(() => client.counts.video >= 30, 10_000, "media after the retry");
});

test("WHEP: an audio-only offer binds only the audio publisher", async () => {
  const { audio, video } = await publishAv();
  const client = await whepClient(["audio"]);
  const transport = subscribeTransport();
  const answer = await transport.answerOffer(client.offer, [video.id, audio.id]);
  await client.pc.setRemoteDescription(answer);
  assert.equal(mediaSections(answer.sdp).length, 1);
  assert.deepEqual(
    transport.subscribers.map((s) => [s.kind, s.publisher.id]),
    [["audio", audio.id]],
  );
  await until(() => client.counts.audio >= 40, 10_000, "audio at the client");
  assert.equal(client.counts.video, 0);
  assert.equal(video.getStats().subscribers, 0);
});

test("WHEP: ICE restart by fragment gives new node credentials and media flows again", async () => {
  const { audio, video } = await publishAv();
  const client = await whepClient(["audio", "video"]);
  const transport = subscribeTransport();
  const answer = await transport.answerOffer(client.offer, [video.id, audio.id]);
  await client.pc.setRemoteDescription(answer);
  await until(() => client.counts.video >= 50, 10_000, "media before the restart");

  const before = iceOf(answer.sdp);
  const clientBefore = iceOf(client.offer.sdp);
  const node = await restartClientIce(client.pc, answer.sdp, (u, p) =>
    transport.restartIceWithFragment(u, p),
  );
  assert.notEqual(node.ufrag, before.ufrag);
  assert.notEqual(node.pwd, before.pwd);
  assert.ok(node.candidates.length >= 1);
  assert.match(node.candidates[0], /^candidate:\S+ 1 udp \d+ 127\.0\.0\.1 \d+ typ host/);
  // The client's ICE agent now talks to the node's new credentials, with its own new ones.
  const clientIce = client.pc.iceTransports[0].connection;
  assert.equal(clientIce.remoteUsername, node.ufrag);
  assert.notEqual(clientIce.localUsername, clientBefore.ufrag);

  const counted = { ...client.counts };
  await until(
    () => client.counts.video >= counted.video + 100 && client.counts.audio >= counted.audio + 40,
    10_000,
    "media after the ICE restart",
  );
  assert.equal(transport.connectionState, "connected");
  // The same credentials again are not a restart.
  const again = iceOf(client.pc.localDescription!.sdp);
  await assert.rejects(transport.restartIceWithFragment(again.ufrag, again.pwd), {
    code: "invalid_sdp",
  });
});

/**
 * Waits for 100 more packets from the publisher and 2 more RTCP reports from the node: media in
 * proves the client's new ICE pair, RTCP out (reports every second) the node's.
 */
async function mediaFlowsAgain(
  video: { getStats(): { packetsReceived: number } },
  transport: { getStats(): { media: { rtcpPacketsOut: number } } },
): Promise<void> {
  const received = video.getStats().packetsReceived;
  const reports = transport.getStats().media.rtcpPacketsOut;
  await until(
    () =>
      video.getStats().packetsReceived >= received + 100 &&
      transport.getStats().media.rtcpPacketsOut >= reports + 2,
    10_000,
    "publisher media in and RTCP out after the ICE restart",
  );
}

test("WHIP: ICE restart by fragment on a publish transport keeps the publisher's media coming", async () => {
  const { video, pub, transport, answer } = await publishAv();
  await until(() => video.getStats().packetsReceived >= 50, 10_000, "media before the restart");
  const before = iceOf(answer.sdp);
  const node = await restartClientIce(pub.pc, answer.sdp, (u, p) =>
    transport.restartIceWithFragment(u, p),
  );
  assert.notEqual(node.ufrag, before.ufrag);
  assert.notEqual(node.pwd, before.pwd);
  await mediaFlowsAgain(video, transport);
  assert.equal(transport.connectionState, "connected");
  // Bad fragments are typed errors.
  await assert.rejects(transport.restartIceWithFragment("ab", "short"), { code: "invalid_sdp" });
});

test("WHIP: an ICE restart by full offer (getAnswer) also keeps media coming", async () => {
  const { video, pub, transport, answer } = await publishAv();
  await until(() => video.getStats().packetsReceived >= 50, 10_000, "media before the restart");
  pub.pc.restartIce();
  await pub.pc.setLocalDescription(await pub.pc.createOffer());
  await waitGathered(pub.pc);
  const offer = { type: "offer" as const, sdp: pub.pc.localDescription!.sdp };
  const next = await transport.getAnswer(offer);
  assert.notEqual(iceOf(next.sdp).ufrag, iceOf(answer.sdp).ufrag);
  await pub.pc.setRemoteDescription(next);
  for (const t of pub.pc.iceTransports) if (!t.connection.nominated) void t.start().catch(() => {});
  await mediaFlowsAgain(video, transport);
});

test("an offering subscribe transport restarts ICE by offer (restartIce) and media flows again", async () => {
  const { video } = await publishAv();
  const sub = new WeriftSubscriber();
  sub.keep = false;
  closers.push(() => sub.pc.close());
  const transport = subscribeTransport();
  const first = await transport.subscribe(video.id);
  await transport.setAnswer(await sub.answer(first.offer));
  await until(() => sub.total() >= 50, 10_000, "media before the restart");
  const offer = await transport.restartIce();
  assert.notEqual(iceOf(offer.sdp).ufrag, iceOf(first.offer.sdp).ufrag);
  await transport.setAnswer(await sub.answer(offer));
  for (const t of sub.pc.iceTransports) if (!t.connection.nominated) void t.start().catch(() => {});
  const counted = sub.total();
  await until(() => sub.total() >= counted + 100, 10_000, "media after the ICE restart");
  assert.equal(transport.connectionState, "connected");
});

test("an offering subscribe transport cannot restart by fragment", async () => {
  const transport = subscribeTransport();
  await assert.rejects(transport.restartIceWithFragment("abcd", "abcdefghijklmnopqrstuvwx"), {
    code: "invalid_state",
  });
});
