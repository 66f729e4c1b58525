// sshproxy-replay (spec §2.4, §8.7): lists dumps record by record, replays
// them live, or exports them as asciicast v2. Files are read in chunks
// through the incremental decoder, so a dump of any size streams.
//
// Differences from the reference, on purpose:
// * a dump that ends inside a record prints every complete record, then
//   `sshproxy-replay: FILE: truncated record at offset N` on stderr (the
//   reference: `error reading: unexpected EOF`, or nothing at all when the
//   cut falls right after a record's 13-byte frame);
// * the exit status is 1 when any file could not be read completely (the
//   reference always exits 0); the next files are processed all the same;
// * a header that cannot be read names the file and says whether it is
//   not a dump or a truncated one, keeping the reference's words in
//   parentheses: `sshproxy-replay: FILE: not a dump file (reading header:
//   unknow version number: 6e6f)`;
// * user and command in the header, and file names, are printed with their
//   control characters escaped (listing.ts); raw recorded bytes reach the
//   terminal only in `-replay` mode, which is what the admin asked for;
// * a record on an fd other than 0/1/2 is listed as `[fd<N>]` (the
//   reference repeats the previous record's arrow) and is never written in
//   live mode (the reference writes it to the previous record's stream);
// * `-speed`, `-max-wait` and `-asciicast` are new.
import { escapeText } from "../log/escape.ts";
import { goLogPrefix } from "../log/format.ts";
import { AsciicastBuilder, type CastOptions } from "./asciicast.ts";
import { DumpDecoder, type DumpHeader } from "./dump_format.ts";
import { geometryPath, parseGeometry } from "./geometry.ts";
import { goReason } from "./go_errors.ts";
import { direction, headerLines, hexDump, recordLine } from "./listing.ts";

/** What sshproxy-replay was asked to do. */
export interface ReplayOptions {
  /** `-replay`: write the session's output as it happened. */
  live: boolean;
  /** `-speed`: playback speed factor (> 0). */
  speed: number;
  /** `-max-wait`: longest pause in live replay and exports, ns. */
  maxWaitNs?: bigint;
  /** `-asciicast`: export to this file (`-` = stdout) instead of listing. */
  asciicast?: string;
  /** `-asciicast-input`: export fd 0 as `i` events. */
  asciicastInput: boolean;
}

/** Where the output goes (the real streams, or buffers in tests). */
export interface ReplayStreams {
  stdout: { writeSync(data: Uint8Array): number };
  stderr: { writeSync(data: Uint8Array): number };
  sleep(ms: number): Promise<void>;
}

const READ_SIZE = 256 * 1024;
const FLUSH_SIZE = 64 * 1024;
const encoder = new TextEncoder();

function writeAllSync(
  stream: { writeSync(data: Uint8Array): number },
  data: Uint8Array,
): void {
  let rest = data;
  while (rest.length > 0) rest = rest.subarray(stream.writeSync(rest));
}

/** Buffered output: listing text is built in many small pieces. */
class Output {
  #parts: Uint8Array[] = [];
  #size = 0;
  constructor(readonly stream: { writeSync(data: Uint8Array): number }) {}

