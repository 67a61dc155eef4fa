// Every transport ends: one that never connects, and one whose client stopped talking (a killed
// tab sends no DELETE and no close), are closed here. werift's ICE-lite agent would wait for
// checks forever and runs no consent freshness (RFC 7675). One shared 1 s sweep for all
// transports of the process, running only while there are any.

/** A transport that has not connected this long after it was created is closed. */
export const CONNECT_TIMEOUT_MS = 30_000;
/** A connected transport that heard nothing authentic from its client this long is closed. */
export const CONSENT_TIMEOUT_MS = 30_000;
const SWEEP_MS = 1_000;

export interface LivenessOptions {
  /** Default CONNECT_TIMEOUT_MS. */
  connectTimeoutMs?: number;
  /** Default CONSENT_TIMEOUT_MS. */
  consentTimeoutMs?: number;
}

/** Why a transport was closed by the sweep. */
export type ExpiryReason = "never_connected" | "consent_expired";

/** Process-wide counts of transports closed by the sweep (rendered in /metrics). */
export const livenessStats: Record<ExpiryReason, number> = {
  never_connected: 0,
  consent_expired: 0,
};

/** What the sweep asks of a transport. */
export interface LivenessSubject {
  /** Whether it ever connected, and when it last heard from its client (ms since epoch). */
  liveness(): { connected: boolean; heardAt: number };
  expire(reason: ExpiryReason): void;
}

interface Watched {
  subject: LivenessSubject;
  createdAt: number;
  connectTimeoutMs: number;
  consentTimeoutMs: number;
}

const watched = new Map<LivenessSubject, Watched>();
let timer: NodeJS.Timeout | null = null;

export function watchLiveness(subject: LivenessSubject, options: LivenessOptions = {}): void {
  watched.set(subject, {
    subject,
    createdAt: Date.now(),
    connectTimeoutMs: options.connectTimeoutMs ?? CONNECT_TIMEOUT_MS,
    consentTimeoutMs: options.consentTimeoutMs ?? CONSENT_TIMEOUT_MS,
  });
  if (timer === null) {
    timer = setInterval(sweep, SWEEP_MS);
    timer.unref();
  }
}

export function unwatchLiveness(subject: LivenessSubject): void {
  watched.delete(subject);
  if (watched.size === 0 && timer !== null) {
    clearInterval(timer);
    timer = null;
  }
}

function sweep(): void {
  const now = Date.now();
  for (const w of [...watched.values()]) {
    const reason = expiry(w, now);
    if (reason === null) continue;
    unwatchLiveness(w.subject);
    livenessStats[reason]++;
    w.subject.expire(reason);
  }
}

function expiry(w: Watched, now: number): ExpiryReason | null {
  const { connected, heardAt } = w.subject.liveness();
  if (!connected) return now - w.createdAt >= w.connectTimeoutMs ? "never_connected" : null;
  return now - heardAt >= w.consentTimeoutMs ? "consent_expired" : null;
}
