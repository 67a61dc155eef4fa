/**
 * The edge Worker in miniflare (workerd) for `npm run dev`, behind a small development-only
 * front Worker on the same port:
 *
 *   browser ──► weir-dev-front ──► weir-edge (the edge Worker's bundle: /v1/..., WebSockets)
 *                     └──────────► DEV (a function in this Node process: the demo page,
 *                                  the client bundle and POST /dev/token)
 *
 * The front routes by path only; every API request and WebSocket goes to the edge Worker
 * unchanged, which answers with `x-weir-edge: worker`. Bound to 127.0.0.1: the development
 * token route mints tokens for anyone who reaches it.
 */
import { dirname } from "node:path";
import {
  type Request as MfRequest,
  Response as MfResponse,
  Miniflare,
  type MiniflareOptions,
} from "miniflare";
import {
  DEMO_FILES,
  DEV_TOKEN_PATH,
  demoFile,
  devTokenResponse,
} from "../../media-node/embedded/devPages.ts";

/** The front Worker (development only): the dev paths go to DEV, everything else to EDGE. */
export const FRONT_WORKER = `
const DEV_PATHS = new Set(${JSON.stringify([...Object.keys(DEMO_FILES), DEV_TOKEN_PATH])});
export default {
  fetch(request, env) {
    const { pathname } = new URL(request.url);
    return DEV_PATHS.has(pathname) ? env.DEV.fetch(request) : env.EDGE.fetch(request);
  },
};
`;

export interface DevEdgeOptions {
  port: number;
  /** The edge Worker's bundle (an ES module; its source map beside it). */
  scriptPath: string;
  compatibilityDate: string;
  natsWsUrl: string;
  /** Signs /dev/token tokens; the Worker verifies with the same one. */
  secret: string;
  /** More Worker vars (WEIR_TURN_URLS ...). */
  vars?: Record<string, string>;
}

/** The dev paths, served from this process. */
async function devHandler(request: Request, secret: string): Promise<Response> {
  const url = new URL(request.url);
  if (url.pathname === DEV_TOKEN_PATH) {
    if (request.method !== "POST") return new Response("POST only\n", { status: 405 });
    return devTokenResponse(request, secret);
  }
  if (request.method !== "GET" && request.method !== "HEAD") {
    return new Response("GET only\n", { status: 405 });
  }
  return (await demoFile(url.pathname)) ?? new Response("not found\n", { status: 404 });
}

export function miniflareOptions(o: DevEdgeOptions): MiniflareOptions {
  return {
    host: "127.0.0.1",
    port: o.port,
    cf: false,
    workers: [
      {
        name: "weir-dev-front",
        modules: true,
        script: FRONT_WORKER,
        compatibilityDate: o.compatibilityDate,
        serviceBindings: {
          EDGE: "weir-edge",
          DEV: async (request: MfRequest) => {
            // miniflare hands over its own Request class; answer with its Response class
            const res = await devHandler(request as unknown as Request, o.secret);
            return new MfResponse(res.body as never, {
              status: res.status,
              headers: [...res.headers],
            });
          },
        },
      },
      {
        name: "weir-edge",
        modules: true,
        scriptPath: o.scriptPath,
        modulesRoot: dirname(o.scriptPath),
        compatibilityDate: o.compatibilityDate,
        bindings: { NATS_WS_URL: o.natsWsUrl, WEIR_SECRET: o.secret, ...o.vars },
      },
    ],
  };
}

export class DevEdge {
  readonly mf: Miniflare;
  readonly url: string;
  #options: DevEdgeOptions;
  #reloads: Promise<void> = Promise.resolve();

  private constructor(mf: Miniflare, url: string, options: DevEdgeOptions) {
    this.mf = mf;
    this.url = url;
    this.#options = options;
  }

  static async start(options: DevEdgeOptions): Promise<DevEdge> {
    const mf = new Miniflare(miniflareOptions(options));
    const url = (await mf.ready).origin;
    return new DevEdge(mf, url, options);
  }

  /** Restarts workerd with the bundle as it is on disk now (same port, same bindings). */
  reload(): Promise<void> {
    this.#reloads = this.#reloads.then(() => this.mf.setOptions(miniflareOptions(this.#options)));
    return this.#reloads;
  }

  async dispose(): Promise<void> {
    await this.#reloads.catch(() => {});
    await this.mf.dispose();
  }
}
