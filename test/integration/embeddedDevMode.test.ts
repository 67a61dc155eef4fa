// The embedded process (`npm start`) and development mode (issue 12): without WEIR_SECRET it
// runs only on a loopback host with the in-process bus, unless WEIR_DEV=1 says it is meant; it
// refuses anything else with a message that says why. POST /dev/token reads at most 4 KiB.
import assert from "node:assert/strict";
import { test } from "node:test";
import { freePort, startNatsServer } from "../helpers/natsServer.ts";
import { type Embedded, startEmbedded } from "../helpers/system.ts";

const SECRET = "weir-embedded-dev-mode-test-secret-0123456789";

/** What the process printed before it exited (startEmbedded rejects with it). */
async function refusal(env: NodeJS.ProcessEnv): Promise<string> {
  const err = await startEmbedded({ env }).then(
    async (p) => {
      await p.stop();
      return null;
    },
    (e: Error) => e,
  );
  assert.ok(err, `started with ${JSON.stringify(env)}`);
  assert.match(err.message, /exit before/);
  return err.message;
}

async function devToken(app: Embedded, body: BodyInit, headers: Record<string, string> = {}) {
  const res = await fetch(`${app.url}/dev/token`, {
    method: "POST",
    body,
    headers: { "content-type": "application/json", ...headers },
    duplex: "half",
  } as RequestInit);
  return { status: res.status, json: (await res.json()) as Record<string, unknown> };
}

test("without WEIR_SECRET, a non-loopback WEIR_HOST or NATS_URL refuses to start and says why", async () => {
  const host = await refusal({ WEIR_HOST: "0.0.0.0" });
  assert.match(host, /WEIR_SECRET is not set and WEIR_HOST=0\.0\.0\.0 is not a loopback address/);
  assert.match(host, /WEIR_DEV=1/);
  const nats = await refusal({ NATS_URL: "nats://weir:hunter2@127.0.0.1:1" });
  assert.match(nats, /WEIR_SECRET is not set and NATS_URL is set/);
  assert.doesNotMatch(nats, /hunter2/);
});

test("WEIR_DEV=1 opts in to development mode on any host; WEIR_SECRET turns it off", async () => {
  const dev = await startEmbedded({ env: { WEIR_HOST: "0.0.0.0", WEIR_DEV: "1" } });
  try {
    assert.match(dev.log(), /DEVELOPMENT secret/);
    const r = await devToken(dev, JSON.stringify({ room: "demo", identity: "alice" }));
    assert.equal(r.status, 200);
  } finally {
    await dev.stop();
  }
  const prod = await startEmbedded({ env: { WEIR_HOST: "0.0.0.0", WEIR_SECRET: SECRET } });
  try {
    const r = await devToken(prod, JSON.stringify({ room: "demo", identity: "alice" }));
    assert.equal(r.status, 404);
  } finally {
    await prod.stop();
  }
});

test("POST /dev/token refuses a body over 4 KiB before reading it (413 JSON), declared or not", async () => {
  const app = await startEmbedded();
  try {
    const padded = JSON.stringify({ room: "demo", identity: "alice", pad: "x".repeat(5000) });
    const declared = await devToken(app, padded);
    assert.equal(declared.status, 413);
    assert.equal((declared.json.error as { code: string }).code, "payload_too_large");
    // Chunked, no Content-Length: the edge stops reading once 4 KiB have passed.
    const chunk = new TextEncoder().encode(" ".repeat(64 * 1024));
    let sent = 0;
    const endless = new ReadableStream<Uint8Array>({
      pull(controller) {
        sent += chunk.byteLength;
        if (sent > 64 * 1024 * 1024) controller.close();
        else controller.enqueue(chunk);
      },
    });
    const streamed = await devToken(app, endless);
    assert.equal(streamed.status, 413);
    assert.ok(sent < 64 * 1024 * 1024, `the whole body was read (${sent} bytes)`);
    const ok = await devToken(app, JSON.stringify({ room: "demo", identity: "alice" }));
    assert.equal(ok.status, 200);
    assert.equal(typeof ok.json.token, "string");
  } finally {
    await app.stop();
  }
});

test("with WEIR_SECRET it prints no token, and NATS credentials stay out of its output", async () => {
  const nats = await startNatsServer();
  try {
    const url = nats.url.replace("nats://", "nats://weir:hunter2@");
    const app = await startEmbedded({ env: { WEIR_SECRET: SECRET, NATS_URL: url } });
    try {
      assert.match(app.log(), /bus: nats:\/\/\*\*\*@127\.0\.0\.1:\d+/);
      assert.doesNotMatch(app.log(), /hunter2/);
      assert.doesNotMatch(app.log(), /eyJ/, "a token was printed");
    } finally {
      await app.stop();
    }
  } finally {
    await nats.stop();
  }
});

test("TURN settings: half of them, or a bad URL, refuse to start and say why", async () => {
  const noSecret = await refusal({ WEIR_TURN_URLS: "turns:turn.example.test:443?transport=tcp" });
  assert.match(noSecret, /WEIR_TURN_SECRET must be set/);
  const badUrl = await refusal({
    WEIR_TURN_URLS: "https://turn.example.test",
    WEIR_TURN_SECRET: "a-static-auth-secret-of-32-bytes!",
  });
  assert.match(
    badUrl,
    /WEIR_TURN_URLS: "https:\/\/turn\.example\.test" is not a stun:, turn: or turns: URL/,
  );
});

test("/metrics (it names rooms) is on the API port only while that is loopback; WEIR_METRICS_PORT serves it on its own loopback port", async () => {
  const local = await startEmbedded();
  try {
    const res = await fetch(`${local.url}/metrics`);
    assert.equal(res.status, 200);
    assert.match(await res.text(), /^weir_/m);
  } finally {
    await local.stop();
  }
  const metricsPort = await freePort();
  const env = { WEIR_HOST: "0.0.0.0", WEIR_SECRET: SECRET, WEIR_METRICS_PORT: String(metricsPort) };
  const exposed = await startEmbedded({ env });
  try {
    assert.equal((await fetch(`${exposed.url}/metrics`)).status, 404);
    const own = await fetch(`http://127.0.0.1:${metricsPort}/metrics`);
    assert.equal(own.status, 200);
    assert.match(await own.text(), /^weir_/m);
    assert.match(
      exposed.log(),
      new RegExp(`metrics: http://127\\.0\\.0\\.1:${metricsPort}/metrics`),
    );
  } finally {
    await exposed.stop();
  }
});
