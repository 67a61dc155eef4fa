import { randomBytes } from "node:crypto";
import { WeirError } from "../errors.ts";
import { SrtpContext } from "../rtp/srtp/index.ts";
import type { RelayKey } from "./RelayTransportTypes.ts";

const KEY_BYTES = 16;
const SALT_BYTES = 14;

/** A fresh random AES_CM_128_HMAC_SHA1_80 master key and salt for one relay direction. */
export function newRelayKey(): RelayKey {
  return {
    key: randomBytes(KEY_BYTES).toString("base64"),
    salt: randomBytes(SALT_BYTES).toString("base64"),
  };
}

/** The SRTP context of a relay key; throws InvalidArgumentError for a key of the wrong size. */
export function relayContext(k: RelayKey): SrtpContext {
  const key = Buffer.from(k.key, "base64");
  const salt = Buffer.from(k.salt, "base64");
  if (key.length !== KEY_BYTES || salt.length !== SALT_BYTES) {
    throw new WeirError("invalid_argument", "relay key must be 16 bytes and its salt 14 bytes");
  }
  return new SrtpContext(key, salt);
}
