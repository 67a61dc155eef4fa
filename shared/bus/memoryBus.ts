/**
 * In-process Bus and NodeRegistry for the embedded single-process mode (`npm start` without
 * NATS_URL). Plain TypeScript: runs in Node, Workers and browsers. Semantics follow NATS core:
 * subjects with `*` and `>` wildcards, asynchronous delivery in publish order, request/reply
 * where the first reply wins, an immediate "no responders" when nobody listens.
 */
import {
  type Bus,
  BusError,
  type BusSubscription,
  exceedsMaxPayload,
  isValidSubject,
  type NodeInfo,
  type NodeRegistry,
  subjectMatches,
} from "./bus.ts";

type Handler = (data: string, respond?: (reply: string) => void) => void;

export interface MemoryBusOptions {
  /** Called when a subscription handler throws or its promise rejects. Default: console.error. */
  onHandlerError?: (err: unknown, subject: string) => void;
}

interface Sub {
  pattern: string;
  handler: Handler;
  active: boolean;
}

interface Pending {
  fail(err: BusError): void;
}

export class MemoryBus implements Bus {
  readonly #subs = new Set<Sub>();
  readonly #pending = new Set<Pending>();
  readonly #onHandlerError: (err: unknown, subject: string) => void;
  #closed = false;

  constructor(options: MemoryBusOptions = {}) {
    this.#onHandlerError =
      options.onHandlerError ??
      ((err, subject) => console.error(`bus handler for ${subject} failed:`, err));
  }

  publish(subject: string, data: string): void {
    this.#check(subject, data);
    this.#deliver(subject, data, undefined);
  }

  request(subject: string, data: string, timeoutMs: number): Promise<string> {
    return new Promise<string>((resolve, reject) => {
      this.#check(subject, data);
      let settled = false;
      let timer: ReturnType<typeof setTimeout> | undefined;
      const pending: Pending = {
        fail: (err) => {
          if (settled) return;
          settled = true;
          if (timer !== undefined) clearTimeout(timer);
          this.#pending.delete(pending);
          reject(err);
        },
      };
      const respond = (reply: string): void => {
        if (exceedsMaxPayload(reply)) {
          throw new BusError(
            "payload_too_large",
            `reply to ${subject} is over the maximum payload`,
          );
        }
        if (settled) return;
        settled = true;
        if (timer !== undefined) clearTimeout(timer);
        this.#pending.delete(pending);
        resolve(reply);
      };
      if (this.#deliver(subject, data, respond) === 0) {
        settled = true;
        reject(
          new BusError("node_unavailable", `no responders on ${subject}`, {
            reason: "no_responders",
          }),
        );
        return;
      }
      this.#pending.add(pending);
      timer = setTimeout(
        () =>
          pending.fail(
            new BusError(
              "node_unavailable",
              `request on ${subject} timed out after ${timeoutMs} ms`,
              {
                reason: "timeout",
              },
            ),
          ),
        timeoutMs,
      );
    });
  }

  subscribe(subject: string, handler: Handler): BusSubscription {
    if (this.#closed) throw new BusError("closed", "bus is closed");
    if (!isValidSubject(subject, true)) {
      throw new BusError("invalid_subject", `invalid subject ${JSON.stringify(subject)}`);
    }
    const sub: Sub = { pattern: subject, handler, active: true };
    this.#subs.add(sub);
    return {
      unsubscribe: () => {
        sub.active = false;
        this.#subs.delete(sub);
      },
    };
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const sub of this.#subs) sub.active = false;
    this.#subs.clear();
    for (const p of [...this.#pending]) p.fail(new BusError("closed", "bus closed"));
  }

  /** Throws (or, inside request's executor, rejects) on a closed bus or bad input. */
  #check(subject: string, data: string): void {
    if (this.#closed) throw new BusError("closed", "bus is closed");
    if (!isValidSubject(subject, false)) {
      throw new BusError("invalid_subject", `invalid subject ${JSON.stringify(subject)}`);
    }
    if (exceedsMaxPayload(data)) {
      throw new BusError("payload_too_large", `payload on ${subject} is over the maximum payload`);
    }
  }

  /** Queues delivery to every matching subscription; returns how many matched. */
  #deliver(subject: string, data: string, respond: ((reply: string) => void) | undefined): number {
    let matched = 0;
    for (const sub of this.#subs) {
      if (!subjectMatches(sub.pattern, subject)) continue;
      matched++;
      queueMicrotask(() => {
        if (!sub.active) return;
        try {
          const result: unknown = sub.handler(data, respond);
          if (result instanceof Promise) {
            result.catch((err: unknown) => this.#onHandlerError(err, subject));
          }
        } catch (err) {
          this.#onHandlerError(err, subject);
        }
      });
    }
    return matched;
  }
}

/** NodeRegistry in memory. Stores copies: callers may mutate what they pass in or get back. */
export class MemoryRegistry implements NodeRegistry {
  readonly #nodes = new Map<string, NodeInfo>();
  readonly #rooms = new Map<string, string>();
  readonly #members = new Map<string, Set<string>>();

  async put(info: NodeInfo): Promise<void> {
    this.#nodes.set(info.nodeId, { ...info });
  }

  async remove(nodeId: string): Promise<void> {
    this.#nodes.delete(nodeId);
  }

  async list(): Promise<NodeInfo[]> {
    return [...this.#nodes.values()].map((n) => ({ ...n }));
  }

  async getRoomNode(room: string): Promise<string | null> {
    return this.#rooms.get(room) ?? null;
  }

  async setRoomNode(room: string, nodeId: string): Promise<void> {
    this.#rooms.set(room, nodeId);
  }

  async clearRoom(room: string): Promise<void> {
    this.#rooms.delete(room);
  }

  async roomMembers(room: string): Promise<string[]> {
    return [...(this.#members.get(room) ?? [])];
  }

  async addRoomMember(room: string, nodeId: string): Promise<void> {
    const set = this.#members.get(room) ?? new Set<string>();
    set.add(nodeId);
    this.#members.set(room, set);
  }

  async removeRoomMember(room: string, nodeId: string): Promise<void> {
    const set = this.#members.get(room);
    if (!set?.delete(nodeId) || set.size > 0) return;
    this.#members.delete(room);
  }
}
