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
import type { EtcdBackend, OpenOptions, TxnOp } from "./etcd_client.ts";
import {
  BANNER_EXPIRE_KEY,
  BANNER_VALUE_KEY,
  connectionKey,
  connectionPrefix,
  CONNECTIONS_PREFIX,
  historyKey,
  historyPrefix,
  hostKey,
  HOSTS_PREFIX,
  parseConnectionKey,
  parseHistoryKey,
  parseHostKey,
} from "./keys.ts";
import {
  type ConnectionStats,
  decodeConnectionValue,
  decodeHostValue,
  encodeConnectionValue,
  encodeHostValue,
  type HostState,
} from "./values.ts";

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

  /** Connects (loading the etcd client only now) and checks that etcd answers. */
  static async open(
    settings: EtcdSettings,
    options: OpenOptions = {},
  ): Promise<Result<StateStore>> {
    const { openEtcd } = await import("./etcd_client.ts");
    const backend = await openEtcd(settings, options);
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
      const parts = parseConnectionKey(kv.key);
      if (!parts.ok) {
        problems.push({ key: kv.key, reason: parts.error, skipped: true });
        continue;
      }
      const stats = decodeConnectionValue(kv.value);
      if (!stats.ok) {
        problems.push({ key: kv.key, reason: stats.error, skipped: true });
        continue;
      }
      items.push({
        key: kv.key,
        user: parts.value.user,
        service: parts.value.service,
        from: parts.value.sshd,
        dest: parts.value.dest,
        ts: parts.value.ts,
        bwIn: stats.value.bwIn,
        bwOut: stats.value.bwOut,
      });
    }
    return ok({ items, problems });
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
   * Live connections of a user across services and gateways, for
   * `max_connections_per_user` (malformed keys are not counted).
   */
  async countUserConnections(user: string): Promise<Result<Listing<string>>> {
    const listed = await this.backend.list(connectionPrefix(user), {
      keysOnly: true,
    });
    if (!listed.ok) return listed;
    const items: string[] = [];
    const problems: Problem[] = [];
    for (const kv of listed.value) {
      const parts = parseConnectionKey(kv.key);
      if (parts.ok && parts.value.user === user) items.push(kv.key);
      else if (!parts.ok) {
        problems.push({ key: kv.key, reason: parts.error, skipped: true });
      }
    }
    return ok({ items, problems });
  }

  /**
   * Where `user@service` is already connected (its most recent live
   * connection), else, with `useHistory`, its persisted destination.
   */
  async stickyDestination(
    user: string,
    service: string,
    options: { useHistory: boolean },
  ): Promise<
    Result<
      { dest?: string; from?: "connection" | "history"; problems: Problem[] }
    >
  > {
    const live = await this.connections({ user, service });
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
   * Registers a session (spec §6.3): a connection key under a kept-alive
   * lease of `keyTtl` seconds and, when `historyTtl` > 0, the history key
   * under a (reused or new) lease of `historyTtl` seconds, written in one
   * transaction. See `Registration` for what happens afterwards.
   */
  async register(
    options: RegistrationOptions,
  ): Promise<Result<Registration>> {
    const keyTtl = effectiveKeyTtl(options.keyTtl);
    const now = localNow(options.now?.());
    const key = connectionKey({
      user: options.user,
      service: options.service,
      dest: options.dest,
      sshd: options.sshd,
      ts: formatRfc3339Nano(now.ns, now.offsetMinutes),
    });
    if (!key.ok) return key;
    const warnings: string[] = [];
    let historyLease: string | undefined;
    const stale: string[] = [];
    if (options.historyTtl > 0) {
      const existing = await this.backend.list(
        historyPrefix(options.user, options.service),
        { keysOnly: true },
      );
      if (!existing.ok) return fail(`reading history: ${existing.error}`);
      for (const kv of existing.value) {
        const parts = parseHistoryKey(kv.key);
        if (
          historyLease === undefined && parts.ok && kv.lease !== "0" &&
          kv.lease === parts.value.leaseId
        ) {
          const ttl = await this.backend.timeToLive(kv.lease);
          if (ttl.ok && ttl.value > 0) {
            historyLease = kv.lease;
            continue;
          }
        }
        stale.push(kv.key);
      }
      if (historyLease === undefined) {
        const granted = await this.backend.grant(options.historyTtl);
        if (granted.ok) historyLease = granted.value;
        else {
          // Never a history key without lease (spec §12.3 item 26).
          warnings.push(
            `no history lease, destination not persisted: ${granted.error}`,
          );
        }
      }
    }
    const lease = await this.backend.grant(keyTtl);
    if (!lease.ok) return fail(`granting a lease: ${lease.error}`);
    const stats: ConnectionStats = { bwIn: 0, bwOut: 0 };
    const ops: TxnOp[] = [
      {
        put: {
          key: key.value,
          value: encodeConnectionValue(stats),
          lease: lease.value,
        },
      },
    ];
    if (historyLease !== undefined) {
      ops.push({
        put: {
          key: historyKey(options.user, options.service, historyLease),
          value: options.dest,
          lease: historyLease,
        },
      });
      for (const old of stale) ops.push({ delete: { key: old } });
    }
    const written = await this.backend.txn(ops);
    if (!written.ok) {
      await this.backend.revoke(lease.value);
      return fail(`writing the connection: ${written.error}`);
    }
    const registration = new Registration(this.backend, {
      ...options,
      keyTtl,
      key: key.value,
      lease: lease.value,
      historyLease,
      warnings,
    });
    registration.start();
    return ok(registration);
  }
}

