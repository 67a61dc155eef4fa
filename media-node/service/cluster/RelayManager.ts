import type { Bus, NodeRegistry } from "../../../shared/bus/bus.ts";
import { WeirApiError } from "../../../shared/errors.ts";
import { callNode, safeJson } from "../../../shared/nodeClient.ts";
import type { RoomEvent } from "../../../shared/room.ts";
import { NodeReply, RelayCommand, type RelayOp, RelayResult } from "../../../shared/rpc.ts";
import { subjects } from "../../../shared/subjects.ts";
import type { DownstreamRelay } from "../../src/relay/DownstreamRelay.ts";
import type { OriginRelay } from "../../src/relay/OriginRelay.ts";
import type { RelayServer } from "../../src/relay/RelayServer.ts";
import { toApiError } from "../apiError.ts";
import { errorFields, type Logger, silentLogger } from "../log.ts";
import type { MediaNode } from "../MediaNode.ts";

export interface RelayManagerOptions {
  nodeId: string;
  bus: Bus;
  registry: NodeRegistry;
  server: RelayServer;
  node: MediaNode;
  log?: Logger;
  /** A downstream relay with no local subscriber for this long closes (default 2000 ms). */
  idleMs?: number;
}

const RELAY_RPC_TIMEOUT_MS = 5000;

/** A relay of a remote publisher into a local room. */
interface Downstream {
  relay: DownstreamRelay;
  origin: string;
  base: { room: string; nodeId: string; publisherId: string };
  idleSince: number;
  /** The wanted layers last sent in `relay.layers` ("" = none yet, or to resend). */
  layers: string;
  inFlight: boolean;
}
const SWEEP_MS = 500;

/**
 * Opens and closes media relays between this node and others over the bus. Downstream: a local
 * subscription to a publisher that lives on another node opens one relay per (publisher, this
 * node), closed once its last local subscriber has been gone for `idleMs`. Origin: answers
 * `relay.open` / `relay.close` from other nodes.
 */
export class RelayManager {
  readonly #o: RelayManagerOptions;
  readonly #log: Logger;
  /** room/publisherId -> node that hosts it, learned from other nodes' room events. */
  readonly #origins = new Map<string, string>();
  readonly #downstream = new Map<string, Downstream>();
  readonly #opening = new Map<string, Promise<void>>();
  readonly #originRelays = new Map<string, OriginRelay>();
  readonly #timer: NodeJS.Timeout;

  constructor(options: RelayManagerOptions) {
    this.#o = options;
    this.#log = options.log ?? silentLogger;
    this.#timer = setInterval(() => this.#sweep(), SWEEP_MS).unref();
  }

  /** Remembers which node published what (from `weir.room.<room>.events` of other nodes). */
  noteRoomEvent(room: string, nodeId: string, event: RoomEvent): void {
    if (event.type === "track.published") this.#origins.set(key(room, event.publisherId), nodeId);
    if (event.type === "track.unpublished") this.#origins.delete(key(room, event.publisherId));
  }

  /** Makes `publisherId` subscribable in the local room: local already, or relayed from its node. */
  ensurePublisher(room: string, publisherId: string, origin?: string): Promise<void> {
    const router = this.#o.node.router(room);
    if (!router || router.getPublisher(publisherId)) return Promise.resolve();
    const k = key(room, publisherId);
    let opening = this.#opening.get(k);
    if (!opening) {
      opening = this.#open(room, publisherId, origin).finally(() => this.#opening.delete(k));
      this.#opening.set(k, opening);
    }
    return opening;
  }

