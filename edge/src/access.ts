import { WeirApiError } from "../../shared/errors.ts";
import { NAME_PATTERN } from "../../shared/limits.ts";
import type { Grant, TokenClaims } from "../../shared/token.ts";
import { bearerToken } from "./auth/bearer.ts";
import { AuthError } from "./auth/errors.ts";
import { roomAllowed } from "./auth/grants.ts";
import {
  importVerifier,
  type TokenVerifier,
  type VerifierConfig,
  verifyToken,
} from "./auth/jwt.ts";

/** Token checks for the routes; the verifier's key is imported once per app. */
export class Access {
  #verifier: Promise<TokenVerifier> | null = null;
  constructor(readonly config: VerifierConfig) {}

  verifier(): Promise<TokenVerifier> {
    if (this.#verifier === null) {
      this.#verifier = importVerifier(this.config);
      this.#verifier.catch(() => {
        this.#verifier = null;
      });
    }
    return this.#verifier;
  }

  /** Verifies a raw token (401 on any failure). */
  async verify(token: string | null | undefined): Promise<TokenClaims> {
    return verifyToken(token, await this.verifier());
  }

  /** Verifies `Authorization: Bearer`. */
  async bearer(req: Request): Promise<TokenClaims> {
    return this.verify(bearerToken(req.headers.get("authorization")));
  }
}

/** Room names are NATS subject tokens: reject anything else before it nears the bus. */
export function requireRoomName(room: string): string {
  if (!NAME_PATTERN.test(room)) throw new WeirApiError("bad_request", "invalid room name");
  return room;
}

/** 403 unless the claims cover `room` (when given) and carry at least one of `grants`. */
export function requireAnyGrant(claims: TokenClaims, room: string | null, grants: Grant[]): void {
  if (room !== null && !roomAllowed(claims, room))
    throw new AuthError("forbidden", "token is not for this room");
  if (!grants.some((g) => claims.grants.includes(g)))
    throw new AuthError("forbidden", `token lacks the "${grants.join('" or "')}" grant`);
}
