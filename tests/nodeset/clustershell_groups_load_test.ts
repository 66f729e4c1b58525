// Loading real ClusterShell configuration directories written to temp dirs,
// then expanding `@group` references through the loaded resolver.
// @ts-types="yaml"
import { parse } from "yaml/esm";
import assert from "node:assert/strict";
import { expandNodeset } from "../../src/nodeset/expand.ts";
import {
  type GroupResolver,
  loadClusterShellGroups,
} from "../../src/nodeset/clustershell.ts";

async function confDir(files: Record<string, string>): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "sshproxy-cs-" });
  for (const [path, text] of Object.entries(files)) {
    const full = `${dir}/${path}`;
    await Deno.mkdir(full.slice(0, full.lastIndexOf("/")), { recursive: true });
    await Deno.writeTextFile(full, text);
  }
  return dir;
}

async function withConf(
  files: Record<string, string>,
  test: (dir: string) => void | Promise<void>,
): Promise<void> {
  const dir = await confDir(files);
  try {
    await test(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

function load(dir: string): GroupResolver {
  const loaded = loadClusterShellGroups(dir, parse);
  assert.ok(loaded.ok, loaded.ok ? "" : loaded.error);
  return loaded.value;
}

function expand(input: string, groups: GroupResolver) {
  return expandNodeset(input, groups);
}

const CLUSTER_YAML = `
site:
    login: 'login[1-2]'
    frontend: 'front1'
    compute: '@src:compute'
    all: '@login,@compute'
src:
    compute: 'node[01-04]'
    gpu: 'node[03-04]'
    cpu: '@compute!@gpu'
`;

Deno.test("groups.conf with a default source and groups.d YAML", async () => {
  await withConf({
    "groups.conf": "[Main]\ndefault: site\nautodir: $CFGDIR/groups.d\n",
    "groups.d/cluster.yaml": CLUSTER_YAML,
  }, (dir) => {
    const groups = load(dir);
    assert.deepEqual(expand("@login", groups), {
      ok: true,
      value: ["login1", "login2"],
    });
    assert.deepEqual(expand("@src:compute", groups), {
      ok: true,
      value: ["node01", "node02", "node03", "node04"],
    });
    assert.deepEqual(expand("@login,server[1-2]", groups), {
      ok: true,
      value: ["login1", "login2", "server1", "server2"],
    });
    assert.deepEqual(expand("@all", groups), {
      ok: true,
      value: ["login1", "login2", "node01", "node02", "node03", "node04"],
    });
    assert.deepEqual(expand("@src:cpu", groups), {
      ok: true,
      value: ["node01", "node02"],
    });
  });
});

Deno.test("without groups.conf: groups.d is read, first source is default", async () => {
  await withConf({
    "groups.d/a.yaml": CLUSTER_YAML,
    "groups.d/b.yaml": "other:\n  login: 'elsewhere'\n",
  }, (dir) => {
    const groups = load(dir);
    assert.deepEqual(expand("@login", groups), {
      ok: true,
      value: ["login1", "login2"],
    });
    assert.deepEqual(expand("@other:login", groups), {
      ok: true,
      value: ["elsewhere"],
    });
  });
});

Deno.test("groups.conf without autodir still reads <confdir>/groups.d", async () => {
  await withConf({
    "groups.conf": "[Main]\ndefault: src\n",
    "groups.d/cluster.yaml": CLUSTER_YAML,
  }, (dir) => {
    const groups = load(dir);
    assert.deepEqual(expand("@gpu", groups), {
      ok: true,
      value: ["node03", "node04"],
    });
  });
});

Deno.test("several autodirs, quoted, with files sorted by name", async () => {
  await withConf({
    "groups.conf": `[Main]\nautodir: "$CFGDIR/my groups" \${CFGDIR}/more\n`,
    "my groups/20-second.yaml": "second:\n  g: b\n",
    "my groups/10-first.yaml": "first:\n  g: a\n",
    "my groups/ignored.yml": "ignored:\n  g: c\n",
    "my groups/.hidden.yaml": "hidden:\n  g: d\n",
    "more/x.yaml": "third:\n  g: e\n",
  }, (dir) => {
    const groups = load(dir);
    // The first source loaded (10-first.yaml) is the default.
    assert.deepEqual(expand("@g,@second:g,@third:g", groups), {
      ok: true,
      value: ["a", "b", "e"],
    });
    assert.deepEqual(expand("@ignored:g", groups), {
      ok: false,
      error: "unknown group source 'ignored' in '@ignored:g'",
    });
    assert.deepEqual(expand("@hidden:g", groups), {
      ok: false,
      error: "unknown group source 'hidden' in '@hidden:g'",
    });
  });
});

Deno.test("nested groups across files and cycles", async () => {
  await withConf({
    "groups.d/a.yaml": "a:\n  top: '@b:mid'\n  loop: '@b:back'\n",
    "groups.d/b.yaml": "b:\n  mid: 'n[1-2]'\n  back: '@a:loop'\n",
  }, (dir) => {
    const groups = load(dir);
    assert.deepEqual(expand("@top", groups), { ok: true, value: ["n1", "n2"] });
    assert.deepEqual(expand("@a:loop", groups), {
      ok: false,
      error: "group cycle: @a:loop -> @b:back -> @a:loop",
    });
  });
});

Deno.test("unknown groups", async () => {
  await withConf({ "groups.d/c.yaml": CLUSTER_YAML }, (dir) => {
    const groups = load(dir);
    assert.deepEqual(expand("@nope", groups), {
      ok: false,
      error: "unknown group '@nope'",
    });
    assert.deepEqual(expand("@src:nope", groups), {
      ok: false,
      error: "unknown group '@src:nope'",
    });
  });
});

Deno.test("upcall sources are known but not run", async () => {
  await withConf({
    "groups.conf": [
      "[Main]",
      "default: local",
      "confdir: $CFGDIR/groups.conf.d",
      "[local]",
      "map: sed -n 's/^$GROUP:\\(.*\\)/\\1/p' $CFGDIR/groups.d/local.cfg",
      "",
    ].join("\n"),
    "groups.conf.d/slurm.conf":
      "[slurmpart,sp]\nmap: sinfo -h -o %N -p $GROUP\n",
    "groups.conf.d/off.conf.example": "[off]\nmap: false\n",
    "groups.d/local.cfg": "login: login1\n",
    "groups.d/site.yaml": "site:\n  login: 'login[1-2]'\n",
  }, (dir) => {
    const groups = load(dir);
    for (const [input, source] of [["@login", "local"], ["@sp:batch", "sp"]]) {
      const result = expand(input, groups);
      assert.ok(!result.ok);
      assert.match(
        result.error,
        new RegExp(`group source '${source}' runs external commands`),
      );
    }
    assert.deepEqual(expand("@off:x", groups), {
      ok: false,
      error: "unknown group source 'off' in '@off:x'",
    });
    assert.deepEqual(expand("@site:login", groups), {
      ok: true,
      value: ["login1", "login2"],
    });
  });
});

Deno.test("a YAML source overrides an upcall source of the same name", async () => {
  await withConf({
    "groups.conf": "[Main]\ndefault: local\n[local]\nmap: echo\n",
    "groups.d/local.yaml": "local:\n  login: 'login9'\n",
  }, (dir) => {
    const groups = load(dir);
    assert.deepEqual(expand("@login", groups), { ok: true, value: ["login9"] });
  });
});

Deno.test("load errors", async (t) => {
  const failure = async (files: Record<string, string>, message: RegExp) => {
    await withConf(files, (dir) => {
      const loaded = loadClusterShellGroups(dir, parse);
      assert.ok(!loaded.ok, "expected a load error");
      assert.match(loaded.error, message);
    });
  };
  await t.step("default source not found", () =>
    failure(
      { "groups.conf": "[Main]\ndefault: nope\n" },
      /groups\.conf: Default group source not found: "nope"$/,
    ));
  await t.step("bad groups.conf line", () =>
    failure(
      { "groups.conf": "[Main]\n???\n" },
      /groups\.conf: line 2: cannot parse '\?\?\?'$/,
    ));
  await t.step(
    "bad YAML names the file",
    () => failure({ "groups.d/bad.yaml": "s: [" }, /groups\.d\/bad\.yaml: /),
  );
  await t.step("same source twice in one directory", () =>
    failure(
      { "groups.d/a.yaml": "s:\n  g: a\n", "groups.d/b.yaml": "s:\n  g: b\n" },
      /b\.yaml: GroupSource 's': name collision in /,
    ));
  await t.step("autodir is a file", () =>
    failure(
      { "groups.conf": "[Main]\nautodir: $CFGDIR/f\n", "f": "" },
      /Defined autodir .*\/f is not a directory$/,
    ));
});

Deno.test("a missing conf dir gives a resolver without sources", async () => {
  const dir = await Deno.makeTempDir({ prefix: "sshproxy-cs-" });
  await Deno.remove(dir);
  const groups = load(dir);
  assert.deepEqual(expand("@login", groups), {
    ok: false,
    error: "unknown group '@login' (no default group source)",
  });
  assert.deepEqual(expand("server[1-2]", groups), {
    ok: true,
    value: ["server1", "server2"],
  });
});

Deno.test("a missing autodir is skipped", async () => {
  await withConf({
    "groups.conf": "[Main]\nautodir: /nonexistent/cs $CFGDIR/groups.d\n",
    "groups.d/a.yaml": "s:\n  g: a\n",
  }, (dir) => {
    const groups = load(dir);
    assert.deepEqual(expand("@g", groups), { ok: true, value: ["a"] });
  });
});
