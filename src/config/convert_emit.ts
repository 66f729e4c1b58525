// Writing YAML exactly as the reference's `yaml.Marshal` (go-yaml v2.4.0)
// does. A small port of the parts of libyaml's emitter that go-yaml uses
// (emitterc.go) was chosen over the `yaml` package's stringify: the byte-exact
// result depends on libyaml-specific choices that stringify cannot be told
// to make — when a string is single- vs double-quoted or written as a `|-`
// block, where flow sequences and long plain scalars wrap (column 80),
// indentless block sequences under a mapping key, `? ` complex keys for keys
// longer than 128 bytes, `\x..`/`\u....` escapes, `{}`/`[]` for empty
// collections. Marshalling of Go values (which style a string asks for,
// number formats, map key order) follows go-yaml's encode.go and sorter.go.
import {
  DStruct,
  type DValue,
  GoMap,
  resolveScalar,
  STR_TAG,
} from "./convert_decode.ts";

type ScalarStyle = "plain" | "single" | "double" | "literal";

/** A node to emit: a scalar with the style go-yaml asks for, or a collection. */
export type ENode =
  | { t: "scalar"; value: string; style: "plain" | "double" | "literal" }
  | { t: "seq"; flow: boolean; items: ENode[] }
  | { t: "map"; flow: boolean; pairs: [ENode, ENode][] };

// ---------------------------------------------------------------------------
// Marshalling Go values into nodes (encode.go).

