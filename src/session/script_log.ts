// Reading what util-linux script(1) logs in its "advanced" format (spec
// §5.14, terminal + recorder; see terminal_recording.ts for why script runs
// at all). Pure: no I/O, so it is tested on logs of real script runs.
//
// script is started with `-B IO -T TIMING -m advanced`: IO receives the
// raw bytes of both directions, TIMING one line per event:
//
//   H <delay> <NAME> <value>        header (START_TIME, TERM, COLUMNS, LINES...)
//   I <sec>.<usec> <n>              n bytes the user typed (next n bytes of IO)
//   O <sec>.<usec> <n>              n bytes written to the user (next n bytes of IO)
//   S <sec>.<usec> SIGWINCH ROWS=<r> COLS=<c>   the terminal was resized
//
// The delays are microseconds since the previous I, O or S line (H lines
// do not count), the first one since script opened its logs. IO starts with
// a one-line banner (`Script started on ... [...]\n`) and ends with a
// `\nScript done ...` trailer that no timing line covers; the banner is one
// line as long as TERM and the command contain no newline, which the
// runner guarantees. The two logs are separate FIFOs, so their bytes arrive
// independently; the demultiplexer pairs each I/O line with its bytes as
// soon as both are there, and never holds more than what script wrote
// ahead on one of them.

/** Where the demultiplexed events go. */
export interface ScriptLogSink {
  /** Bytes the user typed (fd 0) or that were written to the user (fd 1). */
  data(fd: 0 | 1, bytes: Uint8Array, timeNs: bigint): void;
  /** The terminal size: initial (from the header) and after each SIGWINCH. */
  resize(cols: number, rows: number, timeNs: bigint): void;
}

/** One parsed line of the timing log. */
export type TimingEntry =
  | { kind: "I" | "O"; delayUs: bigint; bytes: number }
  | { kind: "S"; delayUs: bigint; signal: string; cols?: number; rows?: number }
  | { kind: "H"; name: string; value: string };

/** Parses one timing line; undefined for anything not understood. */
export function parseTimingLine(line: string): TimingEntry | undefined {
  const header = /^H [0-9.]+ ([A-Z_]+)(?: (.*))?$/.exec(line);
  if (header) return { kind: "H", name: header[1], value: header[2] ?? "" };
  const io = /^([IO]) ([0-9]{1,12})\.([0-9]{6}) ([0-9]{1,12})$/.exec(line);
  if (io) {
    return {
      kind: io[1] as "I" | "O",
      delayUs: BigInt(io[2]) * 1_000_000n + BigInt(io[3]),
      bytes: Number(io[4]),
    };
  }
  const signal = /^S ([0-9]{1,12})\.([0-9]{6}) (SIG[A-Z0-9]+)(?: (.*))?$/
    .exec(line);
  if (signal) {
    const entry: TimingEntry = {
      kind: "S",
      delayUs: BigInt(signal[1]) * 1_000_000n + BigInt(signal[2]),
      signal: signal[3],
    };
    const size = /^ROWS=([0-9]{1,5}) COLS=([0-9]{1,5})$/.exec(signal[4] ?? "");
    if (size) {
      entry.rows = Number(size[1]);
      entry.cols = Number(size[2]);
    }
    return entry;
  }
  return undefined;
}

const NEWLINE = 0x0a;

/**
 * Pairs script's timing lines with the bytes of its IO log and hands them
 * to a sink with absolute times: `anchorNs` (when script opened its logs)
 * plus the sum of the delays so far.
 */
export class ScriptLogDemux {
  readonly #sink: ScriptLogSink;
  readonly #anchorNs: bigint;
  #elapsedUs = 0n;
  #bannerDone = false;
  #io: Uint8Array[] = [];
  #ioAvailable = 0;
  #timingText = "";
  readonly #decoder = new TextDecoder("utf-8", { fatal: false });
  #entries: TimingEntry[] = [];
  #columns = 0;
  #lines = 0;
  #initialSent = false;
  #timingEnded = false;

