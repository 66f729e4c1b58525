// readConfigFile, the I/O edge: every failure is one line that starts
// with the file's path, so `sshproxy` and `sshproxyctl` can print it as is.
// It also loads what a file needs and nothing else (scripts/bundle.sh keeps
// those parts apart): a file naming a ClusterShell group gets the group
// reader and the `yaml` package for the group files, a file outside the
// simple reader's YAML gets the package, and both read as they did when
// everything was loaded at start.
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

function assertOneLineFor(
  result: { ok: boolean; error?: string },
  path: string,
  reason: RegExp,
) {
  assert.equal(result.ok, false);
  const error = result.error!;
  assert.ok(error.startsWith(`${path}: `), error);
  assert.ok(!error.includes("\n"), "one line");
  assert.match(error.slice(path.length + 2), reason);
}

Deno.test("a missing file: `<path>: cannot read: no such file or directory ...`", async () => {
  await withTempDir(async (dir) => {
    const path = `${dir}/nonexistingfile.yaml`;
    const result = await readConfigFile(path);
    assertOneLineFor(result, path, /^cannot read: no such file or directory/);
  });
});

Deno.test("a missing directory in the path is reported the same way", async () => {
  const path = "/nonexistent-sshproxy-dir/sshproxy.yaml";
  assertOneLineFor(
    await readConfigFile(path),
    path,
    /^cannot read: no such file or directory/,
  );
});

Deno.test("a directory instead of a file is unreadable: `<path>: cannot read: is a directory ...`", async () => {
  await withTempDir(async (dir) => {
    assertOneLineFor(
      await readConfigFile(dir),
      dir,
      /^cannot read: is a directory/,
    );
  });
});

