// readConfigFile, the I/O edge: every failure is one line that starts
// with the file's path, so `sshproxy` and `sshproxyctl` can print it as is.
import assert from "node:assert/strict";
import { readConfigFile } from "../../src/config/load.ts";

const noEnv = (_name: string) => undefined;

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
    const result = await readConfigFile(path, noEnv);
    assertOneLineFor(result, path, /^cannot read: no such file or directory/);
  });
});

Deno.test("a missing directory in the path is reported the same way", async () => {
  const path = "/nonexistent-sshproxy-dir/sshproxy.yaml";
  assertOneLineFor(
    await readConfigFile(path, noEnv),
    path,
    /^cannot read: no such file or directory/,
  );
});

Deno.test("a directory instead of a file is unreadable: `<path>: cannot read: is a directory ...`", async () => {
  await withTempDir(async (dir) => {
    assertOneLineFor(
      await readConfigFile(dir, noEnv),
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
      "console.log(JSON.stringify(await readConfigFile(Deno.args[0], () => undefined)));\n",
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
      : await readConfigFile(path, noEnv);
    assertOneLineFor(result, path, /^cannot read: permission denied/);
  });
});

Deno.test("a dangling symbolic link is a missing file", async () => {
  await withTempDir(async (dir) => {
    const path = `${dir}/link.yaml`;
    await Deno.symlink(`${dir}/target.yaml`, path);
    assertOneLineFor(
      await readConfigFile(path, noEnv),
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
      await readConfigFile(path, noEnv),
      path,
      /^line 2: mode: invalid value "notamode"/,
    );
    await Deno.writeTextFile(path, "debug: true\n\tmode: sticky\n");
    assertOneLineFor(
      await readConfigFile(path, noEnv),
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
    const result = await readConfigFile(path, noEnv);
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
    const result = await readConfigFile(path, noEnv);
    assert.ok(result.ok);
    assert.deepEqual(result.value.top, {});
  });
});

Deno.test("@groups in dest are read from the ClusterShell directory named by SSHPROXY_CLUSTERSHELL_CONFDIR", async () => {
  await withTempDir(async (dir) => {
    await Deno.mkdir(`${dir}/clustershell/groups.d`, { recursive: true });
    await Deno.writeTextFile(
      `${dir}/clustershell/groups.conf`,
      "[Main]\ndefault: site\nautodir: $CFGDIR/groups.d\n",
    );
    await Deno.writeTextFile(
      `${dir}/clustershell/groups.d/site.yaml`,
      "site:\n  login: 'login[1-2]'\n",
    );
    const path = `${dir}/sshproxy.yaml`;
    await Deno.writeTextFile(path, "dest: ['@login']\n");
    const env = (name: string) =>
      name === "SSHPROXY_CLUSTERSHELL_CONFDIR"
        ? `${dir}/clustershell`
        : undefined;
    const result = await readConfigFile(path, env);
    assert.ok(result.ok, result.ok ? "" : result.error);
    assert.deepEqual(result.value.top.dest, ["login1:22", "login2:22"]);
  });
});

Deno.test("an unknown @group is a one-line error naming the file and line", async () => {
  await withTempDir(async (dir) => {
    const path = `${dir}/sshproxy.yaml`;
    await Deno.writeTextFile(path, "debug: true\ndest: ['@nosuchgroup']\n");
    const env = (name: string) =>
      name === "SSHPROXY_CLUSTERSHELL_CONFDIR" ? `${dir}/none` : undefined;
    assertOneLineFor(
      await readConfigFile(path, env),
      path,
      /^line 2: dest: invalid nodeset: /,
    );
  });
});
