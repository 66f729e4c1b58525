// Timestamps as BigInt nanoseconds since the epoch plus the UTC offset they
// were written in. JavaScript's Date keeps only milliseconds and forgets the
// writer's offset, yet etcd keys, JSON values and tables must reproduce Go's
// RFC3339Nano text to the nanosecond and in the gateway's own zone (spec A.2).
// Parsing follows Go's time.Parse closely enough to accept and reject the
// same inputs with the same error texts (spec §2.2.6, §6.2).
import { fail, ok, type Result } from "../result.ts";

/** An instant and the UTC offset (minutes east of Greenwich) it is shown in. */
export interface Timestamp {
  readonly ns: bigint;
  readonly offsetMinutes: number;
}

const NS_PER_SECOND = 1_000_000_000n;
const NS_PER_MS = 1_000_000n;
// JS Date's valid range, so that local-zone look-ups never see NaN.
const DATE_LIMIT_MS = 8_640_000_000_000_000;

interface WallClock {
  year: number;
  month: number;
  day: number;
  hour: number;
  minute: number;
  second: number;
  nanosecond: bigint;
}

function floorDiv(a: bigint, b: bigint): bigint {
  const q = a / b;
  return a % b !== 0n && (a < 0n) !== (b < 0n) ? q - 1n : q;
}

// Howard Hinnant's civil-from-days: exact for any day count, no Date quirks
// (Date maps years 0-99 to 1900-1999).
function civilFromDays(days: number): [number, number, number] {
  const z = days + 719468;
  const era = Math.floor(z / 146097);
  const doe = z - era * 146097;
  const yoe = Math.floor(
    (doe - Math.floor(doe / 1460) + Math.floor(doe / 36524) -
      Math.floor(doe / 146096)) / 365,
  );
  const doy = doe - (365 * yoe + Math.floor(yoe / 4) - Math.floor(yoe / 100));
  const mp = Math.floor((5 * doy + 2) / 153);
  const day = doy - Math.floor((153 * mp + 2) / 5) + 1;
  const month = mp < 10 ? mp + 3 : mp - 9;
  return [yoe + era * 400 + (month <= 2 ? 1 : 0), month, day];
}

function daysFromCivil(year: number, month: number, day: number): number {
  const y = month <= 2 ? year - 1 : year;
  const era = Math.floor(y / 400);
  const yoe = y - era * 400;
  const mp = month > 2 ? month - 3 : month + 9;
  const doy = Math.floor((153 * mp + 2) / 5) + day - 1;
  const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy;
  return era * 146097 + doe - 719468;
}

function offsetSeconds(offsetMinutes: number): bigint {
  return BigInt(Math.round(offsetMinutes * 60));
}

function wallClock(ns: bigint, offsetMinutes: number): WallClock {
  const wall = ns + offsetSeconds(offsetMinutes) * NS_PER_SECOND;
  const seconds = floorDiv(wall, NS_PER_SECOND);
  const nanosecond = wall - seconds * NS_PER_SECOND;
  const days = floorDiv(seconds, 86_400n);
  const secondOfDay = Number(seconds - days * 86_400n);
  const [year, month, day] = civilFromDays(Number(days));
  return {
    year,
    month,
    day,
    hour: Math.floor(secondOfDay / 3600),
    minute: Math.floor(secondOfDay / 60) % 60,
    second: secondOfDay % 60,
    nanosecond,
  };
}

function pad(value: number, width: number): string {
  return String(value).padStart(width, "0");
}

// Go's appendInt(year, 4): a sign, then at least four digits.
function formatYear(year: number): string {
  return year < 0 ? "-" + pad(-year, 4) : pad(year, 4);
}

function dateTime(clock: WallClock, separator: string): string {
  return `${formatYear(clock.year)}-${pad(clock.month, 2)}-${
    pad(clock.day, 2)
  }${separator}${pad(clock.hour, 2)}:${pad(clock.minute, 2)}:${
    pad(clock.second, 2)
  }`;
}

// Go's ".999999999": nothing for a whole second, else trailing zeros dropped.
function fraction(nanosecond: bigint): string {
  if (nanosecond === 0n) return "";
  return "." + nanosecond.toString().padStart(9, "0").replace(/0+$/, "");
}

