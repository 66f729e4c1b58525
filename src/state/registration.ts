// A session's registration in etcd (spec §6.3) for as long as the session
// lives: the connection key under a kept-alive lease and, with
// `etcd_keyttl`, the history key. Registering is retried until it lands,
// so a login that met a busy or absent etcd still shows up for
// stickiness, `max_connections_per_user` and `show connections` as soon as
// etcd answers (the reference gives up after one try, spec §6.3).
import { fail, ok, type Result } from "../result.ts";
import { type Deadline, deadline } from "../system/timers.ts";
import type { EtcdBackend, TxnOp } from "./etcd_client.ts";
import { historyKey, historyPrefix, parseHistoryKey } from "./keys.ts";
import { type ConnectionStats, encodeConnectionValue } from "./values.ts";

/** What a registration needs. */
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
  /** Told when the registration lands, is deferred, lost or restored, for the log. */
  onEvent?: (event: RegistrationEvent) => void;
  /** Delays between attempts (default 250 ms doubling up to min(TTL/3, 2 s)). */
  backoff?: Backoff;
  /** Source of the jitter in [0, 1) (default Math.random), for tests. */
  random?: () => number;
}

/** Growing delays between attempts: `initialMs`, doubled at each failure up to `maxMs`. */
export interface Backoff {
  initialMs: number;
  maxMs: number;
}

/**
 * What happens to a registration while its session lives. `nextMs` is the
 * nominal delay before the next attempt (the actual wait is drawn between
 * half of it and all of it, so that sessions of a burst do not retry in
 * step); it only grows until etcd answers.
 */
export type RegistrationEvent =
  | {
    kind: "landed";
    key: string;
    lease: string;
    /** Attempts it took (1: at once). */
    attempts: number;
    /** Problems that did not prevent it (e.g. history not persisted). */
    warnings: readonly string[];
  }
  | { kind: "deferred"; reason: string; nextMs: number }
  | { kind: "lost"; reason: string }
  | { kind: "restored"; key: string; lease: string }
  | { kind: "retry-failed"; reason: string; nextMs: number };

/** The nominal delay after `previousMs` (0: the first failure). */
export function nextDelay(previousMs: number, backoff: Backoff): number {
  return previousMs === 0
    ? backoff.initialMs
    : Math.min(previousMs * 2, backoff.maxMs);
}

/**
 * A session's registration. Until it lands it is "pending" and retried
 * with a growing delay (never a tight loop); once landed its leases are
 * renewed every TTL/3. When renewal fails (etcd unreachable) it is
 * "inactive" and retried likewise; as soon as etcd answers again the
 * connection key is written again, under a fresh lease if the old one
 * expired, and the history key likewise. `close()` at session end deletes
 * the connection key at once (the reference lets it linger one TTL, spec
 * §12.3 item 28), also when an attempt that was under way lands after the
 * session ended; the history key stays for `etcd_keyttl` as designed.
 */
export class Registration {
  readonly #backend: EtcdBackend;
  readonly #options: RegistrationOptions & { key: string };
  #lease: string | undefined;
  #historyLease: string | undefined;
  #stats: ConnectionStats = { bwIn: 0, bwOut: 0 };
  #landed = false;
  #active = false;
  #closed = false;
  #attempts = 0;
  // The runtime's own timers: the global setTimeout would start Deno's
  // Node-compatibility layer in every session registered in etcd.
  #timer: Deadline | undefined;
  #tick: Promise<void> | undefined;
  #delayMs = 0;
  #warnings: readonly string[] = [];
  #settle: (landed: boolean) => void = () => {};
  readonly #landing: Promise<boolean>;

