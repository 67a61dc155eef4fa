/**
 * A real coturn (`turnserver` from Debian's `coturn` package, installed by scripts/setup.sh) for
 * tests, configured as the README recommends for Weir: TURN REST API credentials
 * (`use-auth-secret` + `static-auth-secret`), one TCP (or TLS) listening port, no UDP listener,
 * relaying only to the media node's addresses. Its config, log and (for TLS) test certificate
 * live in a temp dir that `stop()` removes.
 */
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { createHash, X509Certificate } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { killWithParent } from "./children.ts";

export const TURNSERVER = process.env.WEIR_TURNSERVER ?? "/usr/bin/turnserver";

export interface CoturnOptions {
  /** argv prefix that enters the TURN host's namespace (`Netns.enter`). */
  enter: string[];
  /** The address it listens on and relays from. */
  ip: string;
  port: number;
  /** "tls": a TLS listener with a certificate for `ip` made by openssl here; "tcp": plain TCP. */
  protocol: "tcp" | "tls";
  /** coturn's static-auth-secret (the edge's WEIR_TURN_SECRET). */
  secret: string;
  /** The only peers it relays to (the media node's addresses). */
  allowedPeers: string[];
}

export interface Coturn {
  /** The URL clients get, e.g. `turns:10.4.0.2:443?transport=tcp`. */
  url: string;
  /** PEM of the CA that signed the TLS certificate (tls only). */
  caPem: string | null;
  /** base64 SHA-256 of the TLS certificate's public key (Chromium's SPKI pin), tls only. */
  spki: string | null;
  /** The log file's text so far. */
  log(): string;
  stop(): Promise<void>;
}

/** Why coturn tests cannot run here, or null. */
export function coturnUnavailable(): string | null {
  return existsSync(TURNSERVER) ? null : `no ${TURNSERVER} (apt-get install -y coturn)`;
}

/** A CA and a server certificate for `ip` (subjectAltName IP), made with openssl. */
function makeCertificate(dir: string, ip: string): { cert: string; key: string; ca: string } {
  const ca = join(dir, "ca.pem");
  const caKey = join(dir, "ca.key");
  const key = join(dir, "turn.key");
  const csr = join(dir, "turn.csr");
  const cert = join(dir, "turn.pem");
  const ext = join(dir, "turn.ext");
  // Paths under tmpdir() have no spaces: each command is one line split on spaces.
  const openssl = (cmd: string) => execFileSync("openssl", cmd.split(" "), { stdio: "pipe" });
  const ec = "-newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes";
  openssl(`req -x509 ${ec} -keyout ${caKey} -out ${ca} -days 2 -subj /CN=weir-test-turn-ca`);
  openssl(`req ${ec} -keyout ${key} -out ${csr} -subj /CN=${ip}`);
  writeFileSync(
    ext,
    `subjectAltName=IP:${ip}\nextendedKeyUsage=serverAuth\nkeyUsage=digitalSignature\n`,
  );
  openssl(
    `x509 -req -in ${csr} -CA ${ca} -CAkey ${caKey} -CAcreateserial -out ${cert} -days 2 -extfile ${ext}`,
  );
  return { cert, key, ca };
}

function spkiOf(pem: string): string {
  const der = new X509Certificate(pem).publicKey.export({ type: "spki", format: "der" });
  return createHash("sha256").update(der).digest("base64");
}

function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once("exit", () => resolve()));
}

export async function startCoturn(opts: CoturnOptions): Promise<Coturn> {
  const dir = mkdtempSync(join(tmpdir(), "weir-coturn-"));
  const logFile = join(dir, "turn.log");
  const tls = opts.protocol === "tls" ? makeCertificate(dir, opts.ip) : null;
  const conf = [
    `listening-ip=${opts.ip}`,
    `relay-ip=${opts.ip}`,
    // One port: TLS or plain TCP on it, nothing on UDP (the client may reach only this port).
    tls ? `tls-listening-port=${opts.port}` : `listening-port=${opts.port}`,
    // coturn opens listening-port as well as tls-listening-port: keep the plain one off the TLS
    // port and closed to TURN by no-tcp.
    ...(tls
      ? [`listening-port=${opts.port + 1}`, "no-tcp", `cert=${tls.cert}`, `pkey=${tls.key}`]
      : ["no-tls"]),
    "no-udp",
    "no-dtls",
    "min-port=49152",
    "max-port=49407",
    "fingerprint",
    "use-auth-secret",
    `static-auth-secret=${opts.secret}`,
    "realm=weir.test",
    // Relay only to the media node: deny everything, allow its addresses (allowed wins).
    "denied-peer-ip=0.0.0.0-255.255.255.255",
    "denied-peer-ip=::-ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
    ...opts.allowedPeers.map((ip) => `allowed-peer-ip=${ip}`),
    "no-multicast-peers",
    "no-cli",
    `userdb=${join(dir, "turndb")}`,
    `pidfile=${join(dir, "turn.pid")}`,
    `log-file=${logFile}`,
    "simple-log",
    "no-stdout-log",
    "verbose",
    "",
  ].join("\n");
  const confFile = join(dir, "turnserver.conf");
  writeFileSync(confFile, conf);
  const argv = [...opts.enter, TURNSERVER, "-c", confFile];
  const child = spawn(argv[0], argv.slice(1), { stdio: ["ignore", "ignore", "pipe"] });
  killWithParent(child);
  let stderr = "";
  child.stderr?.on("data", (c: Buffer) => {
    stderr = (stderr + c.toString()).slice(-4000);
  });
  const log = () => (existsSync(logFile) ? readFileSync(logFile, "utf8") : "");
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill("SIGTERM");
      const killer = setTimeout(() => child.kill("SIGKILL"), 2000);
      await exited(child);
      clearTimeout(killer);
    }
    rmSync(dir, { recursive: true, force: true });
  };
  const listening = tls ? "TLS listener opened on" : "TCP listener opened on";
  const deadline = Date.now() + 10_000;
  while (!log().includes(`${listening} : ${opts.ip}:${opts.port}`)) {
    if (child.exitCode !== null || Date.now() > deadline) {
      const text = `${log()}\n${stderr}`;
      await stop();
      throw new Error(`coturn did not start listening on ${opts.ip}:${opts.port}:\n${text}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  const scheme = tls ? "turns" : "turn";
  return {
    url: `${scheme}:${opts.ip}:${opts.port}?transport=tcp`,
    caPem: tls ? readFileSync(tls.ca, "utf8") : null,
    spki: tls ? spkiOf(readFileSync(tls.cert, "utf8")) : null,
    log,
    stop,
  };
}
