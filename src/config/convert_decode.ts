// Reading a v1 file the way `sshproxyctl convert` does: the reference calls
// go-yaml v2's Unmarshal into typed Go structs. Its observable behaviour
// (YAML 1.1 scalars, duplicate keys merging into structs and maps instead of
// replacing them, `<<` merges applied in place, per-node type errors
// collected into one message, a scalar's source text taken for string
// fields) is not what the `yaml` package's toJS() gives, so we let the
// package parse (syntax, anchors) and re-implement the decoding walk over its
// node tree, following go-yaml v2.4.0's decode.go and resolve.go.
// The ESM build of `yaml`: see src/config/yaml_tree.ts.
// @ts-types="yaml"
import {
  isAlias,
  isMap,
  isPair,
  isScalar,
  isSeq,
  type Node,
  parseAllDocuments,
} from "yaml/esm";
import { parseGoDuration } from "../format/duration.ts";

// ---------------------------------------------------------------------------
// Tags (go-yaml's long forms).

const TAG_PREFIX = "tag:yaml.org,2002:";
/** `!!str`, long form. */
export const STR_TAG = TAG_PREFIX + "str";
const BOOL_TAG = TAG_PREFIX + "bool";
const INT_TAG = TAG_PREFIX + "int";
const FLOAT_TAG = TAG_PREFIX + "float";
const NULL_TAG = TAG_PREFIX + "null";
const TIMESTAMP_TAG = TAG_PREFIX + "timestamp";
const MERGE_TAG = TAG_PREFIX + "merge";
const BINARY_TAG = TAG_PREFIX + "binary";
const SEQ_TAG = TAG_PREFIX + "seq";
const MAP_TAG = TAG_PREFIX + "map";

function shortTag(tag: string): string {
  return tag.startsWith(TAG_PREFIX) ? "!!" + tag.slice(TAG_PREFIX.length) : tag;
}

// ---------------------------------------------------------------------------
// Go values as go-yaml produces them for `interface{}` targets.

const MAX_INT64 = (1n << 63n) - 1n;
const MIN_INT64 = -(1n << 63n);
const MAX_UINT64 = (1n << 64n) - 1n;

let uniqueKeys = 0;

/** Identity of a Go map key: same dynamic type and same value. */
function keyIdentity(key: DValue): string {
  if (key === null) return "nil";
  switch (typeof key) {
    case "boolean":
      return `bool:${key}`;
    case "string":
      return `string:${key}`;
    case "bigint":
      return `${key > MAX_INT64 ? "uint64" : "int"}:${key}`;
    case "number":
      // NaN never equals itself: every NaN key is a new entry, as in Go.
      return Number.isNaN(key)
        ? `nan:${uniqueKeys++}`
        : `float:${key === 0 ? 0 : key}`;
  }
  return `other:${uniqueKeys++}`;
}

/** A Go map (typed `map[string]T` or generic), insertion-ordered. */
export class GoMap {
  readonly entries = new Map<string, [DValue, DValue]>();
  /** Sets (or replaces) one entry. */
  set(key: DValue, value: DValue): void {
    this.entries.set(keyIdentity(key), [key, value]);
  }
  /** Number of entries. */
  get size(): number {
    return this.entries.size;
  }
}

/** A decoded Go struct: its fields by YAML key. */
export class DStruct {
  constructor(
    readonly type: StructDesc,
    readonly fields: Map<string, DValue>,
  ) {}
}

/**
 * A decoded Go value: nil (also a nil pointer, map or slice), bool, string,
 * integer (bigint: Go int, or uint64 above int64), float64 (number), slice,
 * map, or struct (also a non-nil pointer to one).
 */
export type DValue =
  | null
  | boolean
  | string
  | bigint
  | number
  | DValue[]
  | GoMap
  | DStruct;

// ---------------------------------------------------------------------------
// Target type descriptions (what reflection gives go-yaml).

