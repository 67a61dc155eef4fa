import { createCipheriv } from "node:crypto";

/** RFC 3711 §4.3.2 labels. */
export const LABEL_RTP_ENCRYPTION = 0;
export const LABEL_RTP_AUTH = 1;
export const LABEL_RTP_SALT = 2;
export const LABEL_RTCP_ENCRYPTION = 3;
export const LABEL_RTCP_AUTH = 4;
export const LABEL_RTCP_SALT = 5;

export interface SessionKeys {
  rtpKey: Buffer; // 16 bytes
  rtpSalt: Buffer; // 14 bytes
  rtpAuthKey: Buffer; // 20 bytes
  rtcpKey: Buffer;
  rtcpSalt: Buffer;
  rtcpAuthKey: Buffer;
}

/**
 * RFC 3711 §4.3.1 key derivation with key_derivation_rate 0 (so r = 0): AES-CM under the master
 * key with IV = (label << 48 XOR master_salt) << 16, truncated to `length` bytes.
 */
export function deriveKey(
  masterKey: Uint8Array,
  masterSalt: Uint8Array,
  label: number,
  length: number,
): Buffer {
  if (masterKey.length !== 16) throw new RangeError("SRTP: master key must be 16 bytes");
  if (masterSalt.length !== 14) throw new RangeError("SRTP: master salt must be 14 bytes");
  const blocks = Math.ceil(length / 16);
  const input = Buffer.alloc(blocks * 16);
  for (let j = 0; j < blocks; j++) {
    const o = j * 16;
    input.set(masterSalt, o);
    input[o + 7] ^= label;
    input[o + 14] = j >>> 8;
    input[o + 15] = j & 0xff;
  }
  const ecb = createCipheriv("aes-128-ecb", masterKey, null);
  ecb.setAutoPadding(false);
  return ecb.update(input).subarray(0, length);
}

export function deriveSessionKeys(masterKey: Uint8Array, masterSalt: Uint8Array): SessionKeys {
  return {
    rtpKey: deriveKey(masterKey, masterSalt, LABEL_RTP_ENCRYPTION, 16),
    rtpSalt: deriveKey(masterKey, masterSalt, LABEL_RTP_SALT, 14),
    rtpAuthKey: deriveKey(masterKey, masterSalt, LABEL_RTP_AUTH, 20),
    rtcpKey: deriveKey(masterKey, masterSalt, LABEL_RTCP_ENCRYPTION, 16),
    rtcpSalt: deriveKey(masterKey, masterSalt, LABEL_RTCP_SALT, 14),
    rtcpAuthKey: deriveKey(masterKey, masterSalt, LABEL_RTCP_AUTH, 20),
  };
}
