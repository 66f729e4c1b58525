// The state layer: every read and write of sshproxy's shared state in
// etcd, for sshproxyctl and for the proxy (spec §5.6-5.9, §6). Readers are
// tolerant: a key or value that does not parse is returned as a problem
// (the caller reports it once) and skipped, so one bad key never breaks a
// listing or routing (spec §12.3 item 31). Writers only produce keys that
// reference gateways read.
import { fail, ok, type Result } from "../result.ts";
import type { EtcdSettings } from "../config/types.ts";
import {
  formatBannerExpire,
  formatRfc3339Nano,
  localOffsetMinutes,
  nowNanoseconds,
  type Timestamp,
} from "../format/time.ts";
import type { Connection, HistoryEntry, HostEntry } from "./aggregate.ts";
import { stickyFromConnections } from "./aggregate.ts";
import type { RankedKey } from "./admission.ts";
import type { EtcdBackend, KeyValue, OpenOptions } from "./etcd_client.ts";
import { openHttpEtcd } from "./etcd_http.ts";
import { Registration, type RegistrationOptions } from "./registration.ts";
import {
  BANNER_EXPIRE_KEY,
  BANNER_VALUE_KEY,
  connectionKey,
  connectionPrefix,
  CONNECTIONS_PREFIX,
  historyPrefix,
  hostKey,
  HOSTS_PREFIX,
  parseConnectionKey,
  parseHistoryKey,
  parseHostKey,
} from "./keys.ts";
import {
  decodeConnectionValue,
  decodeHostValue,
  encodeHostValue,
  type HostState,
} from "./values.ts";

export type {
  Registration,
  RegistrationEvent,
  RegistrationOptions,
} from "./registration.ts";

/** A key that was skipped or that deserves a warning. */
export interface Problem {
  key: string;
  reason: string;
  /** True when the key was left out of the result. */
  skipped: boolean;
}

/** Decoded items plus what could not be decoded. */
export interface Listing<T> {
  items: T[];
  problems: Problem[];
}

/** The effective connection-lease TTL: `etcd.keyttl`, or 5 s when 0 (spec §5.6). */
export function effectiveKeyTtl(keyttl: number): number {
  return keyttl > 0 ? keyttl : 5;
}

/** The current time as a timestamp in the local zone (what Go's time.Now() marshals as). */
export function localNow(ns: bigint = nowNanoseconds()): Timestamp {
  return { ns, offsetMinutes: localOffsetMinutes(ns) };
}

/**
 * The listings a session's destination choice reads (spec §5.8): every
 * connection, for the loads of `route_select` connections or bandwidth,
 * else, sticky, the user@service's own; and the host states of its
 * candidates (a few keys: one per destination that was ever checked).
 */
export function firstRoutingLists(
  choice: {
    mode: string;
    routeSelect: string;
    dest: readonly string[];
    service: string;
  },
  user: string,
): string[] {
  if (choice.dest.length === 0) return [];
  if (
    choice.routeSelect === "connections" || choice.routeSelect === "bandwidth"
  ) {
    return [CONNECTIONS_PREFIX, HOSTS_PREFIX];
  }
  return choice.mode === "sticky"
    ? [connectionPrefix(user, choice.service), HOSTS_PREFIX]
    : [HOSTS_PREFIX];
}

// Bounded parallelism for per-key lease look-ups.
async function mapLimited<T, R>(
  items: readonly T[],
  limit: number,
  fn: (item: T) => Promise<R>,
): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const index = next++;
      results[index] = await fn(items[index]);
    }
  };
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, worker),
  );
  return results;
}

/** Reads and writes sshproxy's keys through an etcd backend. */
export class StateStore {
  readonly backend: EtcdBackend;

  constructor(backend: EtcdBackend) {
    this.backend = backend;
  }

  /** Connects and checks that etcd answers. */
  static async open(
    settings: EtcdSettings,
    options: OpenOptions = {},
  ): Promise<Result<StateStore>> {
    const backend = await openHttpEtcd(settings, options);
    return backend.ok ? ok(new StateStore(backend.value)) : backend;
  }