/** A Go struct type: YAML key → field type. */
export interface StructDesc {
  k: "struct";
  name: string;
  fields: Record<string, Desc>;
}

/** A Go type go-yaml decodes into. `name` is Go's type name for messages. */
export type Desc =
  | { k: "bool" }
  | { k: "string" }
  | { k: "iface" }
  | { k: "int"; name: "int" | "int64" | "time.Duration" }
  | { k: "uint"; name: "uint64" }
  | { k: "slice"; name: string; elem: Desc }
  | { k: "map"; name: string; elem: Desc }
  | { k: "gmap" }
  | { k: "ptr"; name: string; elem: StructDesc }
  | StructDesc;

function typeName(d: Desc): string {
  switch (d.k) {
    case "bool":
      return "bool";
    case "string":
      return "string";
    case "iface":
      return "interface {}";
    case "gmap":
      return "map[interface {}]interface {}";
    default:
      return d.name;
  }
}

/** Go's zero value of a type. */
export function zeroValue(d: Desc): DValue {
  switch (d.k) {
    case "bool":
      return false;
    case "string":
      return "";
    case "int":
    case "uint":
      return 0n;
    case "struct": {
      const fields = new Map<string, DValue>();
      for (const [key, desc] of Object.entries(d.fields)) {
        fields.set(key, zeroValue(desc));
      }
      return new DStruct(d, fields);
    }
    default:
      return null;
  }
}

// ---------------------------------------------------------------------------
// Scalar resolution (go-yaml v2 resolve.go, YAML 1.1 flavour).

const BOOL_NULL_AND_SPECIALS = new Map<string, [string, DValue]>();
for (const word of ["y", "Y", "yes", "Yes", "YES", "true", "True", "TRUE"]) {
  BOOL_NULL_AND_SPECIALS.set(word, [BOOL_TAG, true]);
}
for (const word of ["on", "On", "ON"]) {
  BOOL_NULL_AND_SPECIALS.set(word, [BOOL_TAG, true]);
}
for (const word of ["n", "N", "no", "No", "NO", "false", "False", "FALSE"]) {
  BOOL_NULL_AND_SPECIALS.set(word, [BOOL_TAG, false]);
}
for (const word of ["off", "Off", "OFF"]) {
  BOOL_NULL_AND_SPECIALS.set(word, [BOOL_TAG, false]);
}
for (const word of ["", "~", "null", "Null", "NULL"]) {
  BOOL_NULL_AND_SPECIALS.set(word, [NULL_TAG, null]);
}
for (const word of [".nan", ".NaN", ".NAN"]) {
  BOOL_NULL_AND_SPECIALS.set(word, [FLOAT_TAG, NaN]);
}
for (const word of [".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF"]) {
  BOOL_NULL_AND_SPECIALS.set(word, [FLOAT_TAG, Infinity]);
}
for (const word of ["-.inf", "-.Inf", "-.INF"]) {
  BOOL_NULL_AND_SPECIALS.set(word, [FLOAT_TAG, -Infinity]);
}
BOOL_NULL_AND_SPECIALS.set("<<", [MERGE_TAG, "<<"]);

/** Go's strconv.ParseUint(s, 0, 64) (no sign, Go base prefixes). */
function goParseUint(text: string): bigint | undefined {
  if (text === "") return undefined;
  let s = text;
  let base = 10n;
  if (s[0] === "0") {
    const second = (s[1] ?? "").toLowerCase();
    if (s.length >= 3 && second === "b") [base, s] = [2n, s.slice(2)];
    else if (s.length >= 3 && second === "o") [base, s] = [8n, s.slice(2)];
    else if (s.length >= 3 && second === "x") [base, s] = [16n, s.slice(2)];
    else [base, s] = [8n, s.slice(1)];
  }
  let n = 0n;
  for (const c of s.toLowerCase()) {
    let digit: bigint;
    if (c >= "0" && c <= "9") digit = BigInt(c.charCodeAt(0) - 48);
    else if (c >= "a" && c <= "z") digit = BigInt(c.charCodeAt(0) - 87);
    else return undefined;
    if (digit >= base) return undefined;
    n = n * base + digit;
    if (n > MAX_UINT64) return undefined;
  }
  return n;
}

