// Browser end-to-end harness: headless Chromium (Debian's /usr/bin/chromium) driven by
// playwright-core, a tiny page server on 127.0.0.1 (the test page + the client bundle), and the
// in-process signaling that moves offers/answers between pages and the media node SDK.
// Run inside the loopback-only namespace (scripts/netns.mjs) so no media leaves loopback.
import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { transform } from "esbuild";
import { type BrowserContext, chromium, type Page } from "playwright-core";
import type {
  Publisher,
  PublishTransport,
  Subscriber,
  SubscribeTransport,
} from "../../media-node/src/index.ts";
import type {
  FrameSample,
  InboundStat,
  OutboundStat,
  SubscriptionEvent,
  TransceiverInfo,
} from "./page/page.ts";

export type { FrameSample, InboundStat, OutboundStat, SubscriptionEvent, TransceiverInfo };

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, "..", "..");
const PAGE_DIR = join(here, "page");
const CLIENT_BUNDLE = join(root, "client", "dist", "weir-client.js");
export const CHROMIUM = process.env.WEIR_CHROMIUM ?? "/usr/bin/chromium";

const LOOPBACK_FLAG = "--allow-loopback-in-peer-connection";

/** Chromium modes a test can run in: a person's browser, and one that may use loopback. */
export const CHROMIUM_MODES = [
  { name: "a person's Chromium", loopback: false },
  { name: "Chromium with loopback allowed", loopback: true },
] as const;

/** Flags measured to work here as root (see shared/FIELD-NOTES.md, "Browsers in tests"). */
export const CHROMIUM_ARGS = [
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--use-fake-device-for-media-stream",
  "--use-fake-ui-for-media-stream",
  LOOPBACK_FLAG,
];

type Sdp = { type: "offer" | "answer"; sdp: string };

/** Client publish options a test may add to the codec (simulcast, SVC mode, bitrate cap). */
export interface PublishExtra {
  simulcast?: boolean;
  scalabilityMode?: string;
  maxBitrate?: number;
}

/** Why the browser tests cannot run here, or null when they can. */
export function browserUnavailable(): string | null {
  if (!existsSync(CHROMIUM)) return `no Chromium at ${CHROMIUM} (apt-get install -y chromium)`;
  if (!existsSync(CLIENT_BUNDLE))
    return `no client bundle at ${CLIENT_BUNDLE} (node client/build.mjs)`;
  return null;
}