/** What `register` needs. */
export interface RegistrationOptions {
  user: string;
  service: string;
  /** Chosen destination, `host:port`. */
  dest: string;
  /** The gateway's sshd listening address, `host:port`. */
  sshd: string;
  /** `etcd.keyttl` (0 means 5). */
  keyTtl: number;
  /** `etcd_keyttl`: seconds a destination stays persisted; 0 = none. */
  historyTtl: number;
  /** Clock (ns since the epoch), for tests. */
  now?: () => bigint;
  /** Told when the registration is lost and restored, for the log. */
  onEvent?: (event: RegistrationEvent) => void;
  /** Delays between recovery attempts (default 250 ms doubling up to min(TTL/3, 2 s)). */
  backoff?: { initialMs: number; maxMs: number };
}

/** What happens to a registration while its session lives. */
export type RegistrationEvent =
  | { kind: "lost"; reason: string }
  | { kind: "restored"; key: string; lease: string }
  | { kind: "retry-failed"; reason: string; nextMs: number };

/**
 * A registered session. Its leases are renewed every TTL/3. When renewal
 * fails (etcd unreachable) it is "inactive" and retried with a growing
 * delay (never a tight loop); as soon as etcd answers again the connection
 * key is written again, under a fresh lease if the old one expired, and the
 * history key likewise. `close()` at session end deletes the connection key
 * at once (the reference lets it linger one TTL, spec §12.3 item 28); the
 * history key stays for `etcd_keyttl` as designed.
 */
export class Registration {
  readonly #backend: EtcdBackend;
  readonly #options:
    & RegistrationOptions
    & { key: string; lease: string; historyLease?: string };
  #lease: string;
  #historyLease: string | undefined;
  #stats: ConnectionStats = { bwIn: 0, bwOut: 0 };
  #active = true;
  #closed = false;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #tick: Promise<void> | undefined;
  #delayMs = 0;
  /** Problems met at registration (e.g. history not persisted). */
  readonly warnings: readonly string[];

  constructor(
    backend: EtcdBackend,
    options:
      & RegistrationOptions
      & {
        key: string;
        lease: string;
        historyLease?: string;
        warnings: string[];
      },
  ) {
    this.#backend = backend;
    this.#options = options;
    this.#lease = options.lease;
    this.#historyLease = options.historyLease;
    this.warnings = options.warnings;
  }

  /** The connection key. */
  get key(): string {
    return this.#options.key;
  }

  /** The current connection lease ID. */
  get lease(): string {
    return this.#lease;
  }

