export { AesCm } from "./aesCm.ts";
export {
  createSrtpPair,
  SRTCP_INDEX_LENGTH,
  SrtpContext,
  type SrtpKeys,
  TAG_LENGTH,
} from "./context.ts";
export { rtpHeaderLength } from "./header.ts";
export { HmacSha1_80 } from "./hmac.ts";
export { deriveKey, deriveSessionKeys, type SessionKeys } from "./kdf.ts";