  constructor(sink: ScriptLogSink, anchorNs: bigint) {
    this.#sink = sink;
    this.#anchorNs = anchorNs;
  }

  /** Bytes that arrived on the IO log and wait for their timing line. */
  get pendingIoBytes(): number {
    return this.#ioAvailable;
  }

  /** Timing lines whose bytes have not all arrived. */
  get pendingEntries(): number {
    return this.#entries.length;
  }

  /** Feeds bytes read from the IO log. */
  pushIo(chunk: Uint8Array): void {
    if (!this.#bannerDone) {
      const end = chunk.indexOf(NEWLINE);
      if (end < 0) return;
      this.#bannerDone = true;
      chunk = chunk.subarray(end + 1);
    }
    if (chunk.length === 0) return;
    this.#io.push(chunk);
    this.#ioAvailable += chunk.length;
    this.#drain();
  }

  /** Feeds bytes read from the timing log. */
  pushTiming(chunk: Uint8Array): void {
    this.#timingText += this.#decoder.decode(chunk, { stream: true });
    this.#takeLines();
    this.#drain();
  }

  /** The timing log ended: its last line counts even without a newline. */
  endTiming(): void {
    if (this.#timingEnded) return;
    this.#timingEnded = true;
    this.#timingText += this.#decoder.decode();
    if (this.#timingText !== "") this.#timingText += "\n";
    this.#takeLines();
    this.#drain();
  }

  #takeLines(): void {
    let start = 0;
    for (;;) {
      const end = this.#timingText.indexOf("\n", start);
      if (end < 0) break;
      const entry = parseTimingLine(this.#timingText.slice(start, end));
      if (entry !== undefined) this.#entries.push(entry);
      start = end + 1;
    }
    this.#timingText = this.#timingText.slice(start);
  }

  #drain(): void {
    while (this.#entries.length > 0) {
      const entry = this.#entries[0];
      if (entry.kind === "H") {
        this.#entries.shift();
        this.#header(entry.name, entry.value);
        continue;
      }
      if (entry.kind === "S") {
        this.#entries.shift();
        this.#elapsedUs += entry.delayUs;
        if (entry.cols !== undefined && entry.rows !== undefined) {
          this.#initialSent = true;
          this.#sink.resize(entry.cols, entry.rows, this.#now());
        }
        continue;
      }
      if (this.#ioAvailable < entry.bytes) return;
      this.#entries.shift();
      this.#elapsedUs += entry.delayUs;
      const bytes = this.#take(entry.bytes);
      if (bytes.length > 0) {
        this.#sink.data(entry.kind === "I" ? 0 : 1, bytes, this.#now());
      }
    }
  }

  #header(name: string, value: string): void {
    if (name !== "COLUMNS" && name !== "LINES") return;
    const number = /^[0-9]{1,5}$/.test(value) ? Number(value) : 0;
    if (name === "COLUMNS") this.#columns = number;
    else this.#lines = number;
    if (this.#initialSent || this.#columns <= 0 || this.#lines <= 0) return;
    this.#initialSent = true;
    this.#sink.resize(this.#columns, this.#lines, this.#now());
  }

  #now(): bigint {
    return this.#anchorNs + this.#elapsedUs * 1000n;
  }

  #take(count: number): Uint8Array {
    this.#ioAvailable -= count;
    const first = this.#io[0];
    if (first.length >= count) {
      if (first.length === count) this.#io.shift();
      else this.#io[0] = first.subarray(count);
      return first.subarray(0, count);
    }
    const out = new Uint8Array(count);
    let filled = 0;
    while (filled < count) {
      const chunk = this.#io[0];
      const part = Math.min(chunk.length, count - filled);
      out.set(chunk.subarray(0, part), filled);
      filled += part;
      if (part === chunk.length) this.#io.shift();
      else this.#io[0] = chunk.subarray(part);
    }
    return out;
  }
}
