// The session recorder (spec §8.1-8.5, issue 5): counts the bytes of the
// session's three standard streams, writes the dump (a file or a TCP
// collector) and keeps the statistics the proxy logs and publishes.
//
// The proxy calls `record()` on its hot path for every chunk it copies;
// `record()` never waits: it updates counters, applies the dump limit and
// encodes the record into a bounded in-memory queue of large reusable
// buffers (record_batches.ts) that a background task writes to the target
// whole. Records are written at once (those of one turn of the event loop
// share a write), except during a bulk transfer (the previous write was at
// least BULK_WRITE_BYTES and ended less than FLUSH_DELAY_MS ago): then a
// buffer is written when it is full or FLUSH_DELAY_MS after the previous
// write, so a busy session costs one write per buffer, not one per chunk,
// no record waits more than a few ms, and an interactive one (keystrokes,
// echoes, prompts) is never delayed. When the target cannot keep up and
// the queue would exceed its bound, the dump is dropped for good (one ERROR
// line) and the session goes on: a file then ends at a record boundary
// once the write in progress ends, a TCP stream possibly inside the record
// being sent (the socket is closed under it; sshproxy-dumpd keeps only
// whole records), and close() waits for neither. Opening the target
// (mkdir, create, connect with a timeout) also happens in the background,
// records queue meanwhile.
//
// Differences from the reference, on purpose:
// * files are created 0600 (the reference: 0666 minus umask), and a file or
//   directory on the way that another user may control is not used
//   (src/system/owned_path.ts);
// * a TCP collector is dialled with a timeout (default 5 s) instead of the
//   OS default, and never while the session waits;
// * a failing write stops the dump (one `writing: <err>` line) instead of
//   retrying every later record into a corrupt file or dead socket;
// * the dump is written in batches, not two syscalls per record;
// * reaching dump_limit_size in stop mode logs one INFO line;
// * terminal geometry goes to `<dump>.geometry` (see geometry.ts);
// * an etcd_stats_interval under one second divides by one second instead
//   of crashing.
import { formatGoDuration } from "../format/duration.ts";
import { nowNanoseconds } from "../format/time.ts";
import { deadline, every, ioDeadline } from "../system/timers.ts";
import type { Level } from "../log/format.ts";
import {
  encodeHeader,
  headerFromFacts,
  MAX_RECORD_DATA,
  RECORD_FRAME_SIZE,
  type SessionFacts,
} from "./dump_format.ts";
import {
  formatGeometryLine,
  GEOMETRY_MAGIC,
  type GeometryEvent,
  geometryPath,
} from "./geometry.ts";
import { openOwnedFile } from "../system/owned_path.ts";
import { dialError, goReason, pathError, splitHostPort } from "./go_errors.ts";
import { RecordBatches } from "./record_batches.ts";

/** Standard stream numbers as recorded: 0 stdin, 1 stdout, 2 stderr. */
export type StreamFd = 0 | 1 | 2;

/** What the recorder needs from the session. */
export interface RecorderOptions {
  /** The final `dump` value: `etcd`, `TCP:host:port` or a file path (already substituted). */
  target: string;
  /** Header facts: user, effective command, client and sshd addresses, start ns (the SID's). */
  session: SessionFacts;
  /** dump_limit_size in bytes; 0 = no limit. */
  dumpLimitSize?: bigint;
  /** dump_limit_window in ns; 0 = stop mode. */
  dumpLimitWindowNs?: bigint;
  /** log_stats_interval in ns; 0 = only the final line. */
  logStatsIntervalNs?: bigint;
  /** etcd_stats_interval in ns; 0 = no rates. */
  etcdStatsIntervalNs?: bigint;
  /** The session logger. */
  log: (level: Level, message: string) => void;
  /** Wall clock in ns (tests inject one). */
  now?: () => bigint;
  /** Bound of the queue between the session and the target (default 16 MiB). */
  maxQueuedBytes?: number;
  /** TCP connect timeout (default 5000 ms). */
  connectTimeoutMs?: number;
  /** How long close() waits for queued records to reach the target (default 3000 ms). */
  closeTimeoutMs?: number;
}

/** Byte counts per standard stream. */
export interface StreamCounts {
  stdin: number;
  stdout: number;
  stderr: number;
}

/** Where the dump stands. */
export type DumpState =
  /** `etcd` target: statistics only. */
  | "none"
  /** The target is being opened; records queue. */
  | "opening"
  | "open"
  /** Stopped for good (error, limit, overflow) or closed at the end. */
  | "closed";

