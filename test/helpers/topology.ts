// Network shapes users have, built from network namespaces joined by veth pairs: a client host
// and a server host on two subnets with a router namespace between them, which may NAT the
// client, put the server behind 1:1 NAT, or route IPv4 and IPv6. Every namespace is held by a
// sleeping child process (not a named `ip netns`), so it disappears with that process and with
// the test process. nftables runs only inside namespaces made here (the router's, and a client's
// firewall). Addresses are private, assigned here, and nothing routes out of these namespaces.
// A TURN host (for coturn) can hang off the router too.
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { killWithParent } from "./children.ts";

/** A network namespace held by a child process; `close()` (or this process ending) removes it. */
export class Netns {
  readonly name: string;
  readonly #holder: ChildProcess;

  private constructor(name: string, holder: ChildProcess) {
    this.name = name;
    this.#holder = holder;
  }

  static async create(name: string): Promise<Netns> {
    const holder = spawn("unshare", ["--net", "sh", "-c", "ip link set lo up && exec sleep 3600"], {
      stdio: "ignore",
    });
    killWithParent(holder);
    const ns = new Netns(name, holder);
    // Ready once the holder's namespace differs from ours and lo is up.
    for (let i = 0; i < 100; i++) {
      try {
        if (ns.sh("ip -br link show lo").includes("UP")) return ns;
      } catch {
        // not entered yet
      }
      await new Promise((r) => setTimeout(r, 20));
    }
    ns.close();
    throw new Error(`namespace ${name} did not come up`);
  }

  get pid(): number {
    return this.#holder.pid as number;
  }

  /** The argv prefix that runs a command inside this namespace. */
  get enter(): string[] {
    return ["nsenter", `--net=/proc/${this.pid}/ns/net`];
  }

  /** Runs a shell command inside this namespace; throws with its stderr when it fails. */
  sh(command: string): string {
    const [cmd, ...args] = this.enter;
    return execFileSync(cmd, [...args, "sh", "-c", command], { encoding: "utf8", stdio: "pipe" });
  }

  close(): void {
    this.#holder.kill("SIGKILL");
  }
}

export type TopologyKind =
  | "routed"
  | "client-nat"
  | "server-nat"
  | "server-nat-one-port"
  | "dual-stack";

/** The ports "server-nat-one-port" forwards: the edge's HTTP port and the one media UDP port. */
export const ONE_PORT = { http: 8080, udp: 40000 };

/** Client and server hosts with a router namespace between them. */
export interface Topology {
  kind: TopologyKind;
  router: Netns;
  server: Netns;
  client: Netns;
  /** The address the client uses to reach the server (its public address behind 1:1 NAT). */
  serverAddress: string;
  /** Environment for the embedded process on the server host (listen / announced addresses). */
  serverEnv: NodeJS.ProcessEnv;
  /** A third host on its own subnet (`buildTopology(kind, { turnHost: true })`), e.g. coturn. */
  turn?: { ns: Netns; address: string };
  close(): void;
}

const SERVER_V4 = "10.1.0.2";
const CLIENT_V4 = "10.2.0.2";
const SERVER_PUBLIC_V4 = "10.3.0.2";
const TURN_V4 = "10.4.0.2";
const SERVER_V6 = "fd01::2";
const CLIENT_V6 = "fd02::2";

/** Joins `host` to `router` with a veth pair: `<host>0` in the host, `r-<host>` in the router. */
function link(router: Netns, host: Netns, v4: [string, string], v6?: [string, string]): void {
  const hostIf = `${host.name}0`;
  const routerIf = `r-${host.name}`;
  router.sh(`ip link add ${routerIf} type veth peer name ${hostIf} netns ${host.pid}`);
  router.sh(`ip addr add ${v4[0]}/24 dev ${routerIf} && ip link set ${routerIf} up`);
  host.sh(`ip addr add ${v4[1]}/24 dev ${hostIf} && ip link set ${hostIf} up`);
  host.sh(`ip route add default via ${v4[0]}`);
  if (v6) {
    router.sh(`ip -6 addr add ${v6[0]}/64 dev ${routerIf} nodad`);
    host.sh(`ip -6 addr add ${v6[1]}/64 dev ${hostIf} nodad`);
    host.sh(`ip -6 route add default via ${v6[0]}`);
  }
}

