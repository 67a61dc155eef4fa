// WebSocket sessions end at token expiry unless refreshed (issue 12), with the browser SDK in
// Chromium against the embedded process: a Room given a TokenProvider of 6 s tokens stays
// connected past three of them without a reconnect; a Room given a plain 6 s token is closed at
// its expiry with a `token_expired` error and does not reconnect.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import type { Room } from "../../client/src/index.ts";
import { DEV_SECRET } from "../../edge/src/auth/devSecret.ts";
import { signToken } from "../../edge/src/auth/jwt.ts";
import { BrowserHarness, browserUnavailable, pollUntil } from "../helpers/browser.ts";
import { type Embedded, startEmbedded } from "../helpers/system.ts";

const skip = browserUnavailable();
const ROOM = "renewed";
const TTL_S = 6;
let embedded: Embedded | undefined;
let browser: BrowserHarness | undefined;

type TestWindow = Window & {
  weirMintToken(identity: string): Promise<string>;
  weirLog: string[];
  weirRoom?: Room;
};

before(async () => {
  if (skip) return;
  [embedded, browser] = await Promise.all([startEmbedded(), BrowserHarness.launch()]);
});
after(async () => {
  await browser?.close();
  await embedded?.stop();
});

function mint(identity: string): Promise<string> {
  const exp = Math.floor(Date.now() / 1000) + TTL_S;
  return signToken({ sub: identity, room: ROOM, grants: ["subscribe"], exp }, DEV_SECRET);
}

/** A Room in a new page, with a provider (`renew`) or one token; its states and errors logged. */
async function roomPage(identity: string, renew: boolean) {
  const p = await browser!.newPage(identity);
  await p.page.exposeFunction("weirMintToken", mint);
  const token = renew ? null : await mint(identity);
  await p.page.evaluate(
    async ([edgeUrl, who, plain]) => {
      const bundle = "/weir-client.js";
      const { Room: RoomClass } = (await import(bundle)) as { Room: new () => Room };
      const w = window as unknown as TestWindow;
      const room = new RoomClass();
      w.weirRoom = room;
      w.weirLog = [];
      room.on("connectionstatechange", (s) => w.weirLog.push(s));
      room.on("error", (e) => w.weirLog.push(`error ${(e as { code?: string }).code}`));
      await room.connect(edgeUrl, plain ?? (() => w.weirMintToken(who)));
    },
    [embedded!.url, identity, token] as const,
  );
  return () => p.page.evaluate(() => (window as unknown as TestWindow).weirLog);
}

test("a Room with a TokenProvider stays connected past its tokens' expiry; one without is closed", {
  skip: skip ?? false,
}, async () => {
  const renewed = await roomPage("renewed", true);
  const plain = await roomPage("plain", false);
  await pollUntil(
    async () => (await plain()).includes("closed"),
    (TTL_S + 10) * 1000,
    async () => `the plain Room: ${JSON.stringify(await plain())}`,
    250,
  );
  assert.deepEqual(await plain(), ["connecting", "connected", "error token_expired", "closed"]);
  // three token lifetimes in all
  await new Promise((r) => setTimeout(r, 2 * TTL_S * 1000));
  assert.deepEqual(await renewed(), ["connecting", "connected"]);
});
