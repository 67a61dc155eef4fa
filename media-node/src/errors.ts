/** Every error the SDK throws carries a stable machine-readable code. */
export type WeirErrorCode =
  | "invalid_sdp"
  | "invalid_argument"
  | "invalid_state"
  | "not_found"
  | "closed"
  | "ice_ports_exhausted"
  | "ice_socket_failed"
  | "unsupported_codec"
  | "negotiation_failed"
  | "write_failed";

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

/** An operation on something already closed (a Recorder given a closed publisher). */
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

const EMFILE_ERRNO = 24;

export class IceSocketError extends WeirError {
  constructor(cause: Error) {
    const { code, errno } = cause as NodeJS.ErrnoException;
    // EMFILE from a socket; errno 24 (EMFILE) from os.networkInterfaces(), which werift reads first
    const emfile = code === "EMFILE" || errno === EMFILE_ERRNO;
    const why = emfile ? " (EMFILE: the process is out of file descriptors)" : "";
    super("ice_socket_failed", `could not open a UDP socket for ICE: ${cause.message}${why}`, {
      cause,
    });
    this.name = "IceSocketError";
  }
}

export class UnsupportedCodecError extends WeirError {
  constructor(message: string) {
    super("unsupported_codec", message);
    this.name = "UnsupportedCodecError";
  }
}

/** A recording file could not be opened or written (ENOSPC, EACCES...). */
export class WriteFailedError extends WeirError {
  constructor(path: string, cause: Error) {
    super("write_failed", `could not write ${path}: ${cause.message}`, { cause });
    this.name = "WriteFailedError";
  }
}
