import type { Access } from "../access.ts";
import type { EdgeDeps } from "../deps.ts";

/** What every route module gets: the platform's deps, token checks and the clock. */
export interface EdgeContext {
  deps: EdgeDeps;
  access: Access;
  now(): number;
}
