import assert from "node:assert/strict";
import { nowNanoseconds } from "../../src/format/time.ts";

// The clock is the wall clock of an anchor plus monotonic time since then:
// it may be ahead of Date.now() only by what a wall clock stepping back
// took away (not expected during a test), and is never behind its
// millisecond.
Deno.test("nowNanoseconds stays within the millisecond Date.now() reports", () => {
  for (let i = 0; i < 1000; i++) {
    const before = BigInt(Date.now()) * 1_000_000n;
    const now = nowNanoseconds();
    const after = (BigInt(Date.now()) + 1n) * 1_000_000n;
    assert.ok(now >= before, `${now} < ${before}`);
    assert.ok(now < after, `${now} >= ${after}`);
  }
});
