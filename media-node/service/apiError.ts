import { type ErrorCode, WeirApiError } from "../../shared/errors.ts";
import { WeirError, type WeirErrorCode } from "../src/errors.ts";
import { SdpFragError } from "./sessions/sdpfrag.ts";

/** How each SDK error code crosses the wire. */
export const SDK_ERROR_CODES: Record<WeirErrorCode, ErrorCode> = {
  invalid_sdp: "invalid_sdp",
  invalid_argument: "bad_request",
  invalid_state: "conflict",
  not_found: "not_found",
  closed: "session_not_found",
  ice_ports_exhausted: "no_node_available",
  ice_socket_failed: "no_node_available",
  unsupported_codec: "invalid_sdp",
  negotiation_failed: "conflict",
  write_failed: "internal",
};

/**
 * Any thrown value as a WeirApiError. `expected` is false for errors we did not anticipate
 * (they become "internal" and deserve a log line with the stack).
 */
export function toApiError(err: unknown): { error: WeirApiError; expected: boolean } {
  if (err instanceof WeirApiError) return { error: err, expected: true };
  if (err instanceof WeirError) {
    return { error: new WeirApiError(SDK_ERROR_CODES[err.code], err.message), expected: true };
  }
  if (err instanceof SdpFragError) {
    return {
      error: new WeirApiError("bad_request", `bad sdpfrag: ${err.message}`),
      expected: true,
    };
  }
  return {
    error: new WeirApiError("internal", "internal error on the media node"),
    expected: false,
  };
}