/** Go's strconv.ParseInt(s, 0, 64). */
function goParseInt(text: string): bigint | undefined {
  let s = text;
  let negative = false;
  if (s[0] === "+" || s[0] === "-") {
    negative = s[0] === "-";
    s = s.slice(1);
  }
  const magnitude = goParseUint(s);
  if (magnitude === undefined) return undefined;
  if (negative) return magnitude > -MIN_INT64 ? undefined : -magnitude;
  return magnitude > MAX_INT64 ? undefined : magnitude;
}

const YAML_STYLE_FLOAT =
  /^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$/;
const DOT_FLOAT = /^\.[0-9](_?[0-9])*([eE][-+]?[0-9](_?[0-9])*)?$/;

/** Go's ParseFloat for already-validated decimal syntax (overflow fails). */
function goParseFloat(text: string): number | undefined {
  const value = Number(text.replaceAll("_", ""));
  return Number.isFinite(value) ? value : undefined;
}

function daysIn(month: number, year: number): number {
  if (month === 2) {
    const leap = (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;
    return leap ? 29 : 28;
  }
  return [4, 6, 9, 11].includes(month) ? 30 : 31;
}

// go-yaml accepts "2006-1-2", "2006-1-2 15:4:5.999999999" and
// "2006-1-2T15:4:5.999999999Z07:00" (also with "t"), via Go's time.Parse.
const TIMESTAMP =
  /^(\d{4})-(\d{1,2})-(\d{1,2})(?:(?:([Tt])|( ))(\d{1,2}):(\d{1,2}):(\d{1,2})(?:\.\d+)?(Z|[+-]\d{2}:\d{2})?)?$/;

function isTimestamp(text: string): boolean {
  const m = TIMESTAMP.exec(text);
  if (!m) return false;
  const [year, month, day] = [Number(m[1]), Number(m[2]), Number(m[3])];
  if (month < 1 || month > 12 || day < 1 || day > daysIn(month, year)) {
    return false;
  }
  if (m[6] === undefined) return true;
  // "T" forms need a zone, the space form must not have one.
  if (m[4] !== undefined && m[9] === undefined) return false;
  if (m[5] !== undefined && m[9] !== undefined) return false;
  return Number(m[6]) < 24 && Number(m[7]) < 60 && Number(m[8]) < 60;
}

/** Thrown for errors that abort go-yaml's whole Unmarshal (its `failf`). */
export class YamlFatal extends Error {}

const RESOLVABLE = new Set([
  "",
  STR_TAG,
  BOOL_TAG,
  INT_TAG,
  FLOAT_TAG,
  NULL_TAG,
  TIMESTAMP_TAG,
]);

/** A resolved scalar: its tag and value (timestamps keep their text). */
export interface Resolved {
  tag: string;
  value: DValue;
}

function resolveUnchecked(tag: string, text: string): Resolved {
  const hint = text === "" ? "N" : hintOf(text.charCodeAt(0));
  if (hint === "" || tag === STR_TAG || tag === BINARY_TAG) {
    return { tag: STR_TAG, value: text };
  }
  const special = BOOL_NULL_AND_SPECIALS.get(text);
  if (special) return { tag: special[0], value: special[1] };
  if (hint === ".") {
    if (DOT_FLOAT.test(text)) {
      const value = goParseFloat(text);
      if (value !== undefined) return { tag: FLOAT_TAG, value };
    }
  } else if (hint === "D" || hint === "S") {
    if ((tag === "" || tag === TIMESTAMP_TAG) && isTimestamp(text)) {
      return { tag: TIMESTAMP_TAG, value: text };
    }
    const plain = text.replaceAll("_", "");
    const int = goParseInt(plain);
    if (int !== undefined) return { tag: INT_TAG, value: int };
    const uint = goParseUint(plain);
    if (uint !== undefined) return { tag: INT_TAG, value: uint };
    if (YAML_STYLE_FLOAT.test(plain)) {
      const value = goParseFloat(plain);
      if (value !== undefined) return { tag: FLOAT_TAG, value };
    }
  }
  return { tag: STR_TAG, value: text };
}

function hintOf(code: number): string {
  if (code === 43 || code === 45) return "S"; // + -
  if (code >= 48 && code <= 57) return "D";
  if (code === 46) return "."; // .
  return "yYnNtTfFoO~".includes(String.fromCharCode(code)) ? "M" : "";
}

/** go-yaml's resolve(): the type a (plain or explicitly tagged) scalar denotes. */
export function resolveScalar(tag: string, text: string): Resolved {
  if (!RESOLVABLE.has(tag)) return { tag, value: text };
  const out = resolveUnchecked(tag, text);
  if (tag === "" || tag === out.tag || tag === STR_TAG) return out;
  if (
    tag === FLOAT_TAG && out.tag === INT_TAG && typeof out.value === "bigint"
  ) {
    return { tag: FLOAT_TAG, value: Number(out.value) };
  }
  throw new YamlFatal(
    `yaml: cannot decode ${shortTag(out.tag)} \`${text}\` as a ${
      shortTag(tag)
    }`,
  );
}

// ---------------------------------------------------------------------------
// go-yaml's node tree, built from the `yaml` package's document.

interface GScalar {
  kind: "scalar";
  line: number;
  tag: string;
  value: string;
  implicit: boolean;
}
interface GCollection {
  kind: "mapping" | "sequence";
  line: number;
  tag: string;
  children: GNode[];
}
interface GAlias {
  kind: "alias";
  line: number;
  tag: string;
  name: string;
  target: GNode;
}
/** One node of go-yaml's parse tree (mapping children are key, value, ...). */
export type GNode = GScalar | GCollection | GAlias;

class TreeBuilder {
  private readonly anchors = new Map<string, GNode>();
  private readonly lineStarts: number[] = [0];

  constructor(text: string) {
    // libyaml's line breaks: CRLF, CR, LF, NEL, LS, PS.
    for (const m of text.matchAll(/\r\n|[\r\n\u0085\u2028\u2029]/g)) {
      this.lineStarts.push((m.index ?? 0) + m[0].length);
    }
  }

  private lineOf(offset: number): number {
    let [lo, hi] = [0, this.lineStarts.length - 1];
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.lineStarts[mid] <= offset) lo = mid;
      else hi = mid - 1;
    }
    return lo;
  }

  private emptyScalar(offset: number): GScalar {
    return {
      kind: "scalar",
      line: this.lineOf(offset),
      tag: "",
      value: "",
      implicit: true,
    };
  }

  private register(anchor: string | undefined, node: GNode): void {
    if (anchor !== undefined) this.anchors.set(anchor, node);
  }

  /** Converts one node; anchors are registered before children, as libyaml does. */
  build(node: unknown, fallbackOffset: number): GNode {
    if (node === null || node === undefined) {
      return this.emptyScalar(fallbackOffset);
    }
    if (isAlias(node)) {
      const target = this.anchors.get(node.source);
      if (target === undefined) {
        throw new YamlFatal(`yaml: unknown anchor '${node.source}' referenced`);
      }
      const line = this.lineOf(node.range?.[0] ?? fallbackOffset);
      return { kind: "alias", line, tag: "", name: node.source, target };
    }
    if (isPair(node)) {
      // A `key: value` entry directly inside a flow sequence is a one-pair
      // mapping for libyaml.
      const offset = isNodeWithRange(node.key)
        ? node.key.range[0]
        : fallbackOffset;
      const map: GCollection = {
        kind: "mapping",
        line: this.lineOf(offset),
        tag: "",
        children: [],
      };
      map.children.push(
        this.build(node.key, offset),
        this.build(node.value, offset),
      );
      return map;
    }
    if (isScalar(node)) {
      const offset = node.range?.[0] ?? fallbackOffset;
      const tag = node.tag ?? "";
      const value = typeof node.value === "string" ? node.value : "";
      const scalar: GScalar = {
        kind: "scalar",
        line: this.lineOf(offset),
        tag,
        value,
        // libyaml: plain without tag, or the non-specific tag "!".
        implicit: (node.type === "PLAIN" && tag === "") || tag === "!",
      };
      this.register(node.anchor, scalar);
      return scalar;
    }
    if (isMap(node) || isSeq(node)) {
      const offset = node.range?.[0] ?? fallbackOffset;
      const collection: GCollection = {
        kind: isMap(node) ? "mapping" : "sequence",
        line: this.lineOf(offset),
        tag: node.tag ?? "",
        children: [],
      };
      this.register(node.anchor, collection);
      if (isMap(node)) {
        for (const pair of node.items) {
          const keyOffset = isNodeWithRange(pair.key)
            ? pair.key.range[0]
            : offset;
          collection.children.push(this.build(pair.key, keyOffset));
          const valueOffset = isNodeWithRange(pair.value)
            ? pair.value.range[0]
            : keyOffset;
          collection.children.push(this.build(pair.value, valueOffset));
        }
      } else {
        for (const item of node.items) {
          const itemOffset = isNodeWithRange(item) ? item.range[0] : offset;
          collection.children.push(this.build(item, itemOffset));
        }
      }
      return collection;
    }
    return this.emptyScalar(fallbackOffset);
  }
}