  /** The history key, when the destination is persisted. */
  get historyKey(): string | undefined {
    return this.#historyLease === undefined ? undefined : historyKey(
      this.#options.user,
      this.#options.service,
      this.#historyLease,
    );
  }

  /** False while etcd cannot be reached (reads and writes should be skipped). */
  get active(): boolean {
    return this.#active;
  }

  #interval(): number {
    return Math.max(Math.floor((this.#options.keyTtl * 1000) / 3), 100);
  }

  #backoff(): { initialMs: number; maxMs: number } {
    return this.#options.backoff ??
      { initialMs: 250, maxMs: Math.min(this.#interval(), 2000) };
  }

  /** Starts renewing the leases (called by register). */
  start(): void {
    this.#schedule(this.#interval());
  }

  #schedule(ms: number): void {
    if (this.#closed) return;
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#tick = this.#renew().finally(() => {
        this.#tick = undefined;
      });
    }, ms);
  }

  #fail(reason: string): void {
    if (this.#active) {
      this.#active = false;
      this.#options.onEvent?.({ kind: "lost", reason });
    }
    const backoff = this.#backoff();
    this.#delayMs = this.#delayMs === 0
      ? backoff.initialMs
      : Math.min(this.#delayMs * 2, backoff.maxMs);
    if (!this.#closed) {
      this.#options.onEvent?.({
        kind: "retry-failed",
        reason,
        nextMs: this.#delayMs,
      });
    }
    this.#schedule(this.#delayMs);
  }

  async #renew(): Promise<void> {
    if (this.#closed) return;
    const renewed = await this.#backend.keepAliveOnce(this.#lease);
    if (this.#closed) return;
    if (!renewed.ok) return this.#fail(renewed.error);
    let rewrite = !this.#active;
    if (renewed.value <= 0) {
      // The lease expired (etcd was away longer than the TTL): a new one.
      const granted = await this.#backend.grant(this.#options.keyTtl);
      if (this.#closed) {
        if (granted.ok) await this.#backend.revoke(granted.value);
        return;
      }
      if (!granted.ok) {
        return this.#fail(`getting a new lease: ${granted.error}`);
      }
      this.#lease = granted.value;
      rewrite = true;
    }
    if (this.#historyLease !== undefined) {
      const history = await this.#backend.keepAliveOnce(this.#historyLease);
      if (!history.ok) return this.#fail(history.error);
      if (history.value <= 0) {
        const granted = await this.#backend.grant(this.#options.historyTtl);
        if (!granted.ok) {
          return this.#fail(`getting a new history lease: ${granted.error}`);
        }
        const old = this.historyKey!;
        this.#historyLease = granted.value;
        const moved = await this.#backend.txn([
          { delete: { key: old } },
          {
            put: {
              key: this.historyKey!,
              value: this.#options.dest,
              lease: granted.value,
            },
          },
        ]);
        if (!moved.ok) return this.#fail(moved.error);
      }
    }
    if (rewrite) {
      const put = await this.#backend.put(
        this.key,
        encodeConnectionValue(this.#stats),
        this.#lease,
      );
      if (this.#closed) return;
      if (!put.ok) return this.#fail(put.error);
      this.#options.onEvent?.({
        kind: "restored",
        key: this.key,
        lease: this.#lease,
      });
    }
    this.#active = true;
    this.#delayMs = 0;
    this.#schedule(this.#interval());
  }

  /**
   * Publishes the session's bandwidth (integer kB/s). A failure makes the
   * registration inactive and starts recovery at once.
   */
  async updateStats(stats: ConnectionStats): Promise<Result<void>> {
    this.#stats = { ...stats };
    if (this.#closed) return fail("registration closed");
    const put = await this.#backend.put(
      this.key,
      encodeConnectionValue(this.#stats),
      this.#lease,
    );
    if (!put.ok && !this.#closed) {
      if (this.#tick === undefined) this.#fail(put.error);
      return put;
    }
    return ok(undefined);
  }

  /** Stops renewing and removes the connection key now; the history key stays. */
  async close(): Promise<Result<void>> {
    if (this.#closed) return ok(undefined);
    this.#closed = true;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    await this.#tick;
    const revoked = await this.#backend.revoke(this.#lease);
    if (revoked.ok) return ok(undefined);
    const removed = await this.#backend.remove(this.key);
    return removed.ok ? ok(undefined) : removed;
  }
}
