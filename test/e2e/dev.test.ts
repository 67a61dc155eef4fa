// `npm run dev` as a developer meets it: the command starts nats-server, two media nodes and the
// edge Worker in miniflare, and prints its URL and a development token. Two Chromium pages (a
// person's Chromium: no loopback candidates) open the demo at that URL and decode each other;
// their signaling WebSockets' handshakes carry `x-weir-edge: worker`, which only the Worker sets.
// Touching edge code reloads the Worker and the pages reconnect; SIGINT to the dev process
// leaves no process of its tree behind.
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, readdirSync, readFileSync, utimesSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { after, before, test } from "node:test";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";
import { workerBuildOptions } from "../../scripts/dev/bundle.ts";
import {
  BrowserHarness,
  browserUnavailable,
  pollUntil,
  sleep,
  type WeirPage,
} from "../helpers/browser.ts";
import { killWithParent } from "../helpers/children.ts";
import { twoTabsSeeEachOther } from "../helpers/demo.ts";
import { readBundle } from "../helpers/miniflare.ts";
import { roomInbound, rtpReport, untilDecoding } from "../helpers/system.ts";

const root = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const skip = browserUnavailable();

let dev: ChildProcess | undefined;
let output = "";
let url = "";
let token = "";
let harness: BrowserHarness | undefined;
let pages: WeirPage[] = [];
/** Each page's signaling WebSocket handshake responses (headers), from the DevTools protocol. */
const handshakes = new Map<string, Record<string, string>[]>();

/** Every descendant of `pid` now (from /proc). */
function descendants(pid: number): number[] {
  const children = new Map<number, number[]>();
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    let stat = "";
    try {
      stat = readFileSync(`/proc/${entry}/stat`, "utf8");
    } catch {
      continue; // gone meanwhile
    }
    // "pid (comm) state ppid ...": comm may hold spaces and parentheses
    const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
    const list = children.get(ppid) ?? [];
    list.push(Number(entry));
    children.set(ppid, list);
  }
  const out: number[] = [];
  const walk = (p: number) => {
    for (const c of children.get(p) ?? []) {
      out.push(c);
      walk(c);
    }
  };
  walk(pid);
  return out;
}

function alive(pid: number): boolean {
  try {
    // a zombie still has /proc/pid; its state is Z
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2)[0] !== "Z";
  } catch {
    return false;
  }
}

function cmdline(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, "utf8").replaceAll("\0", " ");
  } catch {
    return "";
  }
}

async function waitForOutput(re: RegExp, timeoutMs: number): Promise<RegExpExecArray> {
  return pollUntil(
    async () => re.exec(output),
    timeoutMs,
    () => `npm run dev did not print ${re}:\n${output.slice(-4000)}`,
    100,
  );
}

before(async () => {
  if (skip) return;
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const k of ["WEIR_SECRET", "WEIR_SESSION_SECRET", "NATS_URL", "WEIR_LISTEN_IPS", "PORT"])
    delete env[k];
  dev = spawn("npm", ["run", "dev", "--", "--port", "0", "--nodes", "2"], {
    cwd: root,
    env,
    stdio: ["ignore", "pipe", "pipe"],
  });
  killWithParent(dev);
  const keep = (chunk: Buffer) => {
    output = (output + chunk.toString()).slice(-64 * 1024);
    if (process.env.WEIR_E2E_VERBOSE === "1") process.stderr.write(chunk);
  };
  dev.stdout?.on("data", keep);
  dev.stderr?.on("data", keep);
  const t0 = performance.now();
  url = (await waitForOutput(/Weir dev is running: (http:\/\/\S+?)\/?\s/, 120_000))[1];
  token = (await waitForOutput(/token for room "demo" \(24 h\): (\S+)/, 5_000))[1];
  console.log(`  npm run dev printed its URL after ${Math.round(performance.now() - t0)} ms`);
  harness = await BrowserHarness.launch({ loopback: false });
});

after(async () => {
  await harness?.close();
  if (dev && dev.exitCode === null) dev.kill("SIGKILL");
});

const server = { url: "", log: () => output };
const opts = { skip: skip ?? false };

