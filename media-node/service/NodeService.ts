import { ServerApi } from "../../edge/src/serverApi.ts";
import {
  type Bus,
  type BusSubscription,
  HEARTBEAT_MS,
  liveNodes,
  type NodeInfo,
  type NodeRegistry,
} from "../../shared/bus/bus.ts";
import { WeirApiError } from "../../shared/errors.ts";
import { safeJson } from "../../shared/nodeClient.ts";
import { callPeer } from "../../shared/peer.ts";
import type { NodeOp, NodeReply, NodeResult } from "../../shared/rpc.ts";
import { subjects } from "../../shared/subjects.ts";
import type { RelayServer } from "../src/relay/RelayServer.ts";
import { CrossNode } from "./cluster/CrossNode.ts";
import { RelayManager } from "./cluster/RelayManager.ts";
import { errorFields, type Logger, silentLogger } from "./log.ts";
import { MediaNode, type MediaNodeHooks, type MediaNodeOptions } from "./MediaNode.ts";
import type { RecordingPeers } from "./Recordings.ts";
import { RoomWebhooks } from "./webhooks/RoomWebhooks.ts";
import { type WebhookOptions, WebhookSender, type WebhookStats } from "./webhooks/WebhookSender.ts";

/** A start may open relays first (their own request waits up to 5 s). */
const RECORDING_PEER_TIMEOUT_MS = 8000;
const RECORDING_LIST_TIMEOUT_MS = 2000;

export interface NodeServiceOptions extends Omit<MediaNodeOptions, "hooks" | "log"> {
  /** Hooks for the app around the node (a recording finished: webhooks). */
  hooks?: Pick<MediaNodeHooks, "recordingFinished">;
  nodeId: string;
  bus: Bus;
  registry: NodeRegistry;
  /** Advertised in the registry (default: the node id). */
  address?: string;
  relayAddress?: string;
  /** This node's relay port (listening): rooms can then span this node and others. */
  relay?: RelayServer;
  heartbeatMs?: number;
  /** How long drain() waits for sessions to end before closing them (default 30 s). */
  drainGraceMs?: number;
  /** POST signed room events to these URLs (see RoomWebhooks for what is sent when). */
  webhooks?: WebhookOptions;
  log?: Logger;
}

/**
 * A MediaNode on the bus: answers `weir.node.<id>.rpc`, pushes session events, shares room events
 * with other nodes, and keeps its NodeInfo fresh in the registry.
 */
export class NodeService {
  readonly nodeId: string;
  readonly node: MediaNode;
  readonly #options: NodeServiceOptions;
  readonly #bus: Bus;
  readonly #registry: NodeRegistry;
  readonly #log: Logger;
  /** The room beyond this node: directory, DataChannel bridge, death of other nodes. */
  readonly crossNode: CrossNode;
  readonly #relays: RelayManager | null = null;
  /**
   * The server API over this node's bus: list rooms, remove or mute participants, change grants,
   * send data, close rooms, across every node that hosts the room (what the edge's `/v1` routes
   * call). For an application that embeds the node.
   */
  readonly serverApi: ServerApi;
  /** Webhook events of this node's rooms (null without `webhooks`). */
  readonly webhooks: RoomWebhooks | null = null;
  readonly #webhookSender: WebhookSender | null = null;
  #rpcSub: BusSubscription | null = null;
  #relaySub: BusSubscription | null = null;
  #heartbeat: NodeJS.Timeout | undefined;
  #draining = false;
  #advertised = -1;
  #stopped: Promise<void> | null = null;

