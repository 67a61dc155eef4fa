// The client side of bench/data.ts in a process of its own: one werift publisher with a
// DataChannel and N werift subscribers, driven over IPC; plus a direct werift-to-werift channel
// for the baseline. Counts what arrives; keeps nothing.
import type { RTCDataChannel, RTCPeerConnection } from "werift";
import { dataPeer, sendPaced } from "../test/helpers/dataPeer.ts";
import { noStun, until, waitGathered } from "../test/helpers/weriftPeer.ts";
import { Rpc } from "./lib/rpc.ts";

const rpc = new Rpc(process, "data-peers");
const peers: RTCPeerConnection[] = [];
let channel: RTCDataChannel | undefined;
const subs: { count: number; bytes: number; lastAt: number; open: boolean }[] = [];
let t0 = 0;

async function offerOf(pc: RTCPeerConnection): Promise<string> {
  noStun(pc);
  await pc.setLocalDescription(await pc.createOffer());
  await waitGathered(pc);
  return pc.localDescription?.sdp ?? "";
}

async function answerTo(pc: RTCPeerConnection, offer: string): Promise<string> {
  await pc.setRemoteDescription({ type: "offer", sdp: offer });
  noStun(pc);
  await pc.setLocalDescription(await pc.createAnswer());
  await waitGathered(pc);
  return pc.localDescription?.sdp ?? "";
}

function counted(pc: RTCPeerConnection) {
  const s = { count: 0, bytes: 0, lastAt: 0, open: false };
  pc.onDataChannel.subscribe((c) => {
    s.open = true;
    c.onMessage.subscribe((m) => {
      s.count++;
      s.bytes += m.length;
      s.lastAt = performance.now() - t0;
    });
  });
  return s;
}

rpc.handle("publisher.offer", async () => {
  const pc = dataPeer();
  peers.push(pc);
  channel = pc.createDataChannel("bench");
  return offerOf(pc);
});

rpc.handle("publisher.answer", async (p: { sdp: string }) => {
  await peers[0].setRemoteDescription({ type: "answer", sdp: p.sdp });
  await until(() => channel?.readyState === "open", 10_000, "publisher channel open");
});

rpc.handle("subscriber.answer", async (p: { offer: string }) => {
  const pc = dataPeer();
  peers.push(pc);
  subs.push(counted(pc));
  return answerTo(pc, p.offer);
});

rpc.handle("subscribers.open", () => until(() => subs.every((s) => s.open), 15_000, "open"));

/** Sends `count` messages of `size` bytes from the publisher; the counters restart. */
rpc.handle("send", async (p: { count: number; size: number }) => {
  for (const s of subs) Object.assign(s, { count: 0, bytes: 0, lastAt: 0 });
  const payload = Buffer.alloc(p.size, 1);
  t0 = performance.now();
  await sendPaced(channel as RTCDataChannel, p.count, () => payload);
  return { sendMs: performance.now() - t0 };
});

rpc.handle("counts", () => subs.map((s) => ({ ...s })));

/** A direct werift-to-werift channel: the messages/s one werift association carries here. */
rpc.handle("baseline", async (p: { count: number; size: number }) => {
  const a = dataPeer();
  const b = dataPeer();
  const dc = a.createDataChannel("base");
  const s = counted(b);
  const answer = await answerTo(b, await offerOf(a));
  await a.setRemoteDescription({ type: "answer", sdp: answer });
  await until(() => dc.readyState === "open" && s.open, 10_000, "baseline open");
  const payload = Buffer.alloc(p.size, 1);
  t0 = performance.now();
  await sendPaced(dc, p.count, () => payload);
  await until(() => s.count === p.count, 60_000, "baseline received");
  const ms = s.lastAt;
  await Promise.all([a.close(), b.close()]);
  return { msgsPerS: (p.count / ms) * 1000 };
});

rpc.handle("close", async () => {
  await Promise.all(peers.map((pc) => pc.close()));
});