function isNodeWithRange(
  value: unknown,
): value is Node & { range: [number, number, number] } {
  return (isScalar(value) || isMap(value) || isSeq(value) ||
    isAlias(value)) && value.range !== undefined && value.range !== null;
}

const TAB_TOKEN_ERROR = "found character that cannot start any token";

/**
 * Parses YAML text into go-yaml's node tree (first document only, as
 * Unmarshal does); null for an empty stream. Syntax errors are thrown as
 * YamlFatal with a go-yaml-like message.
 */
export function parseGoYamlTree(text: string): GNode | null {
  const docs = parseAllDocuments(text, {
    version: "1.1",
    uniqueKeys: false,
    // Scalars stay strings: resolution is ours (go-yaml's YAML 1.1 rules).
    schema: "failsafe",
  });
  if (docs.length === 0) return null;
  const doc = docs[0];
  const error = doc.errors[0];
  if (error !== undefined) {
    const line = error.linePos?.[0].line ?? 1;
    if (error.code === "TAB_AS_INDENT") {
      // libyaml's scanner error; go-yaml omits "line N: " on the first line.
      // (libyaml also rejects a TAB right after `- `, `? ` or `: `, and a
      // line holding only a TAB; the `yaml` package accepts those, so do we.)
      throw new YamlFatal(
        line <= 1
          ? `yaml: ${TAB_TOKEN_ERROR}`
          : `yaml: line ${line}: ${TAB_TOKEN_ERROR}`,
      );
    }
    // Other syntax errors: libyaml's wording is not reproduced, only its
    // "yaml: line N: " framing around the `yaml` package's own message.
    const head = error.message.split(" at line ")[0];
    throw new YamlFatal(`yaml: line ${line}: ${head}`);
  }
  if (doc.contents === null) return null;
  return new TreeBuilder(text).build(doc.contents, 0);
}

