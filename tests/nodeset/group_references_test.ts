// `@group` references expanded through an in-memory resolver: what the
// expander does with groups, independently of ClusterShell's files.
import assert from "node:assert/strict";
import { expandNodeset } from "../../src/nodeset/expand.ts";
import {
  createGroupResolver,
  type GroupResolver,
} from "../../src/nodeset/clustershell.ts";
import { ok } from "../../src/result.ts";

const resolver = createGroupResolver(
  new Map([
    [
      "cluster",
      new Map([
        ["login", "login[1-2]"],
        ["compute", "node[1-4]"],
        ["gpu", "node[3-4]"],
        ["cpu", "@compute!@gpu"],
        ["all", "@login,@compute"],
        ["service", "@racks:rack1,admin"],
        ["empty", ""],
        ["loop-a", "x,@loop-b"],
        ["loop-b", "@loop-c"],
        ["loop-c", "@loop-a"],
        ["self", "@self"],
        ["bad", "node[1-a]"],
      ]),
    ],
    [
      "racks",
      new Map([
        ["rack1", "r1n[1-2]"],
        ["rack2", "r2n[1-2]"],
        ["all", "@rack[1-2]"],
      ]),
    ],
  ]),
  { defaultSource: "cluster", upcallSources: ["slurm"] },
);

function names(input: string, groups: GroupResolver = resolver): string[] {
  const result = expandNodeset(input, groups);
  assert.ok(result.ok, result.ok ? "" : result.error);
  return result.value;
}

function error(input: string, groups: GroupResolver = resolver): string {
  const result = expandNodeset(input, groups);
  assert.ok(!result.ok, "expected an error");
  return result.error;
}

Deno.test("`@name` resolves in the default source", () => {
  assert.deepEqual(names("@login"), ["login1", "login2"]);
});

Deno.test("`@source:name` resolves in that source", () => {
  assert.deepEqual(names("@racks:rack2"), ["r2n1", "r2n2"]);
});

Deno.test("groups mix with plain names, in written order", () => {
  assert.deepEqual(names("@login,server[1-2]"), [
    "login1",
    "login2",
    "server1",
    "server2",
  ]);
  assert.deepEqual(names("server1,@login,server1,login2"), [
    "server1",
    "login1",
    "login2",
  ]);
});

Deno.test("nested groups are expanded recursively", () => {
  assert.deepEqual(names("@all"), [
    "login1",
    "login2",
    "node1",
    "node2",
    "node3",
    "node4",
  ]);
  assert.deepEqual(names("@service"), ["r1n1", "r1n2", "admin"]);
});

Deno.test("unprefixed references stay in the referencing group's source", () => {
  // racks:all is `@rack[1-2]`, found in racks although cluster is default.
  assert.deepEqual(names("@racks:all"), ["r1n1", "r1n2", "r2n1", "r2n2"]);
});

Deno.test("group names take ranges", () => {
  assert.deepEqual(names("@racks:rack[1-2]"), ["r1n1", "r1n2", "r2n1", "r2n2"]);
});

Deno.test("`@*` is the source's `all` group", () => {
  assert.deepEqual(names("@racks:*"), ["r1n1", "r1n2", "r2n1", "r2n2"]);
});

Deno.test("an empty group expands to nothing", () => {
  assert.deepEqual(names("@empty,a"), ["a"]);
});

Deno.test("set operators, left to right (ClusterShell syntax)", async (t) => {
  await t.step("difference inside a group value", () => {
    assert.deepEqual(names("@cpu"), ["node1", "node2"]);
  });
  await t.step("difference", () => {
    assert.deepEqual(names("node[1-5]!node[2-3]"), ["node1", "node4", "node5"]);
  });
  await t.step("intersection", () => {
    assert.deepEqual(names("@compute&node[4-6]"), ["node4"]);
  });
  await t.step("symmetric difference", () => {
    assert.deepEqual(names("@gpu^node[2-3]"), ["node4", "node2"]);
  });
  await t.step("on large sets", () => {
    const result = names("n[1-300000]!n[2-299999]^n[5-6]&n[1-6]");
    assert.deepEqual(result, ["n1", "n5", "n6"]);
  });
  await t.step("left to right, equal precedence", () => {
    assert.deepEqual(names("a,b!b,b"), ["a", "b"]);
  });
});

Deno.test("cycles are reported with the whole loop", () => {
  assert.equal(
    error("@loop-a"),
    "group cycle: @loop-a -> @loop-b -> @loop-c -> @loop-a",
  );
  assert.equal(error("a,@self"), "group cycle: @self -> @self");
  assert.equal(
    error("@cluster:loop-b"),
    "group cycle: @cluster:loop-b -> @cluster:loop-c -> @cluster:loop-a -> @cluster:loop-b",
  );
});

Deno.test("a group referenced twice is not a cycle", () => {
  const diamond = createGroupResolver(
    new Map([[
      "s",
      new Map([["top", "@a,@b"], ["a", "@c"], ["b", "@c"], ["c", "n1"]]),
    ]]),
    { defaultSource: "s" },
  );
  assert.deepEqual(names("@top", diamond), ["n1"]);
});

Deno.test("unknown groups and sources", async (t) => {
  await t.step("unknown group in the default source", () => {
    assert.equal(error("@nope"), "unknown group '@nope'");
  });
  await t.step("unknown group in a named source", () => {
    assert.equal(error("@racks:rack9"), "unknown group '@racks:rack9'");
  });
  await t.step("unknown source", () => {
    assert.equal(error("@foo:bar"), "unknown group source 'foo' in '@foo:bar'");
  });
  await t.step("a source run by external commands", () => {
    assert.match(
      error("@slurm:job1"),
      /group source 'slurm' runs external commands/,
    );
  });
  await t.step("no default source", () => {
    const none = createGroupResolver(new Map());
    assert.equal(
      error("@login", none),
      "unknown group '@login' (no default group source)",
    );
  });
  await t.step("`@*` without an `all` group", () => {
    const noAll = createGroupResolver(new Map([["s", new Map([["a", "x"]])]]), {
      defaultSource: "s",
    });
    assert.equal(
      error("@*", noAll),
      "unknown group '@*' (no 'all' group in 's')",
    );
  });
});

Deno.test("syntax errors in a group's value name the group", () => {
  assert.equal(
    error("@bad"),
    "in group @bad: cannont convert ending range to integer a - rangeset parse error",
  );
});

Deno.test("a syntax error at the top level keeps the reference's text", () => {
  assert.equal(
    error("@login,x[1-"),
    "unbalanced '[' found while parsing @login,x[1- - nodeset parse error",
  );
});

Deno.test("malformed references", async (t) => {
  for (const input of ["@", "@src:", "@:name", "@a@b"]) {
    await t.step(input, () => {
      assert.match(
        error(input),
        /^invalid group reference '.*' - nodeset parse error$/,
      );
    });
  }
  await t.step("`@` inside a name", () => {
    assert.equal(
      error("user@host"),
      "misplaced @ in 'user@host' - nodeset parse error",
    );
  });
});

Deno.test("a resolver sees the source and name it is asked for", () => {
  const asked: [string | undefined, string][] = [];
  const spy: GroupResolver = {
    resolve(source, name) {
      asked.push([source, name]);
      return ok(name === "outer" ? "@inner,@other:x" : "h");
    },
  };
  assert.deepEqual(names("@outer,@s:n[1-2]", spy), ["h"]);
  assert.deepEqual(asked, [
    [undefined, "outer"],
    [undefined, "inner"],
    ["other", "x"],
    ["s", "n1"],
    ["s", "n2"],
  ]);
});
