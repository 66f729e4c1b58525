import assert from "node:assert/strict";
import { nowNanoseconds } from "../../src/format/time.ts";

Deno.test("nowNanoseconds stays within the millisecond Date.now() reports", () => {
  for (let i = 0; i < 1000; i++) {
    const before = BigInt(Date.now()) * 1_000_000n;
    const now = nowNanoseconds();
    const after = (BigInt(Date.now()) + 1n) * 1_000_000n;
    assert.ok(now >= before, `${now} < ${before}`);
    assert.ok(now < after, `${now} >= ${after}`);
  }
});