// Go truncates the offset to whole minutes toward zero before printing it.
function offsetParts(offsetMinutes: number): [string, string, string] {
  const zone = Math.trunc(Number(offsetSeconds(offsetMinutes)) / 60);
  const sign = zone < 0 ? "-" : "+";
  const magnitude = Math.abs(zone);
  return [sign, pad(Math.floor(magnitude / 60), 2), pad(magnitude % 60, 2)];
}

/** Formats like Go's time.RFC3339Nano ("2024-05-02T09:15:03.041527381+02:00", "Z" for a zero offset). */
export function formatRfc3339Nano(ns: bigint, offsetMinutes: number): string {
  const clock = wallClock(ns, offsetMinutes);
  const [sign, hours, minutes] = offsetParts(offsetMinutes);
  const zone = offsetSeconds(offsetMinutes) === 0n
    ? "Z"
    : `${sign}${hours}:${minutes}`;
  return dateTime(clock, "T") + fraction(clock.nanosecond) + zone;
}

/** The process's local UTC offset (minutes east) at that instant; honours TZ. */
export function localOffsetMinutes(ns: bigint): number {
  const ms = Number(floorDiv(ns, NS_PER_MS));
  const clamped = Math.min(Math.max(ms, -DATE_LIMIT_MS), DATE_LIMIT_MS);
  return -new Date(clamped).getTimezoneOffset() || 0;
}

/** Formats "YYYY-MM-DD HH:MM:SS" in the offset the timestamp carries (spec §7.1 "Times"). */
export function formatTableTime(time: Timestamp): string;
/** Parses an RFC3339 text, then formats it as "YYYY-MM-DD HH:MM:SS" in its own offset. */
export function formatTableTime(time: string): Result<string>;
export function formatTableTime(
  time: Timestamp | string,
): string | Result<string> {
  if (typeof time === "string") {
    const parsed = parseRfc3339(time);
    return parsed.ok ? ok(formatTableTime(parsed.value)) : parsed;
  }
  return dateTime(wallClock(time.ns, time.offsetMinutes), " ");
}

// Intl names zones per locale: en-US knows EST/PDT, en-GB knows CET/CEST/BST,
// and so on. Asking several and keeping the first alphabetic answer recovers
// the tz database abbreviation for most zones Go would name.
const ABBREVIATION_LOCALES = [
  "en-US",
  "en-GB",
  "en-IE",
  "en-IN",
  "en-AU",
  "en-NZ",
  "en-ZA",
  "en-SG",
  "en-HK",
  "en-PK",
  "ja-JP",
];

function localZoneAbbreviation(ns: bigint): string {
  const ms = Number(floorDiv(ns, NS_PER_MS));
  const date = new Date(Math.min(Math.max(ms, -DATE_LIMIT_MS), DATE_LIMIT_MS));
  for (const locale of ABBREVIATION_LOCALES) {
    try {
      const name = new Intl.DateTimeFormat(locale, { timeZoneName: "short" })
        .formatToParts(date)
        .find((part) => part.type === "timeZoneName")?.value;
      if (name !== undefined && /^[A-Z]{2,5}$/.test(name)) return name;
    } catch {
      return "";
    }
  }
  return "";
}

/** Go's default Time.String() rendering ("2024-05-02 09:15:03.041527381 +0200 CEST"); local zone unless given. */
export function formatGoDefaultTime(
  ns: bigint,
  zone?: { offsetMinutes: number; abbreviation: string },
): string {
  const offsetMinutes = zone?.offsetMinutes ?? localOffsetMinutes(ns);
  const abbreviation = zone?.abbreviation ?? localZoneAbbreviation(ns);
  const clock = wallClock(ns, offsetMinutes);
  const numeric = offsetParts(offsetMinutes).join("");
  return `${dateTime(clock, " ")}${fraction(clock.nanosecond)} ${numeric} ${
    abbreviation === "" ? numeric : abbreviation
  }`;
}

/** Where a nanosecond clock reads time: the wall clock and a monotonic one, both in milliseconds. */
export interface ClockSources {
  /** Wall-clock milliseconds since the epoch (Date.now()). */
  wallMs: () => number;
  /** Milliseconds from any fixed origin that never decrease (performance.now()). */
  monotonicMs: () => number;
}

/**
 * A nanosecond wall clock that never goes backwards. Date.now() has only
 * milliseconds and can step back (NTP, an admin); performance.now() has
 * sub-millisecond digits but an origin of its own. So the clock is the wall
 * time of an anchor plus the monotonic time elapsed since it, re-anchored
 * forward whenever that falls behind the wall clock's millisecond (the
 * first tick after start, a step forward, time spent suspended): never
 * below the millisecond Date.now() reports, and never below a value it
 * already returned, even when the wall clock steps back.
 */
