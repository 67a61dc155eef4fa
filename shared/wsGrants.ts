import { type Grant, RECORDING_GRANTS } from "./token.ts";
import type { ClientMessage } from "./ws.ts";

/**
 * The grants each client WebSocket message needs, any one of them: the one table the edge checks
 * before a message reaches the bus and the media node checks again (see `nodeChecks`).
 * DataChannels need `data`; the negotiation messages that carry them (a `publish` with no
 * tracks, `answer`, `ice`) take `data` too.
 */
const NEEDS: Record<ClientMessage["type"], (m: ClientMessage) => readonly Grant[] | null> = {
  publish: (m) => (m.type === "publish" && m.trackIds.length === 0 ? PUB_OR_DATA : PUB),
  unpublish: () => PUB,
  subscribe: () => SUB,
  unsubscribe: () => SUB,
  answer: () => SUB_OR_DATA,
  ice: (m) => (m.type === "ice" && m.target === "publish" ? PUB_OR_DATA : SUB_OR_DATA),
  ping: () => null,
  token: () => null,
  publishData: () => DATA,
  unpublishData: () => DATA,
  subscribeData: () => DATA,
  unsubscribeData: () => DATA,
  layers: () => SUB,
  startRecording: () => RECORDING_GRANTS,
  stopRecording: () => RECORDING_GRANTS,
  listRecordings: () => RECORDING_GRANTS,
  mute: () => PUB,
};
const PUB: readonly Grant[] = ["publish"];
const SUB: readonly Grant[] = ["subscribe"];
const DATA: readonly Grant[] = ["data"];
const PUB_OR_DATA: readonly Grant[] = ["publish", "data"];
const SUB_OR_DATA: readonly Grant[] = ["subscribe", "data"];

/** The grants a client message needs (any one of them), or null. */
export function grantsFor(m: ClientMessage): readonly Grant[] | null {
  return NEEDS[m.type](m);
}

/**
 * Whether the media node checks `m` again. It leaves to the edge the messages that act only on
 * what the session already holds (`answer`, `unsubscribe`, subscribe-side `ice`): all of that was
 * made by a message that needed the grant, and without it the node answers as for an empty
 * session (conflict, not_found, a dropped candidate).
 */
export function nodeChecks(m: ClientMessage): boolean {
  if (m.type === "ice") return m.target === "publish";
  return m.type !== "answer" && m.type !== "unsubscribe";
}

/** Why `held` does not cover `m` (the message of a "forbidden" error), or null when it does. */
export function missingGrant(m: ClientMessage, held: Iterable<Grant>): string | null {
  const needed = grantsFor(m);
  if (needed === null) return null;
  const have = new Set(held);
  if (needed.some((g) => have.has(g))) return null;
  return `token lacks the "${needed.join('" or "')}" grant`;
}
