// A reader for the YAML that configuration files are made of (block
// mappings and sequences, one-line scalars, one-line flow lists), which
// builds the same tree as yaml_tree.ts without the `yaml` package: on a
// login's cold start its lexer, parser and composer cost 2-2.5 ms for a
// ten-line file (measured), and loading it another ~1.5 ms (200 KB of
// its code in every session's module), which every session paid, against
// ~0.1 ms here. Hand-written because no package parses YAML in less; it
// is only a fast path: anything outside the subset below (anchors, tags,
// block scalars, multi-line scalars, escapes, flow mappings with entries,
// empty values, document markers but a first `---`, tabs, dates, errors
// of any kind) answers undefined, and the `yaml` package reads the file
// as before.
// Plain scalars resolve as the package's YAML 1.1 tags resolve them with
// goYamlTags (yaml_tags.ts), restated below, so `yes`, `0777` or `1_000`
// mean what they mean there; tests/config/
// yaml_simple_reader_matches_package_test.ts compares both readers on
// every fixture, on plain scalars of every kind and on generated files.
import {
  type MappingEntry,
  type ScalarNode,
  scalarNode,
  type TreeNode,
  type YamlTree,
} from "./yaml_document.ts";

/** The tree of `text` when it is in the subset; undefined otherwise. */
export function readSimpleYaml(text: string): YamlTree | undefined {
  if (/[\t\r\uFEFF]/.test(text)) return undefined;
  const lines = contentLines(text);
  if (lines === undefined || lines.length === 0) return undefined;
  const cursor: Cursor = { lines, position: 0 };
  try {
    if (lines[0].indent !== 0) return undefined;
    const root = block(cursor, 0, 0);
    if (root.kind !== "mapping" || !done(cursor)) return undefined;
    return { root, notes: [] };
  } catch (error) {
    if (error instanceof OutsideSubset) return undefined;
    throw error;
  }
}

/** The input is not in the subset: the package reads it. */
class OutsideSubset extends Error {}

function outside(): never {
  throw new OutsideSubset();
}

interface Line {
  /** 1-based line number. */
  number: number;
  indent: number;
  /** The line without its indentation (comments still in). */
  content: string;
}

