// An in-memory etcd for the state layer's unit tests: keys with leases,
// lease expiry on demand, and an outage switch. Real etcd is exercised by
// the end-to-end tests.
import { fail, ok, type Result } from "../../src/result.ts";
import type {
  EtcdBackend,
  KeyValue,
  TxnOp,
} from "../../src/state/etcd_client.ts";

/** A fake etcd with call counting. */
export class MemoryEtcd implements EtcdBackend {
  readonly endpoints = "memory://test";
  readonly keys = new Map<string, { value: string; lease: string }>();
  readonly leases = new Map<string, number>();
  /** While true every call fails as if etcd were unreachable. */
  down = false;
  /** Calls made, by method. */
  readonly calls = new Map<string, number>();
  #nextLease = 7587871234567890000n;

  #enter(method: string): Result<void> {
    this.calls.set(method, (this.calls.get(method) ?? 0) + 1);
    return this.down ? fail("connection refused") : ok(undefined);
  }

  /** Seeds a key as another writer (e.g. a reference gateway or etcdctl) would. */
  seed(key: string, value: string, lease = "0"): void {
    this.keys.set(key, { value, lease });
  }

  /** Makes a lease vanish with its keys, as when its TTL runs out. */
  expire(id: string): void {
    this.leases.delete(id);
    for (const [key, entry] of this.keys) {
      if (entry.lease === id) this.keys.delete(key);
    }
  }

  #sorted(prefix: string): KeyValue[] {
    return [...this.keys.entries()]
      .filter(([key]) => key.startsWith(prefix))
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([key, entry]) => ({ key, ...entry }));
  }

  get(key: string): Promise<Result<KeyValue | undefined>> {
    const entered = this.#enter("get");
    if (!entered.ok) return Promise.resolve(entered);
    const entry = this.keys.get(key);
    return Promise.resolve(ok(entry && { key, ...entry }));
  }

  list(
    prefix: string,
    options: { keysOnly?: boolean } = {},
  ): Promise<Result<KeyValue[]>> {
    const entered = this.#enter("list");
    if (!entered.ok) return Promise.resolve(entered);
    const items = this.#sorted(prefix).map((kv) =>
      options.keysOnly ? { ...kv, value: "" } : kv
    );
    return Promise.resolve(ok(items));
  }

  #put(key: string, value: string, lease = "0"): Result<void> {
    if (lease !== "0" && !this.leases.has(lease)) {
      return fail("requested lease not found");
    }
    this.keys.set(key, { value, lease });
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
    const entered = this.#enter("put");
    if (!entered.ok) return Promise.resolve(entered);
    return Promise.resolve(this.#put(key, value, lease));
  }

  remove(
    key: string,
    options: { prefix?: boolean } = {},
  ): Promise<Result<number>> {
    const entered = this.#enter("remove");
    if (!entered.ok) return Promise.resolve(entered);
    return Promise.resolve(ok(this.#remove(key, options.prefix ?? false)));
  }

  txn(ops: readonly TxnOp[]): Promise<Result<void>> {
    const entered = this.#enter("txn");
    if (!entered.ok) return Promise.resolve(entered);
    for (const op of ops) {
      if ("put" in op && (op.put.lease ?? "0") !== "0") {
        if (!this.leases.has(op.put.lease!)) {
          return Promise.resolve(fail("requested lease not found"));
        }
      }
    }
    for (const op of ops) {
      if ("put" in op) this.#put(op.put.key, op.put.value, op.put.lease);
      else this.#remove(op.delete.key, op.delete.prefix ?? false);
    }
    return Promise.resolve(ok(undefined));
  }

  grant(ttl: number): Promise<Result<string>> {
    const entered = this.#enter("grant");
    if (!entered.ok) return Promise.resolve(entered);
    const id = String(this.#nextLease++);
    this.leases.set(id, ttl);
    return Promise.resolve(ok(id));
  }

  revoke(id: string): Promise<Result<void>> {
    const entered = this.#enter("revoke");
    if (!entered.ok) return Promise.resolve(entered);
    this.expire(id);
    return Promise.resolve(ok(undefined));
  }

  timeToLive(id: string): Promise<Result<number>> {
    const entered = this.#enter("timeToLive");
    if (!entered.ok) return Promise.resolve(entered);
    return Promise.resolve(ok(this.leases.get(id) ?? -1));
  }

  keepAliveOnce(id: string): Promise<Result<number>> {
    const entered = this.#enter("keepAliveOnce");
    if (!entered.ok) return Promise.resolve(entered);
    return Promise.resolve(ok(this.leases.get(id) ?? 0));
  }

  close(): void {}
}
