import { randomBytes } from "node:crypto";

/** A node-local session id: 22 characters of [A-Za-z0-9_-]. */
export function newSessionId(): string {
  return randomBytes(16).toString("base64url");
}