/** Serves the test page, its script (TypeScript, transformed on first request) and the bundle. */
async function startPageServer(): Promise<{ server: Server; baseUrl: string }> {
  let pageJs: Promise<string> | null = null;
  const server = createServer((req, res) => {
    const path = new URL(req.url ?? "/", "http://127.0.0.1").pathname;
    const send = (type: string, body: string | Buffer) => {
      res.writeHead(200, { "content-type": type, "cache-control": "no-store" });
      res.end(body);
    };
    const fail = (status: number, msg: string) => {
      res.writeHead(status, { "content-type": "text/plain" });
      res.end(msg);
    };
    try {
      if (path === "/" || path === "/index.html") {
        send("text/html; charset=utf-8", readFileSync(join(PAGE_DIR, "index.html")));
      } else if (path === "/page.js") {
        pageJs ??= transform(readFileSync(join(PAGE_DIR, "page.ts"), "utf8"), {
          loader: "ts",
          format: "esm",
          target: "es2022",
          sourcefile: "page.ts",
        }).then((r) => r.code);
        pageJs.then(
          (code) => send("text/javascript; charset=utf-8", code),
          (err: unknown) => fail(500, String(err)),
        );
      } else if (path === "/weir-client.js" || path === "/weir-client.js.map") {
        const file = join(root, "client", "dist", path.slice(1));
        const type = path.endsWith(".map") ? "application/json" : "text/javascript; charset=utf-8";
        send(type, readFileSync(file));
      } else {
        fail(404, "not found");
      }
    } catch (err) {
      fail(500, String(err));
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", resolve);
  });
  const { port } = server.address() as AddressInfo;
  return { server, baseUrl: `http://127.0.0.1:${port}` };
}

export interface LaunchOptions {
  /** false: a person's Chromium, which neither gathers nor pairs loopback candidates. */
  loopback?: boolean;
  /** Runs Chromium behind this argv prefix (a network namespace: `Netns.enter`). */
  enter?: string[];
  /** An http:// origin other than localhost that pages may use getUserMedia on. */
  secureOrigin?: string;
  /** More Chromium flags. */
  args?: string[];
}

/** A launcher script that starts Chromium behind `enter` (playwright wants one executable). */
function enteringChromium(dir: string, enter: string[]): string {
  const path = join(dir, "chromium-in-netns.sh");
  const quoted = [...enter, CHROMIUM].map((a) => `'${a.replaceAll("'", "'\\''")}'`).join(" ");
  writeFileSync(path, `#!/bin/sh\nexec ${quoted} "$@"\n`, { mode: 0o755 });
  return path;
}

/** One headless Chromium with a fresh profile, shared by a test file's pages. */
export class BrowserHarness {
  readonly #context: BrowserContext;
  readonly #server: Server;
  readonly #profile: string;
  readonly baseUrl: string;
  readonly #pages = new Set<WeirPage>();

  private constructor(context: BrowserContext, server: Server, profile: string, baseUrl: string) {
    this.#context = context;
    this.#server = server;
    this.#profile = profile;
    this.baseUrl = baseUrl;
  }

  /**
   * `loopback: false` is a person's Chromium: without --allow-loopback-in-peer-connection it
   * neither gathers nor pairs loopback candidates, so media goes over the host's other address.
   */
  static async launch(opts: LaunchOptions = {}): Promise<BrowserHarness> {
    const { server, baseUrl } = await startPageServer();
    const profile = mkdtempSync(join(tmpdir(), "weir-chromium-"));
    const args =
      opts.loopback === false
        ? CHROMIUM_ARGS.filter((a) => a !== LOOPBACK_FLAG)
        : [...CHROMIUM_ARGS];
    if (opts.secureOrigin)
      args.push(`--unsafely-treat-insecure-origin-as-secure=${opts.secureOrigin}`);
    args.push(...(opts.args ?? []));
    try {
      const context = await chromium.launchPersistentContext(join(profile, "profile"), {
        executablePath: opts.enter ? enteringChromium(profile, opts.enter) : CHROMIUM,
        args,
        timeout: 30_000,
      });
      return new BrowserHarness(context, server, profile, baseUrl);
    } catch (err) {
      server.close();
      rmSync(profile, { recursive: true, force: true });
      throw err;
    }
  }

  /**
   * Opens the test page in a new tab and waits until `window.weir` is ready; or, given `url`,
   * opens that page instead (a page of the system under test, e.g. the embedded demo page).
   */
  async newPage(name: string, url?: string): Promise<WeirPage> {
    const page = await this.#context.newPage();
    const weirPage = new WeirPage(name, page);
    this.#pages.add(weirPage);
    page.on("close", () => this.#pages.delete(weirPage));
    await page.goto(url ?? this.baseUrl);
    if (url === undefined) {
      await page.waitForFunction(() => window.weir !== undefined, undefined, { timeout: 10_000 });
    }
    return weirPage;
  }

  /**
   * Ends this Chromium with SIGKILL, as a crash or a killed tab would: no page unloads, no DTLS
   * close, no WHIP DELETE. Then frees what close() frees.
   */
  async kill(): Promise<void> {
    try {
      execFileSync("pkill", ["-KILL", "-f", this.#profile]);
    } catch {
      // no process left
    }
    this.#pages.clear();
    await this.close();
  }

  async close(): Promise<void> {
    for (const p of [...this.#pages]) await p.close();
    await this.#context.close().catch(() => {});
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
    rmSync(this.#profile, { recursive: true, force: true });
  }
}

/** A tab running test/helpers/page/page.ts; methods run in the page via page.evaluate. */
export class WeirPage {
  readonly name: string;
  readonly page: Page;
  /** Console errors and uncaught exceptions of the page, for failure messages. */
  readonly logs: string[] = [];

  constructor(name: string, page: Page) {
    this.name = name;
    this.page = page;
    const verbose = process.env.WEIR_E2E_VERBOSE === "1";
    page.on("console", (msg) => {
      const line = `[${name}] console.${msg.type()}: ${msg.text()}`;
      if (msg.type() === "error" || msg.type() === "warning") this.logs.push(line);
      if (verbose) console.error(line);
    });
    page.on("pageerror", (err) => {
      const line = `[${name}] pageerror: ${err.message}`;
      this.logs.push(line);
      if (verbose) console.error(line);
    });
  }

  getMedia(width: number, height: number): Promise<{ audio: string; video: string }> {
    return this.page.evaluate(([w, h]) => window.weir.getMedia(w, h), [width, height] as const);
  }

  cloneTrack(kind: "audio" | "video"): Promise<string> {
    return this.page.evaluate((k) => window.weir.cloneTrack(k), kind);
  }

  openPublisher(): Promise<void> {
    return this.page.evaluate(() => window.weir.openPublisher());
  }

  publish(
    localTrackId: string,
    codec?: string,
    extra?: PublishExtra,
  ): Promise<{ trackId: string; offer: Sdp }> {
    return this.page.evaluate(([id, c, e]) => window.weir.publish(id, c, e), [
      localTrackId,
      codec,
      extra,
    ] as const);
  }

  setAnswer(answer: Sdp): Promise<void> {
    return this.page.evaluate((a) => window.weir.setAnswer(a), answer);
  }

  unpublish(trackId: string): Promise<Sdp> {
    return this.page.evaluate((id) => window.weir.unpublish(id), trackId);
  }

  openSubscriber(): Promise<void> {
    return this.page.evaluate(() => window.weir.openSubscriber());
  }

  setOffer(offer: Sdp): Promise<Sdp> {
    return this.page.evaluate((o) => window.weir.setOffer(o), offer);
  }

  inbound(): Promise<InboundStat[]> {
    return this.page.evaluate(() => window.weir.inbound());
  }

  outbound(): Promise<OutboundStat[]> {
    return this.page.evaluate(() => window.weir.outbound());
  }

  framesDecoded(mid?: string): Promise<number> {
    return this.page.evaluate((m) => window.weir.framesDecoded(m), mid);
  }

  firstFrameAt(
    mid: string | undefined,
    intervalMs: number,
    timeoutMs: number,
  ): Promise<number | null> {
    return this.page.evaluate(([m, i, t]) => window.weir.firstFrameAt(m, i, t), [
      mid,
      intervalMs,
      timeoutMs,
    ] as const);
  }

  startSampler(mid: string | undefined, intervalMs: number): Promise<void> {
    return this.page.evaluate(([m, i]) => window.weir.startSampler(m, i), [
      mid,
      intervalMs,
    ] as const);
  }

  stopSampler(): Promise<FrameSample[]> {
    return this.page.evaluate(() => window.weir.stopSampler());
  }

  events(): Promise<SubscriptionEvent[]> {
    return this.page.evaluate(() => window.weir.events);
  }

  errors(): Promise<string[]> {
    return this.page.evaluate(() => window.weir.errors);
  }

  stateLog(): Promise<string[]> {
    return this.page.evaluate(() => window.weir.stateLog);
  }

  transceivers(): Promise<TransceiverInfo[]> {
    return this.page.evaluate(() => window.weir.transceivers());
  }

  mLineCount(): Promise<number> {
    return this.page.evaluate(() => window.weir.mLineCount());
  }

  connectionStates(): Promise<{ pub: string | null; sub: string | null }> {
    return this.page.evaluate(() => window.weir.connectionStates());
  }

  async close(): Promise<void> {
    if (this.page.isClosed()) return;
    await this.page.evaluate(() => window.weir?.close()).catch(() => {});
    await this.page.close().catch(() => {});
  }
}

// --- signaling: the test process carries SDP between a page and the SDK ---

/**
 * Publishes one local track of `page` through its client PublishTransport and the node's
 * `pt`: client offer -> getAnswer -> client setAnswer -> pt.publish(trackId).
 */
export async function publishTrack(
  page: WeirPage,
  pt: PublishTransport,
  localTrackId: string,
  codec?: string,
  extra?: PublishExtra,
): Promise<{ publisher: Publisher; answer: Sdp; offer: Sdp }> {
  const { trackId, offer } = await page.publish(localTrackId, codec, extra);
  const answer = (await pt.getAnswer(offer)) as Sdp;
  // Publish before the browser applies the answer so that its first packets find the publisher.
  const publisher = pt.publish(trackId);
  await page.setAnswer(answer);
  return { publisher, answer, offer };
}

/** Unpublishes on the page; the node's answer ends the publisher (pt emits trackended). */
export async function unpublishTrack(page: WeirPage, pt: PublishTransport, trackId: string) {
  const offer = await page.unpublish(trackId);
  const answer = (await pt.getAnswer(offer)) as Sdp;
  await page.setAnswer(answer);
}

/**
 * Connects a page's client SubscribeTransport to the node's `st`: every renegotiation the node
 * asks for (`negotiationneeded`, e.g. a publisher left) is carried to the page and back.
 * Failures are collected in `errors` (the test asserts it stays empty).
 */
export class SubscriberLink {
  readonly page: WeirPage;
  readonly st: SubscribeTransport;
  readonly errors: string[] = [];
  /** The latest offer the node made and the page's answer (for tests that tamper with them). */
  lastOffer: Sdp | null = null;
  lastAnswer: Sdp | null = null;
  /** The node-side connection states with ms since the link was made, for diagnostics. */
  readonly states: string[] = [];
  #renegotiations: Promise<void> = Promise.resolve();

  constructor(page: WeirPage, st: SubscribeTransport) {
    this.page = page;
    this.st = st;
    const t0 = performance.now();
    st.on("connectionstatechange", (s) => {
      this.states.push(`${Math.round(performance.now() - t0)}ms ${s}`);
    });
    st.on("negotiationneeded", () => {
      this.#renegotiations = this.#renegotiations.then(() => this.#renegotiate());
    });
  }

  /** Subscribes to a publisher; resolves once the page's answer is applied. */
  async subscribe(publisherId: string): Promise<Subscriber> {
    const { subscriber, offer } = await this.st.subscribe(publisherId);
    await this.#exchange(offer as Sdp);
    return subscriber;
  }

  /** One more offer/answer round (the node's createOffer carried to the page and back). */
  async renegotiate(): Promise<void> {
    await this.#exchange((await this.st.createOffer()) as Sdp);
  }

  /** Waits for the renegotiations started so far. */
  settled(): Promise<void> {
    return this.#renegotiations;
  }

  async #renegotiate(): Promise<void> {
    try {
      const offer = await this.st.createOffer();
      await this.#exchange(offer as Sdp);
    } catch (err) {
      if (this.st.connectionState === "closed") return;
      this.errors.push(`renegotiation: ${(err as Error).stack ?? String(err)}`);
    }
  }

  async #exchange(offer: Sdp): Promise<void> {
    this.lastOffer = offer;
    const answer = await this.page.setOffer(offer);
    this.lastAnswer = answer;
    await this.st.setAnswer(answer);
  }
}

// --- small helpers ---

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Polls `check` every `intervalMs` until it returns a truthy value; throws `describe()` on timeout. */
export async function pollUntil<T>(
  check: () => Promise<T | null | undefined | false>,
  timeoutMs: number,
  describe: () => Promise<string> | string,
  intervalMs = 100,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v) return v;
    if (Date.now() > deadline)
      throw new Error(`timed out after ${timeoutMs} ms: ${await describe()}`);
    await sleep(intervalMs);
  }
}

/** The first `typ host` UDP candidate (address, port) of an SDP. */
export function udpCandidate(sdp: string): { address: string; port: number } {
  const m = /^a=candidate:\S+ \d+ udp \d+ (\S+) (\d+) typ host/im.exec(sdp);
  if (!m) throw new Error("no UDP host candidate in the SDP");
  return { address: m[1], port: Number(m[2]) };
}

export function videoStat(stats: InboundStat[], mid?: string): InboundStat | undefined {
  return stats.find((s) => s.kind === "video" && (mid === undefined || s.mid === mid));
}

export function audioStat(stats: InboundStat[], mid?: string): InboundStat | undefined {
  return stats.find((s) => s.kind === "audio" && (mid === undefined || s.mid === mid));
}
