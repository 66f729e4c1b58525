// The improvements over the reference listed in spec §12.5.
import assert from "node:assert/strict";
import { expandNodeset } from "../../src/nodeset/expand.ts";

function names(input: string): string[] {
  const result = expandNodeset(input);
  assert.ok(result.ok, result.ok ? "" : result.error);
  return result.value;
}

Deno.test("items keep the order they were written in", () => {
  assert.deepEqual(names("frontend-b,frontend-a"), [
    "frontend-b",
    "frontend-a",
  ]);
  assert.deepEqual(names("b1,a[1-3],login"), ["b1", "a1", "a2", "a3", "login"]);
});

Deno.test("the same input always gives the same order", () => {
  const input = "z,y[1-2],x,w[3,1],v";
  const first = names(input);
  for (let i = 0; i < 20; i++) assert.deepEqual(names(input), first);
});

Deno.test("exact duplicates are removed, keeping the first", () => {
  assert.deepEqual(names("b,a,b,server[1-3],server2"), [
    "b",
    "a",
    "server1",
    "server2",
    "server3",
  ]);
  // Different tuples spelling the same name.
  assert.deepEqual(names("a[1,11][1,11]"), ["a11", "a111", "a1111"]);
});

Deno.test("values that only differ by padding are different hosts", () => {
  assert.deepEqual(names("server1,server01"), ["server1", "server01"]);
  assert.deepEqual(names("n[1-2],n[01-02]"), ["n1", "n2", "n01", "n02"]);
});

Deno.test("IPv6 literals", async (t) => {
  await t.step("loopback with a port", () => {
    assert.deepEqual(names("[::1]:22"), ["[::1]:22"]);
  });
  await t.step("alone, kept with its brackets", () => {
    assert.deepEqual(names("[::1]"), ["[::1]"]);
    assert.deepEqual(names("[2001:db8::1]"), ["[2001:db8::1]"]);
  });
  await t.step("link-local with a port range", () => {
    assert.deepEqual(names("[fe80::1]:[2222-2223]"), [
      "[fe80::1]:2222",
      "[fe80::1]:2223",
    ]);
  });
  await t.step("with a zone index", () => {
    assert.deepEqual(names("[fe80::1%eth0]:22"), ["[fe80::1%eth0]:22"]);
  });
  await t.step("mixed with other items", () => {
    assert.deepEqual(names("[2001:db8::1]:22,host[1-2]"), [
      "[2001:db8::1]:22",
      "host1",
      "host2",
    ]);
  });
  await t.step("unbracketed, digit runs come back unchanged", () => {
    assert.deepEqual(names("2001:0db8::0001"), ["2001:0db8::0001"]);
  });
});

Deno.test("big numbers are exact and need no bitmap", async (t) => {
  await t.step("10-digit serials", () => {
    assert.deepEqual(names("sn[9999999998-10000000001]"), [
      "sn9999999998",
      "sn9999999999",
      "sn10000000000",
      "sn10000000001",
    ]);
  });
  await t.step("beyond 2^64", () => {
    assert.deepEqual(names("x[123456789012345678901-123456789012345678902]"), [
      "x123456789012345678901",
      "x123456789012345678902",
    ]);
  });
  await t.step("a long bare digit run is kept as written", () => {
    assert.deepEqual(names("disk00000000000000000042"), [
      "disk00000000000000000042",
    ]);
  });
});

Deno.test("`%` is an ordinary character", () => {
  assert.deepEqual(names("a%d[1-2],100%s"), ["a%d1", "a%d2", "100%s"]);
});

Deno.test("huge expansions are refused instead of exhausting memory", () => {
  const tooLarge = {
    ok: false,
    error: "nodeset too large (more than 1000000 names) - nodeset parse error",
  };
  assert.deepEqual(expandNodeset("n[1-10000000000]"), tooLarge);
  assert.deepEqual(expandNodeset("a[1-1000]b[1-1001]"), tooLarge);
  assert.equal(names("n[1-1000000]").length, 1_000_000);
});

Deno.test("tabs and newlines are removed like spaces", () => {
  assert.deepEqual(names("a,\n\tb"), ["a", "b"]);
  assert.deepEqual(expandNodeset("\t\n"), {
    ok: false,
    error: "empty nodeset - nodeset parse error",
  });
});