/** nftables rules for the router, by topology. */
function routerRules(kind: TopologyKind): string {
  const nat = {
    // The client's home router: its traffic leaves with the router's address; nothing from the
    // server side reaches the client unless it answers what the client sent.
    "client-nat": `
      table ip weir_nat {
        chain post { type nat hook postrouting priority 100; ip saddr 10.2.0.0/24 oifname "r-server" masquerade; }
      }
      table ip weir_filter {
        chain through { type filter hook forward priority 0; policy accept;
          iifname "r-server" oifname "r-client" ct state != { established, related } drop; }
      }`,
    // The server has a private address; its public one is mapped 1:1 onto it, every port.
    "server-nat": `
      table ip weir_nat {
        chain pre { type nat hook prerouting priority -100; ip daddr ${SERVER_PUBLIC_V4} dnat to ${SERVER_V4}; }
        chain post { type nat hook postrouting priority 100; ip saddr ${SERVER_V4} snat to ${SERVER_PUBLIC_V4}; }
      }
      table ip weir_filter {
        chain through { type filter hook forward priority 0; policy accept;
          iifname "r-client" ip daddr ${SERVER_V4} ct status & dnat == 0 drop; }
      }`,
    // As an operator runs a node behind 1:1 NAT with one port: only the HTTP port and the one
    // UDP port are forwarded to it; nothing else reaches the server.
    "server-nat-one-port": `
      table ip weir_nat {
        chain pre { type nat hook prerouting priority -100;
          ip daddr ${SERVER_PUBLIC_V4} tcp dport ${ONE_PORT.http} dnat to ${SERVER_V4};
          ip daddr ${SERVER_PUBLIC_V4} udp dport ${ONE_PORT.udp} dnat to ${SERVER_V4}; }
        chain post { type nat hook postrouting priority 100; ip saddr ${SERVER_V4} snat to ${SERVER_PUBLIC_V4}; }
      }
      table ip weir_filter {
        chain through { type filter hook forward priority 0; policy accept;
          iifname "r-client" ip daddr ${SERVER_V4} ct status & dnat == 0 drop; }
      }`,
    // Both families route; UDP over IPv4 between the hosts is dropped, so media must use IPv6.
    "dual-stack": `
      table ip weir_filter {
        chain through { type filter hook forward priority 0; policy accept; meta l4proto udp drop; }
      }`,
    routed: "",
  }[kind];
  return nat;
}

export async function buildTopology(
  kind: TopologyKind,
  opts: { turnHost?: boolean } = {},
): Promise<Topology> {
  const [router, server, client, turn] = await Promise.all([
    Netns.create("router"),
    Netns.create("server"),
    Netns.create("client"),
    opts.turnHost ? Netns.create("turn") : null,
  ]);
  const close = () => {
    for (const ns of [client, server, turn, router]) ns?.close();
  };
  try {
    const dual = kind === "dual-stack";
    link(router, server, ["10.1.0.1", SERVER_V4], dual ? ["fd01::1", SERVER_V6] : undefined);
    link(router, client, ["10.2.0.1", CLIENT_V4], dual ? ["fd02::1", CLIENT_V6] : undefined);
    if (turn) link(router, turn, ["10.4.0.1", TURN_V4]);
    router.sh("sysctl -qw net.ipv4.ip_forward=1");
    if (dual) router.sh("sysctl -qw net.ipv6.conf.all.forwarding=1");
    const rules = routerRules(kind);
    if (rules) router.sh(`nft -f - <<'EOF'\n${rules}\nEOF`);
    const natted = kind === "server-nat" || kind === "server-nat-one-port";
    const serverEnv: NodeJS.ProcessEnv = natted
      ? { WEIR_LISTEN_IPS: SERVER_V4, WEIR_ANNOUNCED_IP: SERVER_PUBLIC_V4 }
      : {};
    if (kind === "server-nat-one-port") {
      serverEnv.PORT = String(ONE_PORT.http);
      serverEnv.WEIR_UDP_PORT = String(ONE_PORT.udp);
    }
    const serverAddress = natted ? SERVER_PUBLIC_V4 : SERVER_V4;
    return {
      kind,
      router,
      server,
      client,
      serverAddress,
      serverEnv,
      ...(turn ? { turn: { ns: turn, address: TURN_V4 } } : {}),
      close,
    };
  } catch (err) {
    close();
    throw err;
  }
}

/**
 * A network that lets out nothing but TCP to `port` (a hotel or corporate network that allows
 * only HTTPS): nftables inside `host`'s namespace drops every other packet it sends, IPv4 and
 * IPv6, UDP included, except on `lo`. Answers to what it sent come back.
 */
export function allowOnlyTcpPort(host: Netns, port: number): void {
  host.sh(`nft -f - <<'EOF'
table inet weir_client {
  chain out { type filter hook output priority 0; policy drop;
    oifname "lo" accept
    meta l4proto tcp tcp dport ${port} accept
    ct state established,related accept
    meta l4proto udp counter drop
  }
  chain in { type filter hook input priority 0; policy drop;
    iifname "lo" accept
    ct state established,related accept
  }
}
EOF`);
}

/** A host whose firewall drops every UDP packet it would send out (a network that blocks UDP). */
export function dropUdp(host: Netns): Counter {
  host.sh(`nft -f - <<'EOF'
table inet weir_no_udp {
  chain out { type filter hook output priority 0; policy accept;
    oifname "lo" accept
    meta l4proto udp counter drop
  }
}
EOF`);
  return {
    read: () =>
      Number(/packets (\d+)/.exec(host.sh("nft list chain inet weir_no_udp out"))?.[1] ?? 0),
  };
}

export interface Counter {
  read(): number;
}

/** Why topology tests cannot run here, or null when they can. */
export function topologyUnavailable(): string | null {
  if (process.env.WEIR_NETNS !== "1") return "not inside scripts/netns.mjs's namespace";
  try {
    execFileSync("nft", ["--version"], { stdio: "ignore" });
  } catch {
    return "no nft (apt-get install -y nftables)";
  }
  return null;
}
