/** Every error the SDK throws carries a stable machine-readable code. */
export type WeirErrorCode =
  | "invalid_sdp"
  | "invalid_argument"
  | "invalid_state"
  | "not_found"
  | "closed"
  | "ice_ports_exhausted"
  | "unsupported_codec"
  | "negotiation_failed";

export class WeirError extends Error {
  readonly code: WeirErrorCode;
  constructor(code: WeirErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "WeirError";
    this.code = code;
  }
}

export class InvalidSdpError extends WeirError {
  constructor(message: string, options?: { cause?: unknown }) {
    super("invalid_sdp", message, options);
    this.name = "InvalidSdpError";
  }
}

export class InvalidStateError extends WeirError {
  constructor(message: string) {
    super("invalid_state", message);
    this.name = "InvalidStateError";
  }
}

export class NotFoundError extends WeirError {
  constructor(message: string) {
    super("not_found", message);
    this.name = "NotFoundError";
  }
}

export class ClosedError extends WeirError {
  constructor(what: string) {
    super("closed", `${what} is closed`);
    this.name = "ClosedError";
  }
}

export class IcePortsExhaustedError extends WeirError {
  constructor(range: readonly [number, number]) {
    super("ice_ports_exhausted", `no free UDP port in the ICE port range ${range[0]}-${range[1]}`);
    this.name = "IcePortsExhaustedError";
  }
}

export class UnsupportedCodecError extends WeirError {
  constructor(message: string) {
    super("unsupported_codec", message);
    this.name = "UnsupportedCodecError";
  }
}