  write(data: Uint8Array | string): void {
    const bytes = typeof data === "string" ? encoder.encode(data) : data;
    this.#parts.push(bytes);
    this.#size += bytes.length;
    if (this.#size >= FLUSH_SIZE) this.flush();
  }

  flush(): void {
    if (this.#size === 0) return;
    const all = new Uint8Array(this.#size);
    let offset = 0;
    for (const part of this.#parts) {
      all.set(part, offset);
      offset += part.length;
    }
    this.#parts = [];
    this.#size = 0;
    writeAllSync(this.stream, all);
  }
}

const realStreams: ReplayStreams = {
  stdout: Deno.stdout,
  stderr: Deno.stderr,
  sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
};

/** Processes every file in turn; returns the exit status (1 if any file failed). */
export async function replayFiles(
  files: readonly string[],
  options: ReplayOptions,
  streams: ReplayStreams = realStreams,
): Promise<number> {
  const stdout = new Output(streams.stdout);
  const stderr = (text: string) => {
    stdout.flush();
    writeAllSync(streams.stderr, encoder.encode(text));
  };
  let cast: Output | undefined;
  let castFile: Deno.FsFile | undefined;
  if (options.asciicast !== undefined) {
    if (options.asciicast === "-") {
      cast = stdout;
    } else {
      try {
        castFile = await Deno.open(options.asciicast, {
          write: true,
          create: true,
          truncate: true,
        });
        cast = new Output(castFile);
      } catch (error) {
        stderr(
          `sshproxy-replay: ${options.asciicast}: ${
            goReason(error)
          } (cannot write the asciicast file)\n`,
        );
        return 1;
      }
    }
  }
  let status = 0;
  try {
    for (const file of files) {
      const ok = await replayOne(file, options, streams, stdout, stderr, cast);
      if (!ok) status = 1;
    }
  } finally {
    stdout.flush();
    cast?.flush();
    castFile?.close();
  }
  return status;
}

async function replayOne(
  file: string,
  options: ReplayOptions,
  streams: ReplayStreams,
  stdout: Output,
  stderr: (text: string) => void,
  cast: Output | undefined,
): Promise<boolean> {
  const listing = cast === undefined;
  const shown = escapeText(file);
  if (listing) stdout.write(`===> opening ${shown}\n`);
  let handle: Deno.FsFile;
  try {
    handle = await Deno.open(file, { read: true });
  } catch (error) {
    stderr(
      `${goLogPrefix()}error reading: open ${shown}: ${goReason(error)}\n`,
    );
    return false;
  }
  // The first bytes tell a short dump from a file that is no dump at all.
  const leading: number[] = [];
  const decoder = new DumpDecoder();
  let header: DumpHeader | undefined;
  let firstNs: bigint | undefined;
  let previousNs: bigint | undefined;
  let due = 0; // when the current record is due in live replay (performance.now() ms)
  let builder: AsciicastBuilder | undefined;
  const castOptions: CastOptions = {
    input: options.asciicastInput,
    speed: options.speed,
    maxWaitNs: options.maxWaitNs,
  };
  try {
    for (;;) {
      const buffer = new Uint8Array(READ_SIZE);
      let count: number | null;
      try {
        count = await handle.read(buffer);
      } catch (error) {
        const stage = header === undefined
          ? "error: reading header: "
          : "error reading: ";
        stderr(`${goLogPrefix()}${stage}read ${shown}: ${goReason(error)}\n`);
        return false;
      }
      if (count === null) break;
      for (let at = 0; at < count && leading.length < 2; at++) {
        leading.push(buffer[at]);
      }
      for (const event of decoder.push(buffer.subarray(0, count))) {
        if (event.kind === "error") {
          stderr(
            `sshproxy-replay: ${shown}: not a dump file (reading header: ${event.message})\n`,
          );
          return false;
        }
        if (event.kind === "header") {
          header = event.header;
          if (cast !== undefined) {
            builder = new AsciicastBuilder(
              header,
              await readGeometry(file),
              castOptions,
            );
            cast.write(builder.headerLine());
          } else {
            stdout.write(headerLines(header));
          }
          continue;
        }
        const { record } = event;
        if (builder !== undefined) {
          cast!.write(builder.record(record));
        } else if (options.live) {
          // Pauses are scheduled against the clock from the first record,
          // so sub-millisecond gaps add up instead of each costing a timer.
          if (previousNs === undefined) due = performance.now();
          else {
            due += liveWaitMs(record.timeNs - previousNs, options);
            const ahead = due - performance.now();
            if (ahead >= 1) {
              stdout.flush();
              await streams.sleep(ahead);
            }
          }
          previousNs = record.timeNs;
          stdout.flush();
          if (record.fd === 1) writeAllSync(streams.stdout, record.data);
          else if (record.fd === 2) writeAllSync(streams.stderr, record.data);
        } else {
          const arrow = direction(record.fd) ?? `fd${record.fd}`;
          stdout.write(
            recordLine(record.timeNs, firstNs, arrow, record.data.length),
          );
          firstNs ??= record.timeNs;
          stdout.write(hexDump(record.data));
          stdout.write("\n");
        }
      }
    }
  } finally {
    handle.close();
  }
  const end = decoder.finish();
  if (end.kind === "truncated-header") {
    stderr(
      `sshproxy-replay: ${shown}: ${
        headerProblem(leading, decoder.pending)
      } (reading header: ${end.message})\n`,
    );
    return false;
  }
  if (builder !== undefined) cast!.write(builder.finish());
  if (end.kind === "truncated-record") {
    stderr(
      `sshproxy-replay: ${shown}: truncated record at offset ${end.offset}\n`,
    );
    return false;
  }
  return true;
}

/** What a file that ended inside the header is, from its first bytes (a dump starts with version 1: 00 01). */
function headerProblem(leading: readonly number[], size: number): string {
  if (size === 0) return "empty file, not a dump";
  if (leading[0] !== 0 || (leading.length > 1 && leading[1] !== 1)) {
    return "not a dump file";
  }
  return `truncated dump: the file ends inside the header, after ${size} bytes`;
}

/** The pause before a record in live replay: the recorded gap, scaled and capped. */
export function liveWaitMs(gapNs: bigint, options: ReplayOptions): number {
  if (gapNs <= 0n) return 0;
  let ns = Number(gapNs) / options.speed;
  if (options.maxWaitNs !== undefined && ns > Number(options.maxWaitNs)) {
    ns = Number(options.maxWaitNs);
  }
  return ns / 1e6;
}

async function readGeometry(file: string) {
  try {
    return parseGeometry(await Deno.readTextFile(geometryPath(file)));
  } catch {
    return [];
  }
}
