// The etcd keys of the agent's sessions (spec §6.1, §6.3): every connection
// key under ONE lease the agent keeps alive for all its sessions (a
// session's proxy keeps one lease per session), and the history keys of
// `etcd_keyttl` under one lease per user@service, kept alive while a
// session of that user@service lives, reused from etcd when a gateway
// already holds one, as the reference does. Keys and values are the
// reference's: a reference gateway sees no difference.
//
// When etcd stops answering, the keys stay known here and are written
// again (under a fresh lease if the old one expired) as soon as it answers;
// if the agent itself dies, its lease lapses and its keys go within
// `etcd.keyttl`, as a killed proxy's do. The key of a session that ended
// goes at once, or, if etcd did not take the deletion, as soon as it
// answers: under a lease the agent keeps alive, a key it forgot would stay
// for as long as the agent lives (a burst of 200 logins that left etcd
// without answer for seconds left 4 such keys, before this was so).
import { fail, ok, type Result } from "../result.ts";
import type { EtcdBackend, TxnOp } from "../state/etcd_client.ts";
import { historyKey, historyPrefix, parseHistoryKey } from "../state/keys.ts";

/** A history key to keep while a session lives. */
export interface HistoryWish {
  user: string;
  service: string;
  /** The destination to remember. */
  dest: string;
  /** `etcd_keyttl`, seconds. */
  ttl: number;
}

interface Entry {
  value: string;
  /** Written under the current lease. */
  written: boolean;
  history?: string;
  /** Resolved once the key has been written the first time. */
  landed: PromiseWithResolvers<boolean>;
}

interface History {
  user: string;
  service: string;
  dest: string;
  ttl: number;
  lease?: string;
  refs: number;
  written: boolean;
}

/** What happens to the agent's keys, for its log. */
export type KeysEvent =
  | { kind: "lost"; reason: string }
  | { kind: "restored"; lease: string; keys: number }
  | { kind: "warning"; message: string };

/** How the keys are kept. */
export interface AgentKeysOptions {
  /** `etcd.keyttl` (0 means 5), seconds. */
  keyTtl: number;
  onEvent?: (event: KeysEvent) => void;
  /** Delays between attempts while etcd does not answer (default 250 ms doubling up to min(TTL/3, 2 s)). */
  backoff?: { initialMs: number; maxMs: number };
}

// etcd refuses transactions of more than 128 operations by default.
const TXN_CHUNK = 100;

/** The agent's connection and history keys. */
export class AgentKeys {
  readonly #backend: EtcdBackend;
  readonly #options: AgentKeysOptions;
  readonly #ttl: number;
  readonly #entries = new Map<string, Entry>();
  readonly #histories = new Map<string, History>();
  /** Keys of ended sessions that etcd has not deleted yet. */
  readonly #doomed = new Set<string>();
  #lease: string | undefined;
  #granting: Promise<Result<string>> | undefined;
  #healthy = true;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #dueAt = 0;
  #tick: Promise<void> | undefined;
  #delayMs = 0;
  #stopped = false;

  constructor(backend: EtcdBackend, options: AgentKeysOptions) {
    this.#backend = backend;
    this.#options = options;
    this.#ttl = options.keyTtl > 0 ? options.keyTtl : 5;
  }

  /** The connection lease (undefined until granted, or while lost). */
  get lease(): string | undefined {
    return this.#lease;
  }

  /** Connection keys held (written or waiting for etcd). */
  get size(): number {
    return this.#entries.size;
  }

  /** Whether the last exchange with etcd succeeded. */
  get healthy(): boolean {
    return this.#healthy;
  }

  #interval(): number {
    return Math.max(Math.floor((this.#ttl * 1000) / 3), 100);
  }

  async #ensureLease(): Promise<Result<string>> {
    if (this.#lease !== undefined) return ok(this.#lease);
    this.#granting ??= this.#backend.grant(this.#ttl).then((granted) => {
      this.#granting = undefined;
      if (granted.ok) this.#lease = granted.value;
      return granted;
    });
    return await this.#granting;
  }