export function monotonicNanosecondClock(sources: ClockSources): () => bigint {
  let anchorNs = BigInt(sources.wallMs()) * NS_PER_MS;
  let anchorMonotonicMs = sources.monotonicMs();
  let last = anchorNs;
  return () => {
    const monotonicMs = sources.monotonicMs();
    const wallNs = BigInt(sources.wallMs()) * NS_PER_MS;
    // Rounded: the difference of two float readings is off by a hair.
    const elapsedNs = Math.max(
      Math.round((monotonicMs - anchorMonotonicMs) * 1e6),
      0,
    );
    let now = anchorNs + BigInt(elapsedNs);
    if (now < wallNs) {
      anchorNs = wallNs;
      anchorMonotonicMs = monotonicMs;
      now = wallNs;
    }
    if (now < last) now = last;
    last = now;
    return now;
  };
}

/** The wall clock in nanoseconds, monotonic for the life of the process (see monotonicNanosecondClock). */
export const nowNanoseconds: () => bigint = monotonicNanosecondClock({
  wallMs: () => Date.now(),
  monotonicMs: () => performance.now(),
});

// ---------------------------------------------------------------------------
// A port of the parts of Go's time.parse that sshproxy's layouts use.

type Std =
  | "2006"
  | "01"
  | "02"
  | "15"
  | "04"
  | "05"
  | ".999999999"
  | ",999999999"
  | "Z07:00";

const STD_CHUNKS: readonly Std[] = [
  "2006",
  "01",
  "02",
  "15",
  "04",
  "05",
  ".999999999",
  ",999999999",
  "Z07:00",
];

const RFC3339 = "2006-01-02T15:04:05Z07:00";
const RFC3339_NANO = "2006-01-02T15:04:05.999999999Z07:00";
const BANNER_LAYOUTS = [
  "2006-01-02",
  "2006-01-02 15:04",
  "2006-01-02 15:04:05",
];

function nextStdChunk(
  layout: string,
): { prefix: string; std: Std | null; suffix: string } {
  for (let i = 0; i < layout.length; i++) {
    for (const std of STD_CHUNKS) {
      if (layout.startsWith(std, i)) {
        return {
          prefix: layout.slice(0, i),
          std,
          suffix: layout.slice(i + std.length),
        };
      }
    }
  }
  return { prefix: layout, std: null, suffix: "" };
}

// Go's time.quote: non-ASCII and control characters as \x escapes of their
// UTF-8 bytes.
function timeQuote(text: string): string {
  let out = '"';
  for (const char of text) {
    const code = char.codePointAt(0) ?? 0;
    if (code >= 0x80 || code < 0x20) {
      for (const byte of new TextEncoder().encode(char)) {
        out += "\\x" + byte.toString(16).padStart(2, "0");
      }
    } else {
      out += char === '"' || char === "\\" ? "\\" + char : char;
    }
  }
  return out + '"';
}

class ParseError {
  constructor(
    readonly layout: string,
    readonly value: string,
    readonly layoutElem: string,
    readonly valueElem: string,
    readonly message: string,
  ) {}

  toString(): string {
    if (this.message === "") {
      return `parsing time ${timeQuote(this.value)} as ${
        timeQuote(this.layout)
      }: cannot parse ${timeQuote(this.valueElem)} as ${
        timeQuote(this.layoutElem)
      }`;
    }
    return `parsing time ${timeQuote(this.value)}${this.message}`;
  }
}

function isDigit(text: string, index: number): boolean {
  const code = text.charCodeAt(index);
  return code >= 0x30 && code <= 0x39;
}

function getNumber(
  text: string,
  fixed: boolean,
): { value: number; rest: string } | null {
  if (!isDigit(text, 0)) return null;
  if (!isDigit(text, 1)) {
    return fixed ? null : { value: Number(text[0]), rest: text.slice(1) };
  }
  return { value: Number(text.slice(0, 2)), rest: text.slice(2) };
}

function cutSpace(text: string): string {
  return text.replace(/^ +/, "");
}

