// Pure parsing of ClusterShell's groups.conf and groups.d/*.yaml.
// @ts-types="yaml"
import { parse } from "yaml/esm";
import assert from "node:assert/strict";
import {
  parseGroupsConf,
  parseGroupsYaml,
} from "../../src/nodeset/clustershell.ts";

// ClusterShell's stock groups.conf (1.9), abridged.
const STOCK_CONF = `# ClusterShell node groups main configuration file
[Main]

# Default group source
default: local

confdir: /etc/clustershell/groups.conf.d $CFGDIR/groups.conf.d
autodir: /etc/clustershell/groups.d $CFGDIR/groups.d

[local]
# flat file "group: nodeset" based group source
map: [ -f $CFGDIR/groups ] && f=$CFGDIR/groups || f=$CFGDIR/groups.d/local.cfg; sed -n 's/^$GROUP:\\(.*\\)/\\1/p' $f
all: sed -n 's/^all:\\(.*\\)/\\1/p' $f
`;

Deno.test("groups.conf: the stock file", () => {
  assert.deepEqual(parseGroupsConf(STOCK_CONF), {
    ok: true,
    value: {
      defaultSource: "local",
      confdirs: ["/etc/clustershell/groups.conf.d", "$CFGDIR/groups.conf.d"],
      autodirs: ["/etc/clustershell/groups.d", "$CFGDIR/groups.d"],
      upcallSources: ["local"],
    },
  });
});

Deno.test("groups.conf: syntax variants of Python's ConfigParser", async (t) => {
  await t.step("`=` and `:`, comments, case-insensitive keys", () => {
    const conf = parseGroupsConf(
      "; comment\n[Main]\nDefault = racks\nAutoDir: '/a dir' \"/b dir\" /c\n",
    );
    assert.deepEqual(conf, {
      ok: true,
      value: {
        defaultSource: "racks",
        autodirs: ["/a dir", "/b dir", "/c"],
        confdirs: undefined,
        upcallSources: [],
      },
    });
  });
  await t.step("continuation lines extend a value", () => {
    const conf = parseGroupsConf("[Main]\nautodir: /a\n  /b\n");
    assert.ok(conf.ok);
    assert.deepEqual(conf.value.autodirs, ["/a", "/b"]);
  });
  await t.step("`groupsdir` wins over `confdir`", () => {
    const conf = parseGroupsConf("[Main]\nconfdir: /c\ngroupsdir: /g\n");
    assert.ok(conf.ok);
    assert.deepEqual(conf.value.confdirs, ["/g"]);
  });
  await t.step("an empty default means none", () => {
    const conf = parseGroupsConf("[Main]\ndefault:\n");
    assert.ok(conf.ok);
    assert.equal(conf.value.defaultSource, undefined);
  });
  await t.step("a grouped section defines several sources", () => {
    const conf = parseGroupsConf("[slurmpart,sp]\nmap: sinfo -h\n[Main]\n");
    assert.ok(conf.ok);
    assert.deepEqual(conf.value.upcallSources, ["slurmpart", "sp"]);
  });
  await t.step("no [Main] at all", () => {
    assert.deepEqual(parseGroupsConf(""), {
      ok: true,
      value: {
        defaultSource: undefined,
        autodirs: undefined,
        confdirs: undefined,
        upcallSources: [],
      },
    });
  });
});

Deno.test("groups.conf: errors carry the line number", () => {
  assert.deepEqual(parseGroupsConf("[Main]\njunk\n"), {
    ok: false,
    error: "line 2: cannot parse 'junk'",
  });
  assert.deepEqual(parseGroupsConf("default: x\n"), {
    ok: false,
    error: "line 1: option outside of a section",
  });
});

Deno.test("groups.d YAML: sources and groups, in file order", () => {
  const parsed = parseGroupsYaml(
    `
cluster:
    adm: 'example0'
    io: '@racks:rack2,example2'
    all: '@adm,@io'
racks:
    rack2: 'example[4-5]'
`,
    parse,
  );
  assert.ok(parsed.ok);
  assert.deepEqual([...parsed.value.keys()], ["cluster", "racks"]);
  assert.deepEqual([...parsed.value.get("cluster")!], [
    ["adm", "example0"],
    ["io", "@racks:rack2,example2"],
    ["all", "@adm,@io"],
  ]);
});

Deno.test("groups.d YAML: value forms ClusterShell accepts", async (t) => {
  const value = (yaml: string) => {
    const parsed = parseGroupsYaml(`s:\n  g: ${yaml}\n`, parse);
    assert.ok(parsed.ok, parsed.ok ? "" : parsed.error);
    return parsed.value.get("s")?.get("g");
  };
  await t.step("whitespace-separated nodesets", () => {
    assert.equal(value("'a1 b[1-2]  c'"), "a1,b[1-2],c");
  });
  await t.step("a list", () => {
    assert.equal(value("[a1, 'b[1-2] c']"), "a1,b[1-2],c");
  });
  await t.step("null is the empty group", () => {
    assert.equal(value(""), "");
  });
  await t.step("a duplicate key: the last one wins, as with PyYAML", () => {
    const parsed = parseGroupsYaml("s:\n  g: a\n  g: b\n", parse);
    assert.ok(parsed.ok);
    assert.equal(parsed.value.get("s")?.get("g"), "b");
  });
  await t.step("an empty file has no sources", () => {
    const parsed = parseGroupsYaml("# nothing yet\n", parse);
    assert.ok(parsed.ok);
    assert.equal(parsed.value.size, 0);
  });
});

Deno.test("groups.d YAML: errors", async (t) => {
  const rows: [string, string, RegExp][] = [
    ["not YAML", "s: [", /^Flow sequence/],
    ["base not a mapping", "- a\n", /^invalid content \(base is not a dict\)$/],
    [
      "source not a mapping",
      "s: nodes\n",
      /^invalid content \(group source 's' is not a dict\)$/,
    ],
    [
      "source name not a string",
      "1:\n  g: a\n",
      /^group source 1 not a string/,
    ],
    [
      "group name not a string",
      "s:\n  2: a\n",
      /^s: group name 2 not a string/,
    ],
    [
      "group value a number",
      "s:\n  g: 12\n",
      /^s: group 'g' must be a nodeset string or a list of them$/,
    ],
  ];
  for (const [what, yaml, message] of rows) {
    await t.step(what, () => {
      const parsed = parseGroupsYaml(yaml, parse);
      assert.ok(!parsed.ok);
      assert.match(parsed.error, message);
    });
  }
});
