// How sshproxyctl (and the proxy's routing) aggregates what etcd holds
// (spec §6.4, §5.8.2). Pure: takes decoded records, returns rows.
import type { Timestamp } from "../format/time.ts";
import type { HostState } from "./values.ts";

/** One connection key, decoded. */
export interface Connection {
  key: string;
  user: string;
  service: string;
  /** The gateway's sshd listening address (the reference's "From"). */
  from: string;
  dest: string;
  ts: Timestamp;
  bwIn: number;
  bwOut: number;
}

/** One history (persisted destination) key, decoded. */
export interface HistoryEntry {
  key: string;
  user: string;
  service: string;
  /** Lease ID from the key name. */
  leaseId: string;
  /** The persisted destination (the value). */
  dest: string;
  /** Remaining seconds of the key's lease; 0 when it has none or it is unknown. */
  ttl: number;
}

/** One host key, decoded. */
export interface HostEntry {
  key: string;
  hostname: string;
  state: HostState;
  ts: Timestamp;
}

/** A `show connections` row without `-all`. */
export interface AggregatedConnection {
  user: string;
  service: string;
  dest: string;
  n: number;
  /** Time of the group's last key in key order (as the reference). */
  last: Timestamp;
  bwIn: number;
  bwOut: number;
}

/** A `show hosts` row. */
export interface HostRow {
  hostname: string;
  n: number;
  bwIn: number;
  bwOut: number;
  historyN: number;
  state: HostState;
  ts: Timestamp;
}

/** A `show users` row (`service`, `dest`, `ttl` only with `-all`). */
export interface UserRow {
  user: string;
  service?: string;
  groups: string;
  n: number;
  bwIn: number;
  bwOut: number;
  dest?: string;
  ttl?: number;
}

/** A `show groups` row (`service` only with `-all`). */
export interface GroupRow {
  group: string;
  service?: string;
  /** Distinct user names, sorted, space-separated. */
  users: string;
  n: number;
  bwIn: number;
  bwOut: number;
}

/** Go's string order: byte order of UTF-8, i.e. code point order. */
export function compareStrings(a: string, b: string): number {
  if (a === b) return 0;
  const length = Math.min(a.length, b.length);
  for (let i = 0; i < length; i++) {
    const x = a.codePointAt(i) ?? 0;
    const y = b.codePointAt(i) ?? 0;
    if (x !== y) return x - y;
    if (x > 0xffff) i++;
  }
  return a.length - b.length;
}

function byFields<T>(...fields: ((row: T) => string)[]) {
  return (a: T, b: T): number => {
    for (const get of fields) {
      const order = compareStrings(get(a), get(b));
      if (order !== 0) return order;
    }
    return 0;
  };
}

/** Groups connections by (user, service, dest), sorted by those three. */
export function aggregateConnections(
  connections: readonly Connection[],
): AggregatedConnection[] {
  const groups = new Map<string, AggregatedConnection>();
  for (const connection of connections) {
    const id = `${connection.user}\0${connection.service}\0${connection.dest}`;
    const group = groups.get(id);
    if (group === undefined) {
      groups.set(id, {
        user: connection.user,
        service: connection.service,
        dest: connection.dest,
        n: 1,
        last: connection.ts,
        bwIn: connection.bwIn,
        bwOut: connection.bwOut,
      });
    } else {
      group.n++;
      group.last = connection.ts;
      group.bwIn += connection.bwIn;
      group.bwOut += connection.bwOut;
    }
  }
  return [...groups.values()].sort(
    byFields((row) => row.user, (row) => row.service, (row) => row.dest),
  );
}

/** One row per host key, with its connection and history counts. */
export function hostRows(
  hosts: readonly HostEntry[],
  connections: readonly Connection[],
  history: readonly HistoryEntry[],
): HostRow[] {
  const stats = new Map<string, { n: number; bwIn: number; bwOut: number }>();
  for (const connection of connections) {
    const entry = stats.get(connection.dest) ?? { n: 0, bwIn: 0, bwOut: 0 };
    entry.n++;
    entry.bwIn += connection.bwIn;
    entry.bwOut += connection.bwOut;
    stats.set(connection.dest, entry);
  }
  const persisted = new Map<string, number>();
  for (const entry of history) {
    persisted.set(entry.dest, (persisted.get(entry.dest) ?? 0) + 1);
  }
  return hosts.map((host) => {
    const entry = stats.get(host.hostname);
    return {
      hostname: host.hostname,
      n: entry?.n ?? 0,
      bwIn: entry?.bwIn ?? 0,
      bwOut: entry?.bwOut ?? 0,
      historyN: persisted.get(host.hostname) ?? 0,
      state: host.state,
      ts: host.ts,
    };
  });
}

/**
 * Users: grouped by user, or with `all` by user@service plus the persisted
 * destination and its TTL of every history entry (a user with history but
 * no live connection gets N = 0). `groupsOf` gives the space-separated,
 * sorted group names. Rows sorted by user, then service.
 */