function skip(value: string, prefix: string): string | null {
  while (prefix.length > 0) {
    if (prefix[0] === " ") {
      if (value.length > 0 && value[0] !== " ") return null;
      prefix = cutSpace(prefix);
      value = cutSpace(value);
      continue;
    }
    if (value.length === 0 || value[0] !== prefix[0]) return null;
    prefix = prefix.slice(1);
    value = value.slice(1);
  }
  return value;
}

// Go keeps at most nine fractional digits, truncating the rest.
function parseNanoseconds(digits: string): bigint {
  const kept = digits.slice(0, 9);
  return BigInt(kept) * 10n ** BigInt(9 - kept.length);
}

function daysIn(month: number, year: number): number {
  if (month === 2) {
    const leap = year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0);
    return leap ? 29 : 28;
  }
  return [4, 6, 9, 11].includes(month) ? 30 : 31;
}

interface ParsedFields extends WallClock {
  /** Seconds east of UTC, or null when the layout carries no zone. */
  zoneSeconds: number | null;
}

function parseLayout(
  layout: string,
  value: string,
): ParsedFields | ParseError {
  const fields: ParsedFields = {
    year: 0,
    month: 1,
    day: 1,
    hour: 0,
    minute: 0,
    second: 0,
    nanosecond: 0n,
    zoneSeconds: null,
  };
  const original = value;
  let rest = layout;
  for (;;) {
    const { prefix, std, suffix } = nextStdChunk(rest);
    const stdText = rest.slice(prefix.length, rest.length - suffix.length);
    const skipped = skip(value, prefix);
    if (skipped === null) {
      return new ParseError(layout, original, prefix, value, "");
    }
    value = skipped;
    if (std === null) {
      if (value.length !== 0) {
        return new ParseError(
          layout,
          original,
          "",
          value,
          ": extra text: " + timeQuote(value),
        );
      }
      break;
    }
    rest = suffix;
    const hold = value;
    let bad = false;
    let rangeError = "";
    switch (std) {
      case "2006": {
        const digits = value.slice(0, 4);
        if (value.length < 4 || !/^\d{4}$/.test(digits)) {
          bad = true;
          break;
        }
        fields.year = Number(digits);
        value = value.slice(4);
        break;
      }
      case "01":
      case "02":
      case "15":
      case "04":
      case "05": {
        const got = getNumber(value, std !== "15");
        if (got === null) {
          bad = true;
          break;
        }
        value = got.rest;
        if (std === "01") {
          fields.month = got.value;
          if (got.value <= 0 || got.value > 12) rangeError = "month";
        } else if (std === "02") {
          fields.day = got.value;
        } else if (std === "15") {
          fields.hour = got.value;
          if (got.value >= 24) rangeError = "hour";
        } else if (std === "04") {
          fields.minute = got.value;
          if (got.value >= 60) rangeError = "minute";
        } else {
          fields.second = got.value;
          if (got.value >= 60) {
            rangeError = "second";
            break;
          }
          // Go accepts a fraction after the seconds even when the layout
          // has none, unless the layout's next element is that fraction.
          const next = nextStdChunk(rest).std;
          const fractionMatch = /^[.,](\d+)/.exec(value);
          if (
            fractionMatch && next !== ".999999999" && next !== ",999999999"
          ) {
            fields.nanosecond = parseNanoseconds(fractionMatch[1]);
            value = value.slice(fractionMatch[0].length);
          }
        }
        break;
      }
      case ".999999999":
      case ",999999999": {
        const fractionMatch = /^[.,](\d+)/.exec(value);
        if (fractionMatch) {
          fields.nanosecond = parseNanoseconds(fractionMatch[1]);
          value = value.slice(fractionMatch[0].length);
        }
        break;
      }
      case "Z07:00": {
        if (value.startsWith("Z")) {
          value = value.slice(1);
          fields.zoneSeconds = 0;
          break;
        }
        if (value.length < 6 || value[3] !== ":") {
          bad = true;
          break;
        }
        const sign = value[0];
        const hours = getNumber(value.slice(1, 3), true);
        const minutes = getNumber(value.slice(4, 6), true);
        value = value.slice(6);
        if (hours === null || minutes === null) {
          bad = true;
          break;
        }
        if (hours.value > 24) rangeError = "time zone offset hour";
        if (minutes.value > 60) rangeError = "time zone offset minute";
        const seconds = (hours.value * 60 + minutes.value) * 60;
        if (sign === "+") fields.zoneSeconds = seconds;
        else if (sign === "-") fields.zoneSeconds = -seconds;
        else bad = true;
        break;
      }
    }
    if (rangeError !== "") {
      return new ParseError(
        layout,
        original,
        stdText,
        value,
        `: ${rangeError} out of range`,
      );
    }
    if (bad) return new ParseError(layout, original, stdText, hold, "");
  }
  if (fields.day < 1 || fields.day > daysIn(fields.month, fields.year)) {
    return new ParseError(layout, original, "", value, ": day out of range");
  }
  return fields;
}

