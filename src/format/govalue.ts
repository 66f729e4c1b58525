// Go's fmt rendering of values (%v / %+v and %q of string lists), which
// `show config` and the DEBUG logs expose verbatim (spec §7.7, A.4).

/** A Go map: printed with keys sorted by byte order. */
export interface GoMap {
  readonly kind: "map";
  readonly entries: ReadonlyMap<string, GoValue>;
}

/** A Go struct: printed `{Name:value ...}` in field order, `&{...}` when a pointer. */
export interface GoStruct {
  readonly kind: "struct";
  readonly fields: readonly (readonly [string, GoValue])[];
  readonly pointer: boolean;
}

/** A value as fmt prints it; null is Go's nil (`<nil>`). */
export type GoValue =
  | string
  | number
  | bigint
  | boolean
  | null
  | readonly GoValue[]
  | GoMap
  | GoStruct;

/** Builds a Go map from a record or Map (order is irrelevant: printing sorts). */
export function goMap(
  entries: Readonly<Record<string, GoValue>> | ReadonlyMap<string, GoValue>,
): GoMap {
  const map = entries instanceof Map
    ? new Map(entries)
    : new Map(Object.entries(entries));
  return { kind: "map", entries: map };
}

/** Builds a Go struct from fields in declaration order. */
export function goStruct(
  fields: Readonly<Record<string, GoValue>>,
  options: { pointer?: boolean } = {},
): GoStruct {
  return {
    kind: "struct",
    fields: Object.entries(fields),
    pointer: options.pointer ?? false,
  };
}

// Go compares strings byte-wise in UTF-8, which is code point order; JS's
// default sort compares UTF-16 units and misplaces astral characters.
function compareCodePoints(a: string, b: string): number {
  const left = [...a];
  const right = [...b];
  for (let i = 0; i < Math.min(left.length, right.length); i++) {
    const difference = (left[i].codePointAt(0) ?? 0) -
      (right[i].codePointAt(0) ?? 0);
    if (difference !== 0) return difference;
  }
  return left.length - right.length;
}

// %v of a float64: %g with the shortest digits, in exponent form when the
// exponent is below -4 or at least 6 (so 1e6 prints "1e+06").
function formatFloat(value: number): string {
  if (Number.isNaN(value)) return "NaN";
  if (!Number.isFinite(value)) return value > 0 ? "+Inf" : "-Inf";
  if (Object.is(value, -0)) return "-0";
  const [mantissa, exponentText] = value.toExponential().split("e");
  const exponent = Number(exponentText);
  if (exponent < -4 || exponent >= 6) {
    const sign = exponent < 0 ? "-" : "+";
    return `${mantissa}e${sign}${String(Math.abs(exponent)).padStart(2, "0")}`;
  }
  // JS prints this range in positional form with the same shortest digits.
  return String(value);
}

function isList(value: GoValue): value is readonly GoValue[] {
  return Array.isArray(value);
}

/** Formats a value as Go's `%+v` does (`%v` for everything but struct field names). */
export function formatGoValue(value: GoValue): string {
  if (value === null) return "<nil>";
  switch (typeof value) {
    case "string":
      return value;
    case "boolean":
      return value ? "true" : "false";
    case "bigint":
      return value.toString();
    case "number":
      return Number.isInteger(value) && !Object.is(value, -0)
        ? BigInt(value).toString()
        : formatFloat(value);
  }
  if (isList(value)) return `[${value.map(formatGoValue).join(" ")}]`;
  if (value.kind === "map") {
    const keys = [...value.entries.keys()].sort(compareCodePoints);
    const items = keys.map((key) =>
      `${key}:${formatGoValue(value.entries.get(key) ?? null)}`
    );
    return `map[${items.join(" ")}]`;
  }
  const fields = value.fields.map(([name, field]) =>
    `${name}:${formatGoValue(field)}`
  );
  return `${value.pointer ? "&" : ""}{${fields.join(" ")}}`;
}

// Go's strconv.IsPrint: letters, marks, numbers, punctuation, symbols and
// the ASCII space. In ASCII that is exactly 0x20-0x7e; the Unicode classes
// are only needed beyond, and only built then: creating this expression
// costs ~0.7 ms, which every login would pay when the module loads.
let nonAsciiPrintable: RegExp | undefined;

function isPrintable(char: string, code: number): boolean {
  if (code < 0x80) return code >= 0x20 && code <= 0x7e;
  nonAsciiPrintable ??= /^[\p{L}\p{M}\p{N}\p{P}\p{S}]$/u;
  return nonAsciiPrintable.test(char);
}

const NAMED_ESCAPES: Readonly<Record<string, string>> = {
  "\x07": "\\a",
  "\b": "\\b",
  "\f": "\\f",
  "\n": "\\n",
  "\r": "\\r",
  "\t": "\\t",
  "\v": "\\v",
};

function hex(value: number, width: number): string {
  return value.toString(16).padStart(width, "0");
}

/** Quotes a string as Go's strconv.Quote (and %q) does. */
export function goQuote(text: string): string {
  let out = '"';
  for (const char of text) {
    const code = char.codePointAt(0) ?? 0;
    if (char === '"' || char === "\\") {
      out += "\\" + char;
    } else if (code >= 0xd800 && code <= 0xdfff) {
      // A lone surrogate stands for bytes that are not UTF-8; Go escapes
      // each byte of its (WTF-8) encoding.
      out += `\\x${hex(0xe0 | (code >> 12), 2)}\\x${
        hex(0x80 | ((code >> 6) & 0x3f), 2)
      }\\x${hex(0x80 | (code & 0x3f), 2)}`;
    } else if (isPrintable(char, code)) {
      out += char;
    } else if (NAMED_ESCAPES[char] !== undefined) {
      out += NAMED_ESCAPES[char];
    } else if (code < 0x20 || code === 0x7f) {
      out += "\\x" + hex(code, 2);
    } else if (code < 0x10000) {
      out += "\\u" + hex(code, 4);
    } else {
      out += "\\U" + hex(code, 8);
    }
  }
  return out + '"';
}

/** Formats a string list as Go's `%q` does: `["ssh" "-q" "server1"]`. */
export function formatGoQuotedList(items: readonly string[]): string {
  return `[${items.map(goQuote).join(" ")}]`;
}