  constructor(options: NodeServiceOptions) {
    this.#options = options;
    this.nodeId = options.nodeId;
    this.#bus = options.bus;
    this.#registry = options.registry;
    this.#log = options.log ?? silentLogger;
    this.serverApi = new ServerApi({ bus: this.#bus, registry: this.#registry });
    if (options.webhooks && options.webhooks.urls.length > 0) {
      const log = this.#log.child({ part: "webhooks" });
      this.#webhookSender = new WebhookSender({ ...options.webhooks, log });
      this.webhooks = new RoomWebhooks({
        nodeId: this.nodeId,
        registry: this.#registry,
        sender: this.#webhookSender,
        log,
      });
    }
    const webhooks = this.webhooks;
    this.node = new MediaNode({
      ...options,
      log: this.#log,
      hooks: {
        emit: (sessionId, message) =>
          this.#publish(subjects.sessionEvents(sessionId), JSON.stringify(message)),
        roomEvent: (room, event) => {
          this.crossNode.publish(room, event);
          webhooks?.event(room, event);
        },
        speakers: (room, speakers) => this.crossNode.publishSpeakers(room, speakers),
        roomOpened: (room) => {
          webhooks?.opened(room);
          return this.crossNode.openRoom(room);
        },
        roomClosed: (room) => {
          this.crossNode.closeRoom(room);
          webhooks?.closed(room);
        },
        resolvePublisher: (room, publisherId) => this.crossNode.bringLocal(room, publisherId),
        sessionClosed: () => this.#loadChanged(),
        recordingPeers: this.#recordingPeers(),
        recordingFinished: (info) => {
          webhooks?.recordingFinished(info.room, info);
          options.hooks?.recordingFinished?.(info);
        },
      },
    });
    this.crossNode = new CrossNode({
      nodeId: this.nodeId,
      bus: this.#bus,
      registry: this.#registry,
      node: this.node,
      log: this.#log.child({ part: "cross-node" }),
    });
    if (options.relay) {
      this.#relays = new RelayManager({
        nodeId: this.nodeId,
        bus: this.#bus,
        registry: this.#registry,
        server: options.relay,
        node: this.node,
        log: this.#log.child({ part: "relay" }),
      });
      const relays = this.#relays;
      this.crossNode.remoteMedia = (room, publisherId, origin) =>
        relays.ensurePublisher(room, publisherId, origin);
      this.crossNode.directory.on("event", (room, nodeId, event) =>
        relays.noteRoomEvent(room, nodeId, event),
      );
    }
  }

