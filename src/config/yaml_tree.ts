// A small typed view of a YAML 1.1 document that keeps what the engine
// needs and the `yaml` package's plain JS conversion loses: every duplicate
// key of a mapping in document order (go-yaml v2 decodes them one after the
// other into the same struct or map, and a match item's two `groups:` keys
// mean AND), the source text of scalars (string keys take a scalar's text,
// as go-yaml does) and the line of every node (for one-line error messages).
//
// Reading is bounded before anything grows with hostile input (a file is
// read on every login): nesting deeper than MAX_DEPTH is refused while the
// package's own lexer streams, before any tree is built, and aliases are
// counted, never expanded, before the tree is built (see aliasTargets).
//
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
  type Alias,
  Composer,
  type CST,
  type Document,
  isAlias,
  isMap,
  isPair,
  isScalar,
  isSeq,
  Lexer,
  LineCounter,
  type Node as YamlNode,
  Parser,
} from "yaml/esm";
import { fail, ok, type Result } from "../result.ts";
import {
  clip,
  lineOfOffset,
  type MappingEntry,
  type ScalarNode,
  scalarNode,
  sizeProblem,
  type TreeNode,
  type TreeNote,
  YAML_LIMITS,
  type YamlTree,
} from "./yaml_document.ts";
import { goYamlTags } from "./yaml_tags.ts";
import { readSimpleYaml } from "./yaml_simple.ts";

// What the other modules import from here, defined without the package.
export * from "./yaml_document.ts";
export { goYamlTags };

/** Parses the first YAML 1.1 document of `text` (go-yaml v2 reads no further). */
export function parseYamlTree(text: string): Result<YamlTree> {
  const tooLarge = sizeProblem(text);
  if (tooLarge !== undefined) return fail(tooLarge);
  // Most configuration files need none of the package's machinery.
  const simple = readSimpleYaml(text);
  if (simple !== undefined) return ok(simple);
  return parseYamlTreeWithPackage(text);
}

/**
 * parseYamlTree without its fast path: the `yaml` package alone (the
 * tests compare yaml_simple.ts with it).
 */
export function parseYamlTreeWithPackage(text: string): Result<YamlTree> {
  const lines = new LineCounter();
  const read = firstDocument(text, lines);
  if (!read.ok) return read;
  const { document, restOffset } = read.value;
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
  const notes: TreeNote[] = [];
  if (restOffset !== undefined) {
    const content = firstContentLine(text, restOffset);
    if (content !== undefined) {
      notes.push({
        line: lineOfOffset(text, content),
        note:
          "a second YAML document starts here and is ignored (only the first document is read, as the reference does; remove the `---` line above to keep it)",
      });
    }
  }
  if (document.contents === null) {
    return ok({ root: { kind: "mapping", entries: [], line: 1 }, notes });
  }
  const lineOf = (node: YamlNode | null | undefined) =>
    node?.range ? lines.linePos(node.range[0]).line : 1;
  const contents = document.contents as YamlNode;
  const aliases = aliasTargets(contents, lineOf);
  if (!aliases.ok) return aliases;
  const context: Context = {
    lineOf,
    targets: aliases.value,
    converted: new Map(),
  };
  const root = convert(context, contents);
  return context.problem === undefined
    ? ok({ root, notes })
    : fail(context.problem);
}

interface FirstDocument {
  document: Document.Parsed;
  /** Where a second document starts, if the file has one. */
  restOffset?: number;
}