// Lines holding something other than blanks and comments.
function contentLines(text: string): Line[] | undefined {
  const lines: Line[] = [];
  let started = false;
  const raw = text.split("\n");
  for (let index = 0; index < raw.length; index++) {
    const line = raw[index];
    const content = line.trimStart();
    if (content === "" || content.startsWith("#")) continue;
    // A document's start marker before any content (as configuration
    // management tools write files): read past it. Any other marker or a
    // directive: the package's business.
    if (!started && /^---(\s+#.*)?\s*$/.test(line)) {
      started = true;
      continue;
    }
    started = true;
    if (/^(---|\.\.\.)(\s|$)/.test(line) || line.startsWith("%")) {
      return undefined;
    }
    lines.push({
      number: index + 1,
      indent: line.length - content.length,
      content: content.trimEnd(),
    });
  }
  return lines;
}

// Nested deeper than this, the package reads it (and applies its limit).
const MAX_DEPTH = 50;

// Plain functions over a cursor rather than a class: V8 compiles class
// members lazily, at every login that reads a file (~1 ms here, measured),
// where functions are compiled with their module into the install's code
// cache (scripts/eager_compile.ts).

/** The lines being read and the next one. */
interface Cursor {
  lines: Line[];
  position: number;
}

function done(cursor: Cursor): boolean {
  return cursor.position >= cursor.lines.length;
}

function peek(cursor: Cursor): Line | undefined {
  return cursor.lines[cursor.position];
}

/** The block (mapping or sequence) whose first line is the next one, at `indent`. */
function block(cursor: Cursor, indent: number, depth: number): TreeNode {
  if (depth > MAX_DEPTH) outside();
  const first = peek(cursor);
  if (first === undefined || first.indent !== indent) outside();
  return isSequenceItem(first.content)
    ? sequence(cursor, indent, depth)
    : mapping(cursor, indent, depth);
}

function mapping(cursor: Cursor, indent: number, depth: number): TreeNode {
  const entries: MappingEntry[] = [];
  const line = peek(cursor)!.number;
  for (;;) {
    const current = peek(cursor);
    if (current === undefined || current.indent < indent) break;
    if (current.indent > indent || isSequenceItem(current.content)) {
      outside();
    }
    cursor.position++;
    const { key, rest } = splitKey(current.content);
    if (key === "<<") outside(); // a merge key
    if (rest === "") {
      // The value is the block below: more indented, or a sequence at
      // the key's own indentation.
      const next = peek(cursor);
      if (next === undefined) outside();
      if (
        next.indent > indent ||
        (next.indent === indent && isSequenceItem(next.content))
      ) {
        entries.push({
          key,
          line: current.number,
          value: block(cursor, next.indent, depth + 1),
        });
        continue;
      }
      outside(); // an empty value
    }
    entries.push({
      key,
      line: current.number,
      value: inline(rest, current.number),
    });
    const next = peek(cursor);
    if (next !== undefined && next.indent > indent) outside(); // continued
  }
  return { kind: "mapping", entries, line };
}

function sequence(cursor: Cursor, indent: number, depth: number): TreeNode {
  const items: TreeNode[] = [];
  const line = peek(cursor)!.number;
  for (;;) {
    const current = peek(cursor);
    if (current === undefined || current.indent < indent) break;
    if (current.indent > indent || !isSequenceItem(current.content)) {
      // A key at the indentation of a compact sequence ends it.
      if (current.indent === indent) break;
      outside();
    }
    const after = current.content.slice(1);
    const content = after.trimStart();
    const column = indent + 1 + (after.length - content.length);
    if (content === "" || content.startsWith("#")) outside();
    if (isSequenceItem(content)) outside(); // "- - x"
    if (hasKey(content)) {
      // "- key: value": a mapping at the key's column, this line first.
      cursor.lines[cursor.position] = {
        number: current.number,
        indent: column,
        content,
      };
      items.push(mapping(cursor, column, depth + 1));
      continue;
    }
    cursor.position++;
    items.push(inline(content, current.number));
    const next = peek(cursor);
    if (next !== undefined && next.indent > indent) outside(); // continued
  }
  return { kind: "sequence", items, line };
}

// A value written on its key's line: a scalar or a one-line flow list.
function inline(text: string, line: number): TreeNode {
  if (text.startsWith("[")) return flowSequence(text, line);
  if (text.startsWith("{")) {
    if (/^\{\s*\}(\s+#.*)?$/.test(text)) {
      return { kind: "mapping", entries: [], line };
    }
    outside();
  }
  const { scalar, rest } = leadingScalar(text, line, false);
  if (rest !== "" && !rest.startsWith("#")) outside();
  return scalar;
}

function flowSequence(text: string, line: number): TreeNode {
  const close = closingBracket(text);
  if (close < 0) outside();
  // Only a comment may follow, after a blank.
  const after = text.slice(close + 1);
  if (after !== "" && !/^\s+#/.test(after)) outside();
  const inside = text.slice(1, close);
  if (/[[\]{}#]/.test(inside.replace(/'[^']*'|"[^"\\]*"/g, ""))) outside();
  const items: TreeNode[] = [];
  if (inside.trim() !== "") {
    let remaining = inside;
    for (;;) {
      const trimmed = remaining.trimStart();
      if (trimmed === "") break; // a trailing comma
      const { scalar, rest } = leadingScalar(trimmed, line, true);
      items.push(scalar);
      if (rest === "") break;
      if (!rest.startsWith(",")) outside();
      remaining = rest.slice(1);
      if (remaining.trim() === "" && items.length > 0) break;
    }
  }
  return { kind: "sequence", items, line };
}

// One scalar at the start of `text`; what follows it, trimmed.
function leadingScalar(
  text: string,
  line: number,
  inFlow: boolean,
): { scalar: ScalarNode; rest: string } {
  const quote = text[0];
  if (quote === "'" || quote === '"') {
    let end = 1;
    let value = "";
    for (;;) {
      const next = text.indexOf(quote, end);
      if (next < 0) outside(); // spans lines
      value += text.slice(end, next);
      if (quote === "'" && text[next + 1] === "'") {
        value += "'";
        end = next + 2;
        continue;
      }
      end = next + 1;
      break;
    }
    if (quote === '"' && value.includes("\\")) outside(); // escapes
    const rest = text.slice(end).trimStart();
    // Outside a list, only a blank may follow the closing quote.
    if (!inFlow && rest !== "" && !/\s/.test(text[end])) outside();
    return {
      scalar: { kind: "scalar", tag: "str", value, text: value, line },
      rest,
    };
  }
  // A plain scalar: up to a comment, or in a list up to its comma.
  // (`-`, `?` and `:` start one only before a character that is not a
  // blank, nor in a list a flow indicator.)
  const indicator = inFlow ? /^[-?:]([\s,[\]{}]|$)/ : /^[-?:](\s|$)/;
  if (indicator.test(text) || /^[,[\]{}#&*!|>%@`]/.test(text)) {
    outside();
  }
  // (A list holds no `#` at all, flowSequence checked; looking for a
  // comment in the rest of the line at every item would be quadratic.)
  let end = text.length;
  if (inFlow) {
    const comma = text.indexOf(",");
    if (comma >= 0) end = comma;
  } else {
    const comment = text.search(/\s#/);
    if (comment >= 0) end = comment;
  }
  const source = text.slice(0, end).trimEnd();
  if (/:(\s|$)/.test(source)) outside(); // a mapping where a value was
  if (inFlow && /[[\]{}]/.test(source)) outside();
  return {
    scalar: plain(source, line),
    rest: text.slice(end).trimStart(),
  };
}

// A plain scalar resolved as the package resolves it (YAML 1.1 tags).
function plain(source: string, line: number): ScalarNode {
  return scalarNode(resolvePlain(source), source, line) ?? outside();
}

// Where the one-line flow list that `text` starts ends: the first `]`
// outside its quoted items, which may hold brackets (nodesets such as
// "node[1-4]:22", in most configurations); -1 when there is none. A quote
// starts an item only at the item's start (`[it's]` is a plain "it's").
function closingBracket(text: string): number {
  let itemStart = true;
  for (let index = 1; index < text.length; index++) {
    const character = text[index];
    if (itemStart && (character === "'" || character === '"')) {
      // To the closing quote ('' is a quote inside single quotes).
      for (index++; index < text.length; index++) {
        if (text[index] !== character) continue;
        if (character === "'" && text[index + 1] === "'") index++;
        else break;
      }
      itemStart = false;
      continue;
    }
    if (character === "]") return index;
    if (character === ",") itemStart = true;
    else if (character !== " ") itemStart = false;
  }
  return -1;
}

// The `yaml` package's YAML 1.1 schema (schema/yaml-1.1/*.js) with
// goYamlTags, in the package's order: the first tag whose test matches
// resolves the text (intAsBigInt: integers are bigints).
const NULL = /^(?:~|[Nn]ull|NULL)$/;
const TRUE = /^(?:Y|y|[Yy]es|YES|[Tt]rue|TRUE|[Oo]n|ON)$/;
const FALSE = /^(?:N|n|[Nn]o|NO|[Ff]alse|FALSE|[Oo]ff|OFF)$/;
const INTEGERS: [RegExp, number, 2 | 8 | 10 | 16][] = [
  [/^[-+]?0b[0-1_]+$/, 2, 2],
  [/^[-+]?0[0-7_]+$/, 1, 8],
  [/^[-+]?[0-9][0-9_]*$/, 0, 10],
  [/^[-+]?0x[0-9a-fA-F_]+$/, 2, 16],
];
const FLOAT_NAN = /^(?:[-+]?\.(?:inf|Inf|INF)|\.nan|\.NaN|\.NAN)$/;
const FLOAT_EXP = /^[-+]?(?:[0-9][0-9_]*)?(?:\.[0-9_]*)?[eE][-+]?[0-9]+$/;
const FLOAT = /^[-+]?(?:[0-9][0-9_]*)?\.[0-9_]*$/;
// A date: the package makes a Date of it, which this reader leaves to it.
const TIMESTAMP = /^[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}(?:$|[Tt ])/;
const GO_OCTAL = /^[-+]?0o[0-7_]+$/;
const PREFIX = { 2: "0b", 8: "0o", 10: "", 16: "0x" } as const;

// Most values are neither (host names, paths, words): two character
// checks send them on before any pattern runs (each pattern costs a login
// its compilation, ~20 us, the first time it runs).
const NUMBER_CHARACTERS = /^[-+.0-9a-zA-Z_]+$/;

function resolvePlain(source: string): unknown {
  const first = source[0];
  if (source.length <= 5 && "~nNyYtTfFoO".includes(first)) {
    if (NULL.test(source)) return null;
    if (TRUE.test(source)) return true;
    if (FALSE.test(source)) return false;
  }
  if (source.length >= 8 && source[4] === "-" && TIMESTAMP.test(source)) {
    outside();
  }
  // (The package's float patterns take "e1" too: its mantissa is optional.)
  const numeric = "0123456789+-.eE".includes(first);
  if (!numeric || !NUMBER_CHARACTERS.test(source)) return source;
  for (const [pattern, offset, radix] of INTEGERS) {
    if (pattern.test(source)) return integer(source, offset, radix);
  }
  if (FLOAT_NAN.test(source)) {
    return source.slice(-3).toLowerCase() === "nan"
      ? NaN
      : source[0] === "-"
      ? Number.NEGATIVE_INFINITY
      : Number.POSITIVE_INFINITY;
  }
  if (FLOAT_EXP.test(source) || FLOAT.test(source)) {
    return parseFloat(source.replace(/_/g, ""));
  }
  if (GO_OCTAL.test(source)) return integer(source, 2, 8);
  return source;
}

// The package's intResolve: sign, prefix skipped, underscores dropped.
function integer(source: string, offset: number, radix: 2 | 8 | 10 | 16) {
  const sign = source[0];
  const skip = sign === "-" || sign === "+" ? offset + 1 : offset;
  const digits = source.substring(skip).replace(/_/g, "");
  let value: bigint;
  try {
    value = BigInt(`${PREFIX[radix]}${digits}`);
  } catch {
    outside(); // e.g. "0b_": the package reports it
  }
  return sign === "-" ? -value : value;
}

function isSequenceItem(content: string): boolean {
  return content === "-" || content.startsWith("- ");
}

// Whether a sequence item's content is `key: value` (or `key:`).
function hasKey(content: string): boolean {
  if (content[0] === "'" || content[0] === '"') {
    try {
      splitKey(content);
      return true;
    } catch (error) {
      if (error instanceof OutsideSubset) return false;
      throw error;
    }
  }
  const comment = content.search(/\s#/);
  const text = comment >= 0 ? content.slice(0, comment) : content;
  return /:(\s|$)/.test(text);
}

// `key: rest` (rest without its leading blanks; "" when nothing but a
// comment follows).
function splitKey(content: string): { key: string; rest: string } {
  let key: string;
  let after: string;
  const quote = content[0];
  if (quote === "'" || quote === '"') {
    const close = content.indexOf(quote, 1);
    if (close < 0) outside();
    key = content.slice(1, close);
    if (key.includes("\\") || (quote === "'" && content[close + 1] === "'")) {
      outside();
    }
    after = content.slice(close + 1);
    if (!after.startsWith(":")) outside();
    after = after.slice(1);
  } else {
    if (/^[-?:,[\]{}#&*!|>'"%@`]/.test(content)) outside();
    const colon = content.search(/:(\s|$)/);
    if (colon <= 0) outside();
    key = content.slice(0, colon).trimEnd();
    if (/\s#/.test(key)) outside();
    after = content.slice(colon + 1);
  }
  if (after !== "" && !/^\s/.test(after)) outside();
  const rest = after.trim();
  return { key, rest: rest.startsWith("#") ? "" : rest };
}
