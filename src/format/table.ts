// sshproxyctl's box-drawing tables (spec §7.1), as the reference's table
// library (olekukonko/tablewriter 1.1.4, MaxWidth 200, rows right-aligned)
// prints them. The npm `table` package draws the boxes: borders, padding,
// per-cell alignment and which horizontal lines appear. What no package
// reproduces is how tablewriter prepares the text, so that part is ported
// here: header titles mangled and upper-cased, cells capped at
// ⌊200 / columns⌋ including padding, data wrapped with minimal raggedness
// (not greedily) keeping leading and trailing spaces, headers truncated with
// "…", tabs expanded.
import { getBorderCharacters, table } from "table";

/** A table as sshproxyctl hands it over: titles, data rows, optional totals. */
export interface TableInput {
  readonly header: readonly string[];
  readonly rows: readonly (readonly string[])[];
  /** Absent or empty: no footer section at all. */
  readonly footer?: readonly string[];
}

const MAX_WIDTH = 200;
const PADDING = 2;
// tablewriter guesses the tab width from TABWIDTH/TS/VIM_TABSTOP, an
// .editorconfig or project files in the working directory, else TERM; 8 is
// its answer outside a source tree, and output should not depend on the cwd.
const TAB = " ".repeat(8);
const ELLIPSIS = "…";
// tablewriter's penalty for a line longer than the limit.
const OVERLONG_PENALTY = 1e5;

const GO_SPACE =
  /[\t\n\v\f\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]/u;