interface Target {
  write(data: Uint8Array): Promise<number>;
  close(): void;
}

const encoder = new TextEncoder();
/** How long records may wait for a buffer to fill during a bulk transfer. */
const FLUSH_DELAY_MS = 4;
/** A write this large means a bulk transfer (a full read from a pipe). */
const BULK_WRITE_BYTES = 64 * 1024;

// Timers here are the runtime's own (src/system/timers.ts): the global
// setTimeout loaded Deno's Node timers in every recorded session (~20
// modules, ~3 ms and ~1.9 MiB per recorded login, measured by hand).

/** A timeout that can be cancelled, so a finished close() leaves no timer behind. */
function timeout(ms: number): { promise: Promise<"timeout">; cancel(): void } {
  const limit = deadline(ms);
  return {
    promise: limit.expired.then(() => "timeout" as const),
    cancel: limit.cancel,
  };
}

async function writeAll(target: Target, data: Uint8Array): Promise<void> {
  let rest = data;
  while (rest.length > 0) rest = rest.subarray(await target.write(rest));
}

function dirname(path: string): string {
  const index = path.lastIndexOf("/");
  return index < 0 ? "." : index === 0 ? "/" : path.slice(0, index);
}

/** Records one session. Create with `Recorder.start`, end with `close()`. */
export class Recorder {
  readonly #options: RecorderOptions;
  readonly #now: () => bigint;
  readonly #startNs: bigint;
  readonly #kind: "etcd" | "tcp" | "file";
  #state: DumpState;
  // Dump limit (spec §8.4).
  readonly #limit: bigint;
  readonly #window: bigint;
  #windowIndex = 0n;
  #previousWindow = 0n;
  #currentWindow = 0n;
  // Statistics (spec §8.5).
  readonly #totals = [0, 0, 0];
  readonly #intervalBytes = [0, 0, 0];
  #rates = [0, 0, 0];
  #timers: (() => void)[] = [];
  // Queue and writer task.
  readonly #batches = new RecordBatches();
  #geometryLines: Uint8Array[] = [];
  #geometryQueued = 0;
  readonly #maxQueued: number;
  // Resolves the writer's wait; with #wakeOnlyWhenFull, record() calls it
  // only once a buffer is full (the delay's timer does otherwise).
  #wake?: () => void;
  #wakeOnlyWhenFull = false;
  #lastWriteMs = -Infinity;
  #lastWriteBytes = 0;
  #pump: Promise<void> = Promise.resolve();
  #target?: Target;
  #geometryTarget?: Target;
  #geometryFailed = false;
  #geometry?: GeometryEvent;
  #closing?: Promise<void>;
  #closed = false;
  // Dropped because the target could not keep up: a write may be stuck in
  // it for good, so close() waits for nothing.
  #abandoned = false;

  private constructor(options: RecorderOptions) {
    this.#options = options;
    this.#now = options.now ?? nowNanoseconds;
    this.#startNs = this.#now();
    this.#kind = options.target === "etcd"
      ? "etcd"
      : options.target.startsWith("TCP:")
      ? "tcp"
      : "file";
    this.#state = this.#kind === "etcd" ? "none" : "opening";
    this.#limit = options.dumpLimitSize ?? 0n;
    this.#window = options.dumpLimitWindowNs ?? 0n;
    this.#maxQueued = options.maxQueuedBytes ?? 16 * 1024 * 1024;
  }