// ---------------------------------------------------------------------------
// The decoder (go-yaml v2 decode.go, restricted to the kinds used here).

const ALIAS_RATIO_RANGE_LOW = 400000;
const ALIAS_RATIO_RANGE_HIGH = 4000000;

function allowedAliasRatio(decodeCount: number): number {
  if (decodeCount <= ALIAS_RATIO_RANGE_LOW) return 0.99;
  if (decodeCount >= ALIAS_RATIO_RANGE_HIGH) return 0.10;
  return 0.99 -
    0.89 * ((decodeCount - ALIAS_RATIO_RANGE_LOW) /
        (ALIAS_RATIO_RANGE_HIGH - ALIAS_RATIO_RANGE_LOW));
}

const STRING_DESC: Desc = { k: "string" };
const IFACE_DESC: Desc = { k: "iface" };
const GMAP_DESC: Desc = { k: "gmap" };

function utf8Prefix(text: string, bytes: number): string {
  const encoded = new TextEncoder().encode(text);
  return new TextDecoder().decode(encoded.slice(0, bytes));
}

function utf8Length(text: string): number {
  return new TextEncoder().encode(text).length;
}

/** Go's float64 → int64 conversion on amd64 (out of range → MinInt64). */
function floatToInt64(value: number): bigint {
  const truncated = Math.trunc(value);
  if (truncated >= -(2 ** 63) && truncated < 2 ** 63) return BigInt(truncated);
  return MIN_INT64;
}

