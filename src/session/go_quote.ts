// Go's %q rendering (strconv.Quote) for the DEBUG `command = ...` line
// (spec Appendix A.4). Kept local to the session code; if a shared Go value
// formatter appears, this can be replaced by it.

// Go's strconv.IsPrint: letters, marks, numbers, punctuation, symbols and
// the ASCII space.
const PRINTABLE = /^[\p{L}\p{M}\p{N}\p{P}\p{S} ]$/u;

const SHORT_ESCAPES: Record<string, string> = {
  "\x07": "\\a",
  "\b": "\\b",
  "\f": "\\f",
  "\n": "\\n",
  "\r": "\\r",
  "\t": "\\t",
  "\v": "\\v",
};

/** Quotes a string like Go's strconv.Quote / %q. */
export function goQuote(text: string): string {
  let out = '"';
  for (const char of text) {
    let codePoint = char.codePointAt(0)!;
    // A lone surrogate cannot come from UTF-8; Go would see U+FFFD there.
    if (codePoint >= 0xd800 && codePoint <= 0xdfff) codePoint = 0xfffd;
    const printable = String.fromCodePoint(codePoint);
    if (printable === '"' || printable === "\\") {
      out += "\\" + printable;
    } else if (PRINTABLE.test(printable)) {
      out += printable;
    } else if (char in SHORT_ESCAPES) {
      out += SHORT_ESCAPES[char];
    } else if (codePoint < 0x20 || codePoint === 0x7f) {
      out += "\\x" + codePoint.toString(16).padStart(2, "0");
    } else if (codePoint < 0x10000) {
      out += "\\u" + codePoint.toString(16).padStart(4, "0");
    } else {
      out += "\\U" + codePoint.toString(16).padStart(8, "0");
    }
  }
  return out + '"';
}

/** Renders a string list like Go's %q on a []string: `["a" "b"]`. */
export function goQuoteList(items: readonly string[]): string {
  return `[${items.map(goQuote).join(" ")}]`;
}