  /** Closes the connection. */
  close(): void {
    this.backend.close();
  }

  // ------------------------------------------------------------------ reads

  /**
   * Connection keys, ascending key order: all of them, a user's (every
   * service) or a user@service's.
   */
  async connections(
    filter: { user?: string; service?: string } = {},
  ): Promise<Result<Listing<Connection>>> {
    const prefix = filter.user === undefined
      ? CONNECTIONS_PREFIX
      : connectionPrefix(filter.user, filter.service);
    const listed = await this.backend.list(prefix);
    if (!listed.ok) return listed;
    const items: Connection[] = [];
    const problems: Problem[] = [];
    for (const kv of listed.value) {
      const read = this.readConnection(kv);
      if ("reason" in read) problems.push(read);
      else items.push(read);
    }
    return ok({ items, problems });
  }

  /**
   * One connection key and its value, read: the connection, or why it is
   * skipped. (The agent's store remembers these across decisions.)
   */
  protected readConnection(kv: KeyValue): Connection | Problem {
    const parts = parseConnectionKey(kv.key);
    if (!parts.ok) return { key: kv.key, reason: parts.error, skipped: true };
    const stats = decodeConnectionValue(kv.value);
    if (!stats.ok) return { key: kv.key, reason: stats.error, skipped: true };
    return {
      key: kv.key,
      user: parts.value.user,
      service: parts.value.service,
      from: parts.value.sshd,
      dest: parts.value.dest,
      ts: parts.value.ts,
      bwIn: stats.value.bwIn,
      bwOut: stats.value.bwOut,
    };
  }

  /**
   * History keys (persisted destinations), ascending key order, with the
   * remaining TTL of the lease each key is attached to when `ttl` is asked.
   * A key without lease (a reference gateway whose lease grant failed,
   * spec §12.3 item 26) is kept with TTL 0 and reported: it never expires.
   */
  async history(
    filter: { user?: string; service?: string } = {},
    options: { ttl?: boolean } = {},
  ): Promise<Result<Listing<HistoryEntry>>> {
    const prefix = historyPrefix(filter.user, filter.service);
    const listed = await this.backend.list(prefix);
    if (!listed.ok) return listed;
    const items: (HistoryEntry & { lease: string })[] = [];
    const problems: Problem[] = [];
    for (const kv of listed.value) {
      const parts = parseHistoryKey(kv.key);
      if (!parts.ok) {
        problems.push({ key: kv.key, reason: parts.error, skipped: true });
        continue;
      }
      if (kv.value === "" || /[/\s]/.test(kv.value)) {
        problems.push({
          key: kv.key,
          reason: `value ${JSON.stringify(kv.value)} is not a destination`,
          skipped: true,
        });
        continue;
      }
      if (kv.lease === "0") {
        problems.push({
          key: kv.key,
          reason:
            `has no lease, so it never expires (remove it with: sshproxyctl forget persist -user ${parts.value.user} -service ${parts.value.service})`,
          skipped: false,
        });
      }
      items.push({
        key: kv.key,
        ...parts.value,
        dest: kv.value,
        ttl: 0,
        lease: kv.lease,
      });
    }
    if (options.ttl) {
      const leases = [
        ...new Set(items.map((i) => i.lease).filter((l) => l !== "0")),
      ];
      const ttls = new Map<string, number>();
      const answers = await mapLimited(
        leases,
        16,
        async (lease) => [lease, await this.backend.timeToLive(lease)] as const,
      );
      for (const [lease, answer] of answers) {
        if (!answer.ok) return answer;
        ttls.set(lease, answer.value);
      }
      // A lease that expired since the listing: its key is gone too.
      const alive = items.filter((item) =>
        item.lease === "0" || (ttls.get(item.lease) ?? -1) >= 0
      );
      for (const item of alive) {
        item.ttl = item.lease === "0" ? 0 : Math.max(ttls.get(item.lease)!, 0);
      }
      return ok({
        items: alive.map(({ lease: _, ...entry }) => entry),
        problems,
      });
    }
    return ok({
      items: items.map(({ lease: _, ...entry }) => entry),
      problems,
    });
  }

