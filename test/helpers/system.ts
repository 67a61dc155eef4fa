/**
 * End-to-end helpers for the whole system: the embedded process (`npm start`), media node
 * processes on NATS, dev tokens, the RFC 9725 page script (test/helpers/page/whip.ts) and a
 * Room driven inside a Chromium page. Browsers come from test/helpers/browser.ts, nats-server
 * from natsServer.ts and the Worker from miniflare.ts.
 */
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { transform } from "esbuild";
import type { Page } from "playwright-core";
import type { MediaConnection, MediaPath, Room } from "../../client/src/index.ts";
import { DEV_SECRET } from "../../edge/src/auth/devSecret.ts";
import { signToken } from "../../edge/src/auth/jwt.ts";
import type { Grant } from "../../shared/token.ts";
import { pollUntil } from "./browser.ts";
import { killWithParent } from "./children.ts";
import { freePort } from "./natsServer.ts";
import type { InboundSummary, OfferResult } from "./page/whip.ts";

export type { InboundSummary, OfferResult, PatchResult } from "./page/whip.ts";

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, "..", "..");

/** A child process with its recent output kept for failure messages. */
export interface Proc {
  child: ChildProcess;
  /** The last 8 KB of stdout + stderr. */
  log(): string;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves when it has exited. */
  stop(graceMs?: number): Promise<void>;
}

function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once("exit", () => resolve()));
}

/**
 * Spawns `node --import tsx <script>` and resolves once a stdout/stderr line matches `ready`
 * (with the match), or rejects with the output when it exits first or `timeoutMs` passes.
 */
async function spawnTsx(
  script: string,
  args: string[],
  env: NodeJS.ProcessEnv,
  ready: RegExp,
  timeoutMs: number,
  enter: string[] = [],
): Promise<{ proc: Proc; match: RegExpExecArray }> {
  const argv = [...enter, process.execPath, "--import", "tsx", script, ...args];
  const child = spawn(argv[0], argv.slice(1), {
    cwd: root,
    env,
    stdio: ["ignore", "pipe", "pipe"],
  });
  killWithParent(child);
  let log = "";
  let matched: RegExpExecArray | null = null;
  let wake: (() => void) | null = null;
  const keep = (chunk: Buffer) => {
    log = (log + chunk.toString()).slice(-8192);
    matched ??= ready.exec(log);
    if (matched) wake?.();
  };
  child.stdout?.on("data", keep);
  child.stderr?.on("data", keep);
  if (process.env.WEIR_E2E_VERBOSE === "1") {
    child.stdout?.on("data", (c: Buffer) => process.stderr.write(c));
    child.stderr?.on("data", (c: Buffer) => process.stderr.write(c));
  }
  const proc: Proc = {
    child,
    log: () => log,
    async stop(graceMs = 3000) {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill("SIGTERM");
      const killer = setTimeout(() => child.kill("SIGKILL"), graceMs);
      await exited(child);
      clearTimeout(killer);
    },
  };
  const outcome = await new Promise<"ready" | "exit" | "timeout">((resolve) => {
    if (matched) return resolve("ready");
    const timer = setTimeout(() => resolve("timeout"), timeoutMs);
    wake = () => {
      clearTimeout(timer);
      resolve("ready");
    };
    child.once("exit", () => {
      clearTimeout(timer);
      resolve(matched ? "ready" : "exit");
    });
  });
  if (outcome !== "ready" || !matched) {
    await proc.stop(500);
    throw new Error(`${script}: ${outcome} before ${ready}:\n${log}`);
  }
  return { proc, match: matched };
}

/** `npm start` minus the client build (scripts/test.mjs builds it): the embedded process. */
export interface Embedded extends Proc {
  /** http://127.0.0.1:port (no trailing slash) */
  url: string;
}

/** `enter` runs it inside a network namespace (`Netns.enter`, test/helpers/topology.ts). */
export async function startEmbedded(
  opts: { env?: NodeJS.ProcessEnv; enter?: string[] } = {},
): Promise<Embedded> {
  const port = await freePort();
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    PORT: String(port),
    ...opts.env,
  };
  // The development secret (and so POST /dev/token), the in-process bus, and the media addresses
  // a user's `npm start` picks (every address of the host, loopback too).
  for (const k of ["WEIR_SECRET", "WEIR_SESSION_SECRET", "NATS_URL", "WEIR_LISTEN_IPS"])
    if (!opts.env || !(k in opts.env)) delete env[k];
  const { proc, match } = await spawnTsx(
    "media-node/embedded/main.ts",
    [],
    env,
    /Weir is running: (http:\/\/\S+?)\/?\s/,
    30_000,
    opts.enter,
  );
  return { ...proc, url: match[1] };
}

