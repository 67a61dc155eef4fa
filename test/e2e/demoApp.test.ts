// The demo page as a small conferencing app, driven like a person would: two Chromium tabs on
// `npm start` (the embedded process) join a room, then each control is used and the other tab's
// DOM is checked: the stats overlay's numbers change, a lower layer lowers the resolution, mute
// shows muted on the other side, a screen share adds a tile, chat messages arrive, leaving
// removes the tile; and every error has a clear message (no camera permission, no token, edge
// unreachable, no media node). One screenshot per state goes to a temp dir (printed; not
// committed): the assertions are on the DOM, not on pixels. Speaker highlighting and recording
// run only when the client SDK has them (`window.weirDemo.features`).
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import type { Page } from "playwright-core";
import {
  BrowserHarness,
  browserUnavailable,
  pollUntil,
  type WeirPage,
} from "../helpers/browser.ts";
import { joinDemo, twoTabsSeeEachOther } from "../helpers/demo.ts";
import { type EdgeWorker, startEdgeWorker } from "../helpers/miniflare.ts";
import { type NatsServer, startNatsServer } from "../helpers/natsServer.ts";
import { devToken, type Embedded, startEmbedded } from "../helpers/system.ts";

const skip = browserUnavailable();
const opts = { skip: skip ?? false };
const ROOM = "demo-app";
let embedded: Embedded | undefined;
let harness: BrowserHarness | undefined;
let alice: WeirPage;
let bob: WeirPage;
let shots = "";
let shotCount = 0;

before(async () => {
  if (skip) return;
  shots = mkdtempSync(join(tmpdir(), "weir-demo-shots-"));
  console.log(`  screenshots: ${shots}`);
  // the recording control needs a directory to record into
  const recordings = mkdtempSync(join(tmpdir(), "weir-demo-rec-"));
  [embedded, harness] = await Promise.all([
    startEmbedded({ env: { WEIR_RECORDINGS_DIR: recordings } }),
    BrowserHarness.launch(),
  ]);
  removeAfter.push(recordings);
});

const removeAfter: string[] = [];

after(async () => {
  await harness?.close();
  await embedded?.stop();
  for (const dir of removeAfter) rmSync(dir, { recursive: true, force: true });
});

async function shot(p: WeirPage, state: string): Promise<void> {
  shotCount++;
  const file = join(shots, `${String(shotCount).padStart(2, "0")}-${state}-${p.name}.png`);
  await p.page.screenshot({ path: file, fullPage: true });
}

/** The tile of `identity` (kind camera or screen) on `page`, as a selector. */
const tile = (identity: string, kind = "camera") =>
  `.tile[data-identity="${identity}"][data-kind="${kind}"]`;

function attr(page: Page, selector: string, name: string): Promise<string | null> {
  return page.locator(selector).first().getAttribute(name, { timeout: 5000 });
}

async function stat(page: Page, selector: string, key: string): Promise<string> {
  const el = page.locator(`${selector} [data-stat="${key}"]`).first();
  return (await el.textContent({ timeout: 5000 })) ?? "";
}

async function until<T>(what: string, check: () => Promise<T | null | false>, ms = 20_000) {
  return pollUntil(
    async () => {
      try {
        return await check();
      } catch {
        return null;
      }
    },
    ms,
    () => `${what}\n${[...(alice?.logs ?? []), ...(bob?.logs ?? [])].join("\n")}`,
    200,
  );
}

const width = (res: string) => Number(/^(\d+)×/.exec(res)?.[1] ?? 0);

test("join: two tabs see and hear each other; each shows the other's tile", opts, async () => {
  [alice, bob] = await twoTabsSeeEachOther(harness!, embedded!, ROOM);
  for (const [p, other] of [
    [alice, "bob"],
    [bob, "alice"],
  ] as const) {
    assert.equal(await attr(p.page, tile(other), "data-cam"), "on");
    assert.equal(await attr(p.page, tile(other), "data-mic"), "on");
    assert.equal(await p.page.locator("#status").getAttribute("data-state"), "connected");
    assert.equal(await p.page.locator("#controls").isVisible(), true);
  }
  await shot(alice, "joined");
  await shot(bob, "joined");
});

