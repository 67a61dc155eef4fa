import * as z from "zod/mini";
import type { Bus } from "./bus/bus.ts";
import { WeirApiError } from "./errors.ts";
import { safeJson } from "./nodeClient.ts";
import {
  ActiveRecording,
  MAX_RECORDED_TRACKS,
  RecordingId,
  RecordingInfo,
  RecordingLayout,
} from "./recording.ts";
import { Name, ParticipantInfo } from "./room.ts";
import { NodeReply } from "./rpc.ts";
import { subjects } from "./subjects.ts";

/**
 * Requests between media nodes on `weir.node.<nodeId>.peer` (never sent by an edge). Replies use
 * the node RPC envelope: `{ ok: true, result }` or `{ ok: false, error }`.
 */
const Id = z.string().check(z.regex(/^[A-Za-z0-9_-]{1,128}$/));

export const PeerRequest = z.discriminatedUnion("op", [
  /** This node's own participants of a room, and the seq of its last room event. */
  z.object({ op: z.literal("room.snapshot"), room: Name }),
  /** Node `nodeId` has subscribers for a DataPublisher here: publish its messages on the bus. */
  z.object({ op: z.literal("data.want"), room: Name, dataPublisherId: Id, nodeId: Name }),
  z.object({ op: z.literal("data.unwant"), room: Name, dataPublisherId: Id, nodeId: Name }),
  /** Liveness: a dead node's subscription is gone, so this fails with no responders at once. */
  z.object({ op: z.literal("ping") }),
  /**
   * Start a recording of these publishers here (this node hosts most of them; the others come
   * through relays). Sent by the node a start request reached; never forwarded again.
   */
  z.object({
    op: z.literal("recording.start"),
    room: Name,
    startedBy: z.string().check(z.minLength(1), z.maxLength(128)),
    layout: RecordingLayout,
    publisherIds: z
      .array(z.string().check(z.minLength(1), z.maxLength(256)))
      .check(z.minLength(1), z.maxLength(MAX_RECORDED_TRACKS)),
  }),
  z.object({ op: z.literal("recording.stop"), recordingId: RecordingId, room: z.optional(Name) }),
  z.object({ op: z.literal("recording.list"), room: Name }),
]);
export type PeerRequest = z.infer<typeof PeerRequest>;
export type PeerOp = PeerRequest["op"];

export const PeerResult = {
  "room.snapshot": z.object({
    epoch: z.string(),
    seq: z.number().check(z.int(), z.gte(0)),
    participants: z.array(ParticipantInfo),
    /** Recordings running on that node (absent: none). */
    recordings: z.optional(z.array(ActiveRecording)),
  }),
  "data.want": z.object({
    label: z.string().check(z.maxLength(65535)),
    ordered: z.boolean(),
    maxRetransmits: z.optional(z.number()),
    maxPacketLifeTime: z.optional(z.number()),
    protocol: z.string().check(z.maxLength(65535)),
    /** The seq of the last message published so far; the next one is seq + 1. */
    seq: z.number().check(z.int(), z.gte(0)),
  }),
  "data.unwant": z.object({}),
  ping: z.object({}),
  "recording.start": RecordingInfo,
  "recording.stop": RecordingInfo,
  "recording.list": z.object({ recordings: z.array(RecordingInfo) }),
} as const;
export type PeerResult<Op extends PeerOp> = z.infer<(typeof PeerResult)[Op]>;

export const PEER_TIMEOUT_MS = 2000;

/** One request to another node; its validated result, or a WeirApiError. */
export async function callPeer<Op extends PeerOp>(
  bus: Bus,
  nodeId: string,
  request: Extract<PeerRequest, { op: Op }>,
  timeoutMs = PEER_TIMEOUT_MS,
): Promise<PeerResult<Op>> {
  let raw: string;
  try {
    raw = await bus.request(subjects.nodePeer(nodeId), JSON.stringify(request), timeoutMs);
  } catch (err) {
    throw new WeirApiError("node_unavailable", `node ${nodeId}: ${(err as Error).message}`);
  }
  const reply = NodeReply.safeParse(safeJson(raw));
  if (!reply.success) throw new WeirApiError("internal", `node ${nodeId}: malformed reply`);
  if (!reply.data.ok) throw new WeirApiError(reply.data.error.code, reply.data.error.message);
  const result = PeerResult[request.op as Op].safeParse(reply.data.result);
  if (!result.success) throw new WeirApiError("internal", `node ${nodeId}: malformed result`);
  return result.data as PeerResult<Op>;
}
