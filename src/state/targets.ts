// Which `/sshproxy/hosts/<host:port>` keys `enable`, `disable` and
// `forget host` act on (spec §6.5), and which persisted destinations
// `forget persist` removes. Pure: nodeset expansion is passed in.
//
// Departures from the reference (spec §12.4 items 35, 36):
// - `-host X` without `-port` means the ports under which X is already known
//   in etcd, or port 22 when X has no entry. The reference pairs X with the
//   port of every host entry in etcd (inventing `X:2222` because some other
//   host uses 2222) and does nothing at all when etcd has no host entry.
// - `-all -port P` pairs every distinct host known to etcd with P once.
// - IPv6 hosts are written `[::1]:22`, and `-host '::1'` or `-host '[::1]'`
//   both work; `-all` keeps the existing key names verbatim.
// - Targets are deduplicated.
import { fail, ok, type Result } from "../result.ts";
import { isIP } from "node:net";
import type { HistoryEntry } from "./aggregate.ts";

/** Expands a nodeset into names (the caller binds ClusterShell groups). */
export type Expand = (text: string) => Result<string[]>;

/** The flags of `enable`/`disable`/`forget host`. */
export interface TargetFlags {
  all: boolean;
  host?: string;
  port?: string;
}

/** Splits `host:port` / `[v6]:port` as written in host keys; undefined when there is no port. */
export function splitDest(
  dest: string,
): { host: string; port: string } | undefined {
  if (dest.startsWith("[")) {
    const close = dest.indexOf("]");
    if (close < 0 || dest[close + 1] !== ":") return undefined;
    return { host: dest.slice(1, close), port: dest.slice(close + 2) };
  }
  const colon = dest.lastIndexOf(":");
  if (colon < 0) return undefined;
  const host = dest.slice(0, colon);
  // A bare IPv6 address (the reference's `-all` wrote `::1:22`): the last
  // colon still separates the port.
  return { host, port: dest.slice(colon + 1) };
}

/** `host:port`, bracketing IPv6 literals. */
export function joinDest(host: string, port: string): string {
  return host.includes(":") ? `[${host}]:${port}` : `${host}:${port}`;
}

function normaliseHost(name: string): Result<string> {
  let host = name;
  if (host.startsWith("[") && host.endsWith("]")) {
    const inner = host.slice(1, -1);
    if (isIP(inner) === 6) host = inner;
  }
  if (host === "" || /[/\s]/.test(host)) {
    return fail(`host ${JSON.stringify(name)} cannot be a host name`);
  }
  if (host.includes(":") && isIP(host) !== 6) {
    return fail(
      `host ${
        JSON.stringify(name)
      } contains ":" but is not an IPv6 address (give the port with -port)`,
    );
  }
  return ok(host);
}

/** Expands `-port` into port numbers, with the reference's error texts. */
export function expandPorts(text: string, expand: Expand): Result<string[]> {
  const names = expand(text);
  if (!names.ok) return names;
  const ports: string[] = [];
  for (const name of names.value) {
    if (!/^[0-9]+$/.test(name)) {
      return fail(`port ${JSON.stringify(name)} must be an integer`);
    }
    const port = Number(name);
    if (port > 65535) {
      return fail(`port ${JSON.stringify(name)} must be in the 0-65535 range`);
    }
    ports.push(String(port));
  }
  return ok(ports);
}

/** Expands `-host` into host names (IPv6 unbracketed). */
export function expandHosts(text: string, expand: Expand): Result<string[]> {
  const names = expand(text);
  if (!names.ok) return names;
  const hosts: string[] = [];
  for (const name of names.value) {
    const host = normaliseHost(name);
    if (!host.ok) return host;
    hosts.push(host.value);
  }
  return ok(hosts);
}

function unique(items: string[]): string[] {
  return [...new Set(items)];
}

/**
 * The host keys to act on, given the `host:port` names currently in etcd
 * (ascending key order). Errors are usage errors (bad nodeset or port).
 */
export function computeTargets(
  known: readonly string[],
  flags: TargetFlags,
  expand: Expand,
): Result<string[]> {
  const ports = flags.port === undefined
    ? undefined
    : expandPorts(flags.port, expand);
  if (ports !== undefined && !ports.ok) return ports;
  if (flags.all) {
    if (ports === undefined) return ok(unique([...known]));
    const hosts = unique(
      known.map((name) => splitDest(name)?.host ?? name),
    );
    const targets: string[] = [];
    for (const port of ports.value) {
      for (const host of hosts) targets.push(joinDest(host, port));
    }
    return ok(unique(targets));
  }
  if (flags.host === undefined) return fail("missing '-all' or '-host'");
  const hosts = expandHosts(flags.host, expand);
  if (!hosts.ok) return hosts;
  const targets: string[] = [];
  if (ports !== undefined) {
    for (const port of ports.value) {
      for (const host of hosts.value) targets.push(joinDest(host, port));
    }
    return ok(unique(targets));
  }
  const knownPorts = new Map<string, string[]>();
  for (const name of known) {
    const split = splitDest(name);
    if (split === undefined) continue;
    const list = knownPorts.get(split.host) ?? [];
    list.push(split.port);
    knownPorts.set(split.host, list);
  }
  for (const host of hosts.value) {
    for (const port of knownPorts.get(host) ?? ["22"]) {
      targets.push(joinDest(host, port));
    }
  }
  return ok(unique(targets));
}

/** The filters of `forget persist`. */
export interface PersistFilter {
  user?: string;
  service?: string;
  host?: string;
  port?: string;
}

/**
 * The `user@service` pairs whose persisted destination `forget persist`
 * removes: every history entry matching all given filters (host and port
 * are nodesets compared with the destination's host and port).
 */
export function selectPersisted(
  history: readonly HistoryEntry[],
  filter: PersistFilter,
  expand: Expand,
): Result<{ user: string; service: string }[]> {
  let hosts: Set<string> | undefined;
  if (filter.host !== undefined) {
    const expanded = expandHosts(filter.host, expand);
    if (!expanded.ok) return expanded;
    hosts = new Set(expanded.value);
  }
  let ports: Set<string> | undefined;
  if (filter.port !== undefined) {
    const expanded = expandPorts(filter.port, expand);
    if (!expanded.ok) return expanded;
    ports = new Set(expanded.value);
  }
  const selected = new Map<string, { user: string; service: string }>();
  for (const entry of history) {
    if (filter.user !== undefined && entry.user !== filter.user) continue;
    if (filter.service !== undefined && entry.service !== filter.service) {
      continue;
    }
    if (hosts !== undefined || ports !== undefined) {
      const split = splitDest(entry.dest) ??
        { host: entry.dest, port: "22" };
      if (hosts !== undefined && !hosts.has(split.host)) continue;
      if (ports !== undefined && !ports.has(String(Number(split.port)))) {
        continue;
      }
    }
    selected.set(`${entry.user}@${entry.service}`, {
      user: entry.user,
      service: entry.service,
    });
  }
  return ok([...selected.values()]);
}
