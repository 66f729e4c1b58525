// Text that cannot forge a log line or drive a terminal (issue 12, pure).
// Whatever a user controls (their command, environment values, user names
// and commands recorded in dumps) may hold a newline that would start a
// forged log record, or ESC/BEL/C1 sequences that a terminal or log viewer
// obeys. Every character Go's strconv.IsPrint rejects (C0 and C1 controls,
// DEL, U+2028/U+2029, bidi and other format characters, non-ASCII spaces,
// lone surrogates) is written as Go's %q writes it: `\n`, `\x1b`, `\u2028`.
// Printable text is left alone, backslashes included, so ordinary lines
// read exactly as the reference writes them. Hand-written: no npm package
// reproduces Go's quoting without also adding the quotes.

// Go's strconv.IsPrint beyond ASCII: letters, marks, numbers, punctuation
// and symbols. Made at its first use (a non-ASCII character): creating an
// expression of Unicode classes costs ~0.9 ms (measured: the largest part
// of the login's module top levels), which every login paid when the
// module loaded, though most log only ASCII.
let nonAsciiPrintable: RegExp | undefined;
// A string of plain printable ASCII needs no work.
const PLAIN_ASCII = /^[\x20-\x7e]*$/;

const NAMED_ESCAPES: Readonly<Record<number, string>> = {
  0x07: "\\a",
  0x08: "\\b",
  0x09: "\\t",
  0x0a: "\\n",
  0x0b: "\\v",
  0x0c: "\\f",
  0x0d: "\\r",
};

function hex(value: number, width: number): string {
  return value.toString(16).padStart(width, "0");
}

/** One code point as it may appear in a log line or on an admin's terminal. */
function escapeCodePoint(char: string, code: number): string {
  if (code >= 0x20 && code < 0x7f) return char;
  if (code < 0xd800 || code > 0xdfff) {
    nonAsciiPrintable ??= /^[\p{L}\p{M}\p{N}\p{P}\p{S}]$/u;
    if (nonAsciiPrintable.test(char)) return char;
  }
  const named = NAMED_ESCAPES[code];
  if (named !== undefined) return named;
  if (code < 0x20 || code === 0x7f) return "\\x" + hex(code, 2);
  if (code < 0x10000) return "\\u" + hex(code, 4);
  return "\\U" + hex(code, 8);
}

/** `text` with every non-printable character escaped Go-style; printable text unchanged. */
export function escapeText(text: string): string {
  if (PLAIN_ASCII.test(text)) return text;
  let out = "";
  for (const char of text) out += escapeCodePoint(char, char.codePointAt(0)!);
  return out;
}

/**
 * Multi-line text meant for people (an error banner): lines and tabs kept,
 * every other character `escapeText` escapes escaped (a carriage return
 * could overwrite a line, ESC drive the terminal).
 */
export function escapeLines(text: string): string {
  return text.split("\n").map((line) =>
    line.split("\t").map(escapeText).join("\t")
  ).join("\n");
}

/**
 * Raw bytes (a dump's user or command) as `escapeText` would show their
 * UTF-8 text, and each byte that is not part of valid UTF-8 as `\xNN`
 * (a lone 0x9b is CSI to an 8-bit terminal).
 */
export function escapeBytes(bytes: Uint8Array): string {
  let out = "";
  let plainFrom = 0; // start of a run of printable ASCII not yet copied
  let i = 0;
  const flush = (end: number) => {
    if (end > plainFrom) {
      out += String.fromCharCode(...bytes.subarray(plainFrom, end));
    }
  };
  while (i < bytes.length) {
    const byte = bytes[i];
    if (byte >= 0x20 && byte < 0x7f) {
      i++;
      // Flush long runs in pieces: fromCharCode takes its bytes as arguments.
      if (i - plainFrom >= 4096) {
        flush(i);
        plainFrom = i;
      }
      continue;
    }
    flush(i);
    const length = utf8SequenceLength(bytes, i);
    if (length === 0) {
      out += "\\x" + hex(byte, 2);
      i++;
    } else {
      const code = decodeSequence(bytes, i, length);
      out += escapeCodePoint(String.fromCodePoint(code), code);
      i += length;
    }
    plainFrom = i;
  }
  flush(i);
  return out;
}

/** Length of the well-formed UTF-8 sequence at `at` (Unicode table 3-7), 0 if there is none. */
function utf8SequenceLength(bytes: Uint8Array, at: number): number {
  const lead = bytes[at];
  if (lead < 0x80) return 1;
  let length: number;
  let low = 0x80;
  let high = 0xbf;
  if (lead >= 0xc2 && lead <= 0xdf) length = 2;
  else if (lead >= 0xe0 && lead <= 0xef) {
    length = 3;
    if (lead === 0xe0) low = 0xa0; // overlong
    if (lead === 0xed) high = 0x9f; // surrogates
  } else if (lead >= 0xf0 && lead <= 0xf4) {
    length = 4;
    if (lead === 0xf0) low = 0x90; // overlong
    if (lead === 0xf4) high = 0x8f; // beyond U+10FFFF
  } else return 0;
  if (at + length > bytes.length) return 0;
  const second = bytes[at + 1];
  if (second < low || second > high) return 0;
  for (let k = 2; k < length; k++) {
    const next = bytes[at + k];
    if (next < 0x80 || next > 0xbf) return 0;
  }
  return length;
}

/** The code point of a well-formed sequence of `length` bytes at `at`. */
function decodeSequence(bytes: Uint8Array, at: number, length: number): number {
  if (length === 1) return bytes[at];
  let code = bytes[at] & (0xff >> (length + 1));
  for (let k = 1; k < length; k++) code = (code << 6) | (bytes[at + k] & 0x3f);
  return code;
}