  // A history lease for user@service: ours, else one a gateway holds in
  // etcd (reused as the reference does), else a new one.
  async #historyOps(history: History): Promise<Result<TxnOp[]>> {
    const ops: TxnOp[] = [];
    if (history.lease === undefined) {
      const existing = await this.#backend.list(
        historyPrefix(history.user, history.service),
        { keysOnly: true },
      );
      if (!existing.ok) return fail(`reading history: ${existing.error}`);
      for (const kv of existing.value) {
        const parts = parseHistoryKey(kv.key);
        if (
          history.lease === undefined && parts.ok && kv.lease !== "0" &&
          kv.lease === parts.value.leaseId
        ) {
          const ttl = await this.#backend.timeToLive(kv.lease);
          if (ttl.ok && ttl.value > 0) {
            history.lease = kv.lease;
            continue;
          }
        }
        ops.push({ delete: { key: kv.key } });
      }
      if (history.lease === undefined) {
        const granted = await this.#backend.grant(history.ttl);
        if (!granted.ok) {
          // Never a history key without lease (spec §12.3 item 26).
          return fail(
            `no history lease, destination not persisted: ${granted.error}`,
          );
        }
        history.lease = granted.value;
      }
    }
    ops.unshift({
      put: {
        key: historyKey(history.user, history.service, history.lease),
        value: history.dest,
        lease: history.lease,
      },
    });
    return ok(ops);
  }

  /**
   * Writes a session's connection key (and its history key), now. When
   * etcd does not take it, the key is kept and written as soon as etcd
   * answers; the error says why it is not there yet.
   */
  async add(
    key: string,
    value: string,
    wish?: HistoryWish,
    /** Written in the same transaction (the host states its decision probed). */
    alongside: readonly TxnOp[] = [],
  ): Promise<Result<void>> {
    if (this.#entries.has(key)) return fail(`${key} is already registered`);
    this.#doomed.delete(key);
    let history: History | undefined;
    let historyName: string | undefined;
    if (wish !== undefined && wish.ttl > 0) {
      historyName = `${wish.user}@${wish.service}`;
      history = this.#histories.get(historyName);
      if (history === undefined) {
        history = { ...wish, refs: 0, written: false };
        this.#histories.set(historyName, history);
      }
      history.refs++;
      // The reference keeps the latest destination.
      if (history.dest !== wish.dest) {
        history.dest = wish.dest;
        history.written = false;
      }
    }
    const entry: Entry = {
      value,
      written: false,
      history: historyName,
      landed: Promise.withResolvers<boolean>(),
    };
    this.#entries.set(key, entry);
    this.#schedule(this.#interval());
    const lease = await this.#ensureLease();
    if (!lease.ok) {
      this.#lost(`granting a lease: ${lease.error}`);
      return fail(`granting a lease: ${lease.error}`);
    }
    const ops: TxnOp[] = [
      ...alongside,
      { put: { key, value, lease: lease.value } },
    ];
    const own = ops.length;
    if (history !== undefined && !history.written) {
      const more = await this.#historyOps(history);
      if (more.ok) ops.push(...more.value);
      else this.#options.onEvent?.({ kind: "warning", message: more.error });
    }
    const written = await this.#backend.txn(ops);
    if (!written.ok) {
      this.#lost(written.error);
      return fail(`writing the connection: ${written.error}`);
    }
    if (this.#entries.get(key) === entry && this.#lease === lease.value) {
      entry.written = true;
      entry.landed.resolve(true);
    } else if (!this.#entries.has(key)) {
      // The session ended while its key was being written.
      await this.#delete([key]);
    }
    if (history !== undefined && ops.length > own) history.written = true;
    return ok(undefined);
  }

  /**
   * Takes over the keys of the agent that ran before (restart): kept under
   * `lease` if it is still alive, else written again under a new one; the
   * keys in `gone` (sessions that ended meanwhile) are deleted.
   */
  async adopt(
    lease: string | undefined,
    keys: readonly { key: string; value: string; history?: HistoryWish }[],
    gone: readonly string[],
  ): Promise<void> {
    let alive = false;
    if (lease !== undefined) {
      const renewed = await this.#backend.keepAliveOnce(lease);
      alive = renewed.ok && renewed.value > 0;
    }
    if (alive) this.#lease = lease;
    for (const { key, value, history } of keys) {
      let historyName: string | undefined;
      if (history !== undefined && history.ttl > 0) {
        historyName = `${history.user}@${history.service}`;
        const known = this.#histories.get(historyName);
        if (known) known.refs++;
        else {
          this.#histories.set(historyName, {
            ...history,
            refs: 1,
            written: false,
          });
        }
      }
      const landed = Promise.withResolvers<boolean>();
      if (alive) landed.resolve(true);
      this.#entries.set(key, {
        value,
        written: alive,
        history: historyName,
        landed,
      });
    }
    for (const key of gone) {
      if (alive) await this.#backend.remove(key);
    }
    if (this.#entries.size > 0 || this.#histories.size > 0) this.#schedule(0);
  }

  /** Resolves true once `key` is in etcd, false if removed or `timeoutMs` passes first. */
  async whenWritten(key: string, timeoutMs: number): Promise<boolean> {
    const entry = this.#entries.get(key);
    if (entry === undefined) return false;
    if (entry.written) return true;
    let timer: ReturnType<typeof setTimeout> | undefined;
    try {
      return await Promise.race([
        entry.landed.promise,
        new Promise<boolean>((resolve) => {
          timer = setTimeout(() => resolve(false), timeoutMs);
        }),
      ]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Puts a new value on a session's key (its bandwidth). */
  async update(key: string, value: string): Promise<Result<void>> {
    const entry = this.#entries.get(key);
    if (entry === undefined) return fail(`${key} is not registered`);
    entry.value = value;
    if (!entry.written || this.#lease === undefined) {
      return fail("not in etcd yet");
    }
    const put = await this.#backend.put(key, value, this.#lease);
    if (!put.ok) this.#lost(put.error);
    return put;
  }

  /** Deletes a session's key at once; its history key stays for etcd_keyttl. */
  async remove(key: string): Promise<Result<void>> {
    const entry = this.#entries.get(key);
    if (entry === undefined) return ok(undefined);
    this.#entries.delete(key);
    entry.landed.resolve(false);
    if (entry.history !== undefined) {
      const history = this.#histories.get(entry.history);
      if (history !== undefined && --history.refs <= 0) {
        // No renewal from now on: it lapses etcd_keyttl after this session.
        this.#histories.delete(entry.history);
      }
    }
    return await this.#delete([key]);
  }

  // Deletes keys of ended sessions; those etcd does not take are kept and
  // deleted as soon as it answers.
  async #delete(keys: readonly string[]): Promise<Result<void>> {
    for (const key of keys) this.#doomed.add(key);
    const removed = await this.#deleteDoomed(keys);
    if (!removed.ok) this.#lost(removed.error);
    return removed;
  }

  async #deleteDoomed(keys: readonly string[]): Promise<Result<void>> {
    for (let i = 0; i < keys.length; i += TXN_CHUNK) {
      const chunk = keys.slice(i, i + TXN_CHUNK);
      const removed = chunk.length === 1
        ? await this.#backend.remove(chunk[0])
        : await this.#backend.txn(chunk.map((key) => ({ delete: { key } })));
      if (!removed.ok) return fail(removed.error);
      for (const key of chunk) this.#doomed.delete(key);
    }
    return ok(undefined);
  }

  #lost(reason: string): void {
    if (this.#healthy) {
      this.#healthy = false;
      this.#options.onEvent?.({ kind: "lost", reason });
    }
    const backoff = this.#options.backoff ??
      { initialMs: 250, maxMs: Math.min(this.#interval(), 2000) };
    this.#delayMs = this.#delayMs === 0
      ? backoff.initialMs
      : Math.min(this.#delayMs * 2, backoff.maxMs);
    this.#schedule(this.#delayMs);
  }

  #schedule(ms: number): void {
    if (this.#stopped) return;
    const dueAt = Date.now() + ms;
    // An earlier tick wins: it is the one the lease needs.
    if (this.#timer !== undefined && this.#dueAt <= dueAt) return;
    clearTimeout(this.#timer);
    this.#dueAt = dueAt;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#tick ??= this.#keep().finally(() => {
        this.#tick = undefined;
      });
    }, ms);
  }

  // Renews the leases, and writes what etcd does not hold (yet or again).
  async #keep(): Promise<void> {
    if (
      this.#entries.size === 0 && this.#histories.size === 0 &&
      this.#lease === undefined && this.#doomed.size === 0
    ) {
      this.#healthy = true;
      this.#delayMs = 0;
      return;
    }
    // The lease is kept alive even while no session uses it: the next login
    // then writes its key at once, without granting one first.
    const wasHealthy = this.#healthy;
    if (this.#lease !== undefined) {
      const renewed = await this.#backend.keepAliveOnce(this.#lease);
      if (!renewed.ok) return this.#lost(renewed.error);
      if (renewed.value <= 0) {
        // Expired (etcd away longer than the TTL): its keys are gone.
        this.#lease = undefined;
        for (const entry of this.#entries.values()) entry.written = false;
        this.#doomed.clear();
      }
    }
    if (this.#doomed.size > 0) {
      const removed = await this.#deleteDoomed([...this.#doomed]);
      if (!removed.ok) return this.#lost(removed.error);
    }
    for (const history of this.#histories.values()) {
      if (history.lease === undefined) continue;
      const renewed = await this.#backend.keepAliveOnce(history.lease);
      if (!renewed.ok) return this.#lost(renewed.error);
      if (renewed.value <= 0) {
        history.lease = undefined;
        history.written = false;
      }
    }
    const pending = [...this.#entries].filter(([, entry]) => !entry.written);
    if (pending.length > 0) {
      const lease = await this.#ensureLease();
      if (!lease.ok) return this.#lost(`granting a lease: ${lease.error}`);
      for (let i = 0; i < pending.length; i += TXN_CHUNK) {
        const chunk = pending.slice(i, i + TXN_CHUNK);
        const written = await this.#backend.txn(
          chunk.map(([key, entry]) => ({
            put: { key, value: entry.value, lease: lease.value },
          })),
        );
        if (!written.ok) return this.#lost(written.error);
        const ended: string[] = [];
        for (const [key, entry] of chunk) {
          if (this.#entries.get(key) !== entry) ended.push(key);
          else {
            entry.written = true;
            entry.landed.resolve(true);
          }
        }
        // Sessions that ended while their keys were being written again.
        if (ended.length > 0) {
          const removed = await this.#delete(ended);
          if (!removed.ok) return;
        }
      }
    }
    for (const history of this.#histories.values()) {
      if (history.written) continue;
      const ops = await this.#historyOps(history);
      if (!ops.ok) {
        this.#options.onEvent?.({ kind: "warning", message: ops.error });
        continue;
      }
      const written = await this.#backend.txn(ops.value);
      if (!written.ok) return this.#lost(written.error);
      history.written = true;
    }
    this.#healthy = true;
    this.#delayMs = 0;
    if (!wasHealthy && this.#lease !== undefined) {
      this.#options.onEvent?.({
        kind: "restored",
        lease: this.#lease,
        keys: this.#entries.size,
      });
    }
    this.#schedule(this.#interval());
  }

  /** Stops renewing (the keys lapse with the lease unless another agent takes it over). */
  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    await this.#tick;
  }
}
