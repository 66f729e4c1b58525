import assert from "node:assert/strict";
import { formatBandwidth, formatPersistTtl } from "../../src/format/units.ts";

Deno.test("bandwidth follows the spec's examples", () => {
  assert.equal(formatBandwidth(0), "0 kB/s");
  assert.equal(formatBandwidth(1023), "1023 kB/s");
  assert.equal(formatBandwidth(1024), "1.0 MB/s");
  assert.equal(formatBandwidth(1536), "1.5 MB/s");
  assert.equal(formatBandwidth(1048576), "1.0 GB/s");
});

Deno.test("bandwidth rounds halves to even like Go's %.1f", () => {
  assert.equal(formatBandwidth(1280), "1.2 MB/s");
  assert.equal(formatBandwidth(1331), "1.3 MB/s");
  assert.equal(formatBandwidth(1587), "1.5 MB/s");
});

Deno.test("bandwidth is computed in single precision", () => {
  // 2^24 + 1 is not a float32; it rounds to 2^24 before dividing.
  assert.equal(formatBandwidth(16777217), "16.0 GB/s");
  assert.equal(formatBandwidth(2 ** 53 - 1), "8.0 EB/s");
});

Deno.test("values of 1024^4 kB/s and more get units past T instead of crashing", () => {
  assert.equal(formatBandwidth(1099511627775), "1024.0 TB/s");
  assert.equal(formatBandwidth(1099511627776), "1.0 PB/s");
  assert.equal(formatBandwidth(2 ** 50), "1.0 EB/s");
});

Deno.test("persist TTLs read as days, hours, minutes and seconds", () => {
  assert.equal(formatPersistTtl(0), "");
  assert.equal(formatPersistTtl(59), "59s");
  assert.equal(formatPersistTtl(60), "1m 0s");
  assert.equal(formatPersistTtl(3725), "1h 2m 5s");
  assert.equal(formatPersistTtl(86399), "23h 59m 59s");
  assert.equal(formatPersistTtl(90061), "1d 1h 1m 1s");
});

Deno.test("raw persist TTLs are the bare integer, empty for 0", () => {
  assert.equal(formatPersistTtl(0, { raw: true }), "");
  assert.equal(formatPersistTtl(3725, { raw: true }), "3725");
});
