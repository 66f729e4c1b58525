import { fail, ok, type Result } from "../result.ts";
// A type-only import: the YAML machinery of clustershell.ts is never loaded
// by callers that only expand plain nodesets.
import type { GroupResolver } from "./clustershell.ts";

// The reference stores values in a bitmap and dies on typos such as
// `server[1-10000000000]`; we enumerate, so we refuse huge expansions
// instead of exhausting memory.
const MAX_NAMES = 1_000_000;

function tooLarge(limit: number): Result<never> {
  return fail(
    `nodeset too large (more than ${limit} names) - nodeset parse error`,
  );
}

// Same scan as the reference: a bracket group without nested brackets, or a
// bare digit run, is a range token; everything else is pattern text.
const RANGE_TOKEN = /\[([^[\]]+)\]|[0-9]+/g;

// Go's strconv.Atoi accepts an optional sign, and so do the reference's
// range bounds; the sign counts in the padding width as it does there.
const INTEGER = /^[+-]?[0-9]+$/;

type Segment =
  | { kind: "text"; text: string }
  | { kind: "range"; raw: string; source: string }
  | { kind: "literal"; text: string };

type Operator = "," | "!" | "&" | "^";

interface Item {
  op: Operator;
  segments: Segment[];
}

/**
 * Expands a nodeset (`server[1-3,7]`, `rack[1-2]-node[01-10/3]`, `@login`)
 * into host names, in the order the admin wrote them; more than `maxNames`
 * names (at most a million) is an error found before they are enumerated.
 */
export function expandNodeset(
  text: string,
  groups?: GroupResolver,
  maxNames = MAX_NAMES,
): Result<string[]> {
  if (groups === undefined && text.includes("@")) {
    return fail("must not contain the @ character");
  }
  return expand(text, groups, undefined, [], Math.min(maxNames, MAX_NAMES));
}

// `source` is the group source that unprefixed `@name` references use, and
// `stack` the chain of groups being resolved (empty at the top level).
function expand(
  text: string,
  groups: GroupResolver | undefined,
  source: string | undefined,
  stack: readonly string[],
  limit: number,
): Result<string[]> {
  // Hostnames never contain whitespace; removing all of it (not only
  // spaces) also copes with group values folded over several YAML lines.
  const compact = text.replace(/\s+/g, "");
  if (compact === "") {
    return text === "" ? ok([]) : fail("empty nodeset - nodeset parse error");
  }
  // Errors in a group's own text get the group's name, so an admin can find
  // the bad line; top-level errors keep the reference's exact wording.
  const where = stack.length === 0 ? "" : `in group ${stack.at(-1)}: `;

  const segments = tokenize(compact);
  if (!segments.ok) return fail(where + segments.error);

  // With a resolver we follow ClusterShell (and libnodeset, the reference's
  // other backend), where `!`, `&` and `^` are set operators, as in
  // `@compute!@gpu`; without one, the built-in expander keeps them as name
  // characters like the reference does.
  const items = splitItems(segments.value, groups ? ",!&^" : ",");

  const names = nameList();
  for (const item of items) {
    // `a,,b` and a trailing comma contribute nothing rather than an empty
    // host name.
    if (item.segments.length === 0) continue;
    let expanded: Result<string[]>;
    const head = item.segments[0];
    if (groups && head.kind === "text" && head.text.startsWith("@")) {
      expanded = expandGroup(item.segments, groups, source, stack, limit);
    } else if (
      item.segments.some((s) => s.kind === "text" && s.text.includes("@"))
    ) {
      const written = rawText(item.segments);
      return fail(`${where}misplaced @ in '${written}' - nodeset parse error`);
    } else {
      const product = expandItem(item.segments, limit);
      expanded = product.ok ? product : fail(where + product.error);
    }
    if (!expanded.ok) return expanded;
    applyOperator(names, item.op, expanded.value);
    if (names.names.length > limit) return tooLarge(limit);
  }
  return ok(names.names);
}

