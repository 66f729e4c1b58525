// sshproxy-replay's text pieces against Go's formatting: hex.Dump's layout,
// %.6f's rounding (half to even on the exact binary value), the 15-column
// time field and Go's "Jan 02 15:04:05".
import assert from "node:assert/strict";
import {
  formatDayTime,
  formatFixed,
  goSeconds,
  hexDump,
  recordLine,
} from "../../src/record/listing.ts";

const bytes = (text: string) => new TextEncoder().encode(text);

Deno.test("hexDump lays lines out like Go's hex.Dump", () => {
  assert.equal(hexDump(new Uint8Array(0)), "");
  assert.equal(
    hexDump(bytes("server1\r\n")),
    "00000000  73 65 72 76 65 72 31 0d  0a                       |server1..|\n",
  );
  assert.equal(
    hexDump(bytes("12345678")),
    "00000000  31 32 33 34 35 36 37 38                           |12345678|\n",
  );
  assert.equal(
    hexDump(bytes("0123456789abcdefX")),
    "00000000  30 31 32 33 34 35 36 37  38 39 61 62 63 64 65 66  |0123456789abcdef|\n" +
      "00000010  58                                                |X|\n",
  );
  assert.equal(
    hexDump(new Uint8Array([0x00, 0x1f, 0x20, 0x7e, 0x7f, 0xff])),
    "00000000  00 1f 20 7e 7f ff                                 |.. ~..|\n",
  );
  // Every line, full or not, puts the ASCII column at the same place.
  const lines = hexDump(new Uint8Array(40).fill(0x41)).split("\n");
  assert.equal(lines.length, 4);
  for (const line of lines.slice(0, 3)) assert.equal(line.indexOf("|"), 60);
  assert.equal(lines[2].slice(0, 8), "00000020");
});

Deno.test("formatFixed rounds like Go's %.6f, not like toFixed", () => {
  // 0.0078125 is exactly representable: a true tie, Go rounds to even.
  assert.equal(formatFixed(0.0078125, 6), "0.007812");
  assert.equal((0.0078125).toFixed(6), "0.007813");
  assert.equal(formatFixed(0.0234375, 6), "0.023438");
  assert.equal(formatFixed(0.15, 6), "0.150000");
  // Slightly above the tie in binary: rounds up (Python and Go agree).
  assert.equal(formatFixed(1234.5678915, 6), "1234.567892");
  assert.equal(formatFixed(0, 6), "0.000000");
  assert.equal(formatFixed(-1e-9, 6), "-0.000000");
  assert.equal(formatFixed(-2.5, 0), "-2");
  assert.equal(formatFixed(3.5, 0), "4");
  assert.equal(formatFixed(1e21, 2), "1000000000000000000000.00");
  assert.equal(goSeconds(150_000_000n), 0.15);
  assert.equal(goSeconds(-1_500_000_000n), -1.5);
});

Deno.test("record lines: first time in Go's 'Jan 02 15:04:05', then +seconds, 15 columns", () => {
  const first = 1714634103041527381n;
  assert.equal(formatDayTime(first, 120), "May 02 09:15:03");
  assert.equal(formatDayTime(first, -600), "May 01 21:15:03");
  assert.equal(formatDayTime(0n, 0), "Jan 01 00:00:00");
  assert.equal(
    recordLine(first + 150_000_000n, first, "<--", 9),
    "[      +0.150000] [<--] 9 bytes\n",
  );
  assert.equal(
    recordLine(first + 1234_000_000_000n, first, "-->", 0),
    "[   +1234.000000] [-->] 0 bytes\n",
  );
  assert.equal(
    recordLine(first + 7_812_500n, first, "<==", 1),
    "[      +0.007812] [<==] 1 bytes\n",
  );
});