test(
  "the stats overlay shows resolution, layer, bitrate and path, and its numbers change",
  opts,
  async () => {
    const sel = tile("alice");
    const res = await until("bob's overlay shows alice's resolution", async () => {
      const r = await stat(bob.page, sel, "resolution");
      return /^\d+×\d+$/.test(r) ? r : null;
    });
    const readings: string[] = [];
    await until(
      "bob's overlay bitrate changes",
      async () => {
        const b = await stat(bob.page, sel, "bitrate");
        if (/^\d+ kbit\/s$/.test(b) && readings.at(-1) !== b) readings.push(b);
        return readings.length >= 3;
      },
      15_000,
    );
    const path = await stat(bob.page, sel, "path");
    assert.match(path, /^(udp|tcp|relay)/);
    const layer = await stat(bob.page, sel, "layer");
    assert.match(layer, /layer auto/);
    // alice's own tile: what she sends, simulcast (Chrome pauses the top layer while its
    // bandwidth estimate or the CPU is short, so two of the three may be all that is sent)
    const self = ".tile[data-local=true][data-kind=camera]";
    const sent = await until("alice's own overlay shows the simulcast layers sent", async () => {
      const l = await stat(alice.page, self, "layer");
      const b = await stat(alice.page, self, "bitrate");
      return /^[23] layers$/.test(l) && /kbit\/s sent$/.test(b) ? `${l}, ${b}` : null;
    });
    console.log(
      `  bob sees alice at ${res}, ${layer}, ${path}; bitrate ${readings.join(", ")}; alice sends ${sent}`,
    );
    await shot(bob, "stats");
  },
);

test("choosing a layer for a remote video: low is smaller than high", opts, async () => {
  // Absolute sizes depend on what Chrome sends (it scales and pauses layers on a busy machine),
  // so the test compares the two ends the menu offers.
  const sel = tile("alice");
  const received = async () => width(await stat(bob.page, sel, "resolution"));
  const w0 = await until("bob decodes alice", async () =>
    (await received()) > 0 ? received() : null,
  );
  await bob.page.locator(`${sel} select.layer`).selectOption("0");
  // the node switches at a keyframe; alice's video may already be at its lowest layer
  const low = await until(
    "bob receives alice's lowest layer",
    async () => {
      const w = await received();
      return w > 0 && w < w0 ? w : null;
    },
    8_000,
  ).catch(() => w0);
  assert.match(await stat(bob.page, sel, "layer"), /layer low/);
  await shot(bob, "layer-low");
  await bob.page.locator(`${sel} select.layer`).selectOption("2");
  const high = await until(
    "bob receives a higher layer of alice's video than the lowest",
    async () => {
      const w = await received();
      return w > low ? w : null;
    },
    40_000,
  );
  assert.match(await stat(bob.page, sel, "layer"), /layer high/);
  await shot(bob, "layer-high");
  await bob.page.locator(`${sel} select.layer`).selectOption("auto");
  await until("the overlay says auto again", async () =>
    /layer auto/.test(await stat(bob.page, sel, "layer")),
  );
  console.log(`  alice's video at bob: ${w0} px wide, low layer ${low}, high layer ${high}`);
});

test("muting the microphone and camera shows muted on the other side", opts, async () => {
  const sel = tile("alice");
  await alice.page.click("#mic");
  await until(
    "bob sees alice's mic muted",
    async () => (await attr(bob.page, sel, "data-mic")) === "muted",
  );
  assert.equal(await bob.page.locator(`${sel} [data-badge=mic]`).textContent(), "mic off");
  await until(
    "alice's own tile shows her mic muted",
    async () => (await attr(alice.page, ".tile[data-local=true]", "data-mic")) === "muted",
  );
  assert.equal(await alice.page.locator("#mic").getAttribute("aria-pressed"), "true");
  await alice.page.click("#cam");
  await until(
    "bob sees alice's camera off",
    async () => (await attr(bob.page, sel, "data-cam")) === "muted",
  );
  assert.equal(await bob.page.locator(`${sel} video`).isVisible(), false);
  await shot(bob, "alice-muted");
  await shot(alice, "muted");
  await alice.page.click("#mic");
  await alice.page.click("#cam");
  await until("bob sees alice unmuted", async () => {
    const [mic, cam] = [
      await attr(bob.page, sel, "data-mic"),
      await attr(bob.page, sel, "data-cam"),
    ];
    return mic === "on" && cam === "on";
  });
  assert.equal(await bob.page.locator(`${sel} [data-badge]`).count(), 0);
});