  /** Host keys, ascending key order. */
  async hosts(): Promise<Result<Listing<HostEntry>>> {
    const listed = await this.backend.list(HOSTS_PREFIX);
    if (!listed.ok) return listed;
    const items: HostEntry[] = [];
    const problems: Problem[] = [];
    for (const kv of listed.value) {
      const name = parseHostKey(kv.key);
      const value = name.ok ? decodeHostValue(kv.value) : name;
      if (!name.ok || !value.ok) {
        problems.push({
          key: kv.key,
          reason: (!name.ok ? name : value as { error: string }).error,
          skipped: true,
        });
        continue;
      }
      items.push({
        key: kv.key,
        hostname: name.value,
        state: value.value.state,
        ts: value.value.ts,
      });
    }
    return ok({ items, problems });
  }

  /** One host's stored state; `entry` undefined when absent or unreadable (then `problem`). */
  async host(
    dest: string,
  ): Promise<Result<{ entry?: HostEntry; problem?: Problem }>> {
    const key = hostKey(dest);
    const got = await this.backend.get(key);
    if (!got.ok) return got;
    if (got.value === undefined) return ok({});
    const value = decodeHostValue(got.value.value);
    if (!value.ok) {
      return ok({ problem: { key, reason: value.error, skipped: true } });
    }
    return ok({
      entry: {
        key,
        hostname: dest,
        state: value.value.state,
        ts: value.value.ts,
      },
    });
  }

  /** The etcd error banner and its expiry text (both "" when unset). */
  async banner(): Promise<Result<{ message: string; expire: string }>> {
    const value = await this.backend.get(BANNER_VALUE_KEY);
    if (!value.ok) return value;
    if (value.value === undefined) return ok({ message: "", expire: "" });
    const expire = await this.backend.get(BANNER_EXPIRE_KEY);
    if (!expire.ok) return expire;
    return ok({
      message: value.value.value,
      expire: expire.value?.value ?? "",
    });
  }

  /**
   * Live connections of a user across services and gateways, with the
   * revision that created each key, for `max_connections_per_user`
   * (malformed keys are not counted).
   */
  async countUserConnections(
    user: string,
  ): Promise<Result<Listing<RankedKey>>> {
    const listed = await this.backend.list(connectionPrefix(user), {
      keysOnly: true,
    });
    if (!listed.ok) return listed;
    const items: RankedKey[] = [];
    const problems: Problem[] = [];
    for (const kv of listed.value) {
      const parts = parseConnectionKey(kv.key);
      if (parts.ok && parts.value.user === user) {
        items.push({ key: kv.key, createRevision: kv.createRevision });
      } else if (!parts.ok) {
        problems.push({ key: kv.key, reason: parts.error, skipped: true });
      }
    }
    return ok({ items, problems });
  }

  /**
   * Where `user@service` is already connected (its most recent live
   * connection), else, with `useHistory`, its persisted destination.
   * `everyConnection`, a listing of all connections the caller has (or is
   * reading) anyway, answers the first question without a read of its own.
   */
  async stickyDestination(
    user: string,
    service: string,
    options: {
      useHistory: boolean;
      everyConnection?: Promise<Result<Listing<Connection>>>;
    },
  ): Promise<
    Result<
      { dest?: string; from?: "connection" | "history"; problems: Problem[] }
    >
  > {
    const live = options.everyConnection === undefined
      ? await this.connections({ user, service })
      : ownConnections(await options.everyConnection, user, service);
    if (!live.ok) return live;
    const dest = stickyFromConnections(live.value.items);
    if (dest !== undefined) {
      return ok({ dest, from: "connection", problems: live.value.problems });
    }
    if (!options.useHistory) return ok({ problems: live.value.problems });
    const history = await this.history({ user, service });
    if (!history.ok) return history;
    const problems = [...live.value.problems, ...history.value.problems];
    const first = history.value.items[0];
    return ok(
      first === undefined
        ? { problems }
        : { dest: first.dest, from: "history", problems },
    );
  }

