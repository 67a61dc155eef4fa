// Recording through the edge, on the real path: nats-server, the edge Worker in miniflare, two
// media node processes with --recordings-dir, two Chromium Rooms that publish VP8 + Opus. Alice
// is on node A (--max-sessions 1), so Bob's session spills to node B. Over HTTP and over the
// WebSocket protocol: start, list, stop; every participant hears recording.started/stopped;
// a request made on B for Alice's tracks runs on A (the node hosting them); a recording of the
// whole room runs on A and takes Bob's tracks through the relay from B. Bad input (no grant,
// unknown track or participant, twice, bad body, unknown id) gets a clear error and leaves the
// room decoding. ffprobe checks every file.
// Run alone: node scripts/test.mjs test/e2e/recordingControl.test.ts
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { connectNatsBus, type NatsBusHandle } from "../../shared/bus/adapter/node/nats.ts";
import { NODE_STALE_MS } from "../../shared/bus/bus.ts";
import type { RecordingInfo } from "../../shared/recording.ts";
import type { Grant } from "../../shared/token.ts";
import {
  BrowserHarness,
  browserUnavailable,
  pollUntil,
  sleep,
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

const SECRET = "weir-recording-e2e-secret-0123456789abcdef";
const ROOM = "rec-room";
const skip = browserUnavailable();
const opts = { skip: skip ?? false };
const dirs = {
  a: mkdtempSync(join(tmpdir(), "weir-rec-a-")),
  b: mkdtempSync(join(tmpdir(), "weir-rec-b-")),
};

let nats: NatsServer | undefined;
let edge: EdgeWorker | undefined;
let reg: NatsBusHandle | undefined;
let harness: BrowserHarness | undefined;
const nodes: MediaNodeProc[] = [];
const pages: WeirPage[] = [];
let alice: WeirPage | undefined;
let bob: WeirPage | undefined;

type RecEvent = {
  type: "started" | "stopped";
  recordingId: string;
  reason?: string;
  publisherIds?: string[];
};
type PageWindow = Window & {
  weirRoom: {
    participants: { identity: string; tracks: { publisherId: string; kind: string }[] }[];
    recordings: { recordingId: string }[];
    on(e: string, f: (x: never) => void): void;
    startRecording(r: object): Promise<RecordingInfo>;
    stopRecording(id: string): Promise<RecordingInfo>;
    listRecordings(): Promise<RecordingInfo[]>;
  };
  recEvents: RecEvent[];
};

async function liveNode(nodeId: string, sessions?: number) {
  await pollUntil(
    async () => {
      const n = (await reg!.registry.list()).find((x) => x.nodeId === nodeId);
      const fresh = n && Date.now() - n.heartbeatAt <= NODE_STALE_MS;
      return fresh && (sessions === undefined || n.sessions === sessions) ? n : null;
    },
    10_000,
    () => `node ${nodeId} in the registry`,
  );
}

function diag(): string {
  const logs = nodes.map((n) => `--- ${n.id}\n${n.log().slice(-3000)}`);
  return `${logs.join("\n")}\n${pages.flatMap((p) => p.logs).join("\n")}`;
}

async function joinAs(name: string, grants: Grant[]): Promise<WeirPage> {
  const p = await harness!.newPage(name);
  pages.push(p);
  await startRoomApp(p.page, {
    edgeUrl: edge!.url,
    token: await devToken(ROOM, name, grants, SECRET),
    publish: true,
  });
  await p.page.evaluate(() => {
    const w = window as unknown as PageWindow;
    w.recEvents = [];
    w.weirRoom.on("recordingstarted", (r: RecEvent) =>
      w.recEvents.push({
        type: "started",
        recordingId: r.recordingId,
        publisherIds: r.publisherIds,
      }),
    );
    w.weirRoom.on("recordingstopped", (r: RecEvent) =>
      w.recEvents.push({ type: "stopped", recordingId: r.recordingId, reason: r.reason }),
    );
  });
  return p;
}

function recEvents(p: WeirPage): Promise<RecEvent[]> {
  return p.page.evaluate(() => (window as unknown as PageWindow).recEvents);
}

/** Waits until `p` heard `type` for `id`. */
async function heard(p: WeirPage, type: RecEvent["type"], id: string): Promise<RecEvent> {
  return pollUntil(
    async () => (await recEvents(p)).find((e) => e.type === type && e.recordingId === id) ?? null,
    10_000,
    () => `${p.name ?? "page"} hears recording.${type} of ${id}\n${diag()}`,
  );
}

async function api(
  method: string,
  path: string,
  grants: Grant[],
  body?: unknown,
  tokenRoom = ROOM,
): Promise<{
  status: number;
  json: Record<string, unknown> & { error?: { code: string; message: string } };
}> {
  const token = await devToken(tokenRoom, "ops", grants, SECRET);
  const init: RequestInit = { method, headers: { authorization: `Bearer ${token}` } };
  if (body !== undefined) {
    init.body = typeof body === "string" ? body : JSON.stringify(body);
    (init.headers as Record<string, string>)["content-type"] = "application/json";
  }
  const res = await fetch(`${edge!.url}${path}`, init);
  return { status: res.status, json: (await res.json()) as never };
}

/** Frames the page has decoded so far (all remote video). */
async function decoded(p: WeirPage): Promise<number> {
  return (await roomInbound(p.page)).videoFramesDecoded;
}

/**
 * Both pages go on decoding each other: nothing else in the room was affected. (Polled for up
 * to 10 s: on a loaded 2-core machine a Chromium page can pause a second.)
 */
async function roomStillDecodes(what: string): Promise<void> {
  for (const p of [alice!, bob!]) {
    const before = await decoded(p);
    let now = before;
    await pollUntil(
      async () => {
        now = await decoded(p);
        return now > before + 10;
      },
      10_000,
      () => `${what}: ${p.name} still decodes (${before} -> ${now})\n${diag()}`,
      250,
    );
  }
}

/** ffprobe: every stream decodes with no error; returns the probe. */
function checkFile(path: string, minSeconds: number) {
  const pr = probe(path);
  assert.equal(pr.decodeErrors, "", `${path} decodes without error`);
  assert.ok(pr.duration >= minSeconds, `${path}: ${pr.duration} s >= ${minSeconds} s`);
  for (const s of pr.streams) assert.ok(s.frames > 0, `${path}: ${s.codec} has frames`);
  return pr;
}

before(async () => {
  if (skip) return;
  const browser = BrowserHarness.launch();
  nats = await startNatsServer();
  [edge, reg] = await Promise.all([
    startEdgeWorker({ natsWsUrl: nats.wsUrl, secret: SECRET }),
    connectNatsBus(nats.url, { name: "rec-e2e" }),
  ]);
  harness = await browser;
  nodes.push(
    await startMediaNode(nats.url, "node-a", ["--max-sessions", "1", "--recordings-dir", dirs.a]),
  );
  await liveNode("node-a");
  alice = await joinAs("alice", ["publish", "subscribe", "record"]);
  nodes.push(await startMediaNode(nats.url, "node-b", ["--recordings-dir", dirs.b]));
  await liveNode("node-a", 1);
  await liveNode("node-b");
  bob = await joinAs("bob", ["publish", "subscribe", "record"]);
  await Promise.all([
    untilDecoding(alice.page, "Alice decodes Bob", { timeoutMs: 30_000 }),
    untilDecoding(bob.page, "Bob decodes Alice (relay)", { timeoutMs: 30_000 }),
  ]).catch((err: Error) => {
    throw new Error(`${err.message}\n${diag()}`);
  });
});

after(async () => {
  for (const p of pages) await p.close().catch(() => {});
  await harness?.close();
  await Promise.all(nodes.map((n) => n.stop(3000)));
  await edge?.stop();
  await reg?.close();
  await nats?.stop();
  for (const d of Object.values(dirs)) rmSync(d, { recursive: true, force: true });
});

test(
  "HTTP: Alice recorded per track; everyone hears it; list shows sizes and durations; DELETE stops; ffprobe decodes",
  opts,
  async () => {
    const t0 = Date.now();
    const started = await api("POST", `/v1/rooms/${ROOM}/recordings`, ["record"], {
      participant: "alice",
    });
    assert.equal(started.status, 201, JSON.stringify(started.json));
    const rec = started.json as unknown as RecordingInfo;
    assert.match(rec.recordingId, /^node-a\.rec_/);
    assert.equal(rec.nodeId, "node-a");
    assert.equal(rec.layout, "track");
    assert.deepEqual(rec.tracks.map((t) => t.kind).sort(), ["audio", "video"]);
    assert.ok(rec.tracks.every((t) => t.identity === "alice"));
    for (const p of [alice!, bob!]) {
      const e = await heard(p, "started", rec.recordingId);
      assert.deepEqual(e.publisherIds?.sort(), rec.tracks.map((t) => t.publisherId).sort());
    }
    // a participant who joins now is told in the welcome
    assert.ok(
      await bob!.page.evaluate(
        (id) =>
          (window as unknown as PageWindow).weirRoom.recordings.some((r) => r.recordingId === id),
        rec.recordingId,
      ),
    );
    await sleep(6000);
    const listed = await api("GET", `/v1/rooms/${ROOM}/recordings`, ["admin"]);
    assert.equal(listed.status, 200);
    const running = (listed.json.recordings as RecordingInfo[]).find(
      (r) => r.recordingId === rec.recordingId,
    );
    assert.equal(running?.status, "recording", JSON.stringify(listed.json));
    assert.equal(running.files.length, 2);
    for (const f of running.files) {
      assert.ok(f.path.startsWith(join(dirs.a, ROOM)), f.path);
      assert.ok(f.bytes > 1000, `${f.path}: ${f.bytes} bytes`);
      assert.ok(f.durationS > 3, `${f.path}: ${f.durationS} s`);
    }
    const stopped = await api("DELETE", `/v1/recordings/${rec.recordingId}`, ["record"]);
    const wall = (Date.now() - t0) / 1000;
    assert.equal(stopped.status, 200, JSON.stringify(stopped.json));
    const done = stopped.json as unknown as RecordingInfo;
    assert.equal(done.status, "stopped");
    assert.equal(done.reason, "stopped");
    for (const p of [alice!, bob!])
      assert.equal((await heard(p, "stopped", rec.recordingId)).reason, "stopped");
    for (const f of done.files) {
      const pr = checkFile(f.path, 4);
      assert.ok(
        pr.duration <= wall + 0.5,
        `${f.path}: ${pr.duration} s within ${wall} s of wall time`,
      );
      const t = rec.tracks.find((x) => x.publisherId === f.publisherIds[0]);
      assert.equal(pr.streams[0].codec, t?.kind === "video" ? "vp8" : "opus");
      assert.ok(
        Math.abs(pr.duration - f.durationS) < 1,
        `${f.path}: ${pr.duration} s vs listed ${f.durationS} s`,
      );
    }
    // stopping again answers with the finished recording
    const again = await api("DELETE", `/v1/recordings/${rec.recordingId}`, ["admin"]);
    assert.equal(again.status, 200);
    assert.equal((again.json as unknown as RecordingInfo).status, "stopped");
  },
);

test(
  "WebSocket: Bob (on node B) records Alice (on node A) in one file: it runs on A; stop from B",
  opts,
  async () => {
    const rec = await bob!.page.evaluate(() =>
      (window as unknown as PageWindow).weirRoom.startRecording({
        participant: "alice",
        layout: "participant",
      }),
    );
    assert.equal(rec.nodeId, "node-a", "the node hosting Alice's tracks records them");
    assert.equal(rec.startedBy, "bob");
    assert.equal(rec.layout, "participant");
    await heard(alice!, "started", rec.recordingId);
    await heard(bob!, "started", rec.recordingId);
    await sleep(5000);
    const list = await bob!.page.evaluate(() =>
      (window as unknown as PageWindow).weirRoom.listRecordings(),
    );
    assert.equal(list.find((r) => r.recordingId === rec.recordingId)?.status, "recording");
    const done = await bob!.page.evaluate(
      (id) => (window as unknown as PageWindow).weirRoom.stopRecording(id),
      rec.recordingId,
    );
    assert.equal(done.status, "stopped");
    assert.equal(done.files.length, 1);
    await heard(alice!, "stopped", rec.recordingId);
    const pr = checkFile(done.files[0].path, 3);
    assert.deepEqual(pr.streams.map((s) => s.codec).sort(), ["opus", "vp8"]);
  },
);

test(
  "the whole room: node A records Bob's tracks through the relay from node B; every file decodes",
  opts,
  async () => {
    const started = await api("POST", `/v1/rooms/${ROOM}/recordings`, ["record"], {});
    assert.equal(started.status, 201, JSON.stringify(started.json));
    const rec = started.json as unknown as RecordingInfo;
    assert.equal(rec.nodeId, "node-a");
    assert.deepEqual([...new Set(rec.tracks.map((t) => t.identity))].sort(), ["alice", "bob"]);
    assert.equal(rec.tracks.length, 4);
    await sleep(6000);
    const stopped = await api("DELETE", `/v1/recordings/${rec.recordingId}`, ["record"]);
    assert.equal(stopped.status, 200, JSON.stringify(stopped.json));
    const done = stopped.json as unknown as RecordingInfo;
    assert.equal(done.files.length, 4, `${JSON.stringify(done)}\n${diag()}`);
    const bobIds = new Set(
      rec.tracks.filter((t) => t.identity === "bob").map((t) => t.publisherId),
    );
    for (const f of done.files) {
      const pr = checkFile(f.path, 3);
      if (bobIds.has(f.publisherIds[0]) && pr.streams[0].codec === "vp8") {
        assert.ok(pr.streams[0].frames > 40, `Bob's relayed video: ${pr.streams[0].frames} frames`);
      }
    }
    await roomStillDecodes("after the room recording");
  },
);

test(
  "bad input: no grant, unknown track or participant, twice, bad body, unknown id; the room goes on",
  opts,
  async () => {
    const base = `/v1/rooms/${ROOM}/recordings`;
    const noGrant = await api("POST", base, ["publish", "subscribe"], {});
    assert.equal(noGrant.status, 403);
    assert.match(noGrant.json.error!.message, /record/);
    assert.equal((await api("GET", base, ["subscribe"])).status, 403);
    const unknownTrack = await api("POST", base, ["record"], { trackIds: ["nope"] });
    assert.equal(unknownTrack.status, 404);
    assert.match(unknownTrack.json.error!.message, /no track nope/);
    const unknownWho = await api("POST", base, ["record"], { participant: "carol" });
    assert.equal(unknownWho.status, 404);
    assert.match(unknownWho.json.error!.message, /no participant carol/);
    const badBody = await api("POST", base, ["record"], { layout: "mosaic" });
    assert.equal(badBody.status, 400);
    assert.equal((await api("POST", base, ["record"], "{not json")).status, 400);
    assert.equal(
      (await api("DELETE", "/v1/recordings/node-a.rec_nothing", ["record"])).status,
      404,
    );
    assert.equal((await api("DELETE", "/v1/recordings/bogus", ["record"])).status, 404);
    const empty = await api("POST", "/v1/rooms/empty-room/recordings", ["record"], {}, "*");
    assert.equal(empty.status, 404);
    assert.equal(empty.json.error!.code, "room_not_found");
    // a token for another room sees no recording of this one
    assert.equal((await api("GET", base, ["record"], undefined, "other-room")).status, 403);

    const first = await api("POST", base, ["record"], { participant: "bob" });
    assert.equal(first.status, 201);
    const id = (first.json as unknown as RecordingInfo).recordingId;
    const twice = await api("POST", base, ["record"], { participant: "bob" });
    assert.equal(twice.status, 409);
    assert.match(
      twice.json.error!.message,
      new RegExp(`already being recorded by ${id.replace(".", "\\.")}`),
    );
    // a record token for another room cannot stop it
    const foreign = await api(
      "DELETE",
      `/v1/recordings/${id}`,
      ["record"],
      undefined,
      "other-room",
    );
    assert.equal(foreign.status, 404);
    // over the WebSocket, a token without the grant is refused by the edge
    const carol = await harness!.newPage("carol");
    pages.push(carol);
    await startRoomApp(carol.page, {
      edgeUrl: edge!.url,
      token: await devToken(ROOM, "carol", ["subscribe"], SECRET),
      publish: false,
    });
    const refused = await carol.page.evaluate(() =>
      (window as unknown as PageWindow).weirRoom.startRecording({}).then(
        () => "started",
        (e: Error & { code?: string }) => `${e.code}: ${e.message}`,
      ),
    );
    assert.match(refused, /^forbidden: .*record/);
    await roomStillDecodes("after the refused requests");
    assert.equal((await api("DELETE", `/v1/recordings/${id}`, ["record"])).status, 200);
  },
);