test("sharing a screen adds a tile on the other side; stopping removes it", opts, async () => {
  await alice.page.click("#screen");
  const sel = tile("alice", "screen");
  const res = await until("bob decodes alice's screen", async () => {
    const r = await stat(bob.page, sel, "resolution");
    return width(r) > 0 ? r : null;
  });
  assert.equal(await bob.page.locator(sel).count(), 1);
  assert.equal(await bob.page.locator(tile("alice")).count(), 1, "the camera tile stays");
  assert.match((await bob.page.locator(`${sel} .name`).textContent()) ?? "", /alice's screen/);
  console.log(`  alice's screen at bob: ${res}`);
  await shot(bob, "screen-share");
  await alice.page.click("#screen");
  await until("alice's screen tile goes", async () => (await bob.page.locator(sel).count()) === 0);
});

test("chat messages arrive over the DataChannel publication", opts, async () => {
  await alice.page.fill("#chat-input", "hello bob");
  await alice.page.press("#chat-input", "Enter");
  await until("bob gets alice's message", async () =>
    (await bob.page.locator('#messages li[data-from="alice"] .text').allTextContents()).includes(
      "hello bob",
    ),
  );
  await bob.page.fill("#chat-input", "hi alice");
  await bob.page.click("#chat-form button");
  await until("alice gets bob's reply", async () =>
    (await alice.page.locator('#messages li[data-from="bob"] .text').allTextContents()).includes(
      "hi alice",
    ),
  );
  assert.equal(await alice.page.inputValue("#chat-input"), "");
  await shot(alice, "chat");
});

/**
 * Chromium's fake microphone beeps briefly once a second, too little to count as speaking: the
 * page's getUserMedia gets a steady 300 Hz WebAudio tone in place of its audio track.
 */
const TONE_MICROPHONE = `(() => {
  const original = navigator.mediaDevices.getUserMedia.bind(navigator.mediaDevices);
  navigator.mediaDevices.getUserMedia = async (constraints) => {
    const stream = await original(constraints);
    if (!constraints || !constraints.audio) return stream;
    const ctx = new AudioContext();
    await ctx.resume();
    const osc = ctx.createOscillator();
    osc.frequency.value = 300;
    const gain = ctx.createGain();
    gain.gain.value = 0.5;
    const dest = ctx.createMediaStreamDestination();
    osc.connect(gain);
    gain.connect(dest);
    osc.start();
    window.toneContext = ctx;
    for (const t of stream.getAudioTracks()) {
      stream.removeTrack(t);
      t.stop();
    }
    stream.addTrack(dest.stream.getAudioTracks()[0]);
    return stream;
  };
})()`;

test("speakers are highlighted (when the SDK has activespeakers)", opts, async (t) => {
  const has = await bob.page.evaluate(
    () =>
      (window as unknown as { weirDemo: { features: { speakers: boolean } } }).weirDemo.features
        .speakers,
  );
  if (!has) return t.skip("this client SDK has no activespeakers yet");
  const room = "demo-speakers";
  const listener = await joinDemo(harness!, embedded!, "listener", room);
  const speaker = await joinDemo(harness!, embedded!, "speaker", room, async (p) => {
    await p.page.addInitScript(TONE_MICROPHONE);
  });
  try {
    await until(
      "the listener highlights the speaker's tile",
      async () => (await attr(listener.page, tile("speaker"), "data-speaking")) === "true",
    );
    await until(
      "the speaker's own tile is highlighted too",
      async () =>
        (await attr(speaker.page, ".tile[data-local=true][data-kind=camera]", "data-speaking")) ===
        "true",
    );
    await shot(listener, "speaking");
    // muted, the speaker stops speaking
    await speaker.page.click("#mic");
    await until(
      "the highlight goes when the speaker mutes",
      async () => (await attr(listener.page, tile("speaker"), "data-speaking")) === "false",
    );
  } finally {
    await speaker.close();
    await listener.close();
  }
});

test(
  "recording starts and stops from the page (when the SDK and token allow it)",
  opts,
  async (t) => {
    const visible = await alice.page.locator("#record").isVisible();
    if (!visible)
      return t.skip("this client SDK has no recording control, or the token no record grant");
    await alice.page.click("#record");
    await until(
      "both pages show REC",
      async () =>
        (await alice.page.locator("#rec").isVisible()) &&
        (await bob.page.locator("#rec").isVisible()),
    );
    await shot(bob, "recording");
    await alice.page.click("#record");
    await until("REC goes away", async () => !(await bob.page.locator("#rec").isVisible()));
  },
);

test("leaving removes the tile on the other side and shows the join form again", opts, async () => {
  await alice.page.click("#leave");
  await until(
    "bob no longer shows alice",
    async () => (await bob.page.locator('.tile[data-identity="alice"]').count()) === 0,
  );
  assert.equal(await alice.page.locator("#join").isVisible(), true);
  assert.equal(await alice.page.locator(".tile").count(), 0);
  assert.equal(await alice.page.locator("#status").textContent(), "left the room");
  await until("bob's chat says alice left", async () =>
    (await bob.page.locator("#messages li.system").allTextContents()).includes("alice left"),
  );
  await shot(alice, "left");
  await shot(bob, "alice-left");
  await alice.close();
  await bob.close();
});

/** The error text shown after clicking Join on `url`. */
async function joinError(p: WeirPage, url: string): Promise<string> {
  await p.page.goto(url);
  await p.page.click("#join button[type=submit]");
  await p.page.locator("#error").waitFor({ state: "visible", timeout: 20_000 });
  return (await p.page.locator("#error-text").textContent()) ?? "";
}

test(
  "errors: no token, edge unreachable, no media node: each says what is wrong",
  opts,
  async () => {
    const p = await harness!.newPage("errors", "about:blank");
    const unreachable = "http://127.0.0.1:9";
    const noToken = await joinError(p, `${embedded!.url}/?edge=${unreachable}`);
    assert.match(noToken, /^No token/);
    await shot(p, "error-no-token");
    const token = await devToken("demo-app", "carol");
    const noEdge = await joinError(p, `${embedded!.url}/?edge=${unreachable}&token=${token}`);
    assert.match(noEdge, /^Cannot reach the edge at http:\/\/127\.0\.0\.1:9/);
    assert.equal(await p.page.locator("#status").getAttribute("data-state"), "error");
    await shot(p, "error-edge-unreachable");
    // an edge (the Worker in miniflare) on a NATS with no media node
    let nats: NatsServer | undefined;
    let edge: EdgeWorker | undefined;
    try {
      const secret = "weir-demo-app-secret-0123456789abcdef";
      nats = await startNatsServer();
      edge = await startEdgeWorker({ natsWsUrl: nats.wsUrl, secret });
      const t = await devToken("demo-app", "carol", ["publish", "subscribe", "data"], secret);
      const noNode = await joinError(p, `${embedded!.url}/?edge=${edge.url}&token=${t}`);
      assert.match(noNode, /^No media node is reachable/);
      await shot(p, "error-no-node");
    } finally {
      await p.close();
      await edge?.stop();
      await nats?.stop();
    }
  },
);

test(
  "errors: a denied camera permission is explained; the page still joins to watch",
  opts,
  async () => {
    const denied = await BrowserHarness.launch({ args: ["--use-fake-ui-for-media-stream=deny"] });
    try {
      const watcher = await joinDemo(harness!, embedded!, "dave", "demo-perm");
      const p = await joinDemo(denied, embedded!, "erin", "demo-perm");
      await p.page.locator("#error").waitFor({ state: "visible", timeout: 20_000 });
      assert.match((await p.page.locator("#error-text").textContent()) ?? "", /denied.*can watch/s);
      await until(
        "erin connected",
        async () => (await p.page.locator("#status").getAttribute("data-state")) === "connected",
      );
      // erin watches dave
      await until(
        "erin decodes dave",
        async () => width(await stat(p.page, tile("dave"), "resolution")) > 0,
      );
      await shot(p, "error-permission-denied");
      await watcher.close();
    } finally {
      await denied.close();
    }
  },
);
