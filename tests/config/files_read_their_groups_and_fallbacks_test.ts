// readConfigFile loads what a file needs and nothing else (scripts/
// bundle.sh keeps those parts apart): a file naming a ClusterShell group
// gets the group reader and the `yaml` package for the group files, a
// file outside the simple reader's YAML gets the package, and both read as
// they did when everything was loaded at start.
import assert from "node:assert/strict";
import { readConfigFile } from "../../src/config/load.ts";
import { topLevelConfig } from "../../src/config/resolve.ts";

async function withTempDir(test: (dir: string) => Promise<void>) {
  const dir = await Deno.makeTempDir({ prefix: "sshproxy-config-" });
  try {
    await test(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("a file naming a ClusterShell group reads the group files and expands it", async () => {
  await withTempDir(async (dir) => {
    await Deno.mkdir(`${dir}/clustershell/groups.d`, { recursive: true });
    await Deno.writeTextFile(
      `${dir}/clustershell/groups.d/site.yaml`,
      "site:\n  login: 'node[1-2]'\n",
    );
    const path = `${dir}/sshproxy.yaml`;
    await Deno.writeTextFile(
      path,
      `clustershell_dir: ${dir}/clustershell\ndest: ["@login"]\n`,
    );
    const parsed = await readConfigFile(path);
    assert.ok(parsed.ok, parsed.ok ? "" : parsed.error);
    assert.deepEqual(topLevelConfig(parsed.value).dest, [
      "node1:22",
      "node2:22",
    ]);
  });
});

Deno.test("a file outside the simple reader's YAML (anchors) is read by the package", async () => {
  await withTempDir(async (dir) => {
    const path = `${dir}/sshproxy.yaml`;
    await Deno.writeTextFile(
      path,
      "hosts: &hosts [a:22, b:22]\ndest: *hosts\n",
    );
    const parsed = await readConfigFile(path);
    assert.ok(parsed.ok, parsed.ok ? "" : parsed.error);
    assert.deepEqual(topLevelConfig(parsed.value).dest, ["a:22", "b:22"]);
    // And its errors still name the line, as the package reports them.
    await Deno.writeTextFile(path, "dest: [a:22\nmode: *nowhere\n");
    const broken = await readConfigFile(path);
    assert.equal(broken.ok, false);
    assert.match(broken.ok ? "" : broken.error, /^\S+: line \d+: yaml: /);
  });
});