/** A media node process (`npm run media-node`) on a NATS server. */
export interface MediaNodeProc extends Proc {
  id: string;
}

/**
 * `args` adds flags, e.g. `["--max-sessions", "2"]`; `env` adds variables; `enter` is a command
 * prefix the node runs under (e.g. `unshare -m ...` for a mount namespace of its own).
 */
export async function startMediaNode(
  natsUrl: string,
  id: string,
  args: string[] = [],
  env: NodeJS.ProcessEnv = {},
  enter: string[] = [],
): Promise<MediaNodeProc> {
  const { proc } = await spawnTsx(
    "media-node/service/main.ts",
    ["--nats-url", natsUrl, "--listen-ip", "127.0.0.1", "--node-id", id, ...args],
    { ...process.env, ...env },
    /"msg":"media node started"/,
    30_000,
    enter,
  );
  return { ...proc, id };
}

/** A token as `npm run token` makes it (HS256, DEV_SECRET unless `secret` is given). */
export function devToken(
  room: string,
  identity: string,
  grants: Grant[] = ["publish", "subscribe", "data"],
  secret = DEV_SECRET,
): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  return signToken({ sub: identity, room, grants, iat: now, exp: now + 3600 }, secret);
}

// --- the RFC 9725 page script ------------------------------------------------------------------

let whipJs: Promise<string> | null = null;

/** Injects test/helpers/page/whip.ts into `page` as `window.rfc9725`. */
export async function injectRfc9725(page: Page): Promise<void> {
  whipJs ??= transform(readFileSync(join(here, "page", "whip.ts"), "utf8"), {
    loader: "ts",
    format: "esm",
    target: "es2022",
    sourcefile: "whip.ts",
  }).then((r) => r.code);
  await page.addScriptTag({ type: "module", content: await whipJs });
  await page.waitForFunction(() => window.rfc9725 !== undefined, undefined, { timeout: 10_000 });
}

/**
 * WHIP from a page that has `window.rfc9725` (injectRfc9725): POSTs the fake camera and
 * microphone (simulcast: three layers of 1280x720) and waits until the connection is up.
 */
export async function whipFromPage(
  page: Page,
  endpoint: string,
  token: string,
  opts: { simulcast?: boolean; useLinkServers?: boolean; diag?: () => string } = {},
): Promise<OfferResult> {
  const [w, h] = opts.simulcast ? [1280, 720] : [640, 480];
  const r = await page.evaluate(
    ([e, t, width, height, sc, links]) => window.rfc9725.publish(e, t, width, height, sc, links),
    [endpoint, token, w, h, opts.simulcast === true, opts.useLinkServers === true] as const,
  );
  assert.equal(r.status, 201, `${r.body}\n${opts.diag?.() ?? ""}`);
  await pollUntil(
    async () =>
      (await page.evaluate((id) => window.rfc9725.connectionState(id), r.id)) === "connected",
    20_000,
    () => `WHIP publisher connects\n${opts.diag?.() ?? ""}`,
  );
  return r;
}

/**
 * WHEP from a page that has `window.rfc9725`: POSTs a recvonly offer and polls until the viewer
 * has decoded `frames` video frames and 30 audio packets.
 */
export async function whepFromPage(
  page: Page,
  endpoint: string,
  token: string,
  opts: { frames?: number; useLinkServers?: boolean; diag?: () => string } = {},
): Promise<{ id: string; inbound: InboundSummary; offer: OfferResult }> {
  const played = await page.evaluate(([e, t, links]) => window.rfc9725.play(e, t, links), [
    endpoint,
    token,
    opts.useLinkServers === true,
  ] as const);
  assert.equal(played.status, 201, `${played.body}\n${opts.diag?.() ?? ""}`);
  let last: InboundSummary | null = null;
  const inbound = await pollUntil(
    async () => {
      last = await page.evaluate((id) => window.rfc9725.inbound(id), played.id);
      return last.videoFramesDecoded > (opts.frames ?? 30) && last.audioPackets > 30 ? last : null;
    },
    30_000,
    () => `WHEP viewer decodes: ${JSON.stringify(last)}\n${opts.diag?.() ?? ""}`,
    200,
  );
  return { id: played.id, inbound, offer: played };
}

