import type { Bus } from "./bus/bus.ts";
import { WeirApiError } from "./errors.ts";
import { type NodeCommand, type NodeOp, NodeReply, NodeResult } from "./rpc.ts";
import { subjects } from "./subjects.ts";

export const NODE_RPC_TIMEOUT_MS = 10_000;

/** Sends one command to a media node and returns its validated result, or throws WeirApiError. */
export async function callNode<Op extends NodeOp>(
  bus: Bus,
  nodeId: string,
  command: Extract<NodeCommand, { op: Op }>,
  timeoutMs = NODE_RPC_TIMEOUT_MS,
): Promise<NodeResult<Op>> {
  let raw: string;
  try {
    raw = await bus.request(subjects.nodeRpc(nodeId), JSON.stringify(command), timeoutMs);
  } catch (err) {
    throw new WeirApiError(
      "node_unavailable",
      `media node ${nodeId} did not answer: ${(err as Error).message}`,
      { cause: err },
    );
  }
  const reply = NodeReply.safeParse(safeJson(raw));
  if (!reply.success)
    throw new WeirApiError("internal", `media node ${nodeId} sent a malformed reply`);
  if (!reply.data.ok) throw new WeirApiError(reply.data.error.code, reply.data.error.message);
  const result = NodeResult[command.op as Op].safeParse(reply.data.result);
  if (!result.success)
    throw new WeirApiError(
      "internal",
      `media node ${nodeId} sent a malformed ${command.op} result`,
    );
  return result.data as NodeResult<Op>;
}

export function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