/** Go's float64 → uint64 conversion on amd64. */
function floatToUint64(value: number): bigint {
  const truncated = Math.trunc(value);
  if (truncated >= 0 && truncated < 2 ** 64) return BigInt(truncated);
  if (truncated < 0) return BigInt.asUintN(64, floatToInt64(truncated));
  return 1n << 63n;
}

/** Approximates Go's %#v of an invalid (list or map) key. */
function goSyntax(value: DValue): string {
  if (value instanceof DStruct) return "{}";
  if (Array.isArray(value)) {
    return `[]interface {}{${value.map(goSyntax).join(", ")}}`;
  }
  if (value instanceof GoMap) {
    const parts = [...value.entries.values()].map(([k, v]) =>
      `${goSyntax(k)}:${goSyntax(v)}`
    );
    return `map[interface {}]interface {}{${parts.join(", ")}}`;
  }
  if (typeof value === "string") return JSON.stringify(value);
  if (value === null) return "interface {}(nil)";
  return String(value);
}

type Decoded = [good: boolean, value: DValue];

/** go-yaml v2's decoder: unmarshals node trees into described Go types. */
export class GoYamlDecoder {
  /** Type errors collected so far (go-yaml's `d.terrors`). */
  readonly typeErrors: string[] = [];
  private readonly activeAliases = new Set<GAlias>();
  private decodeCount = 0;
  private aliasCount = 0;
  private aliasDepth = 0;

  /** Decodes `node` into a value of type `desc` whose current value is `out`. */
  unmarshal(node: GNode, desc: Desc, out: DValue): Decoded {
    this.decodeCount++;
    if (this.aliasDepth > 0) this.aliasCount++;
    if (
      this.aliasCount > 100 && this.decodeCount > 1000 &&
      this.aliasCount / this.decodeCount > allowedAliasRatio(this.decodeCount)
    ) {
      throw new YamlFatal("yaml: document contains excessive aliasing");
    }
    if (node.kind === "alias") return this.alias(node, desc, out);
    if (desc.k === "ptr") {
      if (isPrepareNull(node)) return this.nodeInto(node, desc, out);
      // A non-null value allocates the pointed-to struct first.
      const target = out instanceof DStruct ? out : zeroValue(desc.elem);
      return this.nodeInto(node, desc.elem, target);
    }
    return this.nodeInto(node, desc, out);
  }

  private nodeInto(node: GScalar | GCollection, desc: Desc, out: DValue) {
    if (node.kind === "scalar") return this.scalar(node, desc, out);
    if (node.kind === "mapping") return this.mapping(node, desc, out);
    return this.sequence(node, desc, out);
  }

