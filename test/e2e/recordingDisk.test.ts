// A recording node whose disk fills up: the media node process runs in a mount namespace of its
// own (unshare -m, private propagation) where a 1 MiB tmpfs is mounted over its recordings
// directory, invisible to the rest of the machine. A recording of a Chromium publisher fills it:
// the recording fails with write_failed (ENOSPC) and everyone hears recording.stopped; a new
// recording is refused with 507 insufficient_storage; the room goes on decoding throughout.
// Run alone: node scripts/test.mjs test/e2e/recordingDisk.test.ts
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { connectNatsBus, type NatsBusHandle } from "../../shared/bus/adapter/node/nats.ts";
import type { RecordingInfo } from "../../shared/recording.ts";
import type { Grant } from "../../shared/token.ts";
import {
  BrowserHarness,
  browserUnavailable,
  pollUntil,
  type WeirPage,
} from "../helpers/browser.ts";
import { probe } from "../helpers/ffprobe.ts";
import { type EdgeWorker, startEdgeWorker } from "../helpers/miniflare.ts";
import { type NatsServer, startNatsServer } from "../helpers/natsServer.ts";
import {
  devToken,
  type MediaNodeProc,
  roomInbound,
  startMediaNode,
  startRoomApp,
  untilDecoding,
} from "../helpers/system.ts";

const SECRET = "weir-recording-disk-secret-0123456789abcdef";
const ROOM = "disk-room";
const skip = browserUnavailable();
const opts = { skip: skip ?? false };
const dir = mkdtempSync(join(tmpdir(), "weir-rec-disk-"));

let nats: NatsServer | undefined;
let edge: EdgeWorker | undefined;
let reg: NatsBusHandle | undefined;
let harness: BrowserHarness | undefined;
let node: MediaNodeProc | undefined;
const pages: WeirPage[] = [];

type PageWindow = Window & {
  weirRoom: { on(e: string, f: (x: never) => void): void };
  stops: { recordingId: string; reason: string }[];
};

