// Host/port splitting and normalisation with the reference's rules (spec
// §3.7: Go's net.SplitHostPort, a missing port means 22, service names are
// looked up), plus IPv6 literals written in brackets, which the reference
// cannot express (spec §12.5).
import { fail, ok, type Result } from "../result.ts";
import {
  formatIp,
  ipLiteralFamily,
  ipv6Bytes,
  parseIp,
} from "../net/ip_address.ts";

/** Looks up a TCP service name ("ssh" → 22); undefined when unknown. */
export type PortLookup = (service: string) => number | undefined;

/** A split destination or address: host without brackets, numeric port. */
export interface HostPort {
  host: string;
  port: number;
}

/** Canonical text of an IP literal (IPv6 compressed lower case, IPv4-mapped as dotted IPv4), or undefined. */
export function canonicalIp(text: string): string | undefined {
  const unwrapped = text.startsWith("[") && text.endsWith("]")
    ? text.slice(1, -1)
    : text;
  // A link-local address may carry a zone (`fe80::1%eth0`, as sshd reports
  // it): the address part is canonicalised, the zone kept as written.
  const percent = unwrapped.indexOf("%");
  const bare = percent < 0 ? unwrapped : unwrapped.slice(0, percent);
  const zone = percent < 0 ? "" : unwrapped.slice(percent);
  if (zone !== "") {
    if (zone === "%") return undefined;
    const address = ipv6Bytes(bare);
    // An IPv4-mapped address prints as IPv4, which cannot carry a zone.
    const printed = address === undefined ? undefined : formatIp(address);
    return printed?.includes(":") ? printed + zone : undefined;
  }
  // Go's IP.String: RFC 5952 for IPv6, IPv4-mapped printed as dotted IPv4.
  const address = parseIp(bare);
  return address === undefined ? undefined : formatIp(address);
}

type Split = { host: string; port: string } | { missingPort: true } | {
  error: string;
};

function goSplitHostPort(input: string): Split {
  const lastColon = input.lastIndexOf(":");
  if (lastColon < 0) return { missingPort: true };
  let host: string;
  if (input.startsWith("[")) {
    const close = input.indexOf("]");
    if (close < 0) return { error: "missing ']' in address" };
    if (close + 1 === input.length) return { missingPort: true };
    if (close + 1 !== lastColon) {
      return input[close + 1] === ":"
        ? { error: "too many colons in address" }
        : { missingPort: true };
    }
    host = input.slice(1, close);
    if (host.includes("[")) return { error: "unexpected '[' in address" };
  } else {
    host = input.slice(0, lastColon);
    if (host.includes(":")) return { error: "too many colons in address" };
    if (host.includes("[")) return { error: "unexpected '[' in address" };
    if (host.includes("]")) return { error: "unexpected ']' in address" };
  }
  const port = input.slice(lastColon + 1);
  if (port.includes("[")) return { error: "unexpected '[' in address" };
  if (port.includes("]")) return { error: "unexpected ']' in address" };
  return { host, port };
}

/** Splits `host[:port]` like the reference; errors read `address <input>: <reason>`. */
export function splitHostPort(
  input: string,
  lookupPort: PortLookup,
): Result<HostPort> {
  const split = goSplitHostPort(input);
  if ("error" in split) return fail(`address ${input}: ${split.error}`);
  if ("missingPort" in split) {
    // `[::1]` alone: the reference keeps the brackets in the host and then
    // writes `[[::1]]:22`; an IPv6 literal is unwrapped instead.
    const unwrapped = input.startsWith("[") && input.endsWith("]") &&
        ipLiteralFamily(input.slice(1, -1)) === 6
      ? input.slice(1, -1)
      : input;
    return ok({ host: unwrapped, port: 22 });
  }
  if (split.port === "") return ok({ host: split.host, port: 0 });
  if (/^\d+$/.test(split.port)) {
    const port = Number(split.port);
    if (port > 65535) return fail(`address ${input}: invalid port`);
    return ok({ host: split.host, port });
  }
  const port = lookupPort(split.port);
  if (port === undefined) return fail(`address ${input}: invalid port`);
  return ok({ host: split.host, port });
}

/** Joins host and port as `host:port`, bracketing hosts that contain ':'. */
export function joinHostPort(host: string, port: number): string {
  return host.includes(":") ? `[${host}]:${port}` : `${host}:${port}`;
}

/** Parses /etc/services content into a TCP service-name lookup (names and aliases). */
export function parseServices(text: string): PortLookup {
  const ports = new Map<string, number>();
  for (const rawLine of text.split("\n")) {
    const line = rawLine.replace(/#.*/, "").trim();
    if (line === "") continue;
    const [name, portProtocol, ...aliases] = line.split(/\s+/);
    const match = /^(\d+)\/tcp$/.exec(portProtocol ?? "");
    if (!match) continue;
    for (const alias of [name, ...aliases]) {
      if (!ports.has(alias)) ports.set(alias, Number(match[1]));
    }
  }
  return (service) => ports.get(service);
}
