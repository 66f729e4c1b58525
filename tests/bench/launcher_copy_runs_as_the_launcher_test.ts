import assert from "node:assert/strict";
import {
  type Invocation,
  launcherScript,
  withFlags,
  withModule,
} from "../../scripts/bench/runtime_floor.ts";

const invocation: Invocation = {
  argv: [
    "/p/lib/sshproxy/bin/deno",
    "run",
    "--cached-only",
    "--v8-flags=--max-old-space-size=64",
    "--config",
    "/p/lib/sshproxy/deno.json",
    "/p/lib/sshproxy/main.ts",
    "proxy",
    "/etc/sshproxy/sshproxy.yaml",
  ],
  moduleIndex: 6,
  programArgs: ["proxy"],
  env: { DENO_DIR: "/p/lib/sshproxy/cache", ODD: "it's a $HOME `x`" },
};

Deno.test("another module runs with the launcher's flags and without the caller's arguments", () => {
  assert.deepEqual(withModule(invocation, "/tmp/empty.js"), [
    ...invocation.argv.slice(0, 6),
    "/tmp/empty.js",
  ]);
});

Deno.test("added V8 flags join the launcher's own --v8-flags", () => {
  const changed = withFlags(invocation, ["--cpu-prof"], ["--lite-mode"]);
  assert.deepEqual(changed.argv.slice(0, 4), [
    "/p/lib/sshproxy/bin/deno",
    "run",
    "--cpu-prof",
    "--cached-only",
  ]);
  assert.ok(
    changed.argv.includes("--v8-flags=--max-old-space-size=64,--lite-mode"),
  );
  assert.equal(
    changed.argv.filter((a) => a.startsWith("--v8-flags")).length,
    1,
  );
  assert.equal(changed.argv[changed.moduleIndex], "/p/lib/sshproxy/main.ts");
});

async function runScript(text: string, args: string[]): Promise<string> {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(`${dir}/launcher`, text);
    const output = await new Deno.Command("/bin/sh", {
      args: [`${dir}/launcher`, ...args],
      env: { PATH: "/usr/bin:/bin" },
      clearEnv: true,
      stdout: "piped",
    }).output();
    assert.ok(output.success);
    return new TextDecoder().decode(output.stdout);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("an exec'd copy passes the launcher's variables, quoted, and the caller's arguments", async () => {
  const out = await runScript(
    launcherScript(invocation, ["/usr/bin/env"]),
    [],
  );
  assert.match(out, /^DENO_DIR=\/p\/lib\/sshproxy\/cache$/m);
  assert.match(out, /^ODD=it's a \$HOME `x`$/m);
  const echoed = await runScript(
    launcherScript(invocation, ["/bin/echo", "first"]),
    ["second word"],
  );
  assert.equal(echoed, "first second word\n");
});

Deno.test("with a command after it, the launcher's variables stay off that command", async () => {
  const out = await runScript(
    launcherScript(
      invocation,
      ["/bin/sh", "-c", 'echo "deno sees $DENO_DIR"'],
      "exec /bin/sh -c 'echo \"ssh sees ${DENO_DIR:-nothing}\"'",
    ),
    [],
  );
  assert.equal(out, "deno sees /p/lib/sshproxy/cache\nssh sees nothing\n");
});