  // ----------------------------------------------------------------- writes

  /** `{"State":..,"Ts":..}` for a host, permanent (no lease). */
  setHostState(
    dest: string,
    state: HostState,
    ts: Timestamp = localNow(),
  ): Promise<Result<void>> {
    return this.backend.put(hostKey(dest), encodeHostValue({ state, ts }));
  }

  /** Deletes a host key (absent is not an error). */
  async forgetHost(dest: string): Promise<Result<void>> {
    const removed = await this.backend.remove(hostKey(dest));
    return removed.ok ? ok(undefined) : removed;
  }

  /**
   * Stores the error banner (spec §6.3): with an expiry, under a lease that
   * ends at that time (rounded up to the second) together with the expiry
   * text; without one, permanently, deleting any expiry. An expiry that is
   * not in the future is refused (the reference made a banner less than one
   * second ahead permanent, spec §12.3 item 34).
   */
  async setBanner(
    message: string,
    expireNs?: bigint,
    now: bigint = nowNanoseconds(),
  ): Promise<Result<void>> {
    if (expireNs !== undefined) {
      if (expireNs <= now) return fail("the expiration date is in the past");
      const seconds = Number((expireNs - now + 999_999_999n) / 1_000_000_000n);
      const lease = await this.backend.grant(seconds);
      if (!lease.ok) return lease;
      return this.backend.txn([
        { put: { key: BANNER_VALUE_KEY, value: message, lease: lease.value } },
        {
          put: {
            key: BANNER_EXPIRE_KEY,
            value: formatBannerExpire(expireNs),
            lease: lease.value,
          },
        },
      ]);
    }
    return this.backend.txn([
      { put: { key: BANNER_VALUE_KEY, value: message } },
      { delete: { key: BANNER_EXPIRE_KEY } },
    ]);
  }

  /** Deletes both error-banner keys. */
  forgetBanner(): Promise<Result<void>> {
    return this.backend.txn([
      { delete: { key: BANNER_VALUE_KEY } },
      { delete: { key: BANNER_EXPIRE_KEY } },
    ]);
  }

  /** Deletes the persisted destination(s) of exactly `user@service`. */
  forgetPersisted(user: string, service: string): Promise<Result<number>> {
    return this.backend.remove(historyPrefix(user, service), { prefix: true });
  }

  /**
   * A session's registration (spec §6.3), not written yet: the connection
   * key, with `<ts>` the time of this call, or an error when the names
   * would make a key that reference readers reject. See `Registration`.
   */
  newRegistration(options: RegistrationOptions): Result<Registration> {
    const now = localNow(options.now?.());
    const key = connectionKey({
      user: options.user,
      service: options.service,
      dest: options.dest,
      sshd: options.sshd,
      ts: formatRfc3339Nano(now.ns, now.offsetMinutes),
    });
    if (!key.ok) return key;
    return ok(
      new Registration(this.backend, {
        ...options,
        keyTtl: effectiveKeyTtl(options.keyTtl),
        key: key.value,
      }),
    );
  }

  /**
   * Registers a session: a connection key under a kept-alive lease of
   * `keyTtl` seconds and, when `historyTtl` > 0, the history key under a
   * (reused or new) lease of `historyTtl` seconds, written in one
   * transaction. Resolves after the first attempt: `landed` says whether
   * it succeeded; if not, it is retried in the background until it lands
   * or is closed.
   */
  async register(
    options: RegistrationOptions,
  ): Promise<Result<Registration>> {
    const registration = this.newRegistration(options);
    if (!registration.ok) return registration;
    await registration.value.start();
    return registration;
  }
}

// The connections of user@service in a listing of all of them (the same
// keys as a read of their prefix: parsed names are compared whole). The
// problems of other users' keys are the listing's reader's to report.
function ownConnections(
  every: Result<Listing<Connection>>,
  user: string,
  service: string,
): Result<Listing<Connection>> {
  if (!every.ok) return every;
  return ok({
    items: every.value.items.filter((connection) =>
      connection.user === user && connection.service === service
    ),
    problems: [],
  });
}
