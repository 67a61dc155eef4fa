import assert from "node:assert/strict";
import { test } from "node:test";
import { TokenBucket } from "../../edge/src/rateLimit.ts";

test("TokenBucket: a burst, then the refill rate; a clock stepping back refills nothing", () => {
  let now = 1000;
  const b = new TokenBucket(10, 5, () => now);
  assert.equal([...Array(7)].filter(() => b.take()).length, 5);
  now += 100; // one token back at 10/s
  assert.equal(b.take(), true);
  assert.equal(b.take(), false);
  now -= 5000;
  assert.equal(b.take(), false);
  now += 60_000; // refills up to the burst only
  assert.equal([...Array(9)].filter(() => b.take()).length, 5);
});