async function api(method: string, path: string, grants: Grant[], body?: unknown) {
  const token = await devToken(ROOM, "ops", grants, SECRET);
  const headers: Record<string, string> = { authorization: `Bearer ${token}` };
  if (body !== undefined) headers["content-type"] = "application/json";
  const res = await fetch(`${edge!.url}${path}`, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return {
    status: res.status,
    json: (await res.json()) as Record<string, unknown> & {
      error?: { code: string; message: string };
    },
  };
}

function diag(): string {
  return `--- node\n${node?.log().slice(-3000)}\n${pages.flatMap((p) => p.logs).join("\n")}`;
}

async function roomStillDecodes(p: WeirPage, what: string): Promise<void> {
  const a = (await roomInbound(p.page)).videoFramesDecoded;
  let b = a;
  await pollUntil(
    async () => {
      b = (await roomInbound(p.page)).videoFramesDecoded;
      return b > a + 10;
    },
    10_000,
    () => `${what}: the subscriber still decodes (${a} -> ${b})`,
    250,
  );
}

before(async () => {
  if (skip) return;
  const browser = BrowserHarness.launch();
  nats = await startNatsServer();
  [edge, reg] = await Promise.all([
    startEdgeWorker({ natsWsUrl: nats.wsUrl, secret: SECRET }),
    connectNatsBus(nats.url, { name: "rec-disk-e2e" }),
  ]);
  harness = await browser;
  // $0 is the directory, "$@" the node's command line: the mount exists only for the node
  const mount = 'mount -t tmpfs -o size=1m weir-rec-test "$0" && exec "$@"';
  node = await startMediaNode(
    nats.url,
    "disk-node",
    ["--recordings-dir", dir, "--recordings-min-free-mb", "0.25"],
    {},
    ["unshare", "-m", "--propagation", "private", "sh", "-c", mount, dir],
  );
});

after(async () => {
  for (const p of pages) await p.close().catch(() => {});
  await harness?.close();
  await node?.stop(3000);
  await edge?.stop();
  await reg?.close();
  await nats?.stop();
  rmSync(dir, { recursive: true, force: true });
});

test(
  "a full disk fails the recording with a clear error, refuses the next with 507, and the room goes on",
  opts,
  async () => {
    const alice = await harness!.newPage("alice");
    const bob = await harness!.newPage("bob");
    pages.push(alice, bob);
    await startRoomApp(alice.page, {
      edgeUrl: edge!.url,
      token: await devToken(ROOM, "alice", ["publish", "subscribe"], SECRET),
      publish: true,
    });
    await startRoomApp(bob.page, {
      edgeUrl: edge!.url,
      token: await devToken(ROOM, "bob", ["subscribe"], SECRET),
      publish: false,
    });
    await bob.page.evaluate(() => {
      const w = window as unknown as PageWindow;
      w.stops = [];
      w.weirRoom.on("recordingstopped", (e: { recordingId: string; reason: string }) =>
        w.stops.push(e),
      );
    });
    await untilDecoding(bob.page, "Bob decodes Alice", { timeoutMs: 30_000 }).catch((e: Error) => {
      throw new Error(`${e.message}\n${diag()}`);
    });

    const started = await api("POST", `/v1/rooms/${ROOM}/recordings`, ["record"], {
      participant: "alice",
    });
    assert.equal(started.status, 201, JSON.stringify(started.json));
    const id = (started.json as unknown as RecordingInfo).recordingId;
    // 1 MiB of VP8 + Opus fills in a few seconds
    const failed = await pollUntil(
      async () => {
        const l = await api("GET", `/v1/rooms/${ROOM}/recordings`, ["record"]);
        const r = (l.json.recordings as RecordingInfo[]).find((x) => x.recordingId === id);
        return r?.status === "failed" && r.stoppedAt !== undefined ? r : null;
      },
      40_000,
      () => `the recording fails on the full disk\n${diag()}`,
      500,
    );
    assert.equal(failed.reason, "write_failed");
    assert.equal(failed.error?.code, "write_failed");
    assert.match(failed.error?.message ?? "", /ENOSPC/);
    const stop = await pollUntil(
      () =>
        bob.page.evaluate(
          (rid) => (window as unknown as PageWindow).stops.find((s) => s.recordingId === rid),
          id,
        ),
      10_000,
      () => "Bob hears recording.stopped",
    );
    assert.equal(stop.reason, "write_failed");
    await roomStillDecodes(bob, "after the failed recording");

    // The disk stays full: a new recording is refused before it starts.
    const refused = await api("POST", `/v1/rooms/${ROOM}/recordings`, ["record"], {});
    assert.equal(refused.status, 507, JSON.stringify(refused.json));
    assert.equal(refused.json.error?.code, "insufficient_storage");
    assert.match(refused.json.error?.message ?? "", /KiB free/);
    await roomStillDecodes(bob, "after the refused recording");

    // What was written before the disk filled is a WebM ffprobe reads (inside the node's mount
    // namespace: the tmpfs is not visible out here).
    assert.deepEqual(readdirSync(dir), [], "the tmpfs is not mounted outside the node");
    const video = failed.files.find((f) =>
      f.publisherIds.some((p) => failed.tracks.find((t) => t.publisherId === p)?.kind === "video"),
    );
    assert.ok(video, JSON.stringify(failed.files));
    // copied out of the node's mount namespace, then read by ffprobe as any file
    const bytes = execFileSync(
      "nsenter",
      ["-t", String(node!.child.pid), "-m", "--", "cat", video.path],
      { maxBuffer: 8 << 20 },
    );
    const copy = join(tmpdir(), `weir-disk-${process.pid}.webm`);
    writeFileSync(copy, bytes);
    const pr = probe(copy);
    rmSync(copy, { force: true });
    assert.equal(pr.streams[0]?.codec, "vp8");
    assert.ok(
      pr.streams[0].frames > 100,
      `the cut file still holds ${pr.streams[0].frames} decodable frames (${bytes.length} bytes): ${pr.decodeErrors}`,
    );
  },
);