export function userRows(
  connections: readonly Connection[],
  options: {
    all: boolean;
    history?: readonly HistoryEntry[];
    groupsOf: (user: string) => string;
  },
): UserRow[] {
  const rows = new Map<string, UserRow>();
  const row = (user: string, service: string): UserRow => {
    const id = options.all ? `${user}@${service}` : user;
    let found = rows.get(id);
    if (found === undefined) {
      found = options.all
        ? {
          user,
          service,
          groups: options.groupsOf(user),
          n: 0,
          bwIn: 0,
          bwOut: 0,
          dest: "",
          ttl: 0,
        }
        : { user, groups: options.groupsOf(user), n: 0, bwIn: 0, bwOut: 0 };
      rows.set(id, found);
    }
    return found;
  };
  for (const connection of connections) {
    const found = row(connection.user, connection.service);
    found.n++;
    found.bwIn += connection.bwIn;
    found.bwOut += connection.bwOut;
  }
  if (options.all) {
    for (const entry of options.history ?? []) {
      const found = row(entry.user, entry.service);
      found.dest = entry.dest;
      found.ttl = entry.ttl;
    }
  }
  return [...rows.values()].sort(
    byFields((r) => r.user, (r) => r.service ?? ""),
  );
}

/**
 * Groups: each user's groups (an empty string is one group with an empty
 * name, as in the reference), with `all` per group@service. Rows sorted by
 * group, then service.
 */
export function groupRows(
  users: readonly UserRow[],
  options: { all: boolean },
): GroupRow[] {
  const rows = new Map<string, GroupRow & { members: Set<string> }>();
  for (const user of users) {
    for (const group of user.groups.split(" ")) {
      const service = options.all ? user.service ?? "" : undefined;
      const id = service === undefined ? group : `${group}@${service}`;
      let found = rows.get(id);
      if (found === undefined) {
        found = {
          group,
          ...(service === undefined ? {} : { service }),
          users: "",
          n: 0,
          bwIn: 0,
          bwOut: 0,
          members: new Set(),
        };
        rows.set(id, found);
      }
      found.members.add(user.user);
      found.n += user.n;
      found.bwIn += user.bwIn;
      found.bwOut += user.bwOut;
    }
  }
  return [...rows.values()]
    .map(({ members, ...row }) => ({
      ...row,
      users: [...members].sort(compareStrings).join(" "),
    }))
    .sort(byFields((r) => r.group, (r) => r.service ?? ""));
}

/** Per-destination load for the `connections` and `bandwidth` route selections. */
export interface DestinationLoad {
  /** This user@service's connections on the destination. */
  userN: number;
  userIn: number;
  userOut: number;
  /** Everyone's connections on the destination. */
  hostN: number;
  hostIn: number;
  hostOut: number;
}

/**
 * Loads of `dests` from all connections. Unlike the reference (spec §12.3
 * item 32), a destination counts its connections whether or not it has a
 * host entry.
 */
export function destinationLoads(
  connections: readonly Connection[],
  user: string,
  service: string,
  dests: readonly string[],
): Map<string, DestinationLoad> {
  const loads = new Map<string, DestinationLoad>();
  for (const dest of dests) {
    loads.set(dest, {
      userN: 0,
      userIn: 0,
      userOut: 0,
      hostN: 0,
      hostIn: 0,
      hostOut: 0,
    });
  }
  for (const connection of connections) {
    const load = loads.get(connection.dest);
    if (load === undefined) continue;
    load.hostN++;
    load.hostIn += connection.bwIn;
    load.hostOut += connection.bwOut;
    if (connection.user === user && connection.service === service) {
      load.userN++;
      load.userIn += connection.bwIn;
      load.userOut += connection.bwOut;
    }
  }
  return loads;
}

/**
 * The sticky candidate among a user@service's connections: the destination
 * of the most recent registration (the reference takes the
 * lexicographically greatest destination, spec §12.3 item 27).
 */
export function stickyFromConnections(
  connections: readonly Connection[],
): string | undefined {
  let best: Connection | undefined;
  for (const connection of connections) {
    if (best === undefined || connection.ts.ns > best.ts.ns) best = connection;
  }
  return best?.dest;
}

/** How a host check should proceed given what etcd holds (spec §5.8.3). */
export type StoredHostVerdict =
  | { kind: "disabled" }
  | { kind: "stored"; state: HostState }
  | { kind: "check" };

/**
 * `disabled` always wins; a state younger than `checkInterval` (ns) is
 * reused; otherwise (absent, old, or interval 0) a live check is needed.
 */
export function storedHostVerdict(
  entry: { state: HostState; ts: Timestamp } | undefined,
  checkInterval: bigint,
  now: bigint,
): StoredHostVerdict {
  if (entry === undefined) return { kind: "check" };
  if (entry.state === "disabled") return { kind: "disabled" };
  if (now - entry.ts.ns > checkInterval) return { kind: "check" };
  return { kind: "stored", state: entry.state };
}
