// Export of a dump as an asciicast v2 recording (asciinema-player,
// `asciinema play`), pure. Beyond the reference (issue 5, item 4):
//
// * header: {"version": 2, "width", "height", "timestamp", "title"}; the
//   size is the first recorded terminal geometry (geometry.ts), 80x24 when
//   the dump has none (pipe sessions, TCP dumps, reference dumps);
// * `o` events for fd 1 and fd 2 (what the user saw), `i` events for fd 0
//   only when asked, `r` events ("COLSxROWS") for later resizes;
// * times in seconds since the session start, never decreasing, optionally
//   divided by a speed factor and with every pause capped (max wait);
// * data decoded as UTF-8 per stream, keeping a multi-byte character split
//   across two records whole; invalid bytes become U+FFFD (asciicast data
//   is JSON text);
// * JSON escapes C0 controls but leaves DEL, C1 controls (U+009B is CSI to
//   some terminals) and U+2028/U+2029 raw: those are written as \uXXXX too,
//   so an export to stdout never drives the admin's terminal.
import { bytesText, type DumpHeader, type DumpRecord } from "./dump_format.ts";
import type { GeometryEvent } from "./geometry.ts";
import { clientAddress } from "./dump_format.ts";
import { formatFixed } from "./listing.ts";

/** Export settings. */
export interface CastOptions {
  /** Also export what the user typed (`i` events). */
  input: boolean;
  /** Playback speed factor (> 0); 1 = as recorded. */
  speed: number;
  /** Longest pause kept, in ns (after the speed factor); undefined = no cap. */
  maxWaitNs?: bigint;
}

const DEFAULT_SIZE = { cols: 80, rows: 24 };

/** Builds the asciicast lines of one dump, record by record. */
export class AsciicastBuilder {
  readonly #header: DumpHeader;
  readonly #options: CastOptions;
  readonly #resizes: GeometryEvent[];
  readonly #size: { cols: number; rows: number };
  readonly #decoders = [0, 1, 2].map(() => new TextDecoder("utf-8"));
  #lastRawNs: bigint;
  #elapsedNs = 0; // adjusted time of the last event, ns as a double
  #lastMicros = 0; // time of the last event line, in µs

  constructor(
    header: DumpHeader,
    geometry: readonly GeometryEvent[],
    options: CastOptions,
  ) {
    this.#header = header;
    this.#options = options;
    this.#size = geometry[0] ?? DEFAULT_SIZE;
    this.#resizes = geometry.slice(1);
    this.#lastRawNs = header.startNs;
  }

  /** The first line: the JSON header object. */
  headerLine(): string {
    const header = {
      version: 2,
      width: this.#size.cols,
      height: this.#size.rows,
      timestamp: Number(this.#header.startNs / 1_000_000_000n),
      title: `${bytesText(this.#header.user)}@${clientAddress(this.#header)}${
        this.#header.command.length > 0
          ? ": " + bytesText(this.#header.command)
          : ""
      }`,
    };
    return jsonText(header) + "\n";
  }

  /** The event lines for one record (and the resizes that came before it). */
  record(record: DumpRecord): string {
    let out = this.#resizesUntil(record.timeNs);
    const code = record.fd === 0 ? "i" : record.fd <= 2 ? "o" : undefined;
    if (code === undefined) return out;
    if (code === "i" && !this.#options.input) return out;
    const text = this.#decoders[record.fd].decode(record.data, {
      stream: true,
    });
    if (text.length === 0) return out;
    out += this.#event(record.timeNs, code, text);
    return out;
  }

  /** Lines still pending at the end (later resizes, bytes of an unfinished character). */
  finish(): string {
    let out = this.#resizesUntil(undefined);
    for (const fd of [1, 2, 0]) {
      if (fd === 0 && !this.#options.input) continue;
      const text = this.#decoders[fd].decode();
      if (text.length > 0) {
        out += this.#event(this.#lastRawNs, fd === 0 ? "i" : "o", text);
      }
    }
    return out;
  }

  #resizesUntil(timeNs: bigint | undefined): string {
    let out = "";
    while (
      this.#resizes.length > 0 &&
      (timeNs === undefined || this.#resizes[0].timeNs <= timeNs)
    ) {
      const resize = this.#resizes.shift()!;
      out += this.#event(resize.timeNs, "r", `${resize.cols}x${resize.rows}`);
    }
    return out;
  }

  #event(timeNs: bigint, code: string, data: string): string {
    const gap = timeNs > this.#lastRawNs ? Number(timeNs - this.#lastRawNs) : 0;
    if (timeNs > this.#lastRawNs) this.#lastRawNs = timeNs;
    let adjusted = gap / this.#options.speed;
    const cap = this.#options.maxWaitNs;
    if (cap !== undefined && adjusted > Number(cap)) adjusted = Number(cap);
    this.#elapsedNs += adjusted;
    // Rounded to microseconds, and never below the previous event's time.
    const micros = Math.max(
      Math.round(this.#elapsedNs / 1000),
      this.#lastMicros,
    );
    this.#lastMicros = micros;
    const seconds = formatFixed(micros / 1e6, 6);
    return `[${seconds}, ${JSON.stringify(code)}, ${jsonText(data)}]\n`;
  }
}

/** JSON.stringify, with the characters it leaves raw that a terminal may obey escaped. */
function jsonText(value: unknown): string {
  return JSON.stringify(value).replace(
    /[\u007f-\u009f\u2028\u2029]/g,
    (char) => `\\u${char.charCodeAt(0).toString(16).padStart(4, "0")}`,
  );
}
