// The text sshproxy-replay prints (spec §8.7), pure: the header lines, the
// `[<T>] [<D>] <L> bytes` line and Go's hex.Dump layout, byte for byte.
// Nothing recorded reaches the terminal raw here: the hex dump's text column
// shows bytes outside 0x20-0x7e as `.`, and header fields are escaped.
import {
  formatGoDefaultTime,
  formatRfc3339Nano,
  localOffsetMinutes,
} from "../format/time.ts";
import { escapeBytes } from "../log/escape.ts";
import { clientAddress, type DumpHeader, sshdAddress } from "./dump_format.ts";

const encoder = new TextEncoder();
const MONTHS = [
  "Jan",
  "Feb",
  "Mar",
  "Apr",
  "May",
  "Jun",
  "Jul",
  "Aug",
  "Sep",
  "Oct",
  "Nov",
  "Dec",
];

/**
 * The six `--> ...` lines. User and command are whatever the recording
 * says: their control characters and invalid bytes are escaped (escape.ts),
 * so a dump cannot print a forged `--> User:` line or send escape sequences
 * to the admin's terminal (the reference prints them raw).
 */
export function headerLines(
  header: DumpHeader,
  startText = formatGoDefaultTime(header.startNs),
): Uint8Array {
  return encoder.encode(
    `--> Version: ${header.version}\n--> Start:   ${startText}\n` +
      `--> User:    ${escapeBytes(header.user)}\n` +
      `--> From:    ${clientAddress(header)}\n` +
      `--> To:      ${sshdAddress(header)}\n` +
      `--> Command: ${escapeBytes(header.command)}\n`,
  );
}

/** Go's "Jan 02 15:04:05" in the given offset (the local one by default). */
export function formatDayTime(
  ns: bigint,
  offsetMinutes = localOffsetMinutes(ns),
): string {
  const text = formatRfc3339Nano(ns, offsetMinutes);
  const match = /^-?\d+-(\d\d)-(\d\d)T(\d\d:\d\d:\d\d)/.exec(text);
  if (!match) return text;
  return `${MONTHS[Number(match[1]) - 1]} ${match[2]} ${match[3]}`;
}

/** Go's Duration.Seconds(): whole seconds plus the remainder, in float64. */
export function goSeconds(ns: bigint): number {
  const seconds = ns / 1_000_000_000n;
  const rest = ns % 1_000_000_000n;
  return Number(seconds) + Number(rest) / 1e9;
}

/**
 * Go's %.<digits>f: the exact binary value of the double rounded half to
 * even (JavaScript's toFixed breaks ties upwards, e.g. 0.0078125).
 */
export function formatFixed(value: number, digits: number): string {
  if (!Number.isFinite(value)) {
    return Number.isNaN(value) ? "NaN" : value > 0 ? "+Inf" : "-Inf";
  }
  const negative = value < 0 || Object.is(value, -0);
  const view = new DataView(new ArrayBuffer(8));
  view.setFloat64(0, Math.abs(value));
  const bits = view.getBigUint64(0);
  const exponentBits = Number((bits >> 52n) & 0x7ffn);
  const fractionBits = bits & ((1n << 52n) - 1n);
  const mantissa = exponentBits === 0
    ? fractionBits
    : fractionBits | (1n << 52n);
  const exponent = (exponentBits === 0 ? 1 : exponentBits) - 1075;
  const scale = 10n ** BigInt(digits);
  let scaled: bigint;
  if (exponent >= 0) {
    scaled = mantissa * scale << BigInt(exponent);
  } else {
    const numerator = mantissa * scale;
    const denominator = 1n << BigInt(-exponent);
    scaled = numerator / denominator;
    const twice = (numerator % denominator) * 2n;
    if (twice > denominator || (twice === denominator && scaled % 2n === 1n)) {
      scaled += 1n;
    }
  }
  const text = scaled.toString().padStart(digits + 1, "0");
  const whole = text.slice(0, text.length - digits);
  const fraction = text.slice(text.length - digits);
  return `${negative ? "-" : ""}${whole}${digits > 0 ? "." + fraction : ""}`;
}

/** `<D>` of the listing; `undefined` for an fd the reference has no arrow for. */
export function direction(fd: number): string | undefined {
  return fd === 0 ? "-->" : fd === 1 ? "<--" : fd === 2 ? "<==" : undefined;
}

/**
 * `[<T>] [<D>] <L> bytes`: `<T>` right-aligned on 15 characters, the first
 * record's local time or `+seconds` since it; `<D>` as given (the reference
 * keeps the previous record's arrow for an unknown fd, "" before any).
 */
export function recordLine(
  timeNs: bigint,
  firstNs: bigint | undefined,
  arrow: string,
  length: number,
): string {
  const when = firstNs === undefined
    ? formatDayTime(timeNs)
    : `+${formatFixed(goSeconds(timeNs - firstNs), 6)}`;
  return `[${when.padStart(15, " ")}] [${arrow}] ${length} bytes\n`;
}

// Lookup tables: listing a large dump formats millions of bytes.
const HEX = Array.from(
  { length: 256 },
  (_, b) => b.toString(16).padStart(2, "0") + " ",
);
const CHAR = Array.from(
  { length: 256 },
  (_, b) => (b < 32 || b > 126 ? "." : String.fromCharCode(b)),
);

/** Go's hex.Dump: `hexdump -C` lines, no final offset line ("" for no data). */
export function hexDump(data: Uint8Array): string {
  const lines: string[] = [];
  for (let line = 0; line < data.length; line += 16) {
    // Go prints the offset's low 32 bits.
    let text = (line % 0x1_0000_0000).toString(16).padStart(8, "0") + "  ";
    let chars = "";
    const end = Math.min(line + 16, data.length);
    for (let at = line; at < line + 16; at++) {
      if (at < end) {
        text += HEX[data[at]];
        chars += CHAR[data[at]];
      } else {
        text += "   ";
      }
      if (at - line === 7) text += " ";
    }
    lines.push(`${text} |${chars}|\n`);
  }
  return lines.join("");
}
