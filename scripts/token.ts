#!/usr/bin/env node
/**
 * Mints a development access token (HS256):
 *
 *   npm run token -- --room R --identity I [--publish] [--subscribe] [--data] [--admin] [--record] [--ttl S]
 *
 * Signs with `WEIR_SECRET`, or with the public development secret (and a warning on stderr)
 * when it is not set. Without grant flags the token gets publish + subscribe + data. `--ttl` is
 * in seconds (default 3600). `--room '*'` makes a token for every room (admin / service use).
 * Prints only the token on stdout, so `TOKEN=$(npm run -s token -- ...)` works.
 */
import { parseArgs } from "node:util";
import { DEV_SECRET } from "../edge/src/auth/devSecret.ts";
import { MAX_TOKEN_LIFETIME_S, signToken } from "../edge/src/auth/jwt.ts";
import { GRANTS, type Grant } from "../shared/token.ts";

const USAGE =
  "usage: npm run token -- --room R --identity I [--publish] [--subscribe] [--data] [--admin] [--record] [--ttl S]";

function fail(message: string): never {
  process.stderr.write(`token: ${message}\n${USAGE}\n`);
  process.exit(2);
}

async function main(): Promise<void> {
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({
      options: {
        room: { type: "string" },
        identity: { type: "string" },
        publish: { type: "boolean" },
        subscribe: { type: "boolean" },
        data: { type: "boolean" },
        admin: { type: "boolean" },
        record: { type: "boolean" },
        ttl: { type: "string" },
        help: { type: "boolean", short: "h" },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (err) {
    fail((err as Error).message);
  }
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  const room = values.room;
  const identity = values.identity;
  if (typeof room !== "string" || room === "") fail("--room is required");
  if (typeof identity !== "string" || identity === "") fail("--identity is required");

  let grants: Grant[] = GRANTS.filter((g) => values[g] === true);
  if (grants.length === 0) grants = ["publish", "subscribe", "data"];

  const ttlText = typeof values.ttl === "string" ? values.ttl : "3600";
  if (!/^[1-9][0-9]{0,9}$/.test(ttlText)) fail("--ttl must be a positive whole number of seconds");
  const ttl = Number(ttlText);
  if (ttl > MAX_TOKEN_LIFETIME_S) fail(`--ttl is at most ${MAX_TOKEN_LIFETIME_S} (7 days)`);

  let secret = process.env.WEIR_SECRET;
  if (secret === undefined || secret === "") {
    process.stderr.write(
      "token: WEIR_SECRET is not set; signing with the public development secret (DEV_SECRET). " +
        "Do not use this token or secret in production.\n",
    );
    secret = DEV_SECRET;
  }

  const now = Math.floor(Date.now() / 1000);
  let token: string;
  try {
    token = await signToken({ sub: identity, room, grants, iat: now, exp: now + ttl }, secret);
  } catch (err) {
    fail((err as Error).message);
  }
  process.stdout.write(`${token}\n`);
}

await main();
