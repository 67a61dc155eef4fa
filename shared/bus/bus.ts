/**
 * The message bus between edges and media nodes, and the registry of live nodes and room
 * placement. Pure TypeScript with no runtime dependencies: it runs in Workers, Node and browsers.
 * Adapters, beside this file: `memoryBus.ts` (in-process), `adapter/worker/nats.ts` (NATS over
 * WebSocket, for the Worker) and `adapter/node/nats.ts` (NATS over TCP, for Node).
 */

export interface BusSubscription {
  unsubscribe(): void;
}

export interface Bus {
  /** Request/reply; rejects with BusError code "node_unavailable" after timeoutMs, or when nobody listens (no responders). */
  request(subject: string, data: string, timeoutMs: number): Promise<string>;
  publish(subject: string, data: string): void;
  /** handler gets the payload and, for requests, a respond function. */
  subscribe(
    subject: string,
    handler: (data: string, respond?: (reply: string) => void) => void,
  ): BusSubscription;
  close(): Promise<void>;
}

export interface NodeInfo {
  nodeId: string;
  address: string;
  relayAddress?: string;
  load: number;
  sessions: number;
  maxSessions: number;
  draining: boolean;
  /** ms since the epoch */
  heartbeatAt: number;
}

export interface NodeRegistry {
  put(info: NodeInfo): Promise<void>;
  remove(nodeId: string): Promise<void>;
  list(): Promise<NodeInfo[]>;
  getRoomNode(room: string): Promise<string | null>;
  setRoomNode(room: string, nodeId: string): Promise<void>;
  clearRoom(room: string): Promise<void>;
  /**
   * The nodes that host sessions of `room` (a room spans nodes when its node is full). Each node
   * adds itself when it opens the room and removes itself when it closes it; readers judge
   * liveness with `liveNodes` (a dead node's entry stays until someone removes it).
   */
  roomMembers(room: string): Promise<string[]>;
  addRoomMember(room: string, nodeId: string): Promise<void>;
  removeRoomMember(room: string, nodeId: string): Promise<void>;
}

/** A node whose last heartbeat is older than this is dead. */
export const NODE_STALE_MS = 6000;
/** How often a media node refreshes its NodeInfo (`registry.put`). */
export const HEARTBEAT_MS = 2000;
/** Largest payload any adapter accepts (the NATS server default `max_payload`). */
export const BUS_MAX_PAYLOAD = 1024 * 1024;

/** Nodes that can take new work: heartbeat fresher than NODE_STALE_MS and not draining. */
export function liveNodes(nodes: NodeInfo[], now: number): NodeInfo[] {
  return nodes.filter((n) => !n.draining && now - n.heartbeatAt <= NODE_STALE_MS);
}

export type BusErrorCode =
  /** The request timed out or nobody listens on the subject. */
  | "node_unavailable"
  /** The subject is empty, has empty tokens, whitespace, or misplaced wildcards. */
  | "invalid_subject"
  /** The payload is over the bus's maximum payload. */
  | "payload_too_large"
  /** The bus was closed (or the connection was lost for good). */
  | "closed"
  /** The adapter could not connect, or the registry backend failed. */
  | "connection_failed";

/** Why a request got "node_unavailable": the contract is the code; this is for logs and tests. */
export type BusUnavailableReason = "timeout" | "no_responders";

export class BusError extends Error {
  readonly code: BusErrorCode;
  readonly reason?: BusUnavailableReason;
  constructor(
    code: BusErrorCode,
    message: string,
    options?: { cause?: unknown; reason?: BusUnavailableReason },
  ) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = "BusError";
    this.code = code;
    if (options?.reason) this.reason = options.reason;
  }
}

/**
 * A valid NATS subject: dot-separated non-empty tokens without whitespace. With `wildcards`,
 * a token may be `*`, and the last token may be `>`; a token may not mix wildcards with text.
 */
export function isValidSubject(subject: string, wildcards: boolean): boolean {
  if (subject.length === 0 || /\s/.test(subject)) return false;
  const tokens = subject.split(".");
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i];
    if (t.length === 0) return false;
    if (t === "*" || t === ">") {
      if (!wildcards) return false;
      if (t === ">" && i !== tokens.length - 1) return false;
    }
  }
  return true;
}

/** Does `subject` (no wildcards) match `pattern` (with `*` and `>`) the way NATS matches them? */
export function subjectMatches(pattern: string, subject: string): boolean {
  const p = pattern.split(".");
  const s = subject.split(".");
  for (let i = 0; i < p.length; i++) {
    if (p[i] === ">") return s.length > i;
    if (i >= s.length) return false;
    if (p[i] !== "*" && p[i] !== s[i]) return false;
  }
  return p.length === s.length;
}

/** Is the UTF-8 encoding of `data` longer than BUS_MAX_PAYLOAD? Encodes only when it might be. */
export function exceedsMaxPayload(data: string): boolean {
  if (data.length * 3 <= BUS_MAX_PAYLOAD) return false;
  if (data.length > BUS_MAX_PAYLOAD) return true;
  return new TextEncoder().encode(data).length > BUS_MAX_PAYLOAD;
}
