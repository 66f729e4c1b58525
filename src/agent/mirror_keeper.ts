// Keeps the agent's mirror of /sshproxy/ (state_mirror.ts) in step with
// etcd: a snapshot of the prefix, then a watch from the revision after it;
// a stream that ends is resumed from the revision reached (etcd restarted,
// another endpoint), one that etcd compacted past is read again from a new
// snapshot, and an etcd whose revision went back (its data replaced) too.
//
// Decisions ask `fresh()`: one read of etcd (shared by the logins that
// arrive while it is under way: each waits for one that started after it
// asked), then the mirror is used only if it covers that read (see
// state_mirror.ts), after waiting a little for events still on their way.
// The read is etcd's revision from one key first: a mirror that reached
// it holds every change made before the read, and an etcd that serves
// sshproxy alone moves its revision only by changes the watch brings.
// Otherwise (writes elsewhere in etcd moved its revision), a summary of
// the prefix: its count and newest change, which etcd computes from every
// key under it (~10 ms at 5,000 keys, against ~1 ms for one key); after
// such writes, decisions go straight to the summary for a while.
// So what a decision reads from the mirror is at least as fresh as what
// the session would have read itself; otherwise (no live watch, a failed
// read, a mirror that does not catch up) `fresh()` says no and the decision
// reads etcd, as before.
import type { Result } from "../result.ts";
import type {
  PrefixSnapshot,
  PrefixSummary,
  WatchEnd,
  WatchMessage,
  WatchStream,
} from "../state/etcd_watch.ts";
import { type MirrorView, PrefixMirror } from "./state_mirror.ts";

/** What the keeper needs from etcd (etcd_http.ts's client). */
export interface MirrorSource {
  snapshot(prefix: string): Promise<Result<PrefixSnapshot>>;
  summary(prefix: string): Promise<Result<PrefixSummary>>;
  revision(prefix: string): Promise<Result<bigint>>;
  watch(
    prefix: string,
    startRevision: bigint,
    onMessage: (message: WatchMessage) => void,
  ): WatchStream;
}

// A read of etcd, and the mirror's revision when it was sent.
interface Barrier<T> {
  read: Result<T>;
  before: bigint;
}

// Reads shared by the decisions that ask while one is under way: each
// gets one that started after it asked (the next, queued behind it).
class SharedRead<T> {
  #current: Promise<Barrier<T>> | undefined;
  #queued: Promise<Barrier<T>> | undefined;

  constructor(
    private readonly read: () => Promise<Result<T>>,
    private readonly revision: () => bigint,
  ) {}

  afterNow(): Promise<Barrier<T>> {
    if (this.#current === undefined) {
      const before = this.revision();
      this.#current = this.read().then((read) => {
        this.#current = undefined;
        return { read, before };
      });
      return this.#current;
    }
    this.#queued ??= this.#current.then(() => {
      this.#queued = undefined;
      return this.afterNow();
    });
    return this.#queued;
  }
}

// How long a mirror behind etcd's revision waits for the watch to bring
// it there before the summary is asked (events usually come within 1 ms).
const REVISION_CATCH_UP_MS = 5;
// After a summary found the mirror current though etcd's revision had
// moved past it (writes outside the prefix), how long decisions skip the
// revision read.
const SUMMARY_ONLY_MS = 30_000;

/** Why the mirror was read again from a snapshot. */
export type SyncReason = "start" | "compacted" | "reset";

/** What happens to the mirror, for the agent's log and metrics. */
export type MirrorEvent =
  | { kind: "live"; revision: bigint; keys: number; resumed: boolean }
  | { kind: "synced"; reason: SyncReason; revision: bigint; keys: number }
  | { kind: "lost"; reason: string }
  | { kind: "stale"; reason: string };

/** How the keeper runs (defaults for production). */
export interface KeeperOptions {
  prefix: string;
  onEvent?: (event: MirrorEvent) => void;
  /** Longest wait for events still on their way when the mirror is behind (default 50 ms). */
  catchUpMs?: number;
  /** Delays between attempts while etcd fails (default 250 ms doubling up to 2 s). */
  backoff?: { initialMs: number; maxMs: number };
}