  /** A relay command from another node (origin side); never throws. */
  async handle(raw: unknown): Promise<NodeReply> {
    const parsed = RelayCommand.safeParse(raw);
    if (!parsed.success) {
      return { ok: false, error: { code: "bad_request", message: "invalid relay command" } };
    }
    const cmd = parsed.data;
    try {
      if (cmd.op === "relay.close") {
        this.#originRelays.get(originKey(cmd))?.close();
        return { ok: true, result: {} };
      }
      if (cmd.op === "relay.layers") {
        this.#originRelays.get(originKey(cmd))?.setLayers(cmd);
        return { ok: true, result: {} };
      }
      const router = this.#o.node.router(cmd.room);
      if (!router) throw new WeirApiError("not_found", `room ${cmd.room} is not on this node`);
      this.#originRelays.get(originKey(cmd))?.close();
      const relay = this.#o.server.createOrigin(router, cmd);
      const k = originKey(cmd);
      this.#originRelays.set(k, relay);
      relay.on("closed", (reason) => {
        if (this.#originRelays.get(k) === relay) this.#originRelays.delete(k);
        this.#log.debug("origin relay closed", { ...cmd, key: undefined, reason });
      });
      this.#log.debug("origin relay open", {
        room: cmd.room,
        publisher: cmd.publisherId,
        to: cmd.nodeId,
      });
      return { ok: true, result: relay.answer };
    } catch (err) {
      return { ok: false, error: toApiError(err).error.toJSON() };
    }
  }

  close(): void {
    clearInterval(this.#timer);
    for (const d of this.#downstream.values()) d.relay.close();
    for (const r of this.#originRelays.values()) r.close();
  }

  /** `hint`: the publisher's node per the room directory, when it knows. */
  async #open(room: string, publisherId: string, hint?: string): Promise<void> {
    const origin = hint ?? (await this.#findOrigin(room, publisherId));
    const router = this.#o.node.router(room);
    if (!router) throw new WeirApiError("not_found", `room ${room} closed`);
    if (router.getPublisher(publisherId)) return;
    const relay = this.#o.server.createDownstream(router, publisherId);
    try {
      const answer = await callRelay(this.#o.bus, origin, {
        op: "relay.open",
        room,
        nodeId: this.#o.nodeId,
        ...relay.request,
      });
      if (relay.closed) throw new WeirApiError("not_found", `room ${room} closed`);
      relay.connect(answer);
    } catch (err) {
      relay.close();
      throw err;
    }
    const k = key(room, publisherId);
    const base = { room, nodeId: this.#o.nodeId, publisherId };
    // The origin relays every encoding until told what is wanted (layers "").
    const d: Downstream = {
      relay,
      origin,
      base,
      idleSince: performance.now(),
      layers: "",
      inFlight: false,
    };
    this.#downstream.set(k, d);
    // Sent as soon as B's subscribers change what they want; the sweep is the fallback.
    relay.on("wantedchange", () => {
      if (relay.wanted) this.#syncLayers(d);
    });
    relay.on("closed", (reason) => {
      if (this.#downstream.get(k)?.relay === relay) this.#downstream.delete(k);
      this.#log.debug("downstream relay closed", { room, publisher: publisherId, reason });
    });
    this.#log.debug("downstream relay open", { room, publisher: publisherId, from: origin });
  }

  /**
   * The node hosting a publisher: from room events, else by asking the nodes the room directory
   * (`weir-rooms`) lists for the room, at once. Never any other node: an unknown id costs at
   * most one `room.get` per node hosting the room.
   */
  async #findOrigin(room: string, publisherId: string): Promise<string> {
    const known = this.#origins.get(key(room, publisherId));
    if (known) return known;
    const members = await this.#o.registry.roomMembers(room).catch(() => [] as string[]);
    const others = members.filter((n) => n !== this.#o.nodeId);
    const hosts = await Promise.all(
      others.map(async (nodeId) => {
        const info = await callNode(this.#o.bus, nodeId, { op: "room.get", room }, 2000).catch(
          () => null,
        );
        const has = info?.participants.some((p) =>
          p.tracks.some((t) => t.publisherId === publisherId),
        );
        return has ? nodeId : null;
      }),
    );
    const found = hosts.find((n) => n !== null);
    if (!found) throw new WeirApiError("not_found", `no publisher ${publisherId} in room ${room}`);
    this.#origins.set(key(room, publisherId), found);
    return found;
  }

  /**
   * Closes downstream relays nobody here has subscribed to for idleMs; tells origins when the
   * layers wanted here change (which simulcast encodings to relay, each on its own SSRC).
   */
  #sweep(): void {
    const now = performance.now();
    const idleMs = this.#o.idleMs ?? 2000;
    for (const [k, d] of this.#downstream) {
      if (d.relay.wanted) {
        d.idleSince = now;
        this.#syncLayers(d);
        continue;
      }
      if (now - d.idleSince < idleMs) continue;
      this.#downstream.delete(k);
      d.relay.close();
      callRelay(this.#o.bus, d.origin, { op: "relay.close", ...d.base }).catch((err) =>
        this.#log.debug("relay.close failed (the BYE or the timeout closes it)", errorFields(err)),
      );
    }
  }

  /** Tells the origin what is wanted here if it changed; one `relay.layers` in flight at a time. */
  #syncLayers(d: Downstream): void {
    if (d.inFlight || d.relay.closed) return;
    const wanted = d.relay.wantedLayers();
    const layers = `${wanted.spatial}/${wanted.temporal}/${wanted.encodings.join(",")}`;
    if (layers === d.layers) return;
    d.layers = layers;
    d.inFlight = true;
    callRelay(this.#o.bus, d.origin, { op: "relay.layers", ...d.base, ...wanted }).then(
      () => {
        d.inFlight = false;
        // What changed while this one was in flight goes now.
        if (d.relay.wanted) this.#syncLayers(d);
      },
      (err) => {
        d.inFlight = false;
        d.layers = ""; // the sweep retries (not at once: the origin may be gone)
        this.#log.debug("relay.layers failed", errorFields(err));
      },
    );
  }
}

function key(room: string, publisherId: string): string {
  return `${room}\n${publisherId}`;
}

function originKey(c: { room: string; publisherId: string; nodeId: string }): string {
  return `${c.room}\n${c.publisherId}\n${c.nodeId}`;
}

/** One relay command to another node; its validated result, or a WeirApiError. */
async function callRelay<Op extends RelayOp>(
  bus: Bus,
  nodeId: string,
  command: Extract<RelayCommand, { op: Op }>,
): Promise<RelayResult<Op>> {
  let raw: string;
  try {
    raw = await bus.request(
      subjects.nodeRelay(nodeId),
      JSON.stringify(command),
      RELAY_RPC_TIMEOUT_MS,
    );
  } catch (err) {
    throw new WeirApiError("node_unavailable", `node ${nodeId}: ${(err as Error).message}`);
  }
  const reply = NodeReply.safeParse(safeJson(raw));
  if (!reply.success) throw new WeirApiError("internal", `node ${nodeId}: malformed relay reply`);
  if (!reply.data.ok) throw new WeirApiError(reply.data.error.code, reply.data.error.message);
  const result = RelayResult[command.op as Op].safeParse(reply.data.result);
  if (!result.success) throw new WeirApiError("internal", `node ${nodeId}: malformed relay result`);
  return result.data as RelayResult<Op>;
}
