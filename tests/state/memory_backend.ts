// An in-memory etcd for the state layer's unit tests: keys with leases and
// revisions (one per write or transaction, as etcd counts them), lease
// expiry on demand, an outage switch and a hook that can hold any call.
// Real etcd is exercised by the end-to-end tests.
import { fail, ok, type Result } from "../../src/result.ts";
import type {
  EtcdBackend,
  KeyValue,
  TxnOp,
} from "../../src/state/etcd_client.ts";

/** A stored key: value, lease and the revisions etcd reports. */
export interface StoredKey {
  value: string;
  lease: string;
  createRevision: string;
  modRevision: string;
}

/** A fake etcd with call counting. */
export class MemoryEtcd implements EtcdBackend {
  readonly endpoints = "memory://test";
  readonly keys = new Map<string, StoredKey>();
  readonly leases = new Map<string, number>();
  /** While true every call fails as if etcd were unreachable. */
  down = false;
  /** Calls made, by method. */
  readonly calls = new Map<string, number>();
  /**
   * Awaited before each call is answered (after `down` is looked at, as a
   * request in flight when etcd goes away): lets a test hold a call, or
   * fail it with the text returned (e.g. after a timeout's worth of time).
   */
  beforeAnswer?: (method: string) => Promise<string | void>;
  /** etcd's revision: bumped by every put, delete and transaction that changes something. */
  revision = 1;
  #nextLease = 7587871234567890000n;

  #enter(method: string): Result<void> {
    this.calls.set(method, (this.calls.get(method) ?? 0) + 1);
    return this.down ? fail("connection refused") : ok(undefined);
  }

  async #answer<T>(
    method: string,
    answer: () => Result<T>,
  ): Promise<Result<T>> {
    const entered = this.#enter(method);
    if (!entered.ok) return entered;
    const failure = await this.beforeAnswer?.(method);
    return typeof failure === "string" ? fail(failure) : answer();
  }

  /** Seeds a key as another writer (e.g. a reference gateway or etcdctl) would. */
  seed(key: string, value: string, lease = "0"): void {
    this.revision++;
    this.#store(key, value, lease);
  }

  #store(key: string, value: string, lease: string): void {
    const revision = String(this.revision);
    const createRevision = this.keys.get(key)?.createRevision ?? revision;
    this.keys.set(key, { value, lease, createRevision, modRevision: revision });
  }

  /** Makes a lease vanish with its keys, as when its TTL runs out. */
  expire(id: string): void {
    this.leases.delete(id);
    let changed = false;
    for (const [key, entry] of this.keys) {
      if (entry.lease === id) {
        this.keys.delete(key);
        changed = true;
      }
    }
    if (changed) this.revision++;
  }

  #sorted(prefix: string): KeyValue[] {
    return [...this.keys.entries()]
      .filter(([key]) => key.startsWith(prefix))
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([key, entry]) => ({ key, ...entry }));
  }

  get(key: string): Promise<Result<KeyValue | undefined>> {
    return this.#answer("get", () => {
      const entry = this.keys.get(key);
      return ok(entry && { key, ...entry });
    });
  }

  list(
    prefix: string,
    options: { keysOnly?: boolean } = {},
  ): Promise<Result<KeyValue[]>> {
    return this.#answer("list", () =>
      ok(
        this.#sorted(prefix).map((kv) =>
          options.keysOnly ? { ...kv, value: "" } : kv
        ),
      ));
  }

  #put(key: string, value: string, lease = "0"): Result<void> {
    if (lease !== "0" && !this.leases.has(lease)) {
      return fail("requested lease not found");
    }
    this.#store(key, value, lease);
    return ok(undefined);
  }

  #remove(key: string, prefix: boolean): number {
    let count = 0;
    for (const existing of [...this.keys.keys()]) {
      if (prefix ? existing.startsWith(key) : existing === key) {
        this.keys.delete(existing);
        count++;
      }
    }
    return count;
  }

  put(key: string, value: string, lease?: string): Promise<Result<void>> {
    return this.#answer("put", () => {
      if ((lease ?? "0") !== "0" && !this.leases.has(lease!)) {
        return fail("requested lease not found");
      }
      this.revision++;
      return this.#put(key, value, lease);
    });
  }

  remove(
    key: string,
    options: { prefix?: boolean } = {},
  ): Promise<Result<number>> {
    return this.#answer("remove", () => {
      const count = this.#remove(key, options.prefix ?? false);
      if (count > 0) this.revision++;
      return ok(count);
    });
  }

  txn(ops: readonly TxnOp[]): Promise<Result<void>> {
    return this.#answer("txn", () => {
      for (const op of ops) {
        if ("put" in op && (op.put.lease ?? "0") !== "0") {
          if (!this.leases.has(op.put.lease!)) {
            return fail("requested lease not found");
          }
        }
      }
      this.revision++;
      for (const op of ops) {
        if ("put" in op) this.#put(op.put.key, op.put.value, op.put.lease);
        else this.#remove(op.delete.key, op.delete.prefix ?? false);
      }
      return ok(undefined);
    });
  }

  grant(ttl: number): Promise<Result<string>> {
    return this.#answer("grant", () => {
      const id = String(this.#nextLease++);
      this.leases.set(id, ttl);
      return ok(id);
    });
  }

  revoke(id: string): Promise<Result<void>> {
    return this.#answer("revoke", () => {
      this.expire(id);
      return ok(undefined);
    });
  }

  timeToLive(id: string): Promise<Result<number>> {
    return this.#answer("timeToLive", () => ok(this.leases.get(id) ?? -1));
  }

  keepAliveOnce(id: string): Promise<Result<number>> {
    return this.#answer("keepAliveOnce", () => ok(this.leases.get(id) ?? 0));
  }

  close(): void {}
}
