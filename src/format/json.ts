// Compact JSON as Go's encoding/json writes it: scripts and the functional
// tests parse `sshproxyctl show -json`, and values written to etcd must stay
// byte-identical with the reference's. JSON.stringify differs in string
// escaping (Go escapes <, >, &, U+2028, U+2029 and lone surrogates) and in
// -0, and it cannot print BigInt.
import { fail, ok, type Result } from "../result.ts";

/** A JSON object whose keys print in insertion order (keep keys non-numeric: JS puts integer-like keys first). */
export interface JsonObject {
  readonly [key: string]: JsonValue;
}

/** A value Go's encoder can print; bigint carries int64 values beyond 2^53. */
export type JsonValue =
  | null
  | boolean
  | number
  | bigint
  | string
  | readonly JsonValue[]
  | JsonObject;

const SHORT_ESCAPES: Readonly<Record<string, string>> = {
  '"': '\\"',
  "\\": "\\\\",
  "\n": "\\n",
  "\r": "\\r",
  "\t": "\\t",
  "\b": "\\b",
  "\f": "\\f",
};

// Control characters, the HTML-sensitive <>&, the JS line terminators, and
// surrogate halves (lone ones stand for invalid UTF-8, which Go replaces).
// Beyond Go: the C1 controls (U+0080-U+009F; U+009B is CSI to many
// terminals) are escaped too, so that `sshproxyctl show -json` of a
// name forged in etcd cannot drive the admin's terminal; a JSON reader
// decodes the same string either way.
const NEEDS_ESCAPE =
  // deno-lint-ignore no-control-regex -- control characters are what Go escapes
  /["\\\u0000-\u001f\u0080-\u009f<>&\u2028\u2029\ud800-\udfff]/u;

function encodeString(text: string): string {
  if (!NEEDS_ESCAPE.test(text)) return `"${text}"`;
  let out = '"';
  for (const char of text) {
    const short = SHORT_ESCAPES[char];
    if (short !== undefined) {
      out += short;
      continue;
    }
    const code = char.codePointAt(0) ?? 0;
    if (code >= 0xd800 && code <= 0xdfff) {
      out += "\\ufffd";
    } else if (
      code < 0x20 || (code >= 0x80 && code <= 0x9f) || char === "<" ||
      char === ">" || char === "&" ||
      code === 0x2028 || code === 0x2029
    ) {
      out += "\\u" + code.toString(16).padStart(4, "0");
    } else {
      out += char;
    }
  }
  return out + '"';
}

function encodeNumber(value: number): Result<string> {
  if (!Number.isFinite(value)) {
    return fail(`json: unsupported value: ${goFloatName(value)}`);
  }
  // Go and JS agree on when to switch to exponent form (1e21, 1e-7) and on
  // shortest digits; only the zero's sign differs.
  return ok(Object.is(value, -0) ? "-0" : String(value));
}

function goFloatName(value: number): string {
  if (Number.isNaN(value)) return "NaN";
  return value > 0 ? "+Inf" : "-Inf";
}

function encodeValue(value: JsonValue): Result<string> {
  if (value === null) return ok("null");
  switch (typeof value) {
    case "boolean":
      return ok(value ? "true" : "false");
    case "number":
      return encodeNumber(value);
    case "bigint":
      return ok(value.toString());
    case "string":
      return ok(encodeString(value));
  }
  const parts: string[] = [];
  if (isArray(value)) {
    for (const item of value) {
      const encoded = encodeValue(item);
      if (!encoded.ok) return encoded;
      parts.push(encoded.value);
    }
    return ok(`[${parts.join(",")}]`);
  }
  for (const [key, item] of Object.entries(value)) {
    const encoded = encodeValue(item);
    if (!encoded.ok) return encoded;
    parts.push(`${encodeString(key)}:${encoded.value}`);
  }
  return ok(`{${parts.join(",")}}`);
}

// Array.isArray does not narrow readonly arrays.
function isArray(value: JsonValue): value is readonly JsonValue[] {
  return Array.isArray(value);
}

/** Encodes compactly with Go's escaping; fails only on NaN or ±Infinity, with Go's message. */
export function encodeGoJson(value: JsonValue): Result<string> {
  return encodeValue(value);
}

/** Encodes a value followed by "\n", as Go's json.Encoder.Encode writes it. */
export function encodeGoJsonLine(value: JsonValue): Result<string> {
  const encoded = encodeValue(value);
  return encoded.ok ? ok(encoded.value + "\n") : encoded;
}

/**
 * Encodes a listing as one line. Go prints a nil slice as `null` and an
 * empty one as `[]`; `emptyAsNull` picks the former (`show connections`).
 */
export function encodeGoJsonArrayLine(
  items: readonly JsonValue[],
  options: { emptyAsNull?: boolean } = {},
): Result<string> {
  if (items.length === 0 && options.emptyAsNull) return ok("null\n");
  return encodeGoJsonLine(items);
}