const BASE60_FLOAT = /^[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+(?:\.[0-9_]*)?$/;

/** A Go string: plain when it reads back as the same string, else quoted. */
export function goString(value: string): ENode {
  if (value.includes("\n")) return { t: "scalar", value, style: "literal" };
  const plain = resolveScalar("", value).tag === STR_TAG &&
    !BASE60_FLOAT.test(value);
  return { t: "scalar", value, style: plain ? "plain" : "double" };
}

/** A bool, number or nil: always requested plain. */
export function plainScalar(value: string): ENode {
  return { t: "scalar", value, style: "plain" };
}

/** Go's strconv.FormatFloat(f, 'g', -1, 64), with YAML's .inf/.nan. */
function formatGoFloat(value: number): string {
  if (Number.isNaN(value)) return ".nan";
  if (value === Infinity) return ".inf";
  if (value === -Infinity) return "-.inf";
  if (value === 0) return Object.is(value, -0) ? "-0" : "0";
  const sign = value < 0 ? "-" : "";
  const [mantissa, exponentText] = Math.abs(value).toExponential().split("e");
  const digits = mantissa.replace(".", "");
  const exponent = Number(exponentText);
  // Shortest formatting: %e when the exponent is < -4 or >= 6.
  if (exponent < -4 || exponent >= 6) {
    const fraction = digits.length > 1 ? "." + digits.slice(1) : "";
    const expSign = exponent < 0 ? "-" : "+";
    const expDigits = String(Math.abs(exponent)).padStart(2, "0");
    return `${sign}${digits[0]}${fraction}e${expSign}${expDigits}`;
  }
  if (exponent < 0) {
    return `${sign}0.${"0".repeat(-exponent - 1)}${digits}`;
  }
  const whole = digits.slice(0, exponent + 1).padEnd(exponent + 1, "0");
  const fraction = digits.slice(exponent + 1);
  return `${sign}${whole}${fraction === "" ? "" : "." + fraction}`;
}

const MAX_INT64 = (1n << 63n) - 1n;

// reflect.Kind numbers, used by go-yaml's key sorter across types.
function kindOf(value: DValue): number {
  if (value === null) return 20; // nil interface
  switch (typeof value) {
    case "boolean":
      return 1;
    case "bigint":
      return value > MAX_INT64 ? 11 : 2;
    case "number":
      return 14;
    case "string":
      return 24;
  }
  if (Array.isArray(value)) return 23;
  if (value instanceof GoMap) return 21;
  return 25;
}

function keyFloat(value: DValue): number | undefined {
  if (typeof value === "bigint" || typeof value === "number") {
    return Number(value);
  }
  if (typeof value === "boolean") return value ? 1 : 0;
  return undefined;
}

const LETTER = /^\p{L}$/u;
const DIGIT = /^\p{Nd}$/u;

/** go-yaml's keyList.Less: numbers first by value, strings "naturally". */
function goKeyLess(a: DValue, b: DValue): boolean {
  const [ak, bk] = [kindOf(a), kindOf(b)];
  const [af, bf] = [keyFloat(a), keyFloat(b)];
  if (af !== undefined && bf !== undefined) {
    if (af !== bf) return af < bf;
    if (ak !== bk) return ak < bk;
    if (typeof a === "boolean" || typeof b === "boolean") return !a && !!b;
    return a! < b!;
  }
  if (typeof a !== "string" || typeof b !== "string") return ak < bk;
  const ar = Array.from(a, (c) => c.codePointAt(0)!);
  const br = Array.from(b, (c) => c.codePointAt(0)!);
  for (let i = 0; i < ar.length && i < br.length; i++) {
    if (ar[i] === br[i]) continue;
    const al = LETTER.test(String.fromCodePoint(ar[i]));
    const bl = LETTER.test(String.fromCodePoint(br[i]));
    if (al && bl) return ar[i] < br[i];
    if (al || bl) return bl;
    const isDigit = (c: number) => DIGIT.test(String.fromCodePoint(c));
    let an = 0n;
    let bn = 0n;
    if (ar[i] === 48 || br[i] === 48) {
      for (let j = i - 1; j >= 0 && isDigit(ar[j]); j--) {
        if (ar[j] !== 48) {
          an = 1n;
          bn = 1n;
          break;
        }
      }
    }
    let ai = i;
    for (; ai < ar.length && isDigit(ar[ai]); ai++) {
      an = BigInt.asIntN(64, an * 10n + BigInt(ar[ai] - 48));
    }
    let bi = i;
    for (; bi < br.length && isDigit(br[bi]); bi++) {
      bn = BigInt.asIntN(64, bn * 10n + BigInt(br[bi] - 48));
    }
    if (an !== bn) return an < bn;
    if (ai !== bi) return ai < bi;
    return ar[i] < br[i];
  }
  return ar.length < br.length;
}

/** Sorts map entries the way go-yaml orders map keys. */
export function sortedEntries(map: GoMap): [DValue, DValue][] {
  return [...map.entries.values()].sort(([a], [b]) =>
    goKeyLess(a, b) ? -1 : goKeyLess(b, a) ? 1 : 0
  );
}

/** A value held in an `interface{}` (or a map key), marshalled by its dynamic type. */
export function goValue(value: DValue): ENode {
  if (value === null) return plainScalar("null");
  switch (typeof value) {
    case "boolean":
      return plainScalar(value ? "true" : "false");
    case "string":
      return goString(value);
    case "bigint":
      return plainScalar(value.toString());
    case "number":
      return plainScalar(formatGoFloat(value));
  }
  if (Array.isArray(value)) {
    return { t: "seq", flow: false, items: value.map(goValue) };
  }
  if (value instanceof GoMap) {
    return {
      t: "map",
      flow: false,
      pairs: sortedEntries(value).map(([k, v]) => [goValue(k), goValue(v)]),
    };
  }
  if (value instanceof DStruct) {
    // Structs are marshalled by the caller, which knows their field order.
    throw new Error("internal error: struct in an interface value");
  }
  return plainScalar("null");
}

// ---------------------------------------------------------------------------
// The emitter (emitterc.go), recursive instead of event-driven.

const BEST_INDENT = 2;
const BEST_WIDTH = 80;

function isBreak(c: number | undefined): boolean {
  return c === 0x0d || c === 0x0a || c === 0x85 || c === 0x2028 ||
    c === 0x2029;
}

function isBlank(c: number | undefined): boolean {
  return c === 0x20 || c === 0x09;
}

function isBlankz(c: number | undefined): boolean {
  return c === undefined || c === 0 || isBlank(c) || isBreak(c);
}

function isPrintable(c: number): boolean {
  return c === 0x0a || (c >= 0x20 && c <= 0x7e) ||
    (c >= 0xa0 && c <= 0xd7ff) ||
    (c >= 0xe000 && c <= 0xfffd && c !== 0xfeff);
}

interface ScalarAnalysis {
  multiline: boolean;
  flowPlainAllowed: boolean;
  blockPlainAllowed: boolean;
  singleQuotedAllowed: boolean;
  blockAllowed: boolean;
}

function analyzeScalar(chars: number[]): ScalarAnalysis {
  if (chars.length === 0) {
    return {
      multiline: false,
      flowPlainAllowed: false,
      blockPlainAllowed: true,
      singleQuotedAllowed: true,
      blockAllowed: false,
    };
  }
  let blockIndicators = false;
  let flowIndicators = false;
  let lineBreaks = false;
  let specialCharacters = false;
  let leadingSpace = false;
  let leadingBreak = false;
  let trailingSpace = false;
  let trailingBreak = false;
  let breakSpace = false;
  let spaceBreak = false;
  let previousSpace = false;
  let previousBreak = false;
  const text = String.fromCodePoint(...chars.slice(0, 3));
  if (text === "---" || text === "...") {
    blockIndicators = true;
    flowIndicators = true;
  }
  let precededByWhitespace = true;
  for (let i = 0; i < chars.length; i++) {
    const c = chars[i];
    const ch = String.fromCodePoint(c);
    const followedByWhitespace = i + 1 >= chars.length ||
      isBlank(chars[i + 1]);
    if (i === 0) {
      if ("#,[]{}&*!|>'\"%@`".includes(ch)) {
        flowIndicators = true;
        blockIndicators = true;
      } else if (ch === "?" || ch === ":") {
        flowIndicators = true;
        if (followedByWhitespace) blockIndicators = true;
      } else if (ch === "-" && followedByWhitespace) {
        flowIndicators = true;
        blockIndicators = true;
      }
    } else {
      if (",?[]{}".includes(ch)) {
        flowIndicators = true;
      } else if (ch === ":") {
        flowIndicators = true;
        if (followedByWhitespace) blockIndicators = true;
      } else if (ch === "#" && precededByWhitespace) {
        flowIndicators = true;
        blockIndicators = true;
      }
    }
    if (!isPrintable(c)) specialCharacters = true;
    if (c === 0x20) {
      if (i === 0) leadingSpace = true;
      if (i + 1 === chars.length) trailingSpace = true;
      if (previousBreak) breakSpace = true;
      previousSpace = true;
      previousBreak = false;
    } else if (isBreak(c)) {
      lineBreaks = true;
      if (i === 0) leadingBreak = true;
      if (i + 1 === chars.length) trailingBreak = true;
      if (previousSpace) spaceBreak = true;
      previousSpace = false;
      previousBreak = true;
    } else {
      previousSpace = false;
      previousBreak = false;
    }
    precededByWhitespace = isBlankz(c);
  }
  const a: ScalarAnalysis = {
    multiline: lineBreaks,
    flowPlainAllowed: true,
    blockPlainAllowed: true,
    singleQuotedAllowed: true,
    blockAllowed: true,
  };
  if (leadingSpace || leadingBreak || trailingSpace || trailingBreak) {
    a.flowPlainAllowed = false;
    a.blockPlainAllowed = false;
  }
  if (trailingSpace) a.blockAllowed = false;
  if (breakSpace) {
    a.flowPlainAllowed = false;
    a.blockPlainAllowed = false;
    a.singleQuotedAllowed = false;
  }
  if (spaceBreak || specialCharacters) {
    a.flowPlainAllowed = false;
    a.blockPlainAllowed = false;
    a.singleQuotedAllowed = false;
    a.blockAllowed = false;
  }
  if (lineBreaks) {
    a.flowPlainAllowed = false;
    a.blockPlainAllowed = false;
  }
  if (flowIndicators) a.flowPlainAllowed = false;
  if (blockIndicators) a.blockPlainAllowed = false;
  return a;
}

function codePoints(text: string): number[] {
  return Array.from(text, (c) => c.codePointAt(0)!);
}

const SIMPLE_ESCAPES = new Map<number, string>([
  [0x00, "0"],
  [0x07, "a"],
  [0x08, "b"],
  [0x09, "t"],
  [0x0a, "n"],
  [0x0b, "v"],
  [0x0c, "f"],
  [0x0d, "r"],
  [0x1b, "e"],
  [0x22, '"'],
  [0x5c, "\\"],
  [0x85, "N"],
  [0xa0, "_"],
  [0x2028, "L"],
  [0x2029, "P"],
]);

class Emitter {
  private readonly out: string[] = [];
  private column = 0;
  private indent = -1;
  private readonly indents: number[] = [];
  private whitespace = true;
  private indention = true;
  private flowLevel = 0;
  private mappingContext = false;
  private simpleKeyContext = false;

  text(): string {
    return this.out.join("");
  }

  /** The document: root node, then the implicit document end. */
  document(root: ENode): void {
    this.node(root, false, false);
    this.writeIndent();
  }

  private put(text: string): void {
    this.out.push(text);
    this.column += codePoints(text).length;
  }

  private putBreak(): void {
    this.out.push("\n");
    this.column = 0;
  }

  private writeBreak(c: number): void {
    if (c === 0x0a) {
      this.putBreak();
    } else {
      this.out.push(String.fromCodePoint(c));
      this.column = 0;
    }
  }

  private increaseIndent(flow: boolean, indentless: boolean): void {
    this.indents.push(this.indent);
    if (this.indent < 0) this.indent = flow ? BEST_INDENT : 0;
    else if (!indentless) this.indent += BEST_INDENT;
  }

  private popIndent(): void {
    this.indent = this.indents.pop()!;
  }

  private writeIndent(): void {
    const indent = Math.max(this.indent, 0);
    if (
      !this.indention || this.column > indent ||
      (this.column === indent && !this.whitespace)
    ) {
      this.putBreak();
    }
    while (this.column < indent) this.put(" ");
    this.whitespace = true;
    this.indention = true;
  }

  private writeIndicator(
    indicator: string,
    needWhitespace: boolean,
    isWhitespace: boolean,
    isIndention: boolean,
  ): void {
    if (needWhitespace && !this.whitespace) this.put(" ");
    this.put(indicator);
    this.whitespace = isWhitespace;
    this.indention = this.indention && isIndention;
  }

  private node(node: ENode, mapping: boolean, simpleKey: boolean): void {
    this.mappingContext = mapping;
    this.simpleKeyContext = simpleKey;
    if (node.t === "scalar") {
      this.scalar(node);
    } else if (node.t === "seq") {
      if (this.flowLevel > 0 || node.flow || node.items.length === 0) {
        this.flowSequence(node.items);
      } else {
        this.blockSequence(node.items);
      }
    } else if (this.flowLevel > 0 || node.flow || node.pairs.length === 0) {
      this.flowMapping(node.pairs);
    } else {
      this.blockMapping(node.pairs);
    }
  }

  private flowSequence(items: ENode[]): void {
    this.writeIndicator("[", true, true, false);
    this.increaseIndent(true, false);
    this.flowLevel++;
    items.forEach((item, i) => {
      if (i > 0) this.writeIndicator(",", false, false, false);
      if (this.column > BEST_WIDTH) this.writeIndent();
      this.node(item, false, false);
    });
    this.flowLevel--;
    this.popIndent();
    this.writeIndicator("]", false, false, false);
  }

  private flowMapping(pairs: [ENode, ENode][]): void {
    this.writeIndicator("{", true, true, false);
    this.increaseIndent(true, false);
    this.flowLevel++;
    pairs.forEach(([key, value], i) => {
      if (i > 0) this.writeIndicator(",", false, false, false);
      if (this.column > BEST_WIDTH) this.writeIndent();
      if (this.isSimpleKey(key)) {
        this.node(key, true, true);
        this.writeIndicator(":", false, false, false);
      } else {
        this.writeIndicator("?", true, false, false);
        this.node(key, true, false);
        if (this.column > BEST_WIDTH) this.writeIndent();
        this.writeIndicator(":", true, false, false);
      }
      this.node(value, true, false);
    });
    this.flowLevel--;
    this.popIndent();
    this.writeIndicator("}", false, false, false);
  }

  private blockSequence(items: ENode[]): void {
    // A sequence directly under a mapping key is not indented further.
    this.increaseIndent(false, this.mappingContext && !this.indention);
    for (const item of items) {
      this.writeIndent();
      this.writeIndicator("-", true, false, true);
      this.node(item, false, false);
    }
    this.popIndent();
  }

  private blockMapping(pairs: [ENode, ENode][]): void {
    this.increaseIndent(false, false);
    for (const [key, value] of pairs) {
      this.writeIndent();
      if (this.isSimpleKey(key)) {
        this.node(key, true, true);
        this.writeIndicator(":", false, false, false);
      } else {
        this.writeIndicator("?", true, false, true);
        this.node(key, true, false);
        this.writeIndent();
        this.writeIndicator(":", true, false, true);
      }
      this.node(value, true, false);
    }
    this.popIndent();
  }

  private isSimpleKey(key: ENode): boolean {
    if (key.t === "seq") return key.items.length === 0;
    if (key.t === "map") return key.pairs.length === 0;
    if (analyzeScalar(codePoints(key.value)).multiline) return false;
    return new TextEncoder().encode(key.value).length <= 128;
  }

  private selectStyle(
    requested: ScalarStyle,
    a: ScalarAnalysis,
    empty: boolean,
  ): ScalarStyle {
    let style = requested;
    if (this.simpleKeyContext && a.multiline) style = "double";
    if (style === "plain") {
      if (
        (this.flowLevel > 0 && !a.flowPlainAllowed) ||
        (this.flowLevel === 0 && !a.blockPlainAllowed)
      ) {
        style = "single";
      }
      if (empty && (this.flowLevel > 0 || this.simpleKeyContext)) {
        style = "single";
      }
    }
    if (style === "single" && !a.singleQuotedAllowed) style = "double";
    if (
      style === "literal" &&
      (!a.blockAllowed || this.flowLevel > 0 || this.simpleKeyContext)
    ) {
      style = "double";
    }
    return style;
  }

  private scalar(node: Extract<ENode, { t: "scalar" }>): void {
    const chars = codePoints(node.value);
    const analysis = analyzeScalar(chars);
    const style = this.selectStyle(node.style, analysis, chars.length === 0);
    this.increaseIndent(true, false);
    const allowBreaks = !this.simpleKeyContext;
    switch (style) {
      case "plain":
        this.writePlain(chars, allowBreaks);
        break;
      case "single":
        this.writeSingleQuoted(chars, allowBreaks);
        break;
      case "double":
        this.writeDoubleQuoted(chars, allowBreaks);
        break;
      case "literal":
        this.writeLiteral(chars);
        break;
    }
    this.popIndent();
  }

  private writePlain(chars: number[], allowBreaks: boolean): void {
    if (!this.whitespace) this.put(" ");
    let spaces = false;
    let breaks = false;
    for (let i = 0; i < chars.length; i++) {
      const c = chars[i];
      if (c === 0x20) {
        if (
          allowBreaks && !spaces && this.column > BEST_WIDTH &&
          chars[i + 1] !== 0x20
        ) {
          this.writeIndent();
        } else {
          this.put(" ");
        }
        spaces = true;
      } else if (isBreak(c)) {
        if (!breaks && c === 0x0a) this.putBreak();
        this.writeBreak(c);
        this.indention = true;
        breaks = true;
      } else {
        if (breaks) this.writeIndent();
        this.put(String.fromCodePoint(c));
        this.indention = false;
        spaces = false;
        breaks = false;
      }
    }
    this.whitespace = false;
    this.indention = false;
  }

  private writeSingleQuoted(chars: number[], allowBreaks: boolean): void {
    this.writeIndicator("'", true, false, false);
    let spaces = false;
    let breaks = false;
    for (let i = 0; i < chars.length; i++) {
      const c = chars[i];
      if (c === 0x20) {
        if (
          allowBreaks && !spaces && this.column > BEST_WIDTH && i > 0 &&
          i < chars.length - 1 && chars[i + 1] !== 0x20
        ) {
          this.writeIndent();
        } else {
          this.put(" ");
        }
        spaces = true;
      } else if (isBreak(c)) {
        if (!breaks && c === 0x0a) this.putBreak();
        this.writeBreak(c);
        this.indention = true;
        breaks = true;
      } else {
        if (breaks) this.writeIndent();
        if (c === 0x27) this.put("'");
        this.put(String.fromCodePoint(c));
        this.indention = false;
        spaces = false;
        breaks = false;
      }
    }
    this.writeIndicator("'", false, false, false);
    this.whitespace = false;
    this.indention = false;
  }

  private writeDoubleQuoted(chars: number[], allowBreaks: boolean): void {
    this.writeIndicator('"', true, false, false);
    // libyaml's BOM check looks at the start of the value, whatever i is.
    const startsWithBom = chars[0] === 0xfeff;
    let spaces = false;
    for (let i = 0; i < chars.length; i++) {
      const c = chars[i];
      if (
        !isPrintable(c) || startsWithBom || isBreak(c) || c === 0x22 ||
        c === 0x5c
      ) {
        const simple = SIMPLE_ESCAPES.get(c);
        if (simple !== undefined) {
          this.put("\\" + simple);
        } else {
          const [letter, width] = c <= 0xff
            ? ["x", 2]
            : c <= 0xffff
            ? ["u", 4]
            : ["U", 8];
          this.put(
            "\\" + letter + c.toString(16).toUpperCase().padStart(width, "0"),
          );
        }
        spaces = false;
      } else if (c === 0x20) {
        if (
          allowBreaks && !spaces && this.column > BEST_WIDTH && i > 0 &&
          i < chars.length - 1
        ) {
          this.writeIndent();
          if (chars[i + 1] === 0x20) this.put("\\");
        } else {
          this.put(" ");
        }
        spaces = true;
      } else {
        this.put(String.fromCodePoint(c));
        spaces = false;
      }
    }
    this.writeIndicator('"', false, false, false);
    this.whitespace = false;
    this.indention = false;
  }

  private writeLiteral(chars: number[]): void {
    this.writeIndicator("|", true, false, false);
    if (chars[0] === 0x20 || isBreak(chars[0])) {
      this.writeIndicator(String(BEST_INDENT), false, false, false);
    }
    let chomp = "";
    const last = chars.length - 1;
    if (chars.length === 0 || !isBreak(chars[last])) chomp = "-";
    else if (last === 0 || isBreak(chars[last - 1])) chomp = "+";
    if (chomp !== "") this.writeIndicator(chomp, false, false, false);
    this.putBreak();
    this.indention = true;
    this.whitespace = true;
    let breaks = true;
    for (const c of chars) {
      if (isBreak(c)) {
        this.writeBreak(c);
        this.indention = true;
        breaks = true;
      } else {
        if (breaks) this.writeIndent();
        this.put(String.fromCodePoint(c));
        this.indention = false;
        breaks = false;
      }
    }
  }
}

/** Serialises a node tree as go-yaml v2's Marshal would (no `---` line). */
export function emitGoYaml(root: ENode): string {
  const emitter = new Emitter();
  emitter.document(root);
  return emitter.text();
}
