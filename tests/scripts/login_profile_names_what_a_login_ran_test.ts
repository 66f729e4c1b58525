// scripts/login_profile.ts runs sessions of a freshly built login face
// (stateless, and with an in-memory etcd of its own) and reports where the
// functions they compiled start, per module of app/;
// scripts/eager_compile.ts then compiles only those with their module. A
// build whose session fails stops the install, in one line.
import assert from "node:assert/strict";
import { profileFromLog } from "../../scripts/login_profile.ts";
import { eagerModule } from "../../scripts/eager_compile.ts";

const root = new URL("../../", import.meta.url).pathname;
const deno = Deno.execPath();

async function run(args: string[], env: Record<string, string> = {}) {
  const output = await new Deno.Command(deno, {
    args,
    cwd: root,
    env: { NO_COLOR: "1", ...env },
    stdout: "piped",
    stderr: "piped",
  }).output();
  return {
    code: output.code,
    stderr: new TextDecoder().decode(output.stderr).trim(),
  };
}

// The launcher's permissions, as install.sh passes them.
const launcherPermissions = /^permission_flags="([^"]*)"$/m.exec(
  Deno.readTextFileSync(`${root}/scripts/runtime_flags.sh`),
)?.[1] ?? "";

/** scripts/login_profile.ts on the build in `lib`, as install.sh runs it. */
function profileBuild(
  lib: string,
  output: string,
  env: Record<string, string> = {},
) {
  return run([
    "run",
    "--no-config",
    "--quiet",
    "--allow-read",
    "--allow-write",
    "--allow-run",
    "--allow-net",
    "scripts/login_profile.ts",
    deno,
    lib,
    "--minor-ms",
    launcherPermissions,
    output,
  ], env);
}

Deno.test("the launcher's permissions are read from scripts/runtime_flags.sh", () => {
  assert.match(launcherPermissions, /^--allow-read( --allow-\w+)+$/);
});

Deno.test("the profile keeps the app's own modules and their functions only", () => {
  const log = [
    "script-details,40,file:///lib/app/sshproxy.js,0,0,",
    "script-details,41,file:///lib/app/sshproxy.linked.js,0,0,",
    "script-details,42,ext:deno_process/40_process.js,0,0,",
    "script-details,43,file:///lib/app/sub/other.js,0,0,",
    "function,interpreter,40,0,900,0.1,1,",
    "function,interpreter,40,120,180,0.01,2,main",
    "function,first-execution,41,35,60,0,3,ok",
    "function,interpreter,41,35,60,0.01,4,ok",
    "function,preparse-resolution,41,500,560,0.01,5,neverRun",
    "function,interpreter,42,10,20,0.01,6,spawn",
    "function,interpreter,43,10,20,0.01,7,elsewhere",
    "function,interpreter,40,77,90,0.01,8,arrow function",
  ].join("\n");
  assert.deepEqual(profileFromLog(log, "/lib/app"), {
    "sshproxy.js": [77, 120],
    "sshproxy.linked.js": [35],
  });
});

Deno.test("with a profile, only the functions it names are rewritten", () => {
  const source = [
    "function ran(a) { return a; }",
    "function never(b) { return b; }",
    "const arrowRan = (c) => c;",
    "const arrowNever = (d) => d;",
    "",
  ].join("\n");
  const starts = new Set([
    source.indexOf("(a)"),
    source.indexOf("(c)"),
  ]);
  const { code, hoisted, wrapped } = eagerModule(source, starts);
  assert.equal(hoisted, 1);
  assert.equal(wrapped, 1);
  assert.match(code, /^var ran = \(function \(a\)/);
  assert.match(code, /\nfunction never\(b\) \{ return b; \}/);
  assert.match(code, /const arrowRan = \(\(c\) => c\);/);
  assert.match(code, /const arrowNever = \(d\) => d;/);
});

Deno.test("a built login face's session names where its functions start", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const bundle = await new Deno.Command("bash", {
      args: [`${root}/scripts/bundle.sh`, dir],
      stdout: "null",
      stderr: "piped",
    }).output();
    assert.ok(bundle.success, new TextDecoder().decode(bundle.stderr));
    const profilePath = `${dir}/profile.json`;
    const profiled = await profileBuild(dir, profilePath);
    assert.equal(profiled.code, 0, profiled.stderr);
    const profile: Record<string, number[]> = JSON.parse(
      await Deno.readTextFile(profilePath),
    );
    for (const file of ["sshproxy.js", "sshproxy.linked.js"]) {
      const starts = profile[file] ?? [];
      assert.ok(starts.length >= 20, `${file}: ${starts.length} functions`);
      // The starts are where the rewrite finds functions: all but class
      // members (which it leaves to V8) become compiled with the module.
      const text = await Deno.readTextFile(`${dir}/app/${file}`);
      const rewritten = eagerModule(text, new Set(starts));
      const matched = rewritten.hoisted + rewritten.wrapped;
      assert.ok(
        matched >= 0.75 * starts.length,
        `${file}: ${matched} of ${starts.length} starts are functions the rewrite knows`,
      );
    }
    // The etcd session (against the script's in-memory etcd) loaded the
    // state layer, loaded on demand, and every session the key parser
    // (sshd's ExposeAuthInfo file names a key); nothing else was.
    const onDemand = Object.keys(profile).filter((file) =>
      !["sshproxy.js", "sshproxy.linked.js"].includes(file)
    );
    for (const part of ["session_layer", "authorized_key"]) {
      assert.ok(
        onDemand.some((file) => file.startsWith(`sshproxy.${part}-`)),
        `on demand: ${onDemand}`,
      );
    }
    assert.ok(
      onDemand.every((file) =>
        file.startsWith("sshproxy.session_layer-") ||
        file.startsWith("sshproxy.chunk-") ||
        file.startsWith("sshproxy.etcd_http-") ||
        file.startsWith("sshproxy.authorized_key-")
      ),
      `on demand: ${onDemand}`,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a build whose session fails is refused in one line, leaving nothing behind", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.mkdir(`${dir}/app`);
    await Deno.writeTextFile(`${dir}/deno.json`, "{}\n");
    await Deno.writeTextFile(
      `${dir}/app/sshproxy.js`,
      'console.error("broken build"); Deno.exit(3);\n',
    );
    await Deno.mkdir(`${dir}/tmp`);
    const result = await profileBuild(dir, `${dir}/profile.json`, {
      TMPDIR: `${dir}/tmp`,
    });
    assert.equal(result.code, 1);
    assert.equal(result.stderr.split("\n").length, 1, result.stderr);
    assert.match(
      result.stderr,
      /^login_profile: a session of .*app\/sshproxy\.js with stateless\.yaml failed \(status 3\): broken build$/,
    );
    // Its working directory is gone, and no profile was written.
    assert.deepEqual([...Deno.readDirSync(`${dir}/tmp`)], []);
    assert.equal(
      await Deno.stat(`${dir}/profile.json`).catch(() => null),
      null,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