  private alias(node: GAlias, desc: Desc, out: DValue): Decoded {
    if (this.activeAliases.has(node)) {
      throw new YamlFatal(`yaml: anchor '${node.name}' value contains itself`);
    }
    this.activeAliases.add(node);
    this.aliasDepth++;
    const result = this.unmarshal(node.target, desc, out);
    this.aliasDepth--;
    this.activeAliases.delete(node);
    return result;
  }

  private typeError(node: GNode, tag: string, desc: Desc): void {
    const shown = node.tag !== "" ? node.tag : tag;
    let value = node.kind === "scalar" ? node.value : "";
    if (shown !== SEQ_TAG && shown !== MAP_TAG) {
      value = utf8Length(value) > 10
        ? " `" + utf8Prefix(value, 7) + "...`"
        : " `" + value + "`";
    }
    this.typeErrors.push(
      `line ${node.line + 1}: cannot unmarshal ${
        shortTag(shown)
      }${value} into ${typeName(desc)}`,
    );
  }

  private scalar(node: GScalar, desc: Desc, out: DValue): Decoded {
    let resolved: Resolved;
    if (node.tag === "" && !node.implicit) {
      resolved = { tag: STR_TAG, value: node.value };
    } else {
      resolved = resolveScalar(node.tag, node.value);
      if (resolved.tag === BINARY_TAG) {
        try {
          resolved = {
            tag: BINARY_TAG,
            value: new TextDecoder().decode(
              Uint8Array.from(
                atob(node.value.replace(/\s/g, "")),
                (c) => c.charCodeAt(0),
              ),
            ),
          };
        } catch {
          throw new YamlFatal(
            "yaml: !!binary value contains invalid base64 data",
          );
        }
      }
    }
    const { tag, value } = resolved;
    if (value === null) return [true, zeroValue(desc)];
    switch (desc.k) {
      case "string":
        return [true, tag === BINARY_TAG ? value : node.value];
      case "iface":
        // go-yaml v2 keeps timestamps as their text in interface{} values.
        return [true, tag === TIMESTAMP_TAG ? node.value : value];
      case "bool":
        if (typeof value === "boolean") return [true, value];
        break;
      case "int":
        if (typeof value === "bigint" && value <= MAX_INT64) {
          return [true, value];
        }
        if (typeof value === "number" && value <= 2 ** 63) {
          return [true, floatToInt64(value)];
        }
        if (
          typeof value === "string" && tag !== TIMESTAMP_TAG &&
          desc.name === "time.Duration"
        ) {
          const duration = parseGoDuration(value);
          if (duration.ok) return [true, duration.value];
        }
        break;
      case "uint":
        if (typeof value === "bigint" && value >= 0n) return [true, value];
        if (typeof value === "number" && value <= 2 ** 64) {
          return [true, floatToUint64(value)];
        }
        break;
    }
    this.typeError(node, tag, desc);
    return [false, out];
  }

  private sequence(node: GCollection, desc: Desc, out: DValue): Decoded {
    let elem: Desc;
    if (desc.k === "slice") elem = desc.elem;
    else if (desc.k === "iface") elem = IFACE_DESC;
    else {
      this.typeError(node, SEQ_TAG, desc);
      return [false, out];
    }
    const items: DValue[] = [];
    for (const child of node.children) {
      const [good, value] = this.unmarshal(child, elem, zeroValue(elem));
      if (good) items.push(value);
    }
    return [true, items];
  }

