import assert from "node:assert/strict";
import { median, pairedMedian } from "../../scripts/bench/stats.ts";

Deno.test("a paired median cancels a slowdown that hits both logins of a round", () => {
  // The path is 10 ms above the floor in every round; the machine slows
  // by 60 ms for half of the rounds, unevenly between the two series'
  // halves, which moves the difference of their medians.
  const floor = [400, 400, 460, 460, 460, 400];
  const path = floor.map((ms) => ms + 10);
  path[0] += 60; // a slow moment for this login alone
  assert.equal(pairedMedian(path, floor), 10);
  assert.notEqual(median(path) - median(floor), 10);
});

Deno.test("a paired median uses only the rounds both series have", () => {
  assert.equal(pairedMedian([5, 7, 100], [1, 1]), 4);
});
