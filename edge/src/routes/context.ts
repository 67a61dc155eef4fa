import type { IceServer } from "../../../shared/ws.ts";
import type { Access } from "../access.ts";
import type { EdgeDeps } from "../deps.ts";
import type { GoneNodes } from "../placement.ts";

/** What every route module gets: the platform's deps, token checks and the clock. */
export interface EdgeContext {
  deps: EdgeDeps;
  access: Access;
  now(): number;
  /** Nodes found gone by this edge (no responders), skipped by placement until stale. */
  gone: GoneNodes;
  /** STUN/TURN servers with fresh credentials for `identity` (empty without TURN settings). */
  iceServers(identity: string): Promise<IceServer[]>;
}