function tokenize(compact: string): Result<Segment[]> {
  const segments: Segment[] = [];
  let last = 0;
  for (const match of compact.matchAll(RANGE_TOKEN)) {
    if (match.index > last) {
      segments.push({ kind: "text", text: compact.slice(last, match.index) });
    }
    const content = match[1];
    if (content !== undefined && content.includes(":")) {
      // No range contains `:`, so `[::1]` or `[fe80::1]:2222` is an IPv6
      // literal, kept with its brackets, where the reference gave an error.
      segments.push({ kind: "literal", text: match[0] });
    } else {
      segments.push({
        kind: "range",
        raw: content ?? match[0],
        source: match[0],
      });
    }
    last = match.index + match[0].length;
  }
  if (last < compact.length) {
    segments.push({ kind: "text", text: compact.slice(last) });
  }

  // Leftover brackets are what the reference reports, `[` first.
  for (const bracket of ["[", "]"]) {
    if (segments.some((s) => s.kind === "text" && s.text.includes(bracket))) {
      return fail(
        `unbalanced '${bracket}' found while parsing ${compact} - nodeset parse error`,
      );
    }
  }
  return ok(segments);
}

function splitItems(segments: Segment[], separators: string): Item[] {
  const items: Item[] = [];
  let op: Operator = ",";
  let current: Segment[] = [];
  for (const segment of segments) {
    if (segment.kind !== "text") {
      current.push(segment);
      continue;
    }
    let start = 0;
    for (let i = 0; i < segment.text.length; i++) {
      const ch = segment.text[i];
      if (!separators.includes(ch)) continue;
      if (i > start) {
        current.push({ kind: "text", text: segment.text.slice(start, i) });
      }
      items.push({ op, segments: current });
      op = ch as Operator;
      current = [];
      start = i + 1;
    }
    if (start < segment.text.length) {
      current.push({ kind: "text", text: segment.text.slice(start) });
    }
  }
  items.push({ op, segments: current });
  return items;
}

function rawText(segments: Segment[]): string {
  return segments.map((s) => s.kind === "range" ? s.source : s.text).join("");
}

// An ordered set: the order of first appearance is kept so that
// `route_select: ordered` follows what the admin wrote (the reference
// groups by pattern and size, in hash-map order). Names are compared as
// text, so `server1` and `server01` stay two hosts where the reference
// merged them by numeric value.
// Functions over a plain record rather than a class: V8 compiles class
// members lazily, at every login (scripts/eager_compile.ts).
interface NameList {
  names: string[];
  present: Set<string>;
}

function nameList(): NameList {
  return { names: [], present: new Set() };
}

function applyOperator(
  list: NameList,
  op: Operator,
  operand: readonly string[],
): void {
  if (op === ",") {
    for (const name of operand) {
      if (!list.present.has(name)) {
        list.present.add(name);
        list.names.push(name);
      }
    }
    return;
  }
  const other = new Set(operand);
  const kept = list.names.filter((n) => other.has(n) === (op === "&"));
  // Operands are already free of duplicates.
  const added = op === "^" ? operand.filter((n) => !list.present.has(n)) : [];
  // Rebuilt rather than spliced: spreading up to a million names as call
  // arguments would overflow the stack.
  list.names = kept.concat(added);
  list.present = new Set(list.names);
}

function expandItem(segments: Segment[], limit: number): Result<string[]> {
  const parts: string[][] = [];
  let total = 1;
  for (const segment of segments) {
    if (segment.kind !== "range") {
      parts.push([segment.text]);
      continue;
    }
    const values = expandRange(segment.raw, limit);
    if (!values.ok) return values;
    total *= values.value.length;
    if (total > limit) return tooLarge(limit);
    parts.push(values.value);
  }
  // The first range token is the outermost loop, as in the reference.
  // Names are concatenated, never used as a format string (the reference's
  // Sprintf), so `%` is an ordinary character.
  let names = [""];
  for (const part of parts) {
    names = names.flatMap((prefix) => part.map((value) => prefix + value));
  }
  // Distinct tuples can still spell the same name (`a[1,11][1,11]`).
  return ok([...new Set(names)]);
}

