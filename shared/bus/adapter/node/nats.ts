/**
 * Bus + NodeRegistry over NATS TCP for media nodes (and Node edges). Reconnects forever by
 * default; heartbeats are the caller's job (`registry.put` every HEARTBEAT_MS).
 */
import { connect } from "@nats-io/transport-node";
import {
  connectError,
  exclusiveTransport,
  type NatsBusHandle,
  type NatsBusOptions,
  natsUrlAuth,
  openNatsBus,
} from "../../natsCore.ts";

export type { NatsBusHandle } from "../../natsCore.ts";

export interface NatsTcpBusOptions extends NatsBusOptions {
  /** Connection name shown by the server's monitoring. */
  name?: string;
  /** Connect timeout. Default 5000 ms. */
  timeoutMs?: number;
  /** Reconnect attempts after a lost connection; -1 (default) for forever. */
  maxReconnectAttempts?: number;
}

export async function connectNatsBus(
  url: string,
  options: NatsTcpBusOptions = {},
): Promise<NatsBusHandle> {
  let nc: Awaited<ReturnType<typeof connect>>;
  try {
    nc = await exclusiveTransport("tcp", () =>
      connect({
        ...natsUrlAuth(url),
        name: options.name,
        timeout: options.timeoutMs ?? 5000,
        maxReconnectAttempts: options.maxReconnectAttempts ?? -1,
      }),
    );
  } catch (err) {
    throw connectError(err, url);
  }
  return openNatsBus(nc, options);
}