  /** A registration of `key` (from connectionKey); nothing is written before start(). */
  constructor(
    backend: EtcdBackend,
    options: RegistrationOptions & { key: string },
  ) {
    this.#backend = backend;
    this.#options = options;
    this.#landing = new Promise((resolve) => {
      this.#settle = resolve;
    });
  }

  /** The connection key. */
  get key(): string {
    return this.#options.key;
  }

  /** The current connection lease ID (undefined until landed). */
  get lease(): string | undefined {
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

  /** True once the connection key has been written (it may be lost since). */
  get landed(): boolean {
    return this.#landed;
  }

  /** True while the connection key is believed to be in etcd. */
  get active(): boolean {
    return this.#active;
  }

  /** Problems met when it landed (e.g. history not persisted). */
  get warnings(): readonly string[] {
    return this.#warnings;
  }

  #interval(): number {
    return Math.max(Math.floor((this.#options.keyTtl * 1000) / 3), 100);
  }

  #backoff(): Backoff {
    return this.#options.backoff ??
      { initialMs: 250, maxMs: Math.min(this.#interval(), 2000) };
  }

  /**
   * Makes the first attempt now; if it fails, later ones follow in the
   * background until it lands or close(). Resolves when the first attempt
   * is over (see `landed`).
   */
  start(): Promise<void> {
    if (this.#attempts > 0 || this.#closed) {
      return this.#tick ?? Promise.resolve();
    }
    return this.#run();
  }

  /** Resolves true once landed, false if closed or `timeoutMs` passes first. */
  async whenLanded(timeoutMs: number): Promise<boolean> {
    if (this.#landed) return true;
    if (this.#closed) return false;
    const timer = deadline(timeoutMs);
    try {
      return await Promise.race([
        this.#landing,
        timer.expired.then(() => false),
      ]);
    } finally {
      timer.cancel();
    }
  }

  #run(): Promise<void> {
    this.#tick = (this.#landed ? this.#renew() : this.#land()).finally(() => {
      this.#tick = undefined;
    });
    return this.#tick;
  }

  #schedule(ms: number): void {
    if (this.#closed) return;
    this.#timer?.cancel();
    const timer = deadline(ms);
    this.#timer = timer;
    timer.expired.then(() => {
      if (this.#timer === timer) this.#timer = undefined;
      this.#run();
    });
  }

  // Schedules the next attempt after a failure, with a growing delay.
  #retry(reason: string, kind: "deferred" | "retry-failed"): void {
    this.#delayMs = nextDelay(this.#delayMs, this.#backoff());
    if (this.#closed) return;
    this.#options.onEvent?.({ kind, reason, nextMs: this.#delayMs });
    const jitter = 0.5 + 0.5 * (this.#options.random ?? Math.random)();
    this.#schedule(Math.max(1, Math.round(this.#delayMs * jitter)));
  }

  // One attempt to write the keys for the first time.
  async #land(): Promise<void> {
    this.#attempts++;
    const written = await this.#write();
    if (!written.ok) {
      return this.#retry(
        written.error,
        this.#attempts === 1 ? "deferred" : "retry-failed",
      );
    }
    this.#landed = true;
    this.#active = true;
    this.#delayMs = 0;
    this.#settle(true);
    if (this.#closed) return; // close() is waiting to delete it
    this.#options.onEvent?.({
      kind: "landed",
      key: this.key,
      lease: this.#lease!,
      attempts: this.#attempts,
      warnings: this.#warnings,
    });
    this.#schedule(this.#interval());
  }

  // The connection key under a new lease and, with etcd_keyttl, the history
  // key under a reused or new lease, in one transaction.
  async #write(): Promise<Result<void>> {
    const { user, service, dest, historyTtl } = this.#options;
    const warnings: string[] = [];
    let historyLease: string | undefined;
    const stale: string[] = [];
    if (historyTtl > 0) {
      const existing = await this.#backend.list(
        historyPrefix(user, service),
        { keysOnly: true },
      );
      if (!existing.ok) return fail(`reading history: ${existing.error}`);
      for (const kv of existing.value) {
        const parts = parseHistoryKey(kv.key);
        if (
          historyLease === undefined && parts.ok && kv.lease !== "0" &&
          kv.lease === parts.value.leaseId
        ) {
          const ttl = await this.#backend.timeToLive(kv.lease);
          if (ttl.ok && ttl.value > 0) {
            historyLease = kv.lease;
            continue;
          }
        }
        stale.push(kv.key);
      }
      if (historyLease === undefined) {
        const granted = await this.#backend.grant(historyTtl);
        if (granted.ok) historyLease = granted.value;
        else {
          // Never a history key without lease (spec §12.3 item 26).
          warnings.push(
            `no history lease, destination not persisted: ${granted.error}`,
          );
        }
      }
    }
    if (this.#closed) return fail("the session ended");
    const lease = await this.#backend.grant(this.#options.keyTtl);
    if (!lease.ok) return fail(`granting a lease: ${lease.error}`);
    if (this.#closed) {
      await this.#backend.revoke(lease.value);
      return fail("the session ended");
    }
    const ops: TxnOp[] = [
      {
        put: {
          key: this.key,
          value: encodeConnectionValue(this.#stats),
          lease: lease.value,
        },
      },
    ];
    if (historyLease !== undefined) {
      ops.push({
        put: {
          key: historyKey(user, service, historyLease),
          value: dest,
          lease: historyLease,
        },
      });
      for (const old of stale) ops.push({ delete: { key: old } });
    }
    const written = await this.#backend.txn(ops);
    if (!written.ok) {
      // It may have been applied all the same (an answer lost on the way).
      await this.#backend.revoke(lease.value);
      return fail(`writing the connection: ${written.error}`);
    }
    this.#lease = lease.value;
    this.#historyLease = historyLease;
    this.#warnings = warnings;
    return ok(undefined);
  }

  #fail(reason: string): void {
    if (this.#active) {
      this.#active = false;
      if (!this.#closed) this.#options.onEvent?.({ kind: "lost", reason });
    }
    this.#retry(reason, "retry-failed");
  }

  async #renew(): Promise<void> {
    if (this.#closed) return;
    const renewed = await this.#backend.keepAliveOnce(this.#lease!);
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
        lease: this.#lease!,
      });
    }
    this.#active = true;
    this.#delayMs = 0;
    this.#schedule(this.#interval());
  }

  /**
   * Publishes the session's bandwidth (integer kB/s). Before the key has
   * landed the figures are kept for it; a failure makes the registration
   * inactive and starts recovery at once.
   */
  async updateStats(stats: ConnectionStats): Promise<Result<void>> {
    this.#stats = { ...stats };
    if (this.#closed) return fail("registration closed");
    if (!this.#landed) return fail("not registered yet");
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

  /**
   * Stops retrying and renewing and removes the connection key, once an
   * attempt under way is over (one that lands meanwhile is removed too);
   * the history key stays.
   */
  async close(): Promise<Result<void>> {
    if (this.#closed) return ok(undefined);
    this.#closed = true;
    this.#settle(false);
    this.#timer?.cancel();
    this.#timer = undefined;
    await this.#tick;
    if (this.#lease === undefined) return ok(undefined);
    const revoked = await this.#backend.revoke(this.#lease);
    if (revoked.ok) return ok(undefined);
    const removed = await this.#backend.remove(this.key);
    return removed.ok ? ok(undefined) : removed;
  }
}