// The package's parser driven by hand, one lexeme at a time, so nesting is
// checked as it grows (5 MiB of `[` is refused after 101 of them instead of
// exhausting memory) and reading stops where a second document begins:
// go-yaml v2's Unmarshal (yaml.go `unmarshal`) calls its parser's `parse`
// once, which reads one document, and never looks further.
function firstDocument(
  text: string,
  lines: LineCounter,
): Result<FirstDocument> {
  const parser = new Parser(lines.addNewLine);
  lines.addNewLine(0);
  let documents = 0;
  let restOffset: number | undefined;
  let tooDeepAt: number | undefined;
  function* tokens(): Generator<CST.Token> {
    for (const lexeme of new Lexer().lex(text)) {
      for (const token of parser.next(lexeme)) {
        if (token.type === "document") documents++;
        yield token;
      }
      const stack = parser.stack;
      if (documents > 0 && stack[0]?.type === "document") {
        restOffset = stack[0].offset;
        return;
      }
      // The stack holds the document, the open collections, and at most
      // a few pending tokens: only a long stack needs counting.
      if (
        stack.length > YAML_LIMITS.maxDepth + 1 &&
        stack.filter(isCollectionToken).length > YAML_LIMITS.maxDepth
      ) {
        tooDeepAt = parser.offset;
        return;
      }
    }
    yield* parser.end();
  }
  const composer = new Composer({
    version: "1.1",
    uniqueKeys: false,
    merge: true,
    intAsBigInt: true,
    customTags: goYamlTags,
  });
  let document: Document.Parsed | undefined;
  for (const composed of composer.compose(tokens(), true, text.length)) {
    document ??= composed;
  }
  if (tooDeepAt !== undefined) {
    return fail(
      `line ${
        lines.linePos(tooDeepAt).line
      }: yaml: exceeded max depth of ${YAML_LIMITS.maxDepth} (lists and mappings nested deeper than the limit; expected a configuration nested a few levels deep)`,
    );
  }
  // compose(…, forceDoc = true) always yields a document.
  return ok({ document: document!, restOffset });
}

function isCollectionToken(token: CST.Token): boolean {
  return token.type === "block-map" || token.type === "block-seq" ||
    token.type === "flow-collection";
}

// The first line after `offset` holding more than document markers,
// comments and blanks, as an offset; undefined if there is none.
function firstContentLine(text: string, offset: number): number | undefined {
  let start = offset;
  while (start < text.length) {
    let end = text.indexOf("\n", start);
    if (end < 0) end = text.length;
    const line = text.slice(start, end).replace(/^(---|\.\.\.)(?=\s|$)/, "")
      .trim();
    if (line !== "" && !line.startsWith("#")) return start;
    start = end + 1;
  }
  return undefined;
}

function describeYamlError(code: string, message: string): string {
  // go-yaml's wording for the most common mistake, so admins can search it.
  if (code === "TAB_AS_INDENT") {
    return "found character that cannot start any token (expected spaces for indentation, not a TAB)";
  }
  const text = message.split("\n")[0].replace(
    / at line \d+, column \d+:?$/,
    "",
  );
  return `${clip(text)} (expected valid YAML)`;
}

