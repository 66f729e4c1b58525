// The agent's copy of /sshproxy/ in memory (pure): loaded from a snapshot,
// kept by the watch's events, read as etcd would answer (keys in byte
// order, the same KeyValue fields), and able to tell whether it is as fresh
// as etcd was at a given moment.
//
// Freshness, from one summary read of etcd (etcd_watch.ts: its revision H,
// the count of keys under the prefix, the newest modification revision
// among them). The mirror holds etcd's state at its revision A: every event
// up to A is applied (a snapshot is at one revision; the watch delivers
// whole revisions, in order). If A >= H, it holds everything etcd held at
// H. If A < H and the count and the newest modification revision are the
// same in both, the states are the same: a key put or changed after A and
// still there at H would have a newer modification revision; if none is,
// every key at H was there at A, unchanged, and equal counts leave no key
// deleted. So the mirror is then at least as fresh as a read made at H.
import type { KeyValue } from "../state/etcd_client.ts";
import type { PrefixSummary, WatchEvent } from "../state/etcd_watch.ts";
import { byteStringOf, type RangeItem } from "../state/etcd_wire.ts";

/** What a decision reads from the mirror. */
export interface MirrorView {
  /** The revision whose state it holds (at least). */
  readonly revision: bigint;
  /** One key, as etcd's get would answer. */
  get(key: string): KeyValue | undefined;
  /** Every key under `prefix`, ascending byte order, as etcd's range would answer. */
  list(prefix: string, options?: { keysOnly?: boolean }): KeyValue[];
}

// Keys as "byte strings" (one UTF-16 unit per byte, as decoded answers
// carry them): JavaScript orders them as etcd orders the bytes, and two
// keys that decode to the same text (not UTF-8) stay two keys.

/** A prefix of etcd, in memory. */
export class PrefixMirror implements MirrorView {
  // Sorted byte strings, and their entries.
  #order: string[] = [];
  #entries = new Map<string, KeyValue>();
  #revision = 0n;

  get revision(): bigint {
    return this.#revision;
  }

  /** Keys held. */
  get size(): number {
    return this.#order.length;
  }

  /** Replaces everything with a snapshot taken at `revision`. */
  load(items: readonly RangeItem[], revision: bigint): void {
    this.#entries = new Map();
    for (const item of items) {
      this.#entries.set(item.rawKey, Object.freeze(item.kv));
    }
    this.#order = [...this.#entries.keys()].sort();
    this.#revision = revision;
  }

  /** Applies the events of one watch message (whole revisions, in order). */
  apply(events: readonly WatchEvent[]): void {
    for (const event of events) {
      const name = event.rawKey;
      const at = this.#find(name);
      const present = this.#order[at] === name;
      if (event.type === "put") {
        if (!present) this.#order.splice(at, 0, name);
        this.#entries.set(name, Object.freeze(event.kv));
      } else if (present) {
        this.#order.splice(at, 1);
        this.#entries.delete(name);
      }
      if (event.revision > this.#revision) this.#revision = event.revision;
    }
  }

  /** Nothing changed up to `revision` (a progress notification). */
  progress(revision: bigint): void {
    if (revision > this.#revision) this.#revision = revision;
  }

  /** Whether this holds at least what etcd held when it gave `summary`. */
  covers(summary: PrefixSummary): boolean {
    if (this.#revision >= summary.revision) return true;
    if (this.#order.length !== summary.count) return false;
    let newest = 0n;
    for (const kv of this.#entries.values()) {
      const modified = BigInt(kv.modRevision ?? "0");
      if (modified > newest) newest = modified;
    }
    return newest === summary.newestModRevision;
  }

  get(key: string): KeyValue | undefined {
    const kv = this.#entries.get(byteStringOf(key));
    return kv && { ...kv };
  }

  list(prefix: string, options: { keysOnly?: boolean } = {}): KeyValue[] {
    const start = byteStringOf(prefix);
    const found: KeyValue[] = [];
    for (let i = this.#find(start); i < this.#order.length; i++) {
      const name = this.#order[i];
      if (!name.startsWith(start)) break;
      const kv = this.#entries.get(name)!;
      // Entries are frozen: handed out as they are, without a copy each
      // (a decision may list every connection key of the cluster).
      found.push(options.keysOnly ? { ...kv, value: "" } : kv);
    }
    return found;
  }

  // The first position whose key is >= name.
  #find(name: string): number {
    let low = 0;
    let high = this.#order.length;
    while (low < high) {
      const middle = (low + high) >>> 1;
      if (this.#order[middle] < name) low = middle + 1;
      else high = middle;
    }
    return low;
  }
}