// root reads any file whatever its mode, so as root the read is done by a
// child running as nobody (offline: cached modules, local node_modules).
async function readAsNobody(dir: string, path: string) {
  const probe = `${dir}/probe.ts`;
  const load = new URL("../../src/config/load.ts", import.meta.url).href;
  await Deno.writeTextFile(
    probe,
    `import { readConfigFile } from ${JSON.stringify(load)};\n` +
      "console.log(JSON.stringify(await readConfigFile(Deno.args[0])));\n",
  );
  await Deno.mkdir(`${dir}/deno`);
  await Deno.chmod(`${dir}/deno`, 0o777);
  const output = await new Deno.Command("setpriv", {
    args: [
      "--reuid=65534",
      "--regid=65534",
      "--clear-groups",
      "env",
      `DENO_DIR=${dir}/deno`,
      `HOME=${dir}`,
      Deno.execPath(),
      "run",
      "--no-check",
      "--cached-only",
      "--node-modules-dir=manual",
      "--config",
      new URL("../../deno.json", import.meta.url).pathname,
      "--allow-read",
      probe,
      path,
    ],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const stdout = new TextDecoder().decode(output.stdout).trim();
  assert.ok(output.success, new TextDecoder().decode(output.stderr));
  return JSON.parse(stdout.split("\n").at(-1)!);
}

function hasSetpriv(): boolean {
  try {
    return new Deno.Command("setpriv", { args: ["--version"] }).outputSync()
      .success;
  } catch {
    return false;
  }
}

async function readableByUs(path: string): Promise<boolean> {
  try {
    await Deno.readTextFile(path);
    return true;
  } catch {
    return false;
  }
}

Deno.test("a file without read permission: `<path>: cannot read: permission denied ...`", async () => {
  await withTempDir(async (dir) => {
    await Deno.chmod(dir, 0o755);
    const path = `${dir}/sshproxy.yaml`;
    await Deno.writeTextFile(path, "debug: true\n");
    await Deno.chmod(path, 0o000);
    // Whoever can still read a mode-000 file (root) asks nobody to.
    const privileged = await readableByUs(path);
    if (privileged && !hasSetpriv()) {
      console.warn("skipped: running as root without setpriv");
      return;
    }
    const result = privileged
      ? await readAsNobody(dir, path)
      : await readConfigFile(path);
    assertOneLineFor(result, path, /^cannot read: permission denied/);
  });
});

Deno.test("a dangling symbolic link is a missing file", async () => {
  await withTempDir(async (dir) => {
    const path = `${dir}/link.yaml`;
    await Deno.symlink(`${dir}/target.yaml`, path);
    assertOneLineFor(
      await readConfigFile(path),
      path,
      /^cannot read: no such file or directory/,
    );
  });
});

Deno.test("a content error is `<path>: line N: ...`", async () => {
  await withTempDir(async (dir) => {
    const path = `${dir}/sshproxy.yaml`;
    await Deno.writeTextFile(path, "debug: true\nmode: notamode\n");
    assertOneLineFor(
      await readConfigFile(path),
      path,
      /^line 2: mode: invalid value "notamode"/,
    );
    await Deno.writeTextFile(path, "debug: true\n\tmode: sticky\n");
    assertOneLineFor(
      await readConfigFile(path),
      path,
      /^line 2: yaml: found character that cannot start any token/,
    );
  });
});

Deno.test("a readable, valid file is parsed, with the system's service names", async () => {
  await withTempDir(async (dir) => {
    const path = `${dir}/sshproxy.yaml`;
    await Deno.writeTextFile(
      path,
      "dest: [server1:ssh]\noverrides:\n  - match: [{sources: ['127.0.0.1:ssh']}]\n    service: s\n",
    );
    const result = await readConfigFile(path);
    assert.ok(result.ok, result.ok ? "" : result.error);
    assert.deepEqual(result.value.top.dest, ["server1:22"]);
    assert.equal(
      result.value.overrides[0].match?.[0].sources[0][0].address.port,
      22,
    );
  });
});

Deno.test("an empty file is valid", async () => {
  await withTempDir(async (dir) => {
    const path = `${dir}/sshproxy.yaml`;
    await Deno.writeTextFile(path, "");
    const result = await readConfigFile(path);
    assert.ok(result.ok);
    assert.deepEqual(result.value.top, {});
  });
});

async function writeGroups(dir: string, login: string): Promise<void> {
  await Deno.mkdir(`${dir}/groups.d`, { recursive: true });
  await Deno.writeTextFile(
    `${dir}/groups.conf`,
    "[Main]\ndefault: site\nautodir: $CFGDIR/groups.d\n",
  );
  await Deno.writeTextFile(
    `${dir}/groups.d/site.yaml`,
    `site:\n  login: '${login}'\n`,
  );
}

Deno.test("@groups in dest are read from the file's clustershell_dir", async () => {
  await withTempDir(async (dir) => {
    await writeGroups(`${dir}/clustershell`, "login[1-2]");
    const path = `${dir}/sshproxy.yaml`;
    await Deno.writeTextFile(
      path,
      `clustershell_dir: ${dir}/clustershell\ndest: ['@login']\n`,
    );
    const result = await readConfigFile(path);
    assert.ok(result.ok, result.ok ? "" : result.error);
    assert.deepEqual(result.value.top.dest, ["login1:22", "login2:22"]);
  });
});

Deno.test("clustershell_dir may follow the keys that use groups", async () => {
  await withTempDir(async (dir) => {
    await writeGroups(`${dir}/clustershell`, "login[1-2]");
    const path = `${dir}/sshproxy.yaml`;
    await Deno.writeTextFile(
      path,
      `dest: ['@login']\noverrides:\n  - match: [{users: [alice]}]\n` +
        `    dest: ['@login!login1']\nclustershell_dir: ${dir}/clustershell\n`,
    );
    const result = await readConfigFile(path);
    assert.ok(result.ok, result.ok ? "" : result.error);
    assert.deepEqual(result.value.overrides[0].patch.dest, ["login2:22"]);
  });
});

Deno.test("the environment never names the ClusterShell directory", async () => {
  await withTempDir(async (dir) => {
    // What a user would send with `AcceptEnv SSHPROXY_*` before issue 12.
    await writeGroups(`${dir}/mine`, "myhost");
    const path = `${dir}/sshproxy.yaml`;
    await Deno.writeTextFile(
      path,
      `clustershell_dir: ${dir}/admin\ndest: ['@login']\n`,
    );
    Deno.env.set("SSHPROXY_CLUSTERSHELL_CONFDIR", `${dir}/mine`);
    try {
      assertOneLineFor(
        await readConfigFile(path),
        path,
        /^line 2: dest: invalid nodeset: .*unknown group '@login'/,
      );
      await writeGroups(`${dir}/admin`, "login[1-2]");
      const result = await readConfigFile(path);
      assert.ok(result.ok, result.ok ? "" : result.error);
      assert.deepEqual(result.value.top.dest, ["login1:22", "login2:22"]);
    } finally {
      Deno.env.delete("SSHPROXY_CLUSTERSHELL_CONFDIR");
    }
  });
});

Deno.test("clustershell_dir is an absolute path, at top level only", async (t) => {
  const rows: [string, RegExp][] = [
    [
      "clustershell_dir: etc/clustershell\n",
      /^line 1: clustershell_dir: "etc\/clustershell" is not an absolute path \(expected a path starting with \/\)$/,
    ],
    [
      "clustershell_dir: ~/cs\n",
      /^line 1: clustershell_dir: "~\/cs" is not an absolute path/,
    ],
    [
      "clustershell_dir: [a]\n",
      /^line 1: clustershell_dir: a list is not a string/,
    ],
    [
      "overrides:\n  - match: [{users: [alice]}]\n    clustershell_dir: /x\n",
      /^line 3: clustershell_dir: cannot be set in an override \(expected clustershell_dir only at top level\)$/,
    ],
  ];
  for (const [yaml, reason] of rows) {
    await t.step(yaml.trim(), async () => {
      await withTempDir(async (dir) => {
        const path = `${dir}/sshproxy.yaml`;
        await Deno.writeTextFile(path, yaml);
        assertOneLineFor(await readConfigFile(path), path, reason);
      });
    });
  }
});

Deno.test("an unknown @group is a one-line error naming the file and line", async () => {
  await withTempDir(async (dir) => {
    const path = `${dir}/sshproxy.yaml`;
    await Deno.writeTextFile(
      path,
      `clustershell_dir: ${dir}/none\ndest: ['@nosuchgroup']\n`,
    );
    assertOneLineFor(
      await readConfigFile(path),
      path,
      /^line 2: dest: invalid nodeset: /,
    );
  });
});

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
