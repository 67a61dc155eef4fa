#!/usr/bin/env node
// `npm test`: type-check, lint, build the client bundle, then run every test file with node's
// test runner inside a loopback-only network namespace (media tests must not leave loopback).
import { spawnSync } from "node:child_process";
import { existsSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";

function run(cmd, args) {
  const r = spawnSync(cmd, args, { stdio: "inherit" });
  if (r.status !== 0) process.exit(r.status ?? 1);
}

function testFiles(dir) {
  const out = [];
  for (const name of readdirSync(dir).sort()) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...testFiles(p));
    else if (name.endsWith(".test.ts")) out.push(p);
  }
  return out;
}

const filter = process.argv.slice(2);
if (filter.length === 0) {
  run("npx", ["tsc", "-p", "tsconfig.json", "--noEmit"]);
  run("node", ["scripts/biome.mjs", "check", "."]);
}
if (existsSync("client/build.mjs")) run("node", ["client/build.mjs"]);
const files = filter.length > 0 ? filter : testFiles("test");
run("node", [
  "scripts/netns.mjs",
  "node",
  "--import",
  "tsx",
  "--test",
  "--test-concurrency=1",
  "--test-force-exit",
  // a hung test fails on its own instead of holding the whole run
  "--test-timeout=180000",
  "--test-reporter=spec",
  ...files,
]);
