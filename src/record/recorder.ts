// The session recorder (spec §8.1-8.5, issue 5): counts the bytes of the
// session's three standard streams, writes the dump (a file or a TCP
// collector) and keeps the statistics the proxy logs and publishes.
//
// The proxy calls `record()` on its hot path for every chunk it copies;
// `record()` never waits: it updates counters, applies the dump limit and
// appends the encoded record to a bounded in-memory queue that a
// background task writes to the target in large batches. When the target
// cannot keep up and the queue would exceed its bound, the dump is dropped
// for good (one ERROR line) and the session goes on; the file or stream
// then ends at a record boundary. Opening the target (mkdir, create,
// connect with a timeout) also happens in the background, records queue
// meanwhile.
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
import type { Level } from "../log/format.ts";
import {
  encodeHeader,
  headerFromFacts,
  MAX_RECORD_DATA,
  RECORD_FRAME_SIZE,
  type SessionFacts,
  writeRecordFrame,
} from "./dump_format.ts";
import {
  formatGeometryLine,
  GEOMETRY_MAGIC,
  type GeometryEvent,
  geometryPath,
} from "./geometry.ts";
import { openOwnedFile } from "../system/owned_path.ts";
import { dialError, goReason, pathError, splitHostPort } from "./go_errors.ts";

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

type QueueItem = { to: "dump" | "geometry"; bytes: Uint8Array };

const BATCH_BYTES = 1024 * 1024;
const encoder = new TextEncoder();

/** A timeout that can be cancelled, so a finished close() leaves no timer behind. */
function timeout(ms: number): { promise: Promise<"timeout">; cancel(): void } {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const promise = new Promise<"timeout">((resolve) => {
    timer = setTimeout(() => resolve("timeout"), ms);
  });
  return { promise, cancel: () => clearTimeout(timer) };
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
  #timers: number[] = [];
  // Queue and writer task.
  #queue: QueueItem[] = [];
  #queued = 0;
  readonly #maxQueued: number;
  #wake?: () => void;
  #pump: Promise<void> = Promise.resolve();
  #target?: Target;
  #geometryTarget?: Target;
  #geometryFailed = false;
  #geometry?: GeometryEvent;
  #closing = false;
  #closed = false;

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
   * user's stdout (1) or stderr (2). The data is copied; never blocks.
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
    this.#enqueue({
      to: "geometry",
      bytes: encoder.encode(formatGeometryLine(this.#geometry)),
    });
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
  async close(): Promise<void> {
    if (this.#closing) {
      await this.#pump;
      return;
    }
    this.#closing = true;
    for (const timer of this.#timers) clearInterval(timer);
    this.#timers = [];
    this.#closed = true;
    this.#wake?.();
    this.#options.log("INFO", this.statsLine("final step"));
    const limit = timeout(this.#options.closeTimeoutMs ?? 3000);
    const outcome = await Promise.race([
      this.#pump.then(() => "done" as const),
      limit.promise,
    ]);
    limit.cancel();
    if (outcome === "timeout") {
      this.#queue = [];
      this.#queued = 0;
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
    const bytes = new Uint8Array(RECORD_FRAME_SIZE + data.length);
    writeRecordFrame(bytes, 0, timeNs, fd, data.length);
    bytes.set(data, RECORD_FRAME_SIZE);
    this.#enqueue({ to: "dump", bytes });
  }

  #enqueue(item: QueueItem): void {
    if (this.#queued + item.bytes.length > this.#maxQueued) {
      this.#options.log(
        "ERROR",
        `session recording disabled: the dump target cannot keep up (more than ${this.#maxQueued} bytes waiting)`,
      );
      this.#stopDump();
      // A write may be stuck on a stalled socket: close the target now so
      // close() does not wait for it and report the dump twice.
      this.#closeTargets();
      return;
    }
    this.#queue.push(item);
    this.#queued += item.bytes.length;
    this.#wake?.();
  }

  /** Stops dumping for good; the writer writes what is still queued (unless dropped), then closes the target. */
  #stopDump(dropQueued = true): void {
    this.#state = "closed";
    if (dropQueued) {
      this.#queue = [];
      this.#queued = 0;
    }
    this.#wake?.();
  }

  #startTimers(): void {
    const { log, logStatsIntervalNs = 0n, etcdStatsIntervalNs = 0n } =
      this.#options;
    const ms = (ns: bigint) => Math.max(1, Number(ns / 1_000_000n));
    // Unreferenced: statistics never keep a finished process alive.
    const every = (period: bigint, tick: () => void) => {
      // Deno's timers are numbers (the Node typings in scope say otherwise).
      const timer = setInterval(tick, ms(period)) as unknown as number;
      Deno.unrefTimer(timer);
      this.#timers.push(timer);
    };
    if (logStatsIntervalNs > 0n) {
      every(
        logStatsIntervalNs,
        () => log("INFO", this.statsLine("intermediate step")),
      );
    }
    if (etcdStatsIntervalNs > 0n) {
      // Go: buf / uint64(I.Seconds()), integer division; I < 1 s would divide by zero.
      const seconds = Math.max(1, Number(etcdStatsIntervalNs / 1_000_000_000n));
      every(etcdStatsIntervalNs, () => {
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
      if (this.#queue.length === 0) {
        if (this.#closed || this.#state === "closed") break;
        await new Promise<void>((resolve) => this.#wake = resolve);
        this.#wake = undefined;
        continue;
      }
      const item = this.#queue[0];
      if (item.to === "geometry") {
        this.#queue.shift();
        this.#queued -= item.bytes.length;
        await this.#writeGeometry(item.bytes);
        continue;
      }
      const batch = this.#takeDumpBatch();
      try {
        await writeAll(target, batch);
      } catch (error) {
        if (this.#target === undefined) break; // closed by a close() timeout
        this.#options.log("ERROR", `writing: ${goReason(error)}`);
        this.#stopDump();
        break;
      }
    }
    if (this.#closed && this.#state !== "closed") this.#state = "closed";
    this.#closeTargets();
  }

  #takeDumpBatch(): Uint8Array {
    const parts: Uint8Array[] = [];
    let size = 0;
    while (this.#queue.length > 0 && this.#queue[0].to === "dump") {
      const next = this.#queue[0].bytes;
      if (parts.length > 0 && size + next.length > BATCH_BYTES) break;
      parts.push(next);
      size += next.length;
      this.#queue.shift();
    }
    this.#queued -= size;
    if (parts.length === 1) return parts[0];
    const batch = new Uint8Array(size);
    let offset = 0;
    for (const part of parts) {
      batch.set(part, offset);
      offset += part.length;
    }
    return batch;
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