function epochNanoseconds(clock: WallClock, zoneSeconds: number): bigint {
  const days = BigInt(daysFromCivil(clock.year, clock.month, clock.day));
  const seconds = days * 86_400n +
    BigInt(clock.hour * 3600 + clock.minute * 60 + clock.second) -
    BigInt(zoneSeconds);
  return seconds * NS_PER_SECOND + clock.nanosecond;
}

// Go's Time.UnmarshalJSON takes what its strict fast path accepts; for
// anything else that time.Parse lets through it reports the first of these
// errors (go.dev/issue/54580).
const STRICT_SHAPE =
  /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-](\d{2}):(\d{2}))$/;

function strictRfc3339Error(text: string): ParseError | null {
  const shape = STRICT_SHAPE.exec(text);
  if (
    shape && (shape[1] === undefined ||
      (Number(shape[1]) < 24 && Number(shape[2]) < 60))
  ) {
    return null;
  }
  const twoDigits = (at: number) => Number(text.slice(at, at + 2));
  if (text[12] === ":") {
    return new ParseError(RFC3339, text, "15", text.slice(11, 12), "");
  }
  if (text[19] === ",") return new ParseError(RFC3339, text, ".", ",", "");
  if (text.endsWith("Z")) {
    return new ParseError(RFC3339, text, RFC3339, text, "");
  }
  const zone = text.slice(-6);
  if (twoDigits(text.length - 5) >= 24) {
    return new ParseError(
      RFC3339,
      text,
      "Z07:00",
      zone,
      ": timezone hour out of range",
    );
  }
  if (twoDigits(text.length - 2) >= 60) {
    return new ParseError(
      RFC3339,
      text,
      "Z07:00",
      zone,
      ": timezone minute out of range",
    );
  }
  return null;
}

/**
 * Parses RFC3339 with any number of fractional digits, as Go's
 * time.Parse(time.RFC3339Nano) does; `strict` adds the checks of Go's JSON
 * decoding of times (two-digit hour, "." separator, offset below 24:00).
 */
export function parseRfc3339(
  text: string,
  options: { strict?: boolean } = {},
): Result<Timestamp> {
  const strict = options.strict ?? false;
  const parsed = parseLayout(strict ? RFC3339 : RFC3339_NANO, text);
  if (parsed instanceof ParseError) return fail(parsed.toString());
  if (strict) {
    const error = strictRfc3339Error(text);
    if (error !== null) return fail(error.toString());
  }
  const zoneSeconds = parsed.zoneSeconds ?? 0;
  return ok({
    ns: epochNanoseconds(parsed, zoneSeconds),
    offsetMinutes: zoneSeconds / 60,
  });
}

/**
 * Parses an error banner's `-expire` date (YYYY-MM-DD[ HH:MM[:SS]]) in the
 * local zone, trying the layouts in sshproxyctl's order; the error is Go's
 * for the last layout. An empty text is an error here: callers treat an
 * absent `-expire` before calling.
 */
export function parseBannerExpire(text: string): Result<bigint> {
  let lastError = "";
  for (const layout of BANNER_LAYOUTS) {
    const parsed = parseLayout(layout, text);
    if (parsed instanceof ParseError) {
      lastError = parsed.toString();
      continue;
    }
    // Go's Date(): take the offset in force at the wall time read as UTC; if
    // that instant falls outside the offset's period (DST gap or overlap),
    // take the offset in force at the corrected instant instead.
    const wall = epochNanoseconds(parsed, 0);
    const first = localOffsetMinutes(wall);
    const corrected = localOffsetMinutes(
      wall - offsetSeconds(first) * NS_PER_SECOND,
    );
    return ok(wall - offsetSeconds(corrected) * NS_PER_SECOND);
  }
  return fail(lastError);
}

/** Formats an error banner's expiry as stored in etcd: "YYYY-MM-DD HH:MM:SS", local zone. */
export function formatBannerExpire(ns: bigint): string {
  return dateTime(wallClock(ns, localOffsetMinutes(ns)), " ");
}