  private mapping(node: GCollection, desc: Desc, out: DValue): Decoded {
    switch (desc.k) {
      case "struct":
        return this.mappingStruct(
          node,
          out instanceof DStruct ? out : zeroValue(desc) as DStruct,
        );
      case "map":
      case "gmap": {
        const target = out instanceof GoMap ? out : new GoMap();
        const [keyDesc, elemDesc] = desc.k === "map"
          ? [STRING_DESC, desc.elem]
          : [IFACE_DESC, IFACE_DESC];
        this.fillMap(node, desc, keyDesc, elemDesc, target);
        return [true, target];
      }
      case "iface": {
        // A mapping into interface{} always makes a new generic map.
        const target = new GoMap();
        this.fillMap(node, GMAP_DESC, IFACE_DESC, IFACE_DESC, target);
        return [true, target];
      }
    }
    this.typeError(node, MAP_TAG, desc);
    return [false, out];
  }

  private fillMap(
    node: GCollection,
    mapDesc: Desc,
    keyDesc: Desc,
    elemDesc: Desc,
    target: GoMap,
  ): void {
    for (let i = 0; i + 1 < node.children.length; i += 2) {
      const [keyNode, valueNode] = [node.children[i], node.children[i + 1]];
      if (isMerge(keyNode)) {
        this.merge(valueNode, mapDesc, target);
        continue;
      }
      const [keyGood, key] = this.unmarshal(
        keyNode,
        keyDesc,
        zeroValue(keyDesc),
      );
      if (!keyGood || key instanceof DStruct) continue;
      if (Array.isArray(key) || key instanceof GoMap) {
        throw new YamlFatal(`yaml: invalid map key: ${goSyntax(key)}`);
      }
      const [good, value] = this.unmarshal(
        valueNode,
        elemDesc,
        zeroValue(elemDesc),
      );
      if (good) target.set(key, value);
    }
  }

  private mappingStruct(node: GCollection, target: DStruct): Decoded {
    // go-yaml reuses one string for the key across iterations.
    let name: DValue = "";
    for (let i = 0; i + 1 < node.children.length; i += 2) {
      const [keyNode, valueNode] = [node.children[i], node.children[i + 1]];
      if (isMerge(keyNode)) {
        this.merge(valueNode, target.type, target);
        continue;
      }
      const [keyGood, key] = this.unmarshal(keyNode, STRING_DESC, name);
      if (!keyGood) continue;
      name = key;
      if (typeof name !== "string") continue;
      const fieldDesc = Object.hasOwn(target.type.fields, name)
        ? target.type.fields[name]
        : undefined;
      if (fieldDesc === undefined) continue; // unknown keys are ignored
      const current = target.fields.get(name) ?? zeroValue(fieldDesc);
      const [, value] = this.unmarshal(valueNode, fieldDesc, current);
      target.fields.set(name, value);
    }
    return [true, target];
  }

  private merge(node: GNode, desc: Desc, target: DValue): void {
    const wantMap = () =>
      new YamlFatal(
        "yaml: map merge requires map or sequence of maps as the value",
      );
    const isMapping = (n: GNode) =>
      n.kind === "mapping" ||
      (n.kind === "alias" && n.target.kind === "mapping");
    if (node.kind === "mapping" || node.kind === "alias") {
      if (!isMapping(node)) throw wantMap();
      this.unmarshal(node, desc, target);
    } else if (node.kind === "sequence") {
      // Backwards: earlier maps take precedence.
      for (let i = node.children.length - 1; i >= 0; i--) {
        const child = node.children[i];
        if (!isMapping(child)) throw wantMap();
        this.unmarshal(child, desc, target);
      }
    } else {
      throw wantMap();
    }
  }
}

function isMerge(node: GNode): boolean {
  return node.kind === "scalar" && node.value === "<<" &&
    (node.implicit || node.tag === MERGE_TAG);
}

/** go-yaml's prepare(): values that leave a pointer target untouched (nil). */
function isPrepareNull(node: GNode): boolean {
  if (node.tag === NULL_TAG) return true;
  return node.kind === "scalar" && node.tag === "" &&
    (node.value === "null" || node.value === "~" ||
      (node.value === "" && node.implicit));
}
