import assert from "node:assert/strict";
import { formatCsv, formatCsvField } from "../../src/format/units.ts";

Deno.test("fields are quoted only when Go's csv writer would", () => {
  assert.equal(formatCsvField("plain"), "plain");
  assert.equal(formatCsvField(""), "");
  assert.equal(formatCsvField("a,b"), '"a,b"');
  assert.equal(formatCsvField('say "hi"'), '"say ""hi"""');
  assert.equal(formatCsvField("two\nlines"), '"two\nlines"');
  assert.equal(formatCsvField("cr\r"), '"cr\r"');
  assert.equal(formatCsvField(" lead"), '" lead"');
  assert.equal(formatCsvField("\tlead"), '"\tlead"');
  assert.equal(formatCsvField("\u00a0lead"), '"\u00a0lead"');
  assert.equal(formatCsvField("trail "), "trail ");
  assert.equal(formatCsvField("\\."), '"\\."');
});

Deno.test("records end with a newline and carry no header", () => {
  assert.equal(
    formatCsv([
      [
        "fedora",
        "service2",
        "server1:22",
        "2",
        "2024-05-02 09:15:03",
        "0",
        "0",
      ],
      ["", "g1 g2"],
    ]),
    "fedora,service2,server1:22,2,2024-05-02 09:15:03,0,0\n,g1 g2\n",
  );
  assert.equal(formatCsv([]), "");
});