  /** Recordings across nodes: the directory, relays, and peer requests. */
  #recordingPeers(): RecordingPeers {
    const bus = this.#bus;
    const self = this.nodeId;
    return {
      participantsByNode: (room) => this.crossNode.directory.participantsByNode(room),
      bringLocal: (room, publisherId) => this.crossNode.bringLocal(room, publisherId),
      start: (nodeId, r) =>
        callPeer(bus, nodeId, { op: "recording.start", ...r }, RECORDING_PEER_TIMEOUT_MS),
      stop: (nodeId, recordingId, room) =>
        callPeer(
          bus,
          nodeId,
          { op: "recording.stop", recordingId, ...(room === undefined ? {} : { room }) },
          RECORDING_PEER_TIMEOUT_MS,
        ),
      list: async (room) => {
        const nodes = liveNodes(await this.#registry.list(), Date.now()).filter(
          (n) => n.nodeId !== self,
        );
        const lists = await Promise.all(
          nodes.map((n) =>
            callPeer(bus, n.nodeId, { op: "recording.list", room }, RECORDING_LIST_TIMEOUT_MS).then(
              (r) => r.recordings,
              () => [],
            ),
          ),
        );
        return lists.flat();
      },
    };
  }

  /** The webhook queue's counters (all zero without webhooks). */
  webhookStats(): WebhookStats {
    return (
      this.#webhookSender?.stats() ?? {
        queued: 0,
        delivered: 0,
        failedAttempts: 0,
        failed: 0,
        dropped: 0,
      }
    );
  }

  /** Subscribes to the node's RPC subject and registers the node. */
  async start(): Promise<void> {
    this.#rpcSub = this.#bus.subscribe(subjects.nodeRpc(this.nodeId), (data, respond) => {
      void this.#rpc(data, respond);
    });
    const relays = this.#relays;
    // relay.* on a subject of its own: NATS permissions let only nodes publish there
    if (relays) {
      this.#relaySub = this.#bus.subscribe(subjects.nodeRelay(this.nodeId), (data, respond) => {
        void relays.handle(safeJson(data)).then((reply) => this.#reply(respond, reply));
      });
    }
    this.crossNode.start();
    await this.heartbeat();
    this.#heartbeat = setInterval(() => {
      void this.heartbeat();
    }, this.#options.heartbeatMs ?? HEARTBEAT_MS);
    this.#heartbeat.unref();
  }

  info(): NodeInfo {
    const sessions = this.node.sessionCount;
    const max = this.node.maxSessions;
    return {
      nodeId: this.nodeId,
      address: this.#options.address ?? this.nodeId,
      relayAddress: this.#options.relayAddress ?? relayAddressOf(this.#options.relay),
      load: max > 0 ? Math.min(1, sessions / max) : 0,
      sessions,
      maxSessions: max,
      draining: this.#draining,
      heartbeatAt: Date.now(),
    };
  }

  /** Writes the node's NodeInfo to the registry now. */
  async heartbeat(): Promise<void> {
    if (this.#stopped) return;
    try {
      const info = this.info();
      if (info.relayAddress === undefined) delete info.relayAddress;
      await this.#registry.put(info);
    } catch (err) {
      this.#log.warn("heartbeat failed", errorFields(err));
    }
  }

  /**
   * Graceful shutdown: marked draining in the registry, new sessions refused, WebSocket sessions
   * told to go away; waits up to the grace period for sessions to end, then stops.
   */
  async drain(graceMs = this.#options.drainGraceMs ?? 30_000): Promise<void> {
    if (!this.#draining) {
      this.#draining = true;
      this.node.startDraining();
      await this.heartbeat();
      this.node.goaway("node draining");
      this.#log.info("draining", { sessions: this.node.sessionCount, graceMs });
    }
    const deadline = Date.now() + graceMs;
    while (this.node.sessionCount > 0 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 100));
    }
    await this.stop();
  }

  /** Closes every session, leaves the bus and the registry. Does not close the bus. */
  stop(): Promise<void> {
    this.#stopped ??= (async () => {
      clearInterval(this.#heartbeat);
      this.#rpcSub?.unsubscribe();
      this.#rpcSub = null;
      this.#relaySub?.unsubscribe();
      this.#relaySub = null;
      this.#relays?.close();
      await this.node.close();
      // the rooms' last events (participants left, room finished) get a bounded while to go out
      await this.#webhookSender?.stop();
      this.crossNode.stop();
      await this.#registry.remove(this.nodeId).catch((err) => {
        this.#log.warn("registry remove failed", errorFields(err));
      });
    })();
    return this.#stopped;
  }

  async #rpc(data: string, respond?: (reply: string) => void): Promise<void> {
    let reply: NodeReply;
    const command = safeJson(data);
    if (command === undefined) {
      reply = { ok: false, error: { code: "bad_request", message: "command is not JSON" } };
    } else {
      const r = await this.node.handle(command);
      reply = r.ok ? { ok: true, result: r.result } : { ok: false, error: r.error.toJSON() };
      this.#loadChanged();
    }
    if (!respond) return;
    try {
      respond(JSON.stringify(reply));
    } catch (err) {
      this.#log.error("reply failed", errorFields(err));
      // The caller never learns the session id: end it, or it stays a ghost participant.
      if (reply.ok) await this.node.discard(reply.result as NodeResult<NodeOp>);
      const error = new WeirApiError("internal", "reply could not be sent").toJSON();
      try {
        respond(JSON.stringify({ ok: false, error }));
      } catch {
        // the bus is gone; the caller times out
      }
    }
  }

  #reply(respond: ((reply: string) => void) | undefined, reply: NodeReply): void {
    try {
      respond?.(JSON.stringify(reply));
    } catch (err) {
      this.#log.warn("relay reply failed", errorFields(err));
    }
  }

  /** Sessions came or went: refresh the registry now, so placement sees a full node at once. */
  #loadChanged(): void {
    if (this.#advertised === this.node.sessionCount) return;
    this.#advertised = this.node.sessionCount;
    void this.heartbeat();
  }

  #publish(subject: string, data: string): void {
    try {
      this.#bus.publish(subject, data);
    } catch (err) {
      this.#log.warn("bus publish failed", { subject, ...errorFields(err) });
    }
  }
}

function relayAddressOf(relay: RelayServer | undefined): string | undefined {
  if (!relay) return undefined;
  const { ip, port } = relay.address;
  return ip.includes(":") ? `[${ip}]:${port}` : `${ip}:${port}`;
}
