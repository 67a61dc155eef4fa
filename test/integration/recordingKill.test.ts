// A recording process killed with SIGKILL leaves a WebM that decodes up to about its last
// second (clusters of 1 s are on disk as they close; the header was written crash-safe).
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { after, test } from "node:test";
import { probe } from "../helpers/ffprobe.ts";

const dir = mkdtempSync(join(tmpdir(), "weir-rec-kill-"));
after(() => rmSync(dir, { recursive: true, force: true }));

const RECORD_MS = 5000;

test("SIGKILL mid-recording leaves a file that decodes up to within 2 s of the kill", async () => {
  const child = spawn(process.execPath, ["--import", "tsx", "test/helpers/recordChild.ts", dir], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  const lines = createInterface({ input: child.stdout });
  const path = await new Promise<string>((resolve, reject) => {
    child.once("exit", (code) => reject(new Error(`child exited with ${code}`)));
    lines.on("line", (l) => l.startsWith("file ") && resolve(l.slice(5)));
  });
  const createdAt = performance.now();
  await new Promise((r) => setTimeout(r, RECORD_MS));
  const killedAt = performance.now();
  const exited = new Promise((r) => child.once("exit", r));
  child.kill("SIGKILL");
  await exited;
  const recordedS = (killedAt - createdAt) / 1000;

  const p = probe(path);
  const frames = p.streams[0].frames;
  console.log(`  killed after ${recordedS.toFixed(2)} s: ${frames} frames decode`);
  assert.equal(p.streams[0].codec, "vp8");
  assert.equal(p.decodeErrors, "", "the unfinished file parses without errors");
  assert.ok(frames >= (recordedS - 2) * 30, `${frames} frames for ${recordedS} s at 30 fps`);
});
