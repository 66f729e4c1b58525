import assert from "node:assert/strict";
import { expandNodeset } from "../../src/nodeset/expand.ts";

function names(input: string): string[] {
  const result = expandNodeset(input);
  assert.ok(result.ok, result.ok ? "" : result.error);
  return result.value;
}

Deno.test("the empty string is an empty list", () => {
  assert.deepEqual(expandNodeset(""), { ok: true, value: [] });
});

Deno.test("spaces are removed everywhere", () => {
  assert.deepEqual(names(" server [1 - 2] , login "), [
    "server1",
    "server2",
    "login",
  ]);
});

Deno.test("padding", async (t) => {
  await t.step("width comes from the first sub-range's start", () => {
    assert.deepEqual(names("n[01-03]"), ["n01", "n02", "n03"]);
    assert.deepEqual(names("n[001-010/3]"), ["n001", "n004", "n007", "n010"]);
  });
  await t.step("an unpadded start does not pad wider values", () => {
    assert.deepEqual(names("n[8-10]"), ["n8", "n9", "n10"]);
  });
  await t.step("the width applies to every sub-range of the token", () => {
    assert.deepEqual(names("n[01,5,100]"), ["n01", "n05", "n100"]);
    assert.deepEqual(names("n[1,05]"), ["n1", "n5"]);
  });
  await t.step("a bare digit run keeps its own width", () => {
    assert.deepEqual(names("n007"), ["n007"]);
    assert.deepEqual(names("n00"), ["n00"]);
  });
  await t.step("a `+` sign counts in the width, as Go's Atoi allows it", () => {
    assert.deepEqual(names("n[+1-2]"), ["n01", "n02"]);
  });
});

Deno.test("steps", async (t) => {
  await t.step("stop at the last value not above the end", () => {
    assert.deepEqual(names("n[1-10/4]"), ["n1", "n5", "n9"]);
  });
  await t.step("a step larger than the range keeps the start", () => {
    assert.deepEqual(names("n[3-5/10]"), ["n3"]);
  });
  await t.step("step 1 on a single value is accepted", () => {
    assert.deepEqual(names("n[7/1]"), ["n7"]);
  });
});

Deno.test("one token's values are sorted and deduplicated", () => {
  assert.deepEqual(names("server[5,1-3,2,10]"), [
    "server1",
    "server2",
    "server3",
    "server5",
    "server10",
  ]);
});

Deno.test("several tokens: Cartesian product, first token outermost", () => {
  assert.deepEqual(names("r[1-2]n[3,1]p[1-2]"), [
    "r1n1p1",
    "r1n1p2",
    "r1n3p1",
    "r1n3p2",
    "r2n1p1",
    "r2n1p2",
    "r2n3p1",
    "r2n3p2",
  ]);
});

Deno.test("bare digit runs are tokens next to bracket groups", () => {
  assert.deepEqual(names("10.0.[1-2].5:22"), ["10.0.1.5:22", "10.0.2.5:22"]);
});

Deno.test("commas inside brackets do not split items", () => {
  assert.deepEqual(names("a[1,2],b"), ["a1", "a2", "b"]);
});

Deno.test("dashes and slashes outside brackets are plain text", () => {
  assert.deepEqual(names("node1-2/3"), ["node1-2/3"]);
});

Deno.test("empty items are skipped rather than giving an empty name", () => {
  assert.deepEqual(names("a,,b,"), ["a", "b"]);
});

Deno.test("without groups, `!` `&` `^` are name characters", () => {
  assert.deepEqual(names("a!b,c&d,e^f"), ["a!b", "c&d", "e^f"]);
});
