// The server API as a browser client lives it (issue 16), with the browser SDK in Chromium
// against the embedded process: data from the server reaches each Room's `data` event (text and
// bytes, to all or to some); a viewer promoted with PATCH gets `grantschanged` and publishes its
// microphone on the same connection (the other Room sees the track); a removed participant's Room
// emits `removed` with the reason, closes and does not reconnect; closing the room ends the last.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import type { Room } from "../../client/src/index.ts";
import { DEV_SECRET } from "../../edge/src/auth/devSecret.ts";
import { signToken } from "../../edge/src/auth/jwt.ts";
import type { Grant } from "../../shared/token.ts";
import { BrowserHarness, browserUnavailable, pollUntil } from "../helpers/browser.ts";
import { type Embedded, startEmbedded } from "../helpers/system.ts";

const skip = browserUnavailable();
const ROOM = "managed";
let embedded: Embedded | undefined;
let browser: BrowserHarness | undefined;

type TestWindow = Window & { weirLog: string[]; weirRoom?: Room };

before(async () => {
  if (skip) return;
  [embedded, browser] = await Promise.all([startEmbedded(), BrowserHarness.launch()]);
});
after(async () => {
  await browser?.close();
  await embedded?.stop();
});

function mint(identity: string, grants: Grant[], room = ROOM): Promise<string> {
  const exp = Math.floor(Date.now() / 1000) + 600;
  return signToken({ sub: identity, room, grants, exp }, DEV_SECRET);
}

/** A connected Room in a new page; what it hears goes to `window.weirLog`. */
async function roomPage(identity: string, grants: Grant[]) {
  const p = await browser!.newPage(identity);
  await p.page.evaluate(
    async ([edgeUrl, token]) => {
      const bundle = "/weir-client.js";
      const { Room: RoomClass } = (await import(bundle)) as { Room: new () => Room };
      const w = window as unknown as TestWindow;
      const room = new RoomClass();
      w.weirRoom = room;
      w.weirLog = [];
      room.on("connectionstatechange", (s) => w.weirLog.push(s));
      room.on("error", (e) => w.weirLog.push(`error ${(e as { code?: string }).code}`));
      room.on("removed", ({ cause, reason }) => w.weirLog.push(`removed ${cause} ${reason}`));
      room.on("grantschanged", (g) => w.weirLog.push(`grants ${g.join(",")}`));
      room.on("data", ({ data, topic }) =>
        w.weirLog.push(
          `data ${typeof data === "string" ? data : `bytes ${[...data].join(",")}`} ${topic ?? "-"}`,
        ),
      );
      room.on("trackpublished", (t) => w.weirLog.push(`track ${t.identity} ${t.kind}`));
      room.on("participantleft", (id) => w.weirLog.push(`left ${id}`));
      await room.connect(edgeUrl, token);
    },
    [embedded!.url, await mint(identity, grants)] as const,
  );
  const log = () => p.page.evaluate(() => (window as unknown as TestWindow).weirLog);
  const until = (what: string, ms = 10_000) =>
    pollUntil(
      async () => (await log()).includes(what),
      ms,
      async () => `${identity} never logged "${what}": ${JSON.stringify(await log())}`,
    );
  return { page: p.page, log, until };
}

async function api(method: string, path: string, body?: unknown) {
  const token = await mint("backend", ["admin"], "*");
  const res = await fetch(`${embedded!.url}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${token}`,
      ...(body === undefined ? {} : { "content-type": "application/json" }),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

test("data, grants, remove and close reach Rooms in Chromium", {
  skip: skip ?? false,
}, async () => {
  const host = await roomPage("host", ["publish", "subscribe"]);
  const viewer = await roomPage("viewer", ["subscribe"]);

  // data: text to the room, bytes to the viewer only
  const all = await api("POST", `/v1/rooms/${ROOM}/data`, { data: "hello", topic: "chat" });
  assert.equal(all.status, 200, JSON.stringify(all.body));
  await host.until("data hello chat");
  await viewer.until("data hello chat");
  const bytes = Buffer.from([0, 1, 255]).toString("base64");
  const one = await api("POST", `/v1/rooms/${ROOM}/data`, {
    data: bytes,
    binary: true,
    identities: ["viewer"],
  });
  assert.deepEqual(one.body, { recipients: ["viewer"] });
  await viewer.until("data bytes 0,1,255 -");
  assert.ok(!(await host.log()).some((l) => l.startsWith("data bytes")));

  // grants: the viewer may publish now, on the same connection
  const promote = await api("PATCH", `/v1/rooms/${ROOM}/participants/viewer`, {
    grants: ["publish", "subscribe"],
  });
  assert.deepEqual(promote.body, { sessions: 1 });
  await viewer.until("grants publish,subscribe");
  await viewer.page.evaluate(async () => {
    const w = window as unknown as TestWindow;
    const media = await navigator.mediaDevices.getUserMedia({ audio: true });
    await w.weirRoom?.publish(media.getAudioTracks()[0]);
  });
  await host.until("track viewer audio");
  assert.deepEqual(
    (await viewer.log()).filter((l) => /connect/.test(l)),
    ["connecting", "connected"],
    "no reconnect",
  );

  // remove: the viewer's Room closes with the reason and stays closed
  const removed = await api("DELETE", `/v1/rooms/${ROOM}/participants/viewer`, {
    reason: "thanks for coming",
  });
  assert.deepEqual(removed.body, { sessions: 1 });
  await viewer.until("removed removed thanks for coming");
  await viewer.until("closed");
  await host.until("left viewer");
  await new Promise((r) => setTimeout(r, 3000));
  const after = await viewer.log();
  assert.deepEqual(after.slice(after.indexOf("removed removed thanks for coming")), [
    "removed removed thanks for coming",
    "closed",
  ]);

  // close the room: the host's Room ends the same way
  const closed = await api("DELETE", `/v1/rooms/${ROOM}`);
  assert.deepEqual(closed.body, { sessions: 1 });
  await host.until("removed room_closed the room was closed by the server");
  await host.until("closed");
  const rooms = await api("GET", "/v1/rooms");
  assert.deepEqual(rooms.body, { rooms: [] });
});
