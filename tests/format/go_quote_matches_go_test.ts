import assert from "node:assert/strict";
import {
  formatGoQuotedList as goQuoteList,
  goQuote,
} from "../../src/format/govalue.ts";

Deno.test("strings are quoted like Go's strconv.Quote", () => {
  const cases: [string, string][] = [
    ["", '""'],
    ["ssh", '"ssh"'],
    ['say "hi"', '"say \\"hi\\""'],
    ["back\\slash", '"back\\\\slash"'],
    ["\x07\b\f\n\r\t\v", '"\\a\\b\\f\\n\\r\\t\\v"'],
    ["\x00\x1b\x7f", '"\\x00\\x1b\\x7f"'],
    ["héllo wörld", '"héllo wörld"'],
    ["\u00a0\u2028", '"\\u00a0\\u2028"'],
    ["\ue000", '"\\ue000"'],
    ["😀", '"😀"'],
    ["\u{10ffff}", '"\\U0010ffff"'],
  ];
  for (const [input, expected] of cases) {
    assert.equal(goQuote(input), expected, JSON.stringify(input));
  }
});

Deno.test("string lists are rendered like %q on a []string", () => {
  assert.equal(goQuoteList(["ssh", "-q", "server1"]), '["ssh" "-q" "server1"]');
  assert.equal(goQuoteList([]), "[]");
});
