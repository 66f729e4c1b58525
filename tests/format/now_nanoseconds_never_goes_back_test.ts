// The nanosecond clock stamps dump records, host states and connection
// keys: one process's stamps never go backwards, whatever the wall clock
// does, and still read as the wall clock (spec §8.2, §6.1).
import assert from "node:assert/strict";
import {
  type ClockSources,
  monotonicNanosecondClock,
  nowNanoseconds,
} from "../../src/format/time.ts";

Deno.test("consecutive nowNanoseconds calls never go backwards", () => {
  // Until dozens of millisecond boundaries of both clocks were crossed
  // between two calls (bounded in time and calls, for a loaded machine).
  const deadline = performance.now() + 2_000;
  let previous = nowNanoseconds();
  let calls = 0;
  let crossed = 0;
  while (
    crossed < 50 && performance.now() < deadline && calls < 20_000_000
  ) {
    const now = nowNanoseconds();
    assert.ok(now >= previous, `call ${calls}: ${now} < ${previous}`);
    if (now / 1_000_000n !== previous / 1_000_000n) crossed++;
    previous = now;
    calls++;
  }
  assert.ok(crossed >= 20, `only ${crossed} millisecond boundaries crossed`);
});

/** Sources the test moves by hand; the monotonic origin is arbitrary. */
function fakeSources(wallMs: number, monotonicMs: number) {
  const clock = { wallMs, monotonicMs };
  const sources: ClockSources = {
    wallMs: () => clock.wallMs,
    monotonicMs: () => clock.monotonicMs,
  };
  return { clock, sources };
}

const MS = 1_000_000n;

Deno.test("the clock starts on the wall clock's millisecond and takes sub-millisecond digits from the monotonic clock", () => {
  const { clock, sources } = fakeSources(1_700_000_000_123, 98_765.4321);
  const now = monotonicNanosecondClock(sources);
  assert.equal(now(), 1_700_000_000_123n * MS);
  clock.monotonicMs += 0.25;
  assert.equal(now(), 1_700_000_000_123n * MS + 250_000n);
  clock.monotonicMs += 0.5;
  assert.equal(now(), 1_700_000_000_123n * MS + 750_000n);
});

Deno.test("the clock catches up with the wall clock's next millisecond and with a step forward", () => {
  const { clock, sources } = fakeSources(1_000, 5.75);
  const now = monotonicNanosecondClock(sources);
  assert.equal(now(), 1_000n * MS);
  // The anchor was read 0.75 ms into millisecond 1000: at the wall clock's
  // next tick the clock would lag, so it re-anchors there.
  clock.monotonicMs += 0.25;
  clock.wallMs += 1;
  assert.equal(now(), 1_001n * MS);
  clock.monotonicMs += 0.375;
  assert.equal(now(), 1_001n * MS + 375_000n);
  // Time the monotonic clock did not see (suspend, a step forward).
  clock.monotonicMs += 1;
  clock.wallMs += 60_000;
  assert.equal(now(), 61_001n * MS);
});

Deno.test("a wall clock stepping back does not take the clock back", () => {
  const { clock, sources } = fakeSources(50_000, 0);
  const now = monotonicNanosecondClock(sources);
  clock.monotonicMs += 2.5;
  clock.wallMs += 2;
  const before = now();
  assert.equal(before, 50_002n * MS + 500_000n);
  clock.wallMs -= 5_000;
  clock.monotonicMs += 0.125;
  const after = now();
  assert.ok(after >= before, `${after} < ${before}`);
  assert.equal(after, 50_002n * MS + 625_000n);
  // Monotonic time goes on while the wall clock is behind...
  clock.wallMs += 10;
  clock.monotonicMs += 10;
  assert.equal(now(), 50_012n * MS + 625_000n);
  // ...and once the wall clock is past the clock again, the clock follows it.
  clock.wallMs += 5_200;
  clock.monotonicMs += 100;
  assert.equal(now(), 50_212n * MS);
});

Deno.test("a monotonic source that reads a hair earlier (float rounding) never takes the clock back", () => {
  const { clock, sources } = fakeSources(7_000, 10);
  const now = monotonicNanosecondClock(sources);
  clock.monotonicMs += 0.4;
  const first = now();
  clock.monotonicMs -= 1e-7;
  assert.equal(now(), first);
});