  /** Creates the recorder, starts opening the target and the statistics timers; never waits. */
  static start(options: RecorderOptions): Recorder {
    const recorder = new Recorder(options);
    recorder.#startTimers();
    if (recorder.#state === "opening") recorder.#pump = recorder.#run();
    return recorder;
  }

  /** Where the dump stands. */
  get state(): DumpState {
    return this.#state;
  }

  /** The last terminal size given to resize(), if any. */
  get geometry(): GeometryEvent | undefined {
    return this.#geometry;
  }

  /**
   * Records one chunk of a standard stream: call it for every read from the
   * user's stdin (fd 0; an empty chunk at EOF) and before every write to the
   * user's stdout (1) or stderr (2). The data is copied before this
   * returns (the caller may reuse its buffer); never blocks.
   */
  record(fd: StreamFd, data: Uint8Array, timeNs: bigint = this.#now()): void {
    if (this.#closed) return;
    this.#totals[fd] += data.length;
    this.#intervalBytes[fd] += data.length;
    if (this.#state !== "opening" && this.#state !== "open") return;
    if (data.length > MAX_RECORD_DATA) {
      for (let at = 0; at < data.length; at += MAX_RECORD_DATA) {
        this.#dumpRecord(
          fd,
          data.subarray(at, at + MAX_RECORD_DATA),
          timeNs,
        );
      }
      return;
    }
    this.#dumpRecord(fd, data, timeNs);
  }

  /** Records the terminal size (call once at start in pty mode, then on every SIGWINCH). */
  resize(cols: number, rows: number, timeNs: bigint = this.#now()): void {
    if (this.#closed || cols <= 0 || rows <= 0) return;
    const last = this.#geometry;
    if (last !== undefined && last.cols === cols && last.rows === rows) return;
    this.#geometry = { timeNs, cols, rows };
    if (this.#kind !== "file" || this.#geometryFailed) return;
    if (this.#state !== "opening" && this.#state !== "open") return;
    const line = encoder.encode(formatGeometryLine(this.#geometry));
    if (!this.#fits(line.length)) return;
    this.#geometryLines.push(line);
    this.#geometryQueued += line.length;
    this.#wake?.();
  }

  /** Bytes seen per stream since the start. */
  totals(): StreamCounts {
    const [stdin, stdout, stderr] = this.#totals;
    return { stdin, stdout, stderr };
  }

  /** Bytes/s per stream over the last completed etcd_stats_interval. */
  rates(): StreamCounts {
    const [stdin, stdout, stderr] = this.#rates;
    return { stdin, stdout, stderr };
  }

  /** The etcd connection value of spec §8.5: integer KiB/s in and out. */
  bandwidth(): { In: number; Out: number } {
    const [stdin, stdout, stderr] = this.#rates;
    return {
      In: Math.floor(stdin / 1024),
      Out: Math.floor((stdout + stderr) / 1024),
    };
  }

  /** `bytes transferred (<step>): duration=<d> stdin=<n> stdout=<n> stderr=<n>`. */
  statsLine(step: "intermediate step" | "final step"): string {
    const elapsed = this.#now() - this.#startNs;
    const seconds = elapsed > 0n ? elapsed / 1_000_000_000n : 0n;
    const [stdin, stdout, stderr] = this.#totals;
    return `bytes transferred (${step}): duration=${
      formatGoDuration(seconds * 1_000_000_000n)
    } stdin=${stdin} stdout=${stdout} stderr=${stderr}`;
  }

  /**
   * Ends the recording: stops the timers, logs the final statistics line,
   * lets queued records reach the target (at most closeTimeoutMs) and closes
   * it. Idempotent.
   */
  close(): Promise<void> {
    this.#closing ??= this.#finish();
    return this.#closing;
  }

  async #finish(): Promise<void> {
    for (const stop of this.#timers) stop();
    this.#timers = [];
    this.#closed = true;
    this.#wake?.();
    this.#options.log("INFO", this.statsLine("final step"));
    if (this.#abandoned) return;
    const limit = timeout(this.#options.closeTimeoutMs ?? 3000);
    const outcome = await Promise.race([
      this.#pump.then(() => "done" as const),
      limit.promise,
    ]);
    limit.cancel();
    if (outcome === "timeout") {
      this.#dropQueued();
      this.#closeTargets();
      this.#state = "closed";
      this.#options.log(
        "ERROR",
        "session recording incomplete: the dump target did not take the last records in time",
      );
    }
  }

  #dumpRecord(fd: StreamFd, data: Uint8Array, timeNs: bigint): void {
    const length = BigInt(data.length);
    let allowed = true;
    if (this.#limit > 0n) {
      if (this.#window > 0n) {
        const elapsed = timeNs - this.#startNs;
        const index = elapsed > 0n ? elapsed / this.#window : 0n;
        if (index > this.#windowIndex) {
          this.#previousWindow = index === this.#windowIndex + 1n
            ? this.#currentWindow
            : 0n;
          this.#currentWindow = 0n;
          this.#windowIndex = index;
        }
        allowed = this.#previousWindow < this.#limit &&
          this.#currentWindow < this.#limit;
      } else if (this.#currentWindow >= this.#limit) {
        this.#options.log(
          "INFO",
          `session recording stopped: dump_limit_size reached (${this.#limit} bytes)`,
        );
        this.#stopDump(false);
        return;
      }
    }
    this.#currentWindow += length;
    if (!allowed) return;
    if (!this.#fits(RECORD_FRAME_SIZE + data.length)) return;
    this.#batches.append(fd, data, timeNs);
    if (!this.#wakeOnlyWhenFull || this.#batches.hasFull) this.#wake?.();
  }

  /** Whether `size` more bytes stay within the queue's bound; if not, the dump is dropped. */
  #fits(size: number): boolean {
    const queued = this.#batches.queued + this.#geometryQueued;
    if (queued + size <= this.#maxQueued) return true;
    this.#options.log(
      "ERROR",
      `session recording disabled: the dump target cannot keep up (more than ${this.#maxQueued} bytes waiting)`,
    );
    this.#stopDump();
    // A write may be stuck on a stalled socket or disk: close the target
    // now (a socket's pending write fails) and let close() not wait for
    // it, so the dump is reported once.
    this.#abandoned = true;
    this.#closeTargets();
    return false;
  }

  #dropQueued(): void {
    this.#batches.clear();
    this.#geometryLines = [];
    this.#geometryQueued = 0;
  }

  /** Stops dumping for good; the writer writes what is still queued (unless dropped), then closes the target. */
  #stopDump(dropQueued = true): void {
    this.#state = "closed";
    if (dropQueued) this.#dropQueued();
    this.#wake?.();
  }

  #startTimers(): void {
    const { log, logStatsIntervalNs = 0n, etcdStatsIntervalNs = 0n } =
      this.#options;
    const ms = (ns: bigint) => Math.max(1, Number(ns / 1_000_000n));
    // Stopped at close(): statistics never keep a finished process alive.
    const repeat = (period: bigint, tick: () => void) => {
      this.#timers.push(every(ms(period), tick));
    };
    if (logStatsIntervalNs > 0n) {
      repeat(
        logStatsIntervalNs,
        () => log("INFO", this.statsLine("intermediate step")),
      );
    }
    if (etcdStatsIntervalNs > 0n) {
      // Go: buf / uint64(I.Seconds()), integer division; I < 1 s would divide by zero.
      const seconds = Math.max(1, Number(etcdStatsIntervalNs / 1_000_000_000n));
      repeat(etcdStatsIntervalNs, () => {
        for (let fd = 0; fd < 3; fd++) {
          this.#rates[fd] = Math.floor(this.#intervalBytes[fd] / seconds);
          this.#intervalBytes[fd] = 0;
        }
      });
    }
  }

  // The writer task: open, header, then batches until closed.
  async #run(): Promise<void> {
    const target = await this.#open();
    if (target === undefined) {
      this.#stopDump();
      return;
    }
    this.#target = target;
    if (this.#state === "opening") this.#state = "open";
    try {
      await writeAll(
        target,
        encodeHeader(headerFromFacts(this.#options.session)),
      );
    } catch (error) {
      this.#options.log(
        "ERROR",
        `session recording disabled due to error: writing header: ${
          goReason(error)
        }`,
      );
      this.#stopDump();
      this.#closeTargets();
      return;
    }
    for (;;) {
      const line = this.#geometryLines.shift();
      if (line !== undefined) {
        this.#geometryQueued -= line.length;
        await this.#writeGeometry(line);
        continue;
      }
      const ending = this.#closed || this.#state === "closed";
      let batch = this.#batches.takeFull();
      if (batch === undefined && this.#batches.queued > 0) {
        const wait = ending || this.#lastWriteBytes < BULK_WRITE_BYTES
          ? 0
          : FLUSH_DELAY_MS - (performance.now() - this.#lastWriteMs);
        if (wait > 0) {
          await this.#sleep(wait);
          continue;
        }
        batch = this.#batches.take();
      }
      if (batch === undefined) {
        if (ending) break;
        await this.#sleep();
        continue;
      }
      try {
        await writeAll(target, batch);
        this.#lastWriteMs = performance.now();
        this.#lastWriteBytes = batch.length;
      } catch (error) {
        // Closed under the write by an overflow or a close() timeout.
        if (this.#target === undefined) break;
        this.#options.log("ERROR", `writing: ${goReason(error)}`);
        this.#stopDump();
        break;
      }
      this.#batches.recycle(batch);
    }
    if (this.#closed && this.#state !== "closed") this.#state = "closed";
    this.#closeTargets();
  }

  /**
   * The writer's wait: until anything happens, or with `ms`, until a buffer
   * is full or `ms` have passed (anything else still ends it: close, stop,
   * a terminal size).
   */
  #sleep(ms?: number): Promise<void> {
    return new Promise<void>((resolve) => {
      let forget = () => {};
      this.#wakeOnlyWhenFull = ms !== undefined;
      this.#wake = () => {
        forget();
        this.#wake = undefined;
        this.#wakeOnlyWhenFull = false;
        resolve();
      };
      if (ms !== undefined) {
        // V8's own timer, gone once cancelled: during a bulk transfer this
        // wait comes every few ms, and an AbortSignal timer (after()) left
        // an Event and a DOMException each time (~25 of the ~330 ms of JS
        // in a recorded 1 GiB relay, by profile). The transfer's I/O holds
        // the process.
        const timer = ioDeadline(ms);
        timer.expired.then(() => this.#wake?.());
        forget = timer.cancel;
      }
    });
  }

  async #writeGeometry(line: Uint8Array): Promise<void> {
    if (this.#geometryFailed) return;
    const path = geometryPath(this.#options.target);
    try {
      if (this.#geometryTarget === undefined) {
        const opened = openOwnedFile(path, {
          directoryMode: 0o700,
          existing: "truncate",
          uid: Deno.uid() ?? -1,
        });
        if (opened.kind === "untrusted") {
          throw new Error(`${opened.reason}`);
        }
        if (opened.kind === "failed") throw opened.error;
        const file = opened.file;
        this.#geometryTarget = file;
        await writeAll(file, encoder.encode(GEOMETRY_MAGIC));
      }
      await writeAll(this.#geometryTarget, line);
    } catch (error) {
      this.#geometryFailed = true;
      this.#options.log(
        "WARNING",
        `terminal size recording disabled: ${pathError("open", path, error)}`,
      );
    }
  }

  async #open(): Promise<Target | undefined> {
    const { target, log } = this.#options;
    if (this.#kind === "tcp") {
      const address = target.slice(4);
      const dialed = await this.#dial(address);
      if (typeof dialed === "string") {
        log(
          "ERROR",
          `session recording disabled due to error connecting to host '${address}': ${dialed}`,
        );
        return undefined;
      }
      return dialed;
    }
    const opened = openOwnedFile(target, {
      directoryMode: 0o700,
      existing: "truncate",
      uid: Deno.uid() ?? -1,
    });
    if (opened.kind === "opened") {
      // An existing file keeps its mode through truncation: narrow it too.
      if (!opened.created) await Deno.chmod(target, 0o600).catch(() => {});
      return opened.file;
    }
    if (opened.kind === "untrusted") {
      log(
        "ERROR",
        `session recording disabled: not writing to ${opened.path}: ${opened.reason}`,
      );
    } else if (opened.op === "mkdir") {
      log(
        "ERROR",
        `session recording disabled due to error: creating directory ${
          dirname(target)
        }: ${pathError("mkdir", opened.path, opened.error)}`,
      );
    } else {
      log(
        "ERROR",
        `session recording disabled due to error: creating ${target}: ${
          pathError("open", opened.path, opened.error)
        }`,
      );
    }
    return undefined;
  }

  async #dial(address: string): Promise<Target | string> {
    const split = splitHostPort(address);
    if ("error" in split) return `dial tcp ${address}: ${split.error}`;
    const port = Number(split.port);
    if (!/^[0-9]{1,5}$/.test(split.port) || port > 65535) {
      return `dial tcp ${address}: address ${split.port}: invalid port`;
    }
    let attempt: Promise<Deno.TcpConn>;
    try {
      attempt = Deno.connect({ hostname: split.host, port, transport: "tcp" });
    } catch (error) {
      return dialError(address, error);
    }
    const timeoutMs = this.#options.connectTimeoutMs ?? 5000;
    const limit = timeout(timeoutMs);
    try {
      const winner = await Promise.race([attempt, limit.promise]);
      if (winner === "timeout") {
        attempt.then((connection) => connection.close(), () => {});
        return `dial tcp ${address}: i/o timeout`;
      }
      winner.setNoDelay(true);
      return winner;
    } catch (error) {
      return dialError(address, error);
    } finally {
      limit.cancel();
    }
  }

  #closeTargets(): void {
    for (const target of [this.#target, this.#geometryTarget]) {
      try {
        target?.close();
      } catch {
        // already closed
      }
    }
    this.#target = undefined;
    this.#geometryTarget = undefined;
  }
}
