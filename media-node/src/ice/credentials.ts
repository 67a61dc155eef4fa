/**
 * ICE credentials as SDP carries them (RFC 8839 section 5.4): the one rule for offers, ICE
 * restarts and trickle-ice-sdpfrag bodies.
 */

/** ice-char = ALPHA / DIGIT / "+" / "/". */
const ICE_CHARS = /^[A-Za-z0-9+/]+$/;
const MAX_LENGTH = 256;
const MIN_LENGTH = { "ice-ufrag": 4, "ice-pwd": 22 } as const;

export type IceCredentialName = keyof typeof MIN_LENGTH;

/** Why `value` is no valid `name` (a message for a typed error), or null when it is one. */
export function iceCredentialError(name: IceCredentialName, value: unknown): string | null {
  const min = MIN_LENGTH[name];
  const ok =
    typeof value === "string" &&
    value.length >= min &&
    value.length <= MAX_LENGTH &&
    ICE_CHARS.test(value);
  return ok ? null : `${name} must be ${min} to ${MAX_LENGTH} ice-chars`;
}

/** The first a=ice-ufrag and a=ice-pwd of an SDP, "" when absent (max-bundle: one ICE transport). */
export function sdpIceCredentials(sdp: string): { ufrag: string; pwd: string } {
  return {
    ufrag: /^a=ice-ufrag:(\S+)/m.exec(sdp)?.[1] ?? "",
    pwd: /^a=ice-pwd:(\S+)/m.exec(sdp)?.[1] ?? "",
  };
}
