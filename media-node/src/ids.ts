import { randomBytes, randomInt } from "node:crypto";

/** A short random id, URL-safe. */
export function newId(prefix: string): string {
  return `${prefix}_${randomBytes(9).toString("base64url")}`;
}

/** A random non-zero 32-bit SSRC. */
export function newSsrc(): number {
  return randomInt(1, 0xffffffff);
}
