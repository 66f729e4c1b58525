// A small typed view of a YAML 1.1 document that keeps what the engine
// needs and the `yaml` package's plain JS conversion loses: every duplicate
// key of a mapping (a match item's two `groups:` keys mean AND), the
// source text of scalars (string keys take a scalar's text, as go-yaml
// does) and the line of every node (for one-line error messages).
// The `yaml` package's ESM build (deno.json's "yaml/esm", its "browser"
// files), not the CommonJS one that "npm:yaml" resolves to under Deno's
// "node" condition: loading CommonJS starts Deno's Node-compatibility layer,
// which every login would pay for. Same code (the package builds both from
// one source); the ESM build only never reads process.env (LOG_TOKENS,
// LOG_STREAM debugging dumps) and decodes !!binary to a Uint8Array rather
// than a Buffer (we read a string scalar's source text, never its value).
// The types are the package's own.
// @ts-types="yaml"
import {
  type Document,
  isAlias,
  isMap,
  isPair,
  isScalar,
  isSeq,
  LineCounter,
  type Node as YamlNode,
  parseDocument,
  type Tags,
} from "yaml/esm";
import { fail, ok, type Result } from "../result.ts";

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

/** One key of a mapping; duplicates are kept in document order. */
export interface MappingEntry {
  key: string;
  line: number;
  value: TreeNode;
}

/** A mapping and its line. */
export interface MappingNode {
  kind: "mapping";
  entries: MappingEntry[];
  line: number;
}

/** Any node of the tree. */
export type TreeNode = ScalarNode | SequenceNode | MappingNode;

/** Parses YAML 1.1 text; an empty document gives an empty mapping. */
export function parseYamlTree(text: string): Result<TreeNode> {
  const lines = new LineCounter();
  const document = parseDocument(text, {
    version: "1.1",
    uniqueKeys: false,
    merge: true,
    intAsBigInt: true,
    lineCounter: lines,
    prettyErrors: false,
    customTags: goYamlTags,
  });
  if (document.errors.length > 0) {
    // Without prettyErrors there is no linePos: the line comes from the
    // error's offset.
    // An error found at the end of the file (unclosed bracket or quote)
    // is reported on the last line that has content.
    const first = document.errors[0];
    const end = Math.max(0, text.trimEnd().length - 1);
    const line = lines.linePos(Math.min(first.pos[0], end)).line;
    return fail(
      `line ${line}: yaml: ${describeYamlError(first.code, first.message)}`,
    );
  }
  if (document.contents === null) {
    return ok({ kind: "mapping", entries: [], line: 1 });
  }
  const context: Context = {
    document,
    lineOf: (node) => node?.range ? lines.linePos(node.range[0]).line : 1,
    expanding: new Set(),
    budget: MAX_NODES,
  };
  const tree = convert(context, document.contents as YamlNode);
  return context.problem === undefined ? ok(tree) : fail(context.problem);
}

// Far more than any real configuration; stops "billion laughs" aliases.
const MAX_NODES = 1_000_000;

// go-yaml v2 has no sexagesimal numbers (`1:20` is the string "1:20", not
// 80) and, through Go's strconv, reads `0o17` as octal 15.
const goOctal = {
  identify: (value: unknown) => typeof value === "bigint",
  default: true,
  tag: "tag:yaml.org,2002:int",
  format: "OCT",
  test: /^[-+]?0o[0-7_]+$/,
  resolve: (text: string) => {
    const negative = text.startsWith("-");
    const digits = text.replace(/^[-+]?0o/, "").replaceAll("_", "");
    const value = BigInt(`0o${digits}`);
    return negative ? -value : value;
  },
};

function goYamlTags(tags: Tags): Tags {
  return [
    ...tags.filter((tag) =>
      typeof tag === "string" || !("format" in tag && tag.format === "TIME")
    ),
    goOctal,
  ];
}

function describeYamlError(code: string, message: string): string {
  // go-yaml's wording for the most common mistake, so admins can search it.
  if (code === "TAB_AS_INDENT") {
    return "found character that cannot start any token (expected spaces for indentation, not a TAB)";
  }
  if (code === "MULTIPLE_DOCS") {
    return "more than one document in the file (expected a single document; remove the extra `---` line)";
  }
  const text = message.split("\n")[0].replace(
    / at line \d+, column \d+:?$/,
    "",
  );
  return `${text} (expected valid YAML)`;
}

interface Context {
  document: Document;
  lineOf: (node: YamlNode | null | undefined) => number;
  /** Aliases being expanded, to refuse an anchor that contains itself. */
  expanding: Set<YamlNode>;
  /** Nodes left before the document counts as an alias bomb. */
  budget: number;
  /** The first problem met, if any (the tree is then discarded). */
  problem?: string;
}

