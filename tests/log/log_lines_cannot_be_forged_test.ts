// Issue 12 item 1: whatever text a user controls, a log record is exactly
// one line and no control character reaches the file, stderr or syslog raw;
// ordinary text is written exactly as the reference writes it.
import assert from "node:assert/strict";
import { escapeBytes, escapeText } from "../../src/log/escape.ts";
import { formatLogLine, formatSyslogLine } from "../../src/log/format.ts";

const FORGED = "echo x\n1999-01-01 00:00:00 INFO FAKE000000: admin connected " +
  "from 10.0.0.1:1 to sshd listening on 10.0.0.2:22";
const NOW = new Date(2024, 4, 2, 9, 15, 3);

/** Fails unless `text` is one line ending in `\n` with no other control character. */
function assertOneCleanLine(text: string): void {
  assert.ok(text.endsWith("\n"), JSON.stringify(text));
  const body = text.slice(0, -1);
  assert.doesNotMatch(
    body,
    // deno-lint-ignore no-control-regex -- control characters are the point
    /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/,
    JSON.stringify(body),
  );
}

Deno.test("ordinary messages are written unchanged", () => {
  for (
    const message of [
      "sshproxy-user1 connected from 127.0.0.1:4242 to sshd listening on 127.0.0.1:22",
      `command = /usr/bin/ssh ["ssh" "-q" "server1" "--" "printf 'a\\n'"]`,
      "original command = grep -E 'a|b' \"file name\" C:\\dir",
      "env = LANG=fr_FR.UTF-8",
      "utilisateur éàü 名前 Ελληνικά emoji 😀 ~!@#$%^&*()_+{}[]",
    ]
  ) {
    assert.equal(escapeText(message), message);
    assert.equal(
      formatLogLine(NOW, "INFO", "0123456789", message),
      `2024-05-02 09:15:03 INFO 0123456789: ${message}\n`,
    );
  }
});

Deno.test("a command with a newline cannot write a second, forged record", () => {
  const line = formatLogLine(
    NOW,
    "DEBUG",
    "A1B2C3D4E5",
    `original command = ${FORGED}`,
  );
  assertOneCleanLine(line);
  assert.equal(
    line,
    "2024-05-02 09:15:03 DEBUG A1B2C3D4E5: original command = echo x\\n1999-01-01 00:00:00 INFO FAKE000000: admin connected from 10.0.0.1:1 to sshd listening on 10.0.0.2:22\n",
  );
  const syslog = formatSyslogLine("ERROR", "A1B2C3D4E5", FORGED);
  assertOneCleanLine(syslog);
  assert.ok(syslog.startsWith("<83>ERROR A1B2C3D4E5: echo x\\n1999-01-01"));
});

Deno.test("every control character is escaped Go-style, readable", () => {
  const cases: [string, string][] = [
    ["a\r\nb", "a\\r\\nb"],
    ["\x1b]0;owned\x07\x1b[2J", "\\x1b]0;owned\\a\\x1b[2J"],
    ["tab\there", "tab\\there"],
    ["nul\0del\x7f", "nul\\x00del\\x7f"],
    ["\b\f\v", "\\b\\f\\v"],
    // C1 controls: NEL and CSI, which some terminals obey in UTF-8 too.
    ["a\u0085b\u009b2J", "a\\u0085b\\u009b2J"],
    // Unicode line and paragraph separators split lines in many viewers.
    ["a\u2028b\u2029c", "a\\u2028b\\u2029c"],
    // Bidi overrides reorder what the admin reads; zero-width joiners hide.
    ["admin\u202egnp.exe", "admin\\u202egnp.exe"],
    ["a\u200bb", "a\\u200bb"],
    ["no-break\u00a0space", "no-break\\u00a0space"],
    // A lone surrogate (invalid UTF-16, from bytes that were not UTF-8).
    ["x\ud800y", "x\\ud800y"],
  ];
  for (const [raw, shown] of cases) {
    assert.equal(escapeText(raw), shown, JSON.stringify(raw));
    assertOneCleanLine(formatLogLine(NOW, "INFO", "0123456789", raw));
    assertOneCleanLine(formatSyslogLine("INFO", "0123456789", raw));
  }
});

Deno.test("raw bytes: valid UTF-8 kept, controls escaped, every invalid byte as \\xNN", () => {
  const bytes = (...values: number[]) => new Uint8Array(values);
  const utf8 = (text: string) => new TextEncoder().encode(text);
  assert.equal(escapeBytes(utf8("alice")), "alice");
  assert.equal(escapeBytes(utf8("hé 名 😀")), "hé 名 😀");
  assert.equal(
    escapeBytes(utf8("a\n--> User:    root")),
    "a\\n--> User:    root",
  );
  assert.equal(escapeBytes(utf8("\x1b[2J\x07")), "\\x1b[2J\\a");
  assert.equal(escapeBytes(utf8("\u0085\u2028")), "\\u0085\\u2028");
  // A lone 0x9b is CSI to an 8-bit terminal.
  assert.equal(escapeBytes(bytes(0x61, 0x9b, 0x32, 0x4a)), "a\\x9b2J");
  assert.equal(escapeBytes(bytes(0xff, 0xfe)), "\\xff\\xfe");
  // Overlong NUL, an encoded surrogate, beyond U+10FFFF, a cut sequence.
  assert.equal(escapeBytes(bytes(0xc0, 0x80)), "\\xc0\\x80");
  assert.equal(escapeBytes(bytes(0xed, 0xa0, 0x80)), "\\xed\\xa0\\x80");
  assert.equal(
    escapeBytes(bytes(0xf4, 0x90, 0x80, 0x80)),
    "\\xf4\\x90\\x80\\x80",
  );
  assert.equal(escapeBytes(bytes(0x61, 0xe2, 0x82)), "a\\xe2\\x82");
  assert.equal(escapeBytes(bytes()), "");
  // Long printable runs come out whole.
  const long = "x".repeat(10_000) + "\n" + "y".repeat(5000);
  assert.equal(escapeBytes(utf8(long)), long.replace("\n", "\\n"));
});

Deno.test("every code point is kept exactly when Go's strconv.IsPrint accepts it, else escaped", () => {
  // Go's IsPrint: letters, marks, numbers, punctuation, symbols, ASCII space.
  const goPrintable = /^[\p{L}\p{M}\p{N}\p{P}\p{S} ]$/u;
  const wrong: string[] = [];
  for (let code = 0; code <= 0x10ffff; code++) {
    if (code >= 0xd800 && code <= 0xdfff) continue; // not a code point alone
    const char = String.fromCodePoint(code);
    const kept = escapeText(char) === char;
    if (kept !== goPrintable.test(char)) wrong.push(code.toString(16));
    if (wrong.length > 10) break;
  }
  assert.deepEqual(wrong, []);
});
