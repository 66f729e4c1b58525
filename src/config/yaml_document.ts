// The tree a configuration file's YAML becomes (yaml_tree.ts builds it with
// the `yaml` package, yaml_simple.ts without), the bounds on reading it,
// and small helpers on it. Nothing here loads the package: the session's
// own modules import this, and the package only when a file needs it.
/** The YAML 1.1 type a scalar resolved to. */
export type ScalarTag = "null" | "bool" | "int" | "float" | "str";

/** A scalar with its resolved value, its source text and its line. */
export interface ScalarNode {
  kind: "scalar";
  tag: ScalarTag;
  value: null | boolean | number | bigint | string;
  text: string;
  line: number;
}

/** A sequence and its line. */
export interface SequenceNode {
  kind: "sequence";
  items: TreeNode[];
  line: number;
}

/**
 * One key of a mapping, in document order; duplicates are kept. `merged`
 * marks an entry brought in by a `<<` merge key rather than written there.
 */
export interface MappingEntry {
  key: string;
  line: number;
  value: TreeNode;
  merged?: boolean;
}

/** A mapping and its line. */
export interface MappingNode {
  kind: "mapping";
  entries: MappingEntry[];
  line: number;
}

/** Any node of the tree. */
export type TreeNode = ScalarNode | SequenceNode | MappingNode;

/** Something about the file worth a warning that is not an error. */
export interface TreeNote {
  line: number;
  note: string;
}

/** A parsed document: its root and the notes met on the way. */
export interface YamlTree {
  root: TreeNode;
  notes: TreeNote[];
}

/**
 * Bounds on what a configuration file may make the parser do. The `yaml`
 * package costs about a second of CPU per MiB on a cold start (the price of
 * every login), so the size bound is what keeps the worst case bounded.
 */
export const YAML_LIMITS = {
  /** Largest file read, in bytes (the reference has none; real files are a few KiB). */
  maxBytes: 1024 * 1024,
  /**
   * Deepest nesting of lists and mappings. The reference (go-yaml v2) stops
   * at 10,000; the `yaml` package overflows the stack near 1,000, and the
   * deepest key of a configuration is 6 levels down.
   */
  maxDepth: 100,
  /** Most nodes that aliases may add once expanded ("billion laughs"). */
  maxAliasNodes: 100_000,
} as const;

/**
 * A scalar's node from its resolved value, as both readers build it: the
 * YAML 1.1 type of the value (an integer written without `.` or an
 * exponent is an int, as go-yaml types it), integers as bigints.
 * Undefined for a value of no such type (a date).
 */
export function scalarNode(
  value: unknown,
  text: string,
  line: number,
): ScalarNode | undefined {
  let tag: ScalarTag;
  if (value === null || value === undefined) tag = "null";
  else if (typeof value === "boolean") tag = "bool";
  else if (typeof value === "bigint") tag = "int";
  else if (typeof value === "number") {
    tag = Number.isInteger(value) && !/[.eE]/.test(text) ? "int" : "float";
  } else if (typeof value === "string") tag = "str";
  else return undefined;
  const normalised = typeof value === "number" && tag === "int"
    ? BigInt(value)
    : value;
  return {
    kind: "scalar",
    tag,
    value: (normalised ?? null) as ScalarNode["value"],
    text,
    line,
  };
}

/**
 * The size bound, checked before any reader runs: a one-line error naming
 * the line where the file goes past it, or undefined.
 */
export function sizeProblem(text: string): string | undefined {
  const past = indexPastBytes(text, YAML_LIMITS.maxBytes);
  if (past < 0) return undefined;
  return `line ${
    lineOfOffset(text, past)
  }: yaml: file larger than ${YAML_LIMITS.maxBytes} bytes (the limit; expected a configuration file of at most 1 MiB)`;
}

/** The 1-based line of `offset` in `text`. */
export function lineOfOffset(text: string, offset: number): number {
  let line = 1;
  for (let index = text.indexOf("\n"); index >= 0 && index < offset;) {
    line++;
    index = text.indexOf("\n", index + 1);
  }
  return line;
}

// The index of the character whose UTF-8 encoding goes past `limit`
// bytes, or -1 if the whole text fits.
function indexPastBytes(text: string, limit: number): number {
  if (text.length <= limit / 3) return -1;
  let bytes = 0;
  for (let index = 0; index < text.length; index++) {
    const code = text.charCodeAt(index);
    if (code < 0x80) bytes += 1;
    else if (code < 0x800) bytes += 2;
    else if (code >= 0xd800 && code < 0xdc00) {
      bytes += 4;
      index++;
    } else bytes += 3;
    if (bytes > limit) return index;
  }
  return -1;
}

/** `text` shortened to a readable length for a one-line message. */
export function clip(text: string, length = 80): string {
  return text.length <= length
    ? text
    : `${text.slice(0, length - 20)}... (${text.length} characters)`;
}

/** The last entry for `key` (go-yaml v2 replaces a list or a scalar given twice). */
export function lastEntry(
  mapping: MappingNode,
  key: string,
): MappingEntry | undefined {
  for (let index = mapping.entries.length - 1; index >= 0; index--) {
    if (mapping.entries[index].key === key) return mapping.entries[index];
  }
  return undefined;
}
