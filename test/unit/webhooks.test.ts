// WebhookSender with a fake fetch: one event at a time per room and in order, rooms in parallel
// up to the concurrency, retries with the same body, a bounded queue, deferred events that
// resolve to nothing; the webhook settings of the media node.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { ConfigError, loadConfig, webhookConfig } from "../../media-node/service/config.ts";
import {
  WebhookSender,
  webhookSignature,
} from "../../media-node/service/webhooks/WebhookSender.ts";
import type { WebhookEvent } from "../../shared/webhooks.ts";

const SECRET = "unit-webhook-secret-0123";

function ev(room: string, seq: number): WebhookEvent {
  return {
    id: `${room}-${seq}`,
    event: "participant.joined",
    room,
    nodeId: "n",
    seq,
    createdAt: 0,
  };
}

/** A fake fetch: records calls; each is answered by `answer` (after `delayMs`). */
function fakeFetch(answer: (body: WebhookEvent, n: number) => number, delayMs = 5) {
  const calls: { body: WebhookEvent; raw: string; sig: string; at: number }[] = [];
  let inFlight = 0;
  let maxInFlight = 0;
  const impl = (async (_url: string | URL | Request, init?: RequestInit) => {
    const raw = String(init?.body);
    const body = JSON.parse(raw) as WebhookEvent;
    const headers = init?.headers as Record<string, string>;
    calls.push({ body, raw, sig: headers["weir-signature"], at: Date.now() });
    inFlight++;
    maxInFlight = Math.max(maxInFlight, inFlight);
    await new Promise((r) => setTimeout(r, delayMs));
    inFlight--;
    const n = calls.filter((c) => c.body.id === body.id).length;
    return new Response(null, { status: answer(body, n) });
  }) as typeof fetch;
  return { impl, calls, maxInFlight: () => maxInFlight };
}

async function settled(sender: WebhookSender, ms = 3000): Promise<void> {
  const end = Date.now() + ms;
  while (sender.stats().queued > 0 && Date.now() < end) await new Promise((r) => setTimeout(r, 5));
}

describe("WebhookSender", () => {
  test("in order per room, rooms in parallel up to the concurrency, signed", async () => {
    const f = fakeFetch(() => 200);
    const s = new WebhookSender({
      urls: ["http://x/"],
      secret: SECRET,
      fetch: f.impl,
      concurrency: 2,
    });
    for (let i = 1; i <= 5; i++) for (const room of ["a", "b", "c"]) s.enqueue(room, ev(room, i));
    await settled(s);
    for (const room of ["a", "b", "c"]) {
      const seqs = f.calls.filter((c) => c.body.room === room).map((c) => c.body.seq);
      assert.deepEqual(seqs, [1, 2, 3, 4, 5], room);
    }
    assert.equal(f.maxInFlight(), 2);
    for (const c of f.calls) assert.equal(c.sig, webhookSignature(c.raw, SECRET));
    assert.deepEqual(s.stats(), {
      queued: 0,
      delivered: 15,
      failedAttempts: 0,
      failed: 0,
      dropped: 0,
    });
    await s.stop();
  });

  test("a failure is retried with the same body after a backoff; the room waits, others do not", async () => {
    const f = fakeFetch((b, n) => (b.room === "a" && b.seq === 1 && n < 3 ? 503 : 200));
    const s = new WebhookSender({
      urls: ["http://x/"],
      secret: SECRET,
      fetch: f.impl,
      backoffMs: 40,
    });
    s.enqueue("a", ev("a", 1));
    s.enqueue("a", ev("a", 2));
    s.enqueue("b", ev("b", 1));
    await settled(s);
    const order = f.calls.map((c) => `${c.body.room}${c.body.seq}`);
    assert.equal(order[order.length - 1], "a2", `a2 after a1's retries: ${order}`);
    assert.ok(order.indexOf("b1") < order.lastIndexOf("a1"), `b1 did not wait: ${order}`);
    const tries = f.calls.filter((c) => c.body.id === "a-1");
    assert.equal(tries.length, 3);
    assert.equal(new Set(tries.map((t) => t.raw)).size, 1);
    assert.ok(tries[1].at - tries[0].at >= 30 && tries[2].at - tries[1].at >= 60);
    assert.equal(s.stats().failedAttempts, 2);
    await s.stop();
  });

  test("gives up after maxAttempts; a full queue drops; a deferred null sends nothing", async () => {
    const f = fakeFetch(() => 500, 1);
    const s = new WebhookSender({
      urls: ["http://x/"],
      secret: SECRET,
      fetch: f.impl,
      backoffMs: 1,
      maxAttempts: 3,
      maxQueue: 2,
    });
    s.enqueue("a", ev("a", 1));
    s.enqueue("a", Promise.resolve(null));
    s.enqueue("a", ev("a", 3)); // over the queue: dropped
    await settled(s);
    assert.equal(f.calls.length, 3);
    assert.deepEqual(s.stats(), {
      queued: 0,
      delivered: 0,
      failedAttempts: 3,
      failed: 1,
      dropped: 1,
    });
    await s.stop();
  });
});

describe("webhook settings", () => {
  test("URLs and secret from flags or the environment, checked", () => {
    assert.equal(webhookConfig(undefined, undefined), undefined);
    assert.deepEqual(webhookConfig(" http://a/h , https://b/h ", "s".repeat(16)), {
      urls: ["http://a/h", "https://b/h"],
      secret: "s".repeat(16),
    });
    assert.throws(() => webhookConfig("http://a/h", undefined), ConfigError);
    assert.throws(() => webhookConfig("http://a/h", "short"), ConfigError);
    assert.throws(() => webhookConfig("ftp://a/h", "s".repeat(16)), ConfigError);
    assert.throws(() => webhookConfig(undefined, "s".repeat(16)), ConfigError);
    const env = { WEIR_WEBHOOK_URLS: "http://env/h", WEIR_WEBHOOK_SECRET: "e".repeat(20) };
    assert.deepEqual(loadConfig([], env).webhooks, {
      urls: ["http://env/h"],
      secret: "e".repeat(20),
    });
    const flags = ["--webhook-urls", "http://flag/h", "--webhook-secret", "f".repeat(20)];
    assert.deepEqual(loadConfig(flags, env).webhooks?.urls, ["http://flag/h"]);
  });
});