/** The mirror and the loop that keeps it. */
export class MirrorKeeper {
  readonly #source: MirrorSource;
  readonly #options: KeeperOptions;
  readonly #mirror = new PrefixMirror();
  #live = false;
  #needSnapshot: SyncReason | undefined = "start";
  #stream: WatchStream | undefined;
  #stopped = false;
  #running: Promise<void> | undefined;
  #wake: (() => void) | undefined;
  #lostReason: string | undefined;
  #staleInARow = 0;
  #staleAt = -1n;
  // Waiting for the mirror to move (fresh() while it is behind).
  #moved = new Set<() => void>();
  readonly #summaries: SharedRead<PrefixSummary>;
  readonly #revisions: SharedRead<bigint>;
  #summaryOnlyUntil = 0;

  constructor(source: MirrorSource, options: KeeperOptions) {
    this.#source = source;
    this.#options = options;
    const mirrorRevision = () => this.#mirror.revision;
    this.#summaries = new SharedRead(
      () => source.summary(options.prefix),
      mirrorRevision,
    );
    this.#revisions = new SharedRead(
      () => source.revision(options.prefix),
      mirrorRevision,
    );
  }

  /** Whether the watch is running (its events reach the mirror). */
  get live(): boolean {
    return this.#live;
  }

  /** Keys in the mirror. */
  get size(): number {
    return this.#mirror.size;
  }

  /** The mirror's revision. */
  get revision(): bigint {
    return this.#mirror.revision;
  }

  /** Starts keeping the mirror. */
  start(): void {
    this.#running ??= this.#run();
  }

  /**
   * The mirror, if it is at least as fresh as a read of etcd made now;
   * undefined when the decision must read etcd itself.
   */
  async fresh(): Promise<MirrorView | undefined> {
    if (!this.#live) return undefined;
    let revisionMissed = false;
    if (Date.now() >= this.#summaryOnlyUntil) {
      const { read, before } = await this.#revisions.afterNow();
      if (read.ok && this.#live) {
        if (this.#wentBack(read.value, before)) return undefined;
        const deadline = Date.now() + REVISION_CATCH_UP_MS;
        while (
          this.#mirror.revision < read.value && Date.now() < deadline &&
          this.#live
        ) {
          await this.#nextMove(deadline - Date.now());
        }
        if (this.#mirror.revision >= read.value && this.#live) {
          this.#staleInARow = 0;
          return this.#mirror;
        }
        revisionMissed = true;
      }
    }
    const { read: summary, before } = await this.#summaries.afterNow();
    if (!summary.ok || !this.#live) return undefined;
    if (this.#wentBack(summary.value.revision, before)) return undefined;
    if (this.#mirror.covers(summary.value)) {
      // Current, though etcd's revision had moved past it: writes
      // outside the prefix move it, so the summary decides for a while.
      if (revisionMissed) this.#summaryOnlyUntil = Date.now() + SUMMARY_ONLY_MS;
      this.#staleInARow = 0;
      return this.#mirror;
    }
    const deadline = Date.now() + (this.#options.catchUpMs ?? 50);
    while (Date.now() < deadline && this.#live) {
      await this.#nextMove(deadline - Date.now());
      if (this.#mirror.covers(summary.value)) {
        this.#staleInARow = 0;
        return this.#mirror;
      }
    }
    // Behind, and not moving since the last time it was behind: the watch
    // is stuck (a silent connection), not just late. Restart it.
    if (this.#mirror.revision !== this.#staleAt) {
      this.#staleAt = this.#mirror.revision;
      this.#staleInARow = 0;
    }
    if (++this.#staleInARow >= 3) {
      this.#staleInARow = 0;
      this.#options.onEvent?.({
        kind: "stale",
        reason:
          `the mirror stayed at revision ${this.#mirror.revision}, etcd is at ${summary.value.revision}`,
      });
      this.#restartWatch();
    }
    return undefined;
  }

  /** Stops the watch. */
  async stop(): Promise<void> {
    this.#stopped = true;
    this.#live = false;
    this.#stream?.cancel();
    this.#wake?.();
    await this.#running;
  }

  // A read made after the mirror reached `before` cannot be older: etcd's
  // data was replaced (restored from a backup, a new cluster).
  #wentBack(revision: bigint, before: bigint): boolean {
    if (revision >= before) return false;
    this.#resync(
      "reset",
      `etcd is at revision ${revision}, the mirror saw ${before}`,
    );
    return true;
  }

  #nextMove(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.#moved.delete(done);
        resolve();
      };
      const timer = setTimeout(done, Math.max(1, ms));
      this.#moved.add(done);
    });
  }

  #moveDone(): void {
    for (const done of [...this.#moved]) done();
  }

  #resync(reason: SyncReason, why: string): void {
    this.#needSnapshot = reason;
    this.#options.onEvent?.({ kind: "stale", reason: why });
    this.#restartWatch();
  }

  #restartWatch(): void {
    this.#live = false;
    this.#stream?.cancel();
  }

  // The watch exists; it is live once the copy has caught up with etcd (a
  // compaction past its start ends it before, with the events it missed).
  async #confirmLive(stream: WatchStream): Promise<void> {
    for (
      let attempt = 0;
      this.#stream === stream && !this.#stopped;
      attempt++
    ) {
      const summary = await this.#source.summary(this.#options.prefix);
      const deadline = Date.now() + 1000;
      while (
        summary.ok && this.#stream === stream &&
        !this.#mirror.covers(summary.value) && Date.now() < deadline
      ) {
        await this.#nextMove(deadline - Date.now());
      }
      if (this.#stream !== stream || this.#stopped) return;
      if (summary.ok && this.#mirror.covers(summary.value)) {
        this.#live = true;
        const resumed = this.#lostReason !== undefined;
        this.#lostReason = undefined;
        this.#options.onEvent?.({
          kind: "live",
          revision: this.#mirror.revision,
          keys: this.#mirror.size,
          resumed,
        });
        this.#moveDone();
        return;
      }
      if (!summary.ok) await this.#nextMove(100 * 2 ** Math.min(attempt, 4));
    }
  }

  #onMessage(stream: () => WatchStream | undefined, message: WatchMessage) {
    if (message.kind === "created") {
      const created = stream();
      if (created !== undefined) void this.#confirmLive(created);
    } else if (message.kind === "events") this.#mirror.apply(message.events);
    else if (message.kind === "progress") {
      this.#mirror.progress(message.revision);
    }
    this.#moveDone();
  }

  async #run(): Promise<void> {
    const backoff = this.#options.backoff ?? { initialMs: 250, maxMs: 2000 };
    let delayMs = 0;
    while (!this.#stopped) {
      if (this.#needSnapshot !== undefined) {
        const reason = this.#needSnapshot;
        const snapshot = await this.#source.snapshot(this.#options.prefix);
        if (this.#stopped) break;
        if (!snapshot.ok) {
          this.#lost(snapshot.error);
          delayMs = Math.min(
            Math.max(delayMs * 2, backoff.initialMs),
            backoff.maxMs,
          );
          await this.#sleep(delayMs);
          continue;
        }
        this.#mirror.load(snapshot.value.items, snapshot.value.revision);
        this.#needSnapshot = undefined;
        this.#options.onEvent?.({
          kind: "synced",
          reason,
          revision: snapshot.value.revision,
          keys: this.#mirror.size,
        });
      }
      let stream: WatchStream | undefined = undefined;
      stream = this.#source.watch(
        this.#options.prefix,
        this.#mirror.revision + 1n,
        (message) => this.#onMessage(() => stream, message),
      );
      this.#stream = stream;
      const end: WatchEnd = await stream.done;
      const wasLive = this.#live;
      this.#live = false;
      this.#stream = undefined;
      this.#moveDone();
      if (this.#stopped) break;
      if (end.kind === "compacted") {
        // Events between our revision and the compaction are gone.
        this.#needSnapshot = "compacted";
        continue;
      }
      if (end.kind === "cancelled") continue; // restarted on purpose
      this.#lost(end.reason);
      delayMs = wasLive
        ? backoff.initialMs
        : Math.min(Math.max(delayMs * 2, backoff.initialMs), backoff.maxMs);
      await this.#sleep(delayMs);
    }
  }

  #lost(reason: string): void {
    if (this.#lostReason === undefined) {
      this.#options.onEvent?.({ kind: "lost", reason });
    }
    this.#lostReason = reason;
  }

  #sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.#wake = undefined;
        resolve();
      }, ms);
      this.#wake = () => {
        clearTimeout(timer);
        this.#wake = undefined;
        resolve();
      };
    });
  }
}
