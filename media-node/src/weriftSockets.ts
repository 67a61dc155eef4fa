/**
 * werift's ICE sockets (its UdpTransport) have no 'error' listener: a bind that fails (EMFILE
 * when the process is out of file descriptors, EADDRINUSE) is an unhandled 'error' that ends the
 * process, and werift's gathering waits forever for 'listening'. guardWeriftSockets() gives every
 * such socket a listener, in this one place: a failed bind rejects the gathering of that one
 * transport (its session gets no candidate, see noCandidateError), a later error closes that
 * socket and tells its peer (watchSocket). Gathering that fails before any bind (out of
 * descriptors, the interface list cannot be read) is recorded the same way: werift swallows it
 * and answers without candidates. All are counted in socketStats.
 */
import type { Socket } from "node:dgram";
import { RTCIceGatherer, UdpTransport } from "werift";
import { IcePortsExhaustedError, IceSocketError } from "./errors.ts";

/** Process-wide counts of werift socket failures (rendered in /metrics). */
export const socketStats = {
  /** ICE sockets that could not be opened or bound (EMFILE, EADDRINUSE...), failed gatherings. */
  openFailures: 0,
  /** Bound sockets that failed later: closed, their session's transport failed. */
  socketErrors: 0,
};

/** A failure newer than this explains a session that gathered no candidate. */
const RECENT_FAILURE_MS = 5_000;
let lastFailure: { error: Error; at: number } | null = null;

function openFailed(error: Error): void {
  socketStats.openFailures++;
  lastFailure = { error, at: Date.now() };
}

/** werift's UdpTransport as far as the guard touches it. */
interface GuardedTransport {
  socket: Socket;
  closed: boolean;
  init(): Promise<void>;
}

const onError = new WeakMap<object, (error: Error) => void>();
let installed = false;

/** Installs the guard (once per process; later calls do nothing). */
export function guardWeriftSockets(): void {
  if (installed) return;
  installed = true;
  const gatherer = RTCIceGatherer.prototype as unknown as { gather(): Promise<void> };
  const gather = gatherer.gather;
  gatherer.gather = function guardedGather(this: unknown): Promise<void> {
    return gather.call(this).catch((error: Error) => {
      openFailed(error);
      throw error;
    });
  };
  const proto = UdpTransport.prototype as unknown as GuardedTransport;
  const init = proto.init;
  proto.init = function guardedInit(this: GuardedTransport): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      let bound = false;
      this.socket.on("error", (error: Error) => {
        this.closed = true;
        closeQuietly(this.socket);
        if (!bound) {
          openFailed(error);
          reject(error);
          return;
        }
        socketStats.socketErrors++;
        onError.get(this)?.(error);
      });
      init.call(this).then(() => {
        bound = true;
        resolve();
      }, reject);
    });
  };
}

/** Calls `listener` if the (bound) socket of werift transport `transport` fails later. */
export function watchSocket(transport: object, listener: (error: Error) => void): void {
  onError.set(transport, listener);
}

/**
 * The error for a local description without a single candidate: the recent socket failure that
 * explains it, else an exhausted port range; null when neither does.
 */
export function noCandidateError(portRange?: readonly [number, number]): Error | null {
  const failure = lastFailure;
  if (failure && Date.now() - failure.at < RECENT_FAILURE_MS) {
    return new IceSocketError(failure.error);
  }
  return portRange ? new IcePortsExhaustedError(portRange) : null;
}

function closeQuietly(socket: Socket): void {
  try {
    socket.close();
  } catch {
    // never bound, or already closed
  }
}
