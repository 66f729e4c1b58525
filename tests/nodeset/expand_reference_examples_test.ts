// Every example row of spec §9.3, adapted where our documented ordering
// improvement (input order everywhere) makes the reference's order either
// unspecified or size-driven.
import assert from "node:assert/strict";
import { expandNodeset } from "../../src/nodeset/expand.ts";

const rows: [string, string[]][] = [
  ["test", ["test"]],
  ["server[1,3-5]", ["server1", "server3", "server4", "server5"]],
  ["server[1-2],server4", ["server1", "server2", "server4"]],
  ["server3,server1", ["server3", "server1"]],
  ["server[3,1]", ["server1", "server3"]],
  ["server[01-03]", ["server01", "server02", "server03"]],
  ["server[1-10/3]", ["server1", "server4", "server7", "server10"]],
  ["rack[1-2]-node[1-2]", [
    "rack1-node1",
    "rack1-node2",
    "rack2-node1",
    "rack2-node2",
  ]],
  ["127.0.0.[1-3]", ["127.0.0.1", "127.0.0.2", "127.0.0.3"]],
  ["host5:4222", ["host5:4222"]],
  ["server1:[2022-2023]", ["server1:2022", "server1:2023"]],
  // Reference: unspecified order (hash map); ours: as written.
  ["login,frontend", ["login", "frontend"]],
  // Reference: unspecified order (different patterns, equal size).
  ["server1,login1", ["server1", "login1"]],
  // Reference: `a1 a2 a3 b1` (bigger group first); ours: as written.
  ["b1,a[1-3]", ["b1", "a1", "a2", "a3"]],
  ["server1,server1", ["server1"]],
];

Deno.test("the reference's examples expand to the same names", async (t) => {
  for (const [input, expected] of rows) {
    await t.step(input, () => {
      assert.deepEqual(expandNodeset(input), { ok: true, value: expected });
    });
  }
});

Deno.test("the reference's error examples give its exact messages", async (t) => {
  const errors: [string, string][] = [
    ["@test", "must not contain the @ character"],
    [
      "server[1-2",
      "unbalanced '[' found while parsing server[1-2 - nodeset parse error",
    ],
    [
      "127.0.0.[1-a]",
      "cannont convert ending range to integer a - rangeset parse error",
    ],
  ];
  for (const [input, message] of errors) {
    await t.step(input, () => {
      assert.deepEqual(expandNodeset(input), { ok: false, error: message });
    });
  }
});

Deno.test("an IPv6 literal is no longer taken as a range (`[::1]:22`)", () => {
  // The reference fails with `cannont convert starting range to integer ::1`.
  assert.deepEqual(expandNodeset("[::1]:22"), {
    ok: true,
    value: ["[::1]:22"],
  });
});

Deno.test("names that only differ by numbers keep numeric order", () => {
  assert.deepEqual(expandNodeset("server[1-2]"), {
    ok: true,
    value: ["server1", "server2"],
  });
});
