import assert from "node:assert/strict";
import { createSocket } from "node:dgram";
import { once } from "node:events";
import { retireTransientOutput, transientOutput } from "../../media-node/src/rtp/srtp/slab.ts";
import { FAILED, QUEUED, SENT, UdpSender } from "../../media-node/src/UdpSender.ts";

export const COUNT = 200;

/**
 * Sends COUNT packets of different lengths and contents from one reused (transient) buffer, the
 * way WebRtcPeer does, and checks that each arrives intact. Returns how often each result came.
 */
export async function sendAndCheck(): Promise<Record<string, number>> {
  const rx = createSocket("udp4");
  const tx = createSocket("udp4");
  rx.bind(0, "127.0.0.1");
  tx.bind(0, "127.0.0.1");
  await Promise.all([once(rx, "listening"), once(tx, "listening")]);
  const got: Buffer[] = [];
  rx.on("message", (m) => got.push(m));
  const sender = new UdpSender(tx);
  const results: Record<string, number> = { sent: 0, queued: 0, failed: 0 };
  for (let i = 0; i < COUNT; i++) {
    const out = transientOutput(100 + (i % 50));
    out.fill(i & 0xff);
    const r = sender.send(out, rx.address().port, "127.0.0.1");
    if (r === QUEUED) retireTransientOutput();
    results[r === SENT ? "sent" : r === QUEUED ? "queued" : "failed"]++;
  }
  const deadline = Date.now() + 3000;
  while (got.length < COUNT && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
  assert.equal(got.length, COUNT);
  got.sort((a, b) => a.length - b.length || a[0] - b[0]);
  const want = Array.from({ length: COUNT }, (_, i) => Buffer.alloc(100 + (i % 50), i & 0xff));
  want.sort((a, b) => a.length - b.length || a[0] - b[0]);
  assert.deepEqual(got, want);
  tx.close();
  assert.equal(sender.send(Buffer.alloc(10), rx.address().port, "127.0.0.1"), FAILED);
  rx.close();
  return results;
}