test("npm run dev prints its URL and a token the Worker edge accepts", opts, async () => {
  server.url = url;
  // The API answers from the Worker: its header, both media nodes live on NATS.
  const health = await fetch(`${url}/healthz`);
  assert.equal(health.status, 200);
  assert.equal(health.headers.get("x-weir-edge"), "worker");
  assert.deepEqual(await health.json(), { ok: true, nodes: 2 });
  const room = await fetch(`${url}/v1/rooms/demo`, {
    headers: { authorization: `Bearer ${token}` },
  });
  assert.equal(room.status, 200, await room.clone().text());
  assert.equal(room.headers.get("x-weir-edge"), "worker");
  assert.deepEqual(await room.json(), { room: "demo", participants: [] });
  // The demo page, the client bundle and /dev/token come from the dev process, not the Worker.
  const page = await fetch(`${url}/`);
  assert.equal(page.status, 200);
  assert.match(await page.text(), /<title>Weir/);
  assert.equal(page.headers.get("x-weir-edge"), null);
  const bundle = await fetch(`${url}/weir-client.js`);
  assert.equal(bundle.status, 200);
  assert.match(await bundle.text(), /\bRoom\b/);
  const minted = await fetch(`${url}/dev/token`, {
    method: "POST",
    body: JSON.stringify({ room: "demo", identity: "probe" }),
  });
  assert.equal(minted.status, 200);
  assert.match(((await minted.json()) as { token: string }).token, /^ey/);
});

