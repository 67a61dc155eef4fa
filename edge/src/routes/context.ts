import type { IceServer } from "../../../shared/ws.ts";
import type { Access } from "../access.ts";
import type { EdgeDeps } from "../deps.ts";

/** What every route module gets: the platform's deps, token checks and the clock. */
export interface EdgeContext {
  deps: EdgeDeps;
  access: Access;
  now(): number;
  /** STUN/TURN servers with fresh credentials for `identity` (empty without TURN settings). */
  iceServers(identity: string): Promise<IceServer[]>;
}
