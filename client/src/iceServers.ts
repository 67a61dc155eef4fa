/**
 * RFC 9725 section 4.6: a WHIP/WHEP endpoint lists STUN/TURN servers in `Link` headers,
 * `<turn:host:443?transport=tcp>; rel="ice-server"; username="..."; credential="...";
 * credential-type="password"`. Several headers arrive joined by commas (as `fetch` gives them).
 */

interface LinkValue {
  target: string;
  params: Map<string, string>;
}

/** RFC 8288 link-values: `<target>` then `; name=value` params (token or quoted-string). */
function parseLinks(header: string): LinkValue[] {
  const links: LinkValue[] = [];
  let i = 0;
  const n = header.length;
  const skipSpace = () => {
    while (i < n && /\s/.test(header[i])) i++;
  };
  while (i < n) {
    skipSpace();
    if (header[i] === ",") {
      i++;
      continue;
    }
    if (header[i] !== "<") break; // not a link-value: stop rather than guess
    const end = header.indexOf(">", i);
    if (end < 0) break;
    const link: LinkValue = { target: header.slice(i + 1, end).trim(), params: new Map() };
    i = end + 1;
    for (;;) {
      skipSpace();
      if (header[i] !== ";") break;
      i++;
      skipSpace();
      const name = /^[^=;,\s]+/.exec(header.slice(i))?.[0] ?? "";
      i += name.length;
      skipSpace();
      let value = "";
      if (header[i] === "=") {
        i++;
        skipSpace();
        if (header[i] === '"') {
          i++;
          while (i < n && header[i] !== '"') {
            if (header[i] === "\\" && i + 1 < n) i++;
            value += header[i++];
          }
          i++; // closing quote
        } else {
          value = /^[^;,\s]*/.exec(header.slice(i))?.[0] ?? "";
          i += value.length;
        }
      }
      // RFC 8288: the first occurrence of a parameter counts.
      const key = name.toLowerCase();
      if (key !== "" && !link.params.has(key)) link.params.set(key, value);
    }
    links.push(link);
    skipSpace();
    if (header[i] === ",") i++;
    else if (i < n) break;
  }
  return links;
}

/**
 * The `rel="ice-server"` links of a `Link` header value (null: none) as RTCIceServer entries,
 * one per link, with `username` and `credential` where given.
 */
export function iceServersFromLinks(header: string | null): RTCIceServer[] {
  if (!header) return [];
  const servers: RTCIceServer[] = [];
  for (const link of parseLinks(header)) {
    const rels = (link.params.get("rel") ?? "").toLowerCase().split(/\s+/);
    if (!rels.includes("ice-server") || !/^(?:stuns?|turns?):/i.test(link.target)) continue;
    const server: RTCIceServer = { urls: link.target };
    const username = link.params.get("username");
    const credential = link.params.get("credential");
    if (username !== undefined) server.username = username;
    if (credential !== undefined) server.credential = credential;
    servers.push(server);
  }
  return servers;
}