test("the dev bundle of the Worker holds the modules wrangler's bundle holds", opts, async () => {
  const dir = await mkdtemp(join(tmpdir(), "weir-dev-bundle-"));
  try {
    const outfile = join(dir, "worker.js");
    await build({ ...workerBuildOptions(outfile), metafile: false });
    // esbuild marks each bundled module with a `// path` comment line
    const modules = (code: string) =>
      [...code.matchAll(/^\/\/ ((?:node_modules|edge|shared)\/\S+)$/gm)].map((m) => m[1]).sort();
    const ours = modules(readFileSync(outfile, "utf8"));
    const wranglers = modules(await readBundle());
    assert.ok(ours.includes("edge/src/worker.ts"), ours.join("\n"));
    assert.deepEqual(ours, wranglers);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test(
  "two Chromium pages join through the Worker in miniflare and decode each other",
  opts,
  async () => {
    server.url = url;
    pages = await twoTabsSeeEachOther(harness!, server, "dev-e2e", {
      metrics: false,
      beforeJoin: async (p) => {
        const list: Record<string, string>[] = [];
        handshakes.set(p.name, list);
        const cdp = await p.page.context().newCDPSession(p.page);
        cdp.on("Network.webSocketHandshakeResponseReceived", (e) => {
          list.push(e.response.headers as Record<string, string>);
        });
        await cdp.send("Network.enable");
      },
    });
    for (const p of pages) {
      const list = handshakes.get(p.name) ?? [];
      assert.ok(list.length >= 1, `${p.name}: no WebSocket handshake seen`);
      const edge = list.map((h) => h["x-weir-edge"] ?? h["X-Weir-Edge"]);
      assert.deepEqual(
        edge,
        list.map(() => "worker"),
        `${p.name}: ${JSON.stringify(list)}`,
      );
    }
    // Both nodes are there; the room is on one of them.
    const info = await (
      await fetch(`${url}/v1/rooms/dev-e2e`, {
        headers: { authorization: `Bearer ${await mint("dev-e2e", "observer")}` },
      })
    ).json();
    assert.deepEqual(
      (info as { participants: { identity: string }[] }).participants.map((p) => p.identity).sort(),
      ["alice", "bob"],
    );
  },
);

async function mint(room: string, identity: string): Promise<string> {
  const res = await fetch(`${url}/dev/token`, {
    method: "POST",
    body: JSON.stringify({ room, identity }),
  });
  return ((await res.json()) as { token: string }).token;
}

test(
  "editing edge code reloads the Worker; the pages reconnect and decode again",
  opts,
  async () => {
    assert.equal(pages.length, 2, "the join test ran first");
    for (const p of pages) {
      await p.page.evaluate(() => {
        const w = window as unknown as {
          weirRoom: { on(e: string, f: (s: string) => void): void };
          devStates?: string[];
        };
        w.devStates = [];
        w.weirRoom.on("connectionstatechange", (s) => w.devStates?.push(s));
      });
    }
    const reloadsBefore = output.match(/edge: Worker reloaded/g)?.length ?? 0;
    const now = new Date();
    utimesSync(join(root, "edge", "src", "worker.ts"), now, now);
    await pollUntil(
      async () => (output.match(/edge: Worker reloaded/g)?.length ?? 0) > reloadsBefore,
      20_000,
      () => `no reload:\n${output.slice(-3000)}`,
    );
    for (const p of pages) {
      const states = await pollUntil(
        async () => {
          const s = await p.page.evaluate(
            () => (window as unknown as { devStates: string[] }).devStates,
          );
          return s.includes("reconnecting") && s.at(-1) === "connected" ? s : null;
        },
        30_000,
        async () =>
          `${p.name} states: ${JSON.stringify(await p.page.evaluate(() => (window as unknown as { devStates: string[] }).devStates))}\n${output.slice(-3000)}`,
      );
      console.log(`  ${p.name}: ${states.join(" -> ")} after the Worker reloaded`);
      // the demo page showed it: its status went through "reconnecting" and is back
      const shown = await p.page.evaluate(
        () => (window as unknown as { weirDemo: { states: string[] } }).weirDemo.states,
      );
      assert.ok(shown.includes("reconnecting"), JSON.stringify(shown));
      await pollUntil(
        async () => (await p.page.locator("#status").getAttribute("data-state")) === "connected",
        10_000,
        () => `${p.name}'s status is not back to connected`,
      );
      assert.equal(await p.page.locator("#reconnecting").isVisible(), false);
    }
    for (const p of pages) {
      const before = await roomInbound(p.page);
      await untilDecoding(p.page, `${p.name} decodes after the reload`, {
        frames: before.videoFramesDecoded + 30,
        audioPackets: before.audioPackets + 30,
        timeoutMs: 30_000,
      }).catch(async (err: Error) => {
        const errors = await p.page.evaluate(
          () => (window as unknown as { weirDemo: { errors: string[] } }).weirDemo.errors,
        );
        throw new Error(
          `${err.message}\npage errors: ${JSON.stringify(errors)}\n${await rtpReport(p.page)}\n${p.logs.join("\n")}\n${output.slice(-3000)}`,
        );
      });
    }
    const health = await fetch(`${url}/healthz`);
    assert.equal(health.headers.get("x-weir-edge"), "worker");
  },
);

test("SIGINT stops npm run dev and every process it started", opts, async () => {
  for (const p of pages) await p.close();
  pages = [];
  const npmPid = dev!.pid!;
  const tree = descendants(npmPid);
  const names = tree.map((pid) => `${pid} ${cmdline(pid).slice(0, 100)}`);
  // the node process itself (npm runs it through sh -c, whose command line names it too)
  const devPid = tree.find((pid) =>
    /^\S*node --import tsx scripts\/dev\/main\.ts/.test(cmdline(pid)),
  );
  assert.ok(devPid, names.join("\n"));
  // the whole system: nats-server, two media nodes, workerd, esbuild
  for (const what of [/nats-server/, /workerd/, /dev-node-1/, /dev-node-2/]) {
    assert.ok(
      tree.some((pid) => what.test(cmdline(pid))),
      `${what} not in the tree:\n${names.join("\n")}`,
    );
  }
  const jetstream = /JetStream in (\S+)/.exec(output)?.[1];
  assert.ok(jetstream && existsSync(jetstream), `JetStream dir ${jetstream}`);
  const exited = new Promise<number | null>((resolve) =>
    dev!.once("exit", (code) => resolve(code)),
  );
  const t0 = performance.now();
  process.kill(devPid, "SIGINT");
  const code = await Promise.race([exited, sleep(20_000).then(() => "timeout" as const)]);
  assert.notEqual(code, "timeout", `npm run dev did not exit:\n${output.slice(-3000)}`);
  assert.equal(code, 0, output.slice(-3000));
  await pollUntil(
    async () => tree.every((pid) => !alive(pid)),
    10_000,
    () =>
      `still running: ${tree
        .filter(alive)
        .map((pid) => `${pid} ${cmdline(pid)}`)
        .join("\n")}`,
  );
  console.log(
    `  ${tree.length} processes gone ${Math.round(performance.now() - t0)} ms after SIGINT`,
  );
  assert.match(output, /dev: stopped/);
  assert.ok(!existsSync(dirname(jetstream)), "the temp dir is removed");
});