// One range token (brackets stripped): sub-ranges `A`, `A-B`, `A-B/S`, in
// the reference's order of checks and with its exact (misspelt) messages.
function expandRange(raw: string, limit: number): Result<string[]> {
  const values = new Set<bigint>();
  let pad = 0;
  let count = 0n;
  for (const sub of raw.split(",")) {
    if (sub === "") return rangeError("empty range");

    let base = sub;
    let step = 1n;
    const slash = sub.indexOf("/");
    if (slash >= 0) {
      base = sub.slice(0, slash);
      const stepText = sub.slice(slash + 1);
      if (stepText === "") return rangeError(`cannont parse step ${sub}`);
      const parsed = parseInteger(stepText);
      if (parsed === undefined) {
        return rangeError(`cannont convert step to integer ${sub}`);
      }
      step = parsed;
    }

    let startText = base;
    let stopText: string | undefined;
    const dash = base.indexOf("-");
    if (dash < 0) {
      if (step !== 1n) return rangeError(`invalid step usage ${sub}`);
    } else {
      startText = base.slice(0, dash);
      stopText = base.slice(dash + 1);
      if (stopText === "") return rangeError(`cannpt parse end value ${sub}`);
    }

    const start = parseInteger(startText);
    if (start === undefined) {
      return rangeError(
        `cannont convert starting range to integer ${startText}`,
      );
    }
    // The first sub-range's start sets the width for the whole token.
    if (pad === 0) pad = startText.length;

    let stop = start;
    if (stopText !== undefined) {
      const parsed = parseInteger(stopText);
      if (parsed === undefined) {
        return rangeError(
          `cannont convert ending range to integer ${stopText}`,
        );
      }
      stop = parsed;
    }
    if (start > stop || step < 1n) {
      return rangeError(`invalid value in range ${sub}`);
    }

    count += (stop - start) / step + 1n;
    if (count > BigInt(limit)) return tooLarge(limit);
    for (let v = start; v <= stop; v += step) values.add(v);
  }
  // BigInt, not a bitmap or a double: 20-digit serial numbers stay exact.
  const sorted = [...values].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  return ok(sorted.map((v) => v.toString().padStart(pad, "0")));
}

function parseInteger(text: string): bigint | undefined {
  return INTEGER.test(text) ? BigInt(text) : undefined;
}

function rangeError(message: string): Result<never> {
  return fail(`${message} - rangeset parse error`);
}

function expandGroup(
  segments: Segment[],
  groups: GroupResolver,
  source: string | undefined,
  stack: readonly string[],
  limit: number,
): Result<string[]> {
  const reference = rawText(segments);
  const body = reference.slice(1);
  const colon = body.indexOf(":");
  // Unprefixed references inside a group's value stay in that group's
  // source, as ClusterShell documents for its YAML files.
  const refSource = colon >= 0 ? body.slice(0, colon) : source;
  const namePattern = colon >= 0 ? body.slice(colon + 1) : body;
  if (refSource === "" || namePattern === "" || namePattern.includes("@")) {
    return fail(`invalid group reference '${reference}' - nodeset parse error`);
  }

  // Group names take ranges too (`@rack[1-4]`), with the built-in syntax.
  const groupNames = expand(namePattern, undefined, undefined, [], limit);
  if (!groupNames.ok) return groupNames;

  const names = nameList();
  for (const name of groupNames.value) {
    const label = refSource === undefined
      ? `@${name}`
      : `@${refSource}:${name}`;
    const loop = stack.indexOf(label);
    if (loop >= 0) {
      const cycle = [...stack.slice(loop), label].join(" -> ");
      return fail(`group cycle: ${cycle}`);
    }
    const value = groups.resolve(refSource, name);
    if (!value.ok) return value;
    const members = expand(
      value.value,
      groups,
      refSource,
      [...stack, label],
      limit,
    );
    if (!members.ok) return members;
    applyOperator(names, ",", members.value);
    if (names.names.length > limit) return tooLarge(limit);
  }
  return ok(names.names);
}
