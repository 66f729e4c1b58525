// Every error row of spec §9.3 item 5, with the reference's exact text
// (typos included), plus the nodeset-level errors of items 1 and 3.
import assert from "node:assert/strict";
import { expandNodeset } from "../../src/nodeset/expand.ts";

const rows: [string, string, string][] = [
  ["empty sub-range", "server[1,,3]", "empty range - rangeset parse error"],
  [
    "leading empty sub-range",
    "server[,1]",
    "empty range - rangeset parse error",
  ],
  [
    "`A-B/` without a step",
    "server[1-5/]",
    "cannont parse step 1-5/ - rangeset parse error",
  ],
  [
    "step not an integer",
    "server[1-5/x]",
    "cannont convert step to integer 1-5/x - rangeset parse error",
  ],
  [
    "step with a second slash",
    "server[1-5/2/1]",
    "cannont convert step to integer 1-5/2/1 - rangeset parse error",
  ],
  [
    "step without a range",
    "server[5/2]",
    "invalid step usage 5/2 - rangeset parse error",
  ],
  ["`A-`", "server[1-]", "cannpt parse end value 1- - rangeset parse error"],
  [
    "start not an integer",
    "server[a-3]",
    "cannont convert starting range to integer a - rangeset parse error",
  ],
  [
    "negative single value: empty start",
    "server[-1]",
    "cannont convert starting range to integer  - rangeset parse error",
  ],
  [
    "end not an integer",
    "server[1-a]",
    "cannont convert ending range to integer a - rangeset parse error",
  ],
  [
    "a second dash lands in the end value",
    "server[1-2-3]",
    "cannont convert ending range to integer 2-3 - rangeset parse error",
  ],
  [
    "A > B",
    "server[5-1]",
    "invalid value in range 5-1 - rangeset parse error",
  ],
  [
    "step 0",
    "server[1-5/0]",
    "invalid value in range 1-5/0 - rangeset parse error",
  ],
  [
    "negative step",
    "server[1-5/-1]",
    "invalid value in range 1-5/-1 - rangeset parse error",
  ],
  [
    "negative end",
    "server[1--5]",
    "invalid value in range 1--5 - rangeset parse error",
  ],
  ["only spaces", "   ", "empty nodeset - nodeset parse error"],
  [
    "unclosed bracket",
    "server[1-2",
    "unbalanced '[' found while parsing server[1-2 - nodeset parse error",
  ],
  [
    "empty brackets",
    "server[]",
    "unbalanced '[' found while parsing server[] - nodeset parse error",
  ],
  [
    "nested brackets",
    "server[[1-2]]",
    "unbalanced '[' found while parsing server[[1-2]] - nodeset parse error",
  ],
  [
    "stray closing bracket",
    "server1]",
    "unbalanced ']' found while parsing server1] - nodeset parse error",
  ],
  [
    "`[` is reported before an earlier `]`",
    "a],b[",
    "unbalanced '[' found while parsing a],b[ - nodeset parse error",
  ],
  [
    "the message shows the input without spaces",
    "server [1-2",
    "unbalanced '[' found while parsing server[1-2 - nodeset parse error",
  ],
  ["`@` anywhere", "login@x", "must not contain the @ character"],
];

Deno.test("range and nodeset errors use the reference's messages", async (t) => {
  for (const [what, input, message] of rows) {
    await t.step(`${what}: ${input}`, () => {
      assert.deepEqual(expandNodeset(input), { ok: false, error: message });
    });
  }
});

Deno.test("the first bad token of the input is the one reported", () => {
  assert.deepEqual(expandNodeset("a[1-2],b[x],c[5-1]"), {
    ok: false,
    error: "cannont convert starting range to integer x - rangeset parse error",
  });
});
