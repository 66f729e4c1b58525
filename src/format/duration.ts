// Go's time.Duration syntax: the configuration file, `show config`, log
// lines and `convert` all speak it, so parsing and printing must match Go
// exactly (spec Appendix A.1). No npm package reproduces Go's rules (e.g.
// "1h0m0s", "1.5ms", "0s", the exact error texts), hence this module.
import { fail, ok, type Result } from "../result.ts";

/** A duration in nanoseconds (BigInt: Go durations are int64 nanoseconds). */
export type Nanoseconds = bigint;

const UNIT_NANOSECONDS: Record<string, bigint> = {
  ns: 1n,
  us: 1_000n,
  "µs": 1_000n, // U+00B5 micro sign
  "μs": 1_000n, // U+03BC Greek mu
  ms: 1_000_000n,
  s: 1_000_000_000n,
  m: 60_000_000_000n,
  h: 3_600_000_000_000n,
};

const MAX_INT64 = (1n << 63n) - 1n;

/** Parses a Go duration string ("2m30s", "1.5h", "0"), with Go's error texts. */
export function parseGoDuration(text: string): Result<Nanoseconds> {
  const quoted = JSON.stringify(text);
  const invalid = () => fail<Nanoseconds>(`time: invalid duration ${quoted}`);
  let rest = text;
  let negative = false;
  if (rest.startsWith("-") || rest.startsWith("+")) {
    negative = rest[0] === "-";
    rest = rest.slice(1);
  }
  if (rest === "0") return ok(0n);
  if (rest === "") return invalid();
  let total = 0n;
  while (rest !== "") {
    const number = /^(\d*)(\.(\d*))?/.exec(rest);
    if (!number || (number[1] === "" && (number[3] ?? "") === "")) {
      return invalid();
    }
    const whole = number[1];
    const fraction = number[3] ?? "";
    rest = rest.slice(number[0].length);
    const unitMatch = /^[^\d.]*/.exec(rest);
    const unit = unitMatch ? unitMatch[0] : "";
    if (unit === "") return fail(`time: missing unit in duration ${quoted}`);
    const scale = UNIT_NANOSECONDS[unit];
    if (scale === undefined) {
      return fail(
        `time: unknown unit ${JSON.stringify(unit)} in duration ${quoted}`,
      );
    }
    rest = rest.slice(unit.length);
    let value = BigInt(whole === "" ? "0" : whole) * scale;
    if (fraction !== "") {
      // Truncate like Go: keep only the nanosecond-significant digits.
      const digits = BigInt(fraction);
      const divisor = 10n ** BigInt(fraction.length);
      value += (digits * scale) / divisor;
    }
    total += value;
    if (total > MAX_INT64) return invalid();
  }
  return ok(negative ? -total : total);
}

function trimFraction(digits: string): string {
  return digits.replace(/0+$/, "");
}

/** Formats nanoseconds as Go's Duration.String() does ("1h0m0s", "1.5ms"). */
export function formatGoDuration(nanoseconds: Nanoseconds): string {
  if (nanoseconds === 0n) return "0s";
  const sign = nanoseconds < 0n ? "-" : "";
  const magnitude = nanoseconds < 0n ? -nanoseconds : nanoseconds;
  if (magnitude < 1_000_000_000n) {
    const [unit, scale] = magnitude < 1_000n
      ? ["ns", 1n]
      : magnitude < 1_000_000n
      ? ["µs", 1_000n]
      : ["ms", 1_000_000n];
    const whole = magnitude / scale;
    const remainder = magnitude % scale;
    const width = scale.toString().length - 1;
    const fraction = remainder === 0n
      ? ""
      : "." + trimFraction(remainder.toString().padStart(width, "0"));
    return `${sign}${whole}${fraction}${unit}`;
  }
  const hours = magnitude / 3_600_000_000_000n;
  const minutes = (magnitude / 60_000_000_000n) % 60n;
  const seconds = (magnitude / 1_000_000_000n) % 60n;
  const subsecond = magnitude % 1_000_000_000n;
  const fraction = subsecond === 0n
    ? ""
    : "." + trimFraction(subsecond.toString().padStart(9, "0"));
  let text = `${seconds}${fraction}s`;
  if (hours > 0n || minutes > 0n) text = `${minutes}m${text}`;
  if (hours > 0n) text = `${hours}h${text}`;
  return sign + text;
}