const GO_SPACES = new RegExp(GO_SPACE.source + "+", "gu");
// Colour codes take no columns.
const ANSI_SEQUENCE =
  // deno-lint-ignore no-control-regex -- the escape character is the point
  /\x1b\[[0-9;?]*[ -\/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)/g;
// Made at their first use (a non-ASCII character): an expression of
// Unicode classes costs ~1 ms to create, which every sshproxyctl start
// paid when the module loaded.
let zeroWidth: RegExp | undefined;
let emoji: RegExp | undefined;
// East Asian Wide and Fullwidth blocks.
const WIDE_RANGES: readonly (readonly [number, number])[] = [
  [0x1100, 0x115f],
  [0x2e80, 0x303e],
  [0x3041, 0x33ff],
  [0x3400, 0x4dbf],
  [0x4e00, 0x9fff],
  [0xa000, 0xa4cf],
  [0xa960, 0xa97f],
  [0xac00, 0xd7a3],
  [0xf900, 0xfaff],
  [0xfe10, 0xfe19],
  [0xfe30, 0xfe6f],
  [0xff00, 0xff60],
  [0xffe0, 0xffe6],
  [0x16fe0, 0x16fe4],
  [0x17000, 0x18aff],
  [0x1b000, 0x1b2ff],
  [0x20000, 0x2fffd],
  [0x30000, 0x3fffd],
];
// Characters the `table` package refuses; tablewriter would print them raw.
// deno-lint-ignore no-control-regex -- exactly the characters `table` throws on
const REFUSED_CONTROLS = /[\u0001-\u0006\u0008\u0009\u000b-\u001a]/g;

function charWidth(char: string): number {
  const code = char.codePointAt(0) ?? 0;
  // ASCII: controls take no column, the rest one.
  if (code < 0x80) return code >= 0x20 && code < 0x7f ? 1 : 0;
  zeroWidth ??= /^[\p{Mn}\p{Me}\p{Cf}\p{Cc}\u1160-\u11ff\u200b]$/u;
  if (zeroWidth.test(char)) return 0;
  emoji ??= /^\p{Emoji_Presentation}$/u;
  if (emoji.test(char)) return 2;
  return WIDE_RANGES.some(([low, high]) => code >= low && code <= high) ? 2 : 1;
}

function displayWidth(text: string): number {
  let width = 0;
  for (const char of text.replace(ANSI_SEQUENCE, "")) width += charWidth(char);
  return width;
}

function isGoSpace(char: string): boolean {
  return GO_SPACE.test(char);
}

function trimGoSpace(text: string): string {
  const chars = [...text];
  let start = 0;
  let end = chars.length;
  while (start < end && isGoSpace(chars[start])) start++;
  while (end > start && isGoSpace(chars[end - 1])) end--;
  return chars.slice(start, end).join("");
}

// Go's unicode.ToUpper maps one code point to one; JS's full mapping would
// turn "ß" into "SS".
function goToUpper(text: string): string {
  let out = "";
  for (const char of text) {
    const upper = char.toUpperCase();
    out += [...upper].length === 1 ? upper : char;
  }
  return out;
}

function characterClass(char: string): number {
  if (/\p{Ll}/u.test(char)) return 1;
  if (/\p{Lu}/u.test(char)) return 2;
  if (/\p{Nd}/u.test(char)) return 3;
  return 4;
}

// tablewriter's tw.SplitCamelCase.
function splitCamelCase(text: string): string[] {
  if (!text.isWellFormed()) return [text];
  const runs: string[][] = [];
  let lastClass = 0;
  for (const char of text) {
    const charClass = characterClass(char);
    if (charClass === lastClass) runs[runs.length - 1].push(char);
    else runs.push([char]);
    lastClass = charClass;
  }
  for (let i = 0; i < runs.length - 1; i++) {
    const current = runs[i];
    if (
      current.length > 0 && characterClass(current[0]) === 2 &&
      characterClass(runs[i + 1][0]) === 1
    ) {
      runs[i + 1].unshift(current.pop() ?? "");
    }
  }
  return runs.map((run) => run.join("")).filter((run) =>
    run !== "" && trimGoSpace(run) !== "" && run !== "_"
  );
}

function isDigitOrSpace(char: string | undefined): boolean {
  return char === " " || (char !== undefined && char >= "0" && char <= "9");
}

// tablewriter's tw.Title.
function title(text: string): string {
  // Replaced in place, as Go does: a dot turned into a space counts as a
  // space for the next dot ("a..b" → "a  . b" after camel-case splitting).
  const chars = [...text];
  chars.forEach((char, i) => {
    if (char === "_") chars[i] = " ";
    if (
      char === "." &&
      ((i !== 0 && !isDigitOrSpace(chars[i - 1])) ||
        (i !== chars.length - 1 && !isDigitOrSpace(chars[i + 1])))
    ) {
      chars[i] = " ";
    }
  });
  const trimmed = trimGoSpace(chars.join(""));
  return goToUpper(trimmed === "" && text !== "" ? " " : trimmed);
}

/** The header text tablewriter displays for a title: `# of conns` → `#  OF CONNS`. */
export function formatHeaderTitle(text: string): string {
  return title(splitCamelCase(text).join(" "));
}

// Keeps the longest prefix within `width` columns.
function cutToWidth(text: string, width: number): string {
  let out = "";
  let used = 0;
  for (const char of text) {
    const next = charWidth(char);
    if (used + next > width) break;
    out += char;
    used += next;
  }
  return out;
}

// Splits words into lines minimising the sum of squared shortfalls, as
// tablewriter's twwarp.WrapWords does.
function wrapWords(
  words: readonly string[],
  lengths: readonly number[],
  limit: number,
): string[][] {
  const count = words.length;
  const breakAt = new Array<number>(count).fill(count);
  const cost = new Array<number>(count).fill(Number.MAX_SAFE_INTEGER);
  let remainder = lengths[count - 1];
  for (let i = count - 1; i >= 0; i--) {
    if (i < count - 1) remainder += 1 + lengths[i];
    if (remainder <= limit) {
      cost[i] = 0;
      breakAt[i] = count;
      continue;
    }
    let phrase = lengths[i];
    for (let j = i + 1; j < count; j++) {
      if (j > i + 1) phrase += 1 + lengths[j - 1];
      const shortfall = limit - phrase;
      let candidate = shortfall * shortfall + cost[j];
      if (phrase > limit) candidate += OVERLONG_PENALTY;
      if (candidate < cost[i]) {
        cost[i] = candidate;
        breakAt[i] = j;
      }
    }
  }
  const lines: string[][] = [];
  for (let i = 0; i < count; i = breakAt[i]) {
    lines.push(words.slice(i, breakAt[i]));
  }
  return lines;
}

// tablewriter's twwarp.WrapStringWithSpaces: inner runs of spaces collapse,
// the line's leading spaces start every wrapped line, its trailing spaces
// end the last one, and a word wider than the limit widens the limit.
function wrapLine(line: string, limit: number): string[] {
  if (line === "") return [""];
  const core = trimGoSpace(line);
  if (core === "") {
    return [displayWidth(line) <= limit ? line : cutToWidth(line, limit)];
  }
  const leading = line.slice(0, line.indexOf(core));
  const trailing = line.slice(leading.length + core.length);
  const words = core.split(GO_SPACES).filter((word) => word !== "");
  const lengths = words.map(displayWidth);
  // tablewriter cuts the core at the last non-space character's first byte,
  // so a multi-byte final character is measured as one invalid byte (width
  // 1); the rest of it travels with the trailing spaces.
  const lastChar = [...core].at(-1) ?? "";
  if ((lastChar.codePointAt(0) ?? 0) >= 0x80) {
    const lastWord = words[words.length - 1];
    lengths[words.length - 1] =
      displayWidth(lastWord.slice(0, lastWord.length - lastChar.length)) + 1;
  }
  const lines = wrapWords(words, lengths, Math.max(limit, ...lengths));
  return lines.map((lineWords, i) =>
    leading + lineWords.join(" ") + (i === lines.length - 1 ? trailing : "")
  );
}

function contentLimit(cellCount: number): number {
  return Math.max(Math.floor(MAX_WIDTH / cellCount) - PADDING, 0);
}

// tablewriter cuts an over-wide title to one column less than the limit,
// ellipsis included (and drops the ellipsis when even that leaves nothing).
function truncateTitle(line: string, limit: number): string {
  return limit === 1 ? "" : cutToWidth(line, limit - 2) + ELLIPSIS;
}

function prepareHeader(cells: readonly string[]): string[] {
  const limit = contentLimit(cells.length);
  return cells.map((cell) =>
    formatHeaderTitle(cell.replaceAll("\t", TAB)).split("\n").map((line) =>
      limit > 0 && displayWidth(line) > limit
        ? truncateTitle(line, limit)
        : line
    ).join("\n")
  );
}

function prepareData(cells: readonly string[]): string[] {
  const limit = contentLimit(cells.length);
  return cells.map((cell) =>
    cell.replaceAll("\t", TAB).split("\n").flatMap((line) =>
      limit > 0 ? wrapLine(line, limit) : [line]
    ).join("\n")
  );
}

function padRow(cells: readonly string[], count: number): string[] {
  const padded = cells.map((cell) => cell.replace(REFUSED_CONTROLS, "\ufffd"));
  while (padded.length < count) padded.push("");
  return padded;
}

/** Renders the table as the reference prints it, ending with a newline. */
export function renderTable(input: TableInput): string {
  const footer = input.footer ?? [];
  const hasHeader = input.header.length > 0;
  const hasFooter = footer.length > 0;
  const columns = Math.max(
    input.header.length,
    footer.length,
    ...input.rows.map((row) => row.length),
  );
  if (columns === 0) return "";
  const sections = [
    ...(hasHeader ? [prepareHeader(input.header)] : []),
    ...input.rows.map(prepareData),
    ...(hasFooter ? [prepareData(footer)] : []),
  ];
  if (sections.length === 0) return "";
  const data = sections.map((cells) => padRow(cells, columns));
  const rowCount = input.rows.length;
  const headerLines = hasHeader
    ? Math.max(...data[0].map((cell) => cell.split("\n").length))
    : 0;
  const drawn = table(data, {
    border: getBorderCharacters("norc"),
    columnDefault: { alignment: "right", paddingLeft: 1, paddingRight: 1 },
    spanningCells: hasHeader
      ? data[0].map((_, col) => ({
        row: 0,
        col,
        colSpan: 1,
        alignment: "center" as const,
      }))
      : [],
    drawHorizontalLine: (index, size) =>
      index === 0 || index === size ||
      (hasHeader && index === 1 && (rowCount > 0 || hasFooter)) ||
      (hasFooter && index === size - 1),
  });
  if (!(hasHeader && hasFooter && rowCount === 0)) return drawn;
  // With no data rows tablewriter still draws both the line under the header
  // and the one above the footer; `table` has only one line between them.
  const lines = drawn.split("\n");
  lines.splice(1 + headerLines, 0, lines[1 + headerLines]);
  return lines.join("\n");
}
