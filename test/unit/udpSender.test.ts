import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { COUNT, sendAndCheck } from "../helpers/udpSendCheck.ts";

test("UdpSender sends at once and the reused buffer is free after each send", async () => {
  const results = await sendAndCheck();
  assert.equal(results.sent, COUNT);
});

test("UdpSender keeps queued packets intact when libuv cannot send at once", () => {
  // --test-udp-no-try-send makes every send take libuv's queued path.
  const r = spawnSync(
    process.execPath,
    ["--test-udp-no-try-send", "--import", "tsx", "--input-type=module", "-e", queuedScript()],
    { encoding: "utf8", timeout: 30_000 },
  );
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(JSON.parse(r.stdout.trim().split("\n").at(-1) ?? "{}"), {
    sent: 0,
    queued: COUNT,
    failed: 0,
  });
});

function queuedScript(): string {
  const helper = fileURLToPath(new URL("../helpers/udpSendCheck.ts", import.meta.url));
  return `const m = await import(${JSON.stringify(helper)});
console.log(JSON.stringify(await m.sendAndCheck()));`;
}
