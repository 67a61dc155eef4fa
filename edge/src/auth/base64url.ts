/** Strict base64url (RFC 4648 section 5, no padding) that runs in Workers, Node and browsers. */

const ALPHABET = /^[A-Za-z0-9_-]*$/;

export function base64urlEncode(bytes: Uint8Array): string {
  let bin = "";
  for (let i = 0; i < bytes.length; i++) bin += String.fromCharCode(bytes[i]);
  return btoa(bin).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

/**
 * Decodes unpadded base64url; returns null for anything else: padding, other characters, an
 * impossible length, or a non-canonical last character (unused bits set), so each byte string
 * has exactly one accepted spelling.
 */
export function base64urlDecode(s: string): Uint8Array<ArrayBuffer> | null {
  if (!ALPHABET.test(s) || s.length % 4 === 1) return null;
  let bin: string;
  try {
    bin = atob(s.replace(/-/g, "+").replace(/_/g, "/"));
  } catch {
    return null;
  }
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  if (base64urlEncode(out) !== s) return null;
  return out;
}

const encoder = new TextEncoder();
export function utf8(s: string): Uint8Array<ArrayBuffer> {
  return encoder.encode(s);
}

/** Compares two equal-purpose byte strings without an early exit on the first difference. */
export function timingSafeEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a[i] ^ b[i];
  return diff === 0;
}
