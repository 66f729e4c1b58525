// Connection keys as the agent's decisions read them, kept from one
// decision to the next. A decision under connections or bandwidth routing
// (or a connection limit) reads every connection key of the cluster, the
// same code a session runs (src/state/store.ts); in a session that is one
// parse per key per login, in the agent it was one per key per decision:
// with 5,000 live sessions, ~12 ms of each decision (parsing the keys'
// times above all) and most of its garbage (measured: 26 ms decisions).
// A key names its connection for good and its value its bandwidth, so a
// reading is reused while both are the same.
import type { Connection } from "../state/aggregate.ts";
import type { KeyValue } from "../state/etcd_client.ts";
import type { Problem } from "../state/store.ts";

interface Entry {
  value: string;
  reading: Connection | Problem;
  /** The last decision that read it. */
  seen: number;
}

// Readings no decision asked for in this many decisions are forgotten
// (sessions that ended), checked as often.
const FORGET_AFTER_DECISIONS = 64;

/** Connection keys read, remembered across decisions (frozen: they are shared). */
export class ConnectionReadings {
  #entries = new Map<string, Entry>();
  #decision = 0;

  /** The reading of `kv`: remembered, or made by `read` and remembered. */
  read(kv: KeyValue, read: () => Connection | Problem): Connection | Problem {
    const entry = this.#entries.get(kv.key);
    if (entry !== undefined && entry.value === kv.value) {
      entry.seen = this.#decision;
      return entry.reading;
    }
    const reading = read();
    if ("ts" in reading) Object.freeze(reading.ts);
    Object.freeze(reading);
    this.#entries.set(kv.key, {
      value: kv.value,
      reading,
      seen: this.#decision,
    });
    return reading;
  }

  /** A new decision begins (and, now and then, old readings go). */
  nextDecision(): void {
    this.#decision++;
    if (this.#decision % FORGET_AFTER_DECISIONS !== 0) return;
    const oldest = this.#decision - FORGET_AFTER_DECISIONS;
    for (const [key, entry] of this.#entries) {
      if (entry.seen < oldest) this.#entries.delete(key);
    }
  }

  /** Readings held. */
  get size(): number {
    return this.#entries.size;
  }
}