// Aliases resolved in document order, as libyaml registers anchors (an
// anchor applies from where it is written; a later one of the same name
// takes over), and the nodes their expansion would add counted without
// expanding them: each node's expanded size is computed once. The package's
// own Alias.resolve() walks the whole document for every alias, which is
// quadratic in the number of aliases.
function aliasTargets(
  root: YamlNode,
  lineOf: (node: YamlNode) => number,
): Result<Map<Alias, YamlNode>> {
  const targets = new Map<Alias, YamlNode>();
  const anchors = new Map<string, YamlNode>();
  const aliases: Alias[] = [];
  const walk = (node: unknown): string | undefined => {
    if (isAlias(node)) {
      const target = anchors.get(node.source);
      if (target === undefined) {
        // go-yaml's wording.
        return `line ${
          lineOf(node)
        }: yaml: unknown anchor '${node.source}' referenced (expected an anchor &${node.source} defined earlier)`;
      }
      targets.set(node, target);
      aliases.push(node);
      return undefined;
    }
    if (isScalar(node) || isMap(node) || isSeq(node)) {
      if (node.anchor) anchors.set(node.anchor, node);
      if (isScalar(node)) return undefined;
      for (const item of node.items) {
        const problem = isPair(item)
          ? walk(item.key) ?? walk(item.value)
          : walk(item);
        if (problem !== undefined) return problem;
      }
    }
    return undefined;
  };
  const problem = walk(root);
  if (problem !== undefined) return fail(problem);

  const sizes = new Map<YamlNode, number>();
  const sizing = new Set<YamlNode>();
  let loop: Alias | undefined;
  const size = (node: unknown): number => {
    if (isAlias(node)) {
      const target = targets.get(node)!;
      if (sizing.has(target)) {
        loop ??= node;
        return 0;
      }
      return size(target);
    }
    if (!(isMap(node) || isSeq(node))) return 1;
    const known = sizes.get(node);
    if (known !== undefined) return known;
    sizing.add(node);
    let total = 1;
    for (const item of node.items) {
      total += isPair(item) ? size(item.key) + size(item.value) : size(item);
    }
    sizing.delete(node);
    sizes.set(node, total);
    return total;
  };
  let added = 0;
  for (const alias of aliases) {
    added += size(targets.get(alias));
    if (loop !== undefined) {
      // go-yaml's wording.
      return fail(
        `line ${
          lineOf(loop)
        }: yaml: anchor '${loop.source}' value contains itself (expected an alias outside its anchor)`,
      );
    }
    if (added > YAML_LIMITS.maxAliasNodes) {
      return fail(
        `line ${
          lineOf(alias)
        }: yaml: aliases expand to more than ${YAML_LIMITS.maxAliasNodes} nodes (the limit; expected fewer or smaller aliases)`,
      );
    }
  }
  return ok(targets);
}

interface Context {
  lineOf: (node: YamlNode | null | undefined) => number;
  targets: Map<Alias, YamlNode>;
  /** Anchored nodes already converted: an alias shares the result. */
  converted: Map<YamlNode, TreeNode>;
  /** The first problem met, if any (the tree is then discarded). */
  problem?: string;
}

function nullAt(line: number): ScalarNode {
  return { kind: "scalar", tag: "null", value: null, text: "", line };
}

function convert(context: Context, node: YamlNode): TreeNode {
  const { lineOf } = context;
  if (context.problem !== undefined) return nullAt(lineOf(node));
  if (isAlias(node)) {
    const target = context.targets.get(node)!;
    let value = context.converted.get(target);
    if (value === undefined) {
      value = convert(context, target);
      context.converted.set(target, value);
    }
    return { ...value, line: lineOf(node) };
  }
  if (isScalar(node)) {
    const value = node.value;
    const text = typeof node.source === "string"
      ? node.source
      : String(value ?? "");
    // A date (a Date object) is kept as the package made it, as a string.
    return scalarNode(value, text, lineOf(node)) ?? {
      kind: "scalar",
      tag: "str",
      value: value as ScalarNode["value"],
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
        const merged = mergedEntries(value);
        if (merged === undefined) {
          // go-yaml's wording.
          context.problem ??= `line ${
            lineOf(keyNode)
          }: yaml: map merge requires map or sequence of maps as the value (expected <<: *anchor or <<: [*a, *b])`;
          continue;
        }
        entries.push(...merged);
        continue;
      }
      entries.push({ key, line: lineOf(keyNode), value });
    }
    return { kind: "mapping", entries, line: lineOf(node) };
  }
  return nullAt(lineOf(node));
}

// YAML merge keys as go-yaml v2 applies them (decode.go, `merge`): the
// merged mapping is decoded in place, where `<<` is written, so its keys
// override keys written before it and are overridden by keys written after
// it; of a list of mappings the last is decoded first, so earlier ones win.
function mergedEntries(value: TreeNode): MappingEntry[] | undefined {
  const sources = value.kind === "sequence" ? [...value.items].reverse() : [
    value,
  ];
  const entries: MappingEntry[] = [];
  for (const source of sources) {
    if (source.kind !== "mapping") return undefined;
    for (const entry of source.entries) {
      entries.push({ ...entry, merged: true });
    }
  }
  return entries;
}