// --- a Room in a page --------------------------------------------------------------------------

type RoomWindow = Window & {
  weirRoom?: Room;
  /** Room state changes with ms since the page's time origin (set by startRoomApp). */
  weirStates?: string[];
  /** The Room's `mediaconnectionchange` events, in order (set by startRoomApp). */
  weirMedia?: (MediaConnection | null)[];
  /** The camera and microphone tracks startRoomApp published. */
  weirLocal?: MediaStreamTrack[];
};

/** Stats of the page's current Room subscribe connection (`window.weirRoom`). */
export function roomInbound(page: Page): Promise<InboundSummary & { state: string }> {
  return page.evaluate(async () => {
    const room = (window as RoomWindow).weirRoom;
    const pc = room?.subscribeTransport?.peerConnection;
    const empty = {
      connectionState: "none",
      videoFramesDecoded: 0,
      videoPackets: 0,
      frameWidth: 0,
      audioPackets: 0,
    };
    if (!pc) return { ...empty, state: room?.state ?? "none" };
    const out = { ...empty, connectionState: pc.connectionState, state: room?.state ?? "none" };
    (await pc.getStats()).forEach((s) => {
      if (s.type !== "inbound-rtp") return;
      if (s.kind === "video") {
        out.videoFramesDecoded += Number(s.framesDecoded ?? 0);
        out.videoPackets += Number(s.packetsReceived ?? 0);
        out.frameWidth = Math.max(out.frameWidth, Number(s.frameWidth ?? 0));
      } else if (s.kind === "audio") {
        out.audioPackets += Number(s.packetsReceived ?? 0);
      }
    });
    return out;
  });
}

/**
 * Runs a small app on a page that serves /weir-client.js (test/helpers/browser.ts's page): a
 * `Room` connected to `edgeUrl` with `token`, that subscribes to every track published in the
 * room (as the demo page does) and, with `publish`, publishes the fake camera and microphone.
 * The Room is `window.weirRoom`; its state changes are logged in `window.weirStates`.
 */
export async function startRoomApp(
  page: Page,
  opts: {
    edgeUrl: string;
    token: string;
    publish: boolean;
    /** Camera size (default 640x480) and simulcast (default off) of the published video. */
    video?: { width: number; height: number };
    simulcast?: boolean;
  },
): Promise<void> {
  await page.evaluate(async ({ edgeUrl, token, publish, video, simulcast }) => {
    const bundle = "/weir-client.js";
    const { Room: RoomClass } = (await import(bundle)) as { Room: new () => Room };
    const w = window as RoomWindow;
    const room = new RoomClass();
    w.weirRoom = room;
    w.weirStates = [];
    w.weirMedia = [];
    w.weirLocal = [];
    room.on("connectionstatechange", (s) => {
      w.weirStates?.push(`${Math.round(performance.now())} ${s}`);
    });
    room.on("mediaconnectionchange", (m) => w.weirMedia?.push(m));
    // No named functions in here: tsx's keepNames would wrap them in a `__name` the page lacks.
    room.on("trackpublished", (t) => {
      room.subscribe(t.publisherId).catch((e: Error) => console.warn("subscribe:", e.message));
    });
    room.on("track", ({ track }) => {
      const el = document.createElement(track.kind === "video" ? "video" : "audio");
      el.autoplay = true;
      el.muted = true;
      el.srcObject = new MediaStream([track]);
      document.body.append(el);
    });
    room.on("error", (e) => console.warn("room error:", e.message));
    await room.connect(edgeUrl, token);
    for (const p of room.participants)
      for (const t of p.tracks)
        room.subscribe(t.publisherId).catch((e: Error) => console.warn("subscribe:", e.message));
    if (publish) {
      const media = await navigator.mediaDevices.getUserMedia({
        audio: true,
        video: video ?? { width: 640, height: 480 },
      });
      for (const track of media.getTracks()) {
        await room.publish(track, { simulcast: track.kind === "video" && simulcast === true });
        w.weirLocal?.push(track);
      }
    }
  }, opts);
}

