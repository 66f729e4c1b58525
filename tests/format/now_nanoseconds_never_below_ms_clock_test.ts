import assert from "node:assert/strict";
import { nowNanoseconds } from "../../src/format/time.ts";

// The clock is the wall clock of an anchor plus monotonic time since then:
// it may be ahead of Date.now() only by what a wall clock stepping back
// took away, and is never behind its millisecond. Virtual machines correct
// their wall clock by small steps back: on the project's VM a strict bound
// failed 2 runs in 60 (once 15 us past Date.now()'s next millisecond). A
// step of up to STEP_SLACK is allowed for; more is the clock running ahead.
const STEP_SLACK = 1_000_000n;

Deno.test("nowNanoseconds stays within the millisecond Date.now() reports", () => {
  for (let i = 0; i < 1000; i++) {
    const before = BigInt(Date.now()) * 1_000_000n;
    const now = nowNanoseconds();
    const after = (BigInt(Date.now()) + 1n) * 1_000_000n;
    assert.ok(now >= before, `${now} < ${before}`);
    assert.ok(now < after + STEP_SLACK, `${now} >= ${after} + ${STEP_SLACK}`);
  }
});