function nullAt(line: number): ScalarNode {
  return { kind: "scalar", tag: "null", value: null, text: "", line };
}

function convert(context: Context, node: YamlNode): TreeNode {
  const { document, lineOf } = context;
  if (context.problem !== undefined) return nullAt(lineOf(node));
  if (--context.budget < 0) {
    context.problem = `line ${
      lineOf(node)
    }: yaml: document too large once aliases are expanded (expected fewer aliases)`;
    return nullAt(lineOf(node));
  }
  if (isAlias(node)) {
    // go-yaml's wording for both mistakes.
    const target = node.resolve(document) as YamlNode | undefined;
    if (!target) {
      context.problem = `line ${
        lineOf(node)
      }: yaml: unknown anchor '${node.source}' referenced (expected an anchor &${node.source} defined earlier)`;
      return nullAt(lineOf(node));
    }
    if (context.expanding.has(target)) {
      context.problem = `line ${
        lineOf(node)
      }: yaml: anchor '${node.source}' value contains itself (expected an alias outside its anchor)`;
      return nullAt(lineOf(node));
    }
    context.expanding.add(target);
    const value = convert(context, target);
    context.expanding.delete(target);
    return { ...value, line: lineOf(node) };
  }
  if (isScalar(node)) {
    const value = node.value;
    const text = typeof node.source === "string"
      ? node.source
      : String(value ?? "");
    let tag: ScalarTag;
    if (value === null || value === undefined) tag = "null";
    else if (typeof value === "boolean") tag = "bool";
    else if (typeof value === "bigint") tag = "int";
    else if (typeof value === "number") {
      tag = Number.isInteger(value) && !/[.eE]/.test(text) ? "int" : "float";
    } else tag = "str";
    const normalised = typeof value === "number" && tag === "int"
      ? BigInt(value)
      : value;
    return {
      kind: "scalar",
      tag,
      value: (normalised ?? null) as ScalarNode["value"],
      text,
      line: lineOf(node),
    };
  }
  if (isSeq(node)) {
    return {
      kind: "sequence",
      items: node.items.map((item) =>
        item === null || item === undefined
          ? nullAt(lineOf(node))
          : convert(context, item as YamlNode)
      ),
      line: lineOf(node),
    };
  }
  if (isMap(node)) {
    const entries: MappingEntry[] = [];
    const merged: TreeNode[] = [];
    for (const pair of node.items) {
      if (!isPair(pair)) continue;
      const keyNode = pair.key as YamlNode | null;
      const key = keyNode && isScalar(keyNode)
        ? (typeof keyNode.source === "string"
          ? keyNode.source
          : String(keyNode.value))
        : "";
      const valueNode = pair.value as YamlNode | null;
      const value: TreeNode = valueNode === null || valueNode === undefined
        ? nullAt(lineOf(keyNode))
        : convert(context, valueNode);
      // A plain `<<` resolves to a symbol; a quoted "<<" is an ordinary key.
      if (keyNode && isScalar(keyNode) && typeof keyNode.value === "symbol") {
        merged.push(...(value.kind === "sequence" ? value.items : [value]));
        continue;
      }
      entries.push({ key, line: lineOf(keyNode), value });
    }
    return {
      kind: "mapping",
      entries: [...mergedEntries(merged, entries), ...entries],
      line: lineOf(node),
    };
  }
  return nullAt(lineOf(node));
}

// YAML merge keys: the mapping's own keys always win (wherever `<<` is
// written), and of several merged mappings the earlier one wins. A merged
// key therefore never becomes a duplicate of an own key, which inside a
// match item would turn it into an AND.
function mergedEntries(
  sources: TreeNode[],
  own: MappingEntry[],
): MappingEntry[] {
  const taken = new Set(own.map((entry) => entry.key));
  const result: MappingEntry[] = [];
  for (const source of sources) {
    if (source.kind !== "mapping") continue;
    const fresh = source.entries.filter((entry) => !taken.has(entry.key));
    for (const entry of fresh) taken.add(entry.key);
    result.push(...fresh);
  }
  return result;
}

/** The last entry for `key` (go-yaml semantics: a duplicate key's last value wins). */
export function lastEntry(
  mapping: MappingNode,
  key: string,
): MappingEntry | undefined {
  for (let index = mapping.entries.length - 1; index >= 0; index--) {
    if (mapping.entries[index].key === key) return mapping.entries[index];
  }
  return undefined;
}
