// Display rules for sshproxyctl's human units and CSV fields (spec §7.1).
// Bandwidth is computed in single precision like the reference's float32
// arithmetic, and rounded with Go's exact round-half-to-even, which JS's
// toFixed (round-half-up on the binary value) does not reproduce.

// The reference stops at T and crashes beyond (spec §12.4 item 45); the
// table goes on so that any int64 value has a unit.
const BANDWIDTH_PREFIXES = "MGTPEZY";

// Formats the exact binary value numerator / 2^exponent with one decimal,
// ties to even, as Go's strconv does for %.1f.
function formatOneDecimal(numerator: bigint, exponent: bigint): string {
  const denominator = 1n << exponent;
  const scaled = numerator * 10n;
  let tenths = scaled / denominator;
  const twiceRemainder = (scaled % denominator) * 2n;
  if (
    twiceRemainder > denominator ||
    (twiceRemainder === denominator && tenths % 2n === 1n)
  ) {
    tenths += 1n;
  }
  return `${tenths / 10n}.${tenths % 10n}`;
}

/** Formats a bandwidth stored in kB/s (integer) as the tables show it: "512 kB/s", "1.5 MB/s". */
export function formatBandwidth(kilobytesPerSecond: number): string {
  const value = Math.trunc(kilobytesPerSecond);
  if (!Number.isFinite(value) || value < 1024) return `${value} kB/s`;
  let exponent = 10n;
  let prefix = 0;
  for (
    let quotient = Math.floor(value / 1024);
    quotient >= 1024 && prefix < BANDWIDTH_PREFIXES.length - 1;
    quotient = Math.floor(quotient / 1024)
  ) {
    exponent += 10n;
    prefix++;
  }
  // float32(b) / float32(div): the division by a power of two is exact, so
  // only the conversion of b to single precision rounds.
  const single = BigInt(Math.fround(value));
  return `${formatOneDecimal(single, exponent)} ${
    BANDWIDTH_PREFIXES[prefix]
  }B/s`;
}

/**
 * Formats a persist TTL in seconds: "1h 2m 5s" for tables, or with `raw` the
 * bare integer for CSV; empty for 0 either way.
 */
export function formatPersistTtl(
  seconds: number,
  options: { raw?: boolean } = {},
): string {
  if (seconds === 0) return "";
  if (options.raw) return String(Math.round(seconds));
  // The reference's float arithmetic, floor by floor, negative values included.
  let rest = seconds;
  if (rest < 60) return `${Math.round(rest)}s`;
  let minutes = Math.floor(rest / 60);
  rest -= minutes * 60;
  if (minutes < 60) return `${minutes}m ${Math.round(rest)}s`;
  let hours = Math.floor(minutes / 60);
  minutes -= hours * 60;
  if (hours < 24) return `${hours}h ${minutes}m ${Math.round(rest)}s`;
  const days = Math.floor(hours / 24);
  hours -= days * 24;
  return `${days}d ${hours}h ${minutes}m ${Math.round(rest)}s`;
}

// Go's unicode.IsSpace.
const LEADING_SPACE =
  /^[\t\n\v\f\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]/;

/** Quotes one CSV field the way Go's encoding/csv writer does. */
export function formatCsvField(field: string): string {
  const needsQuotes = field !== "" &&
    (field === "\\." || /[,"\r\n]/.test(field) || LEADING_SPACE.test(field));
  return needsQuotes ? `"${field.replaceAll('"', '""')}"` : field;
}

/** Formats CSV records, each ending with "\n" (no header line: the caller never adds one). */
export function formatCsv(records: readonly (readonly string[])[]): string {
  return records.map((record) => record.map(formatCsvField).join(",") + "\n")
    .join("");
}