/** The page's Room media path now, and its `mediaconnectionchange` events so far. */
export function roomMedia(
  page: Page,
): Promise<{ now: MediaConnection | null; events: (MediaConnection | null)[] }> {
  return page.evaluate(() => {
    const w = window as RoomWindow;
    return { now: w.weirRoom?.mediaConnection ?? null, events: w.weirMedia ?? [] };
  });
}

/**
 * alice publishes camera and mic through the Room client on `publisher`; bob, on `viewer`,
 * subscribes and decodes her (30 frames, 30 audio packets). `diag` explains a failure.
 */
export async function publishAndView(
  publisher: Page,
  viewer: Page,
  o: { edgeUrl: string; room: string; secret: string; what: string; diag: () => string },
): Promise<void> {
  const token = (identity: string, grants: Grant[]) => devToken(o.room, identity, grants, o.secret);
  const edgeUrl = o.edgeUrl;
  await startRoomApp(publisher, {
    edgeUrl,
    token: await token("alice", ["publish", "subscribe"]),
    publish: true,
  });
  await startRoomApp(viewer, { edgeUrl, token: await token("bob", ["subscribe"]), publish: false });
  await untilDecoding(viewer, o.what, { frames: 30, audioPackets: 30, timeoutMs: 30_000 }).catch(
    (err: Error) => {
      throw new Error(`${err.message}\n${o.diag()}`);
    },
  );
}

/**
 * The Room's selected path for `path` once it reports one (its view refreshes every 2 s; the
 * `mediaconnectionchange` event says when a path is first selected), with the whole view.
 */
export async function roomPath(
  page: Page,
  path: "publish" | "subscribe",
): Promise<{ path: MediaPath | null; media: Awaited<ReturnType<typeof roomMedia>> }> {
  let media = await roomMedia(page);
  for (let i = 0; i < 30 && media.now?.[path] == null; i++) {
    await new Promise((r) => setTimeout(r, 200));
    media = await roomMedia(page);
  }
  return { path: media.now?.[path] ?? null, media };
}

/** The page's Room state log (`window.weirStates`). */
export function roomStates(page: Page): Promise<string[]> {
  return page.evaluate(() => (window as RoomWindow).weirStates ?? []);
}

/** Polls `roomInbound` until video frames and audio packets pass the given counts. */
export function untilDecoding(
  page: Page,
  what: string,
  opts: { frames?: number; audioPackets?: number; timeoutMs?: number } = {},
): Promise<InboundSummary & { state: string }> {
  const frames = opts.frames ?? 30;
  const audio = opts.audioPackets ?? 30;
  let last: unknown = null;
  return pollUntil(
    async () => {
      const s = await roomInbound(page);
      last = s;
      return s.videoFramesDecoded > frames && s.audioPackets > audio ? s : null;
    },
    opts.timeoutMs ?? 20_000,
    () => `${what}: ${JSON.stringify(last)}`,
    200,
  );
}

/**
 * For a failure message: the RTP streams of the page's Room (both connections), one line each,
 * with what explains a stall (keyframes, PLIs, freezes, the encoder's limitation).
 */
export function rtpReport(page: Page): Promise<string> {
  return page
    .evaluate(async () => {
      const room = (window as RoomWindow).weirRoom;
      const pcs = {
        pub: room?.publishTransport?.peerConnection,
        sub: room?.subscribeTransport?.peerConnection,
      };
      const keys = [
        ...["kind", "ssrc", "rid", "active", "packetsReceived", "packetsSent", "packetsLost"],
        ...["framesDecoded", "keyFramesDecoded", "framesEncoded", "keyFramesEncoded"],
        ...["frameWidth", "pliCount", "firCount", "nackCount", "freezeCount"],
        ...["qualityLimitationReason", "targetBitrate"],
      ];
      const lines: string[] = [];
      for (const [name, pc] of Object.entries(pcs)) {
        if (!pc) continue;
        lines.push(`${name}: ${pc.connectionState}`);
        (await pc.getStats()).forEach((s) => {
          if (s.type !== "inbound-rtp" && s.type !== "outbound-rtp") return;
          const picked = keys.filter((k) => s[k] !== undefined).map((k) => `${k}=${s[k]}`);
          lines.push(`  ${s.type} ${picked.join(" ")}`);
        });
      }
      return lines.join("\n");
    })
    .catch((e: Error) => `no stats: ${e.message}`);
}
