// scripts/install.sh as an admin uses it: install, upgrade in place,
// --binary, uninstall leaving nothing behind, and one-line refusals that
// leave nothing half-installed.
import assert from "node:assert/strict";
import {
  ensureTestAccounts,
  makeSharedTempDir,
  run,
  runAs,
  USERS,
} from "../harness/mod.ts";
import { installed } from "./installed.ts";

const e2e = { sanitizeOps: false, sanitizeResources: false };
const SCRIPT = new URL("../../scripts/install.sh", import.meta.url).pathname;

async function listTree(dir: string): Promise<string[]> {
  const result = await run([
    "find",
    dir,
    "-mindepth",
    "1",
    "-not",
    "-path",
    `${dir}/lib/sshproxy/*`,
  ]);
  return result.stdout.split("\n").filter((line) => line !== "").map((line) =>
    line.slice(dir.length + 1)
  ).sort();
}

const EXPECTED = [
  "bin",
  "bin/sshproxy",
  "bin/sshproxy-agent",
  "bin/sshproxy-dumpd",
  "bin/sshproxy-replay",
  "bin/sshproxyctl",
  "lib",
  "lib/sshproxy",
  "share",
  "share/bash-completion",
  "share/bash-completion/completions",
  "share/bash-completion/completions/sshproxyctl",
  "share/man",
  "share/man/man1",
  "share/man/man1/sshproxy-replay.1",
  "share/man/man5",
  "share/man/man5/sshproxy.yaml.5",
  "share/man/man8",
  "share/man/man8/sshproxy-agent.8",
  "share/man/man8/sshproxy-dumpd.8",
  "share/man/man8/sshproxy.8",
  "share/man/man8/sshproxyctl.8",
  "share/sshproxy",
  "share/sshproxy/sshproxy-agent.service",
  "share/sshproxy/sshproxy-alerts.yaml",
  "share/sshproxy/sshproxy-dumpd.service",
  "share/sshproxy/sshproxy.yaml",
];

Deno.test({
  name:
    "install puts commands, man pages, completion and samples in the prefix; upgrade and uninstall are exact",
  ...e2e,
  async fn() {
    await ensureTestAccounts();
    const prefix = await makeSharedTempDir("sshproxy-install-");
    try {
      const first = await run(["bash", SCRIPT, "--prefix", prefix], {
        timeoutMs: 180_000,
      });
      assert.equal(first.code, 0, first.stderr);
      assert.deepEqual(await listTree(prefix), EXPECTED);
      for (
        const [name, face] of [["sshproxy", "sshproxy"], [
          "sshproxy-dumpd",
          "sshproxy-dumpd",
        ]]
      ) {
        const version = await runAs(USERS.user1, [
          `${prefix}/bin/${name}`,
          "-version",
        ]);
        assert.equal(version.code, 0, version.stderr);
        assert.match(version.stderr, new RegExp(`^${face} version `));
      }
      const man = await run([
        "man",
        "-l",
        `${prefix}/share/man/man8/sshproxy.8`,
      ], { env: { MANWIDTH: "80" } });
      assert.equal(man.code, 0);
      assert.equal(man.stderr, "");
      assert.match(man.stdout, /sshproxy/);

      const upgrade = await run(["bash", SCRIPT, "--prefix", prefix], {
        timeoutMs: 180_000,
      });
      assert.equal(upgrade.code, 0, upgrade.stderr);
      assert.deepEqual(await listTree(prefix), EXPECTED);
      const again = await runAs(USERS.user1, [
        `${prefix}/bin/sshproxyctl`,
        "version",
      ]);
      assert.equal(again.code, 0, again.stderr);

      const uninstall = await run([
        "bash",
        SCRIPT,
        "--prefix",
        prefix,
        "--uninstall",
      ]);
      assert.equal(uninstall.code, 0, uninstall.stderr);
      assert.deepEqual(await listTree(prefix), [], "nothing left behind");
    } finally {
      await Deno.remove(prefix, { recursive: true });
    }
  },
});

Deno.test({
  name:
    "install --binary uses one executable of this project for the four names",
  ...e2e,
  async fn() {
    await ensureTestAccounts();
    // The launcher of an existing install is an executable of this project
    // that answers `proxy -version`: it stands in for a compiled binary.
    const product = await installed();
    const binary = `${product.prefix}/lib/sshproxy/bin/sshproxy-launcher`;
    const prefix = await makeSharedTempDir("sshproxy-install-binary-");
    try {
      const result = await run([
        "bash",
        SCRIPT,
        "--prefix",
        prefix,
        "--binary",
        binary,
      ]);
      assert.equal(result.code, 0, result.stderr);
      assert.match(result.stdout, /compiled binary/);
      assert.equal(
        await Deno.readLink(`${prefix}/bin/sshproxyctl`),
        "../lib/sshproxy/bin/sshproxy",
      );
      const version = await runAs(USERS.fedora, [
        `${prefix}/bin/sshproxy-replay`,
        "-version",
      ]);
      assert.equal(version.code, 0, version.stderr);
      assert.match(version.stderr, /^sshproxy-replay version /);
      const uninstall = await run([
        "bash",
        SCRIPT,
        "--prefix",
        prefix,
        "--uninstall",
      ]);
      assert.equal(uninstall.code, 0);
      assert.deepEqual(await listTree(prefix), []);
    } finally {
      await Deno.remove(prefix, { recursive: true });
    }
  },
});

Deno.test({
  name:
    "a missing or unwritable prefix, or a foreign --binary, is one line, exit 1, nothing installed",
  ...e2e,
  async fn() {
    await ensureTestAccounts();
    const prefix = await makeSharedTempDir("sshproxy-install-bad-");
    try {
      const cases: [string[], RegExp, "root" | "user"][] = [
        [
          ["--prefix", `${prefix}/missing`],
          /^install\.sh: prefix .*missing does not exist \(create it first\)\n$/,
          "root",
        ],
        [
          ["--prefix", prefix],
          /^install\.sh: prefix .* is not writable \(run as root or choose another prefix\)\n$/,
          "user",
        ],
        [
          ["--prefix", prefix, "--binary", "/bin/true"],
          /^install\.sh: --binary \/bin\/true is not an sshproxy executable/,
          "root",
        ],
        [
          ["--prefix", prefix, "--binary", `${prefix}/none`],
          /^install\.sh: --binary .* is not an executable file/,
          "root",
        ],
        [
          ["--prefix", prefix, "--uninstall"],
          /^install\.sh: nothing to uninstall/,
          "root",
        ],
        [[], /^install\.sh: missing --prefix DIR/, "root"],
      ];
      for (const [args, message, who] of cases) {
        const argv = ["bash", SCRIPT, ...args];
        const result = who === "root"
          ? await run(argv)
          : await runAs(USERS.fedora, argv);
        assert.equal(result.code, 1, `${args.join(" ")}: ${result.stderr}`);
        assert.match(result.stderr, message);
        assert.equal(result.stderr.trim().split("\n").length, 1, "one line");
        assert.deepEqual(
          await listTree(prefix),
          [],
          `${args.join(" ")} left something behind`,
        );
      }
    } finally {
      await Deno.remove(prefix, { recursive: true });
    }
  },
});

/** A copy of this source tree (dependencies linked, not copied) that tests may break. */
async function sourceCopy(): Promise<string> {
  const repo = new URL("../..", import.meta.url).pathname.replace(/\/$/, "");
  const copy = await makeSharedTempDir("sshproxy-source-");
  for (
    const name of ["main.ts", "deno.json", "deno.lock", "src", "man", "config"]
  ) {
    const copied = await run(["cp", "-a", `${repo}/${name}`, `${copy}/`]);
    assert.equal(copied.code, 0, copied.stderr);
  }
  await Deno.symlink(`${repo}/node_modules`, `${copy}/node_modules`);
  await Deno.mkdir(`${copy}/scripts/toolchain`, { recursive: true });
  for await (const entry of Deno.readDir(`${repo}/scripts`)) {
    if (entry.isFile) {
      await Deno.copyFile(
        `${repo}/scripts/${entry.name}`,
        `${copy}/scripts/${entry.name}`,
      );
    }
  }
  await Deno.symlink(
    `${repo}/scripts/toolchain/node_modules`,
    `${copy}/scripts/toolchain/node_modules`,
  );
  return copy;
}

/** Runs `source`'s install.sh into `prefix`, as an admin does. */
async function installFrom(source: string, prefix: string) {
  return await run([
    "bash",
    `${source}/scripts/install.sh`,
    "--prefix",
    prefix,
  ], { timeoutMs: 180_000 });
}

Deno.test({
  name:
    "V8 flags that would need a code cache per face fail the install in one line",
  ...e2e,
  async fn() {
    const prefix = await makeSharedTempDir("sshproxy-install-flags-");
    const source = await sourceCopy();
    try {
      // --minor-ms is part of V8's cache check: set for the login face
      // alone, the other faces' warm-up leaves a cache logins refuse.
      const flagsFile = `${source}/scripts/runtime_flags.sh`;
      const flags = await Deno.readTextFile(flagsFile);
      const split = flags
        .replace(
          /^v8_flags="([^"]*)"$/m,
          (_, all: string) =>
            `v8_flags="${
              all.split(",").filter((flag) => flag !== "--minor-ms").join(",")
            }"`,
        )
        .replace(
          /^session_v8_flags="\$\{v8_flags:\+\$v8_flags,\}/m,
          'session_v8_flags="${v8_flags:+$v8_flags,}--minor-ms,',
        );
      assert.notEqual(split, flags);
      await Deno.writeTextFile(flagsFile, split);
      const refused = await installFrom(source, prefix);
      assert.equal(refused.code, 1, refused.stderr);
      assert.equal(
        refused.stderr.trim(),
        "install.sh: the login face's V8 flags and the other faces' need different code caches (scripts/runtime_flags.sh: give both the same cache-checked flags)",
      );
      // Nothing installed (the staging tree is gone).
      assert.deepEqual(await listTree(prefix), ["bin", "lib"]);
    } finally {
      await Deno.remove(source, { recursive: true });
      await Deno.remove(prefix, { recursive: true });
    }
  },
});

Deno.test({
  name:
    "sources that do not build fail the install in one line and the previous install keeps working",
  ...e2e,
  async fn() {
    await ensureTestAccounts();
    const prefix = await makeSharedTempDir("sshproxy-install-broken-");
    const source = await sourceCopy();
    try {
      const first = await run(["bash", SCRIPT, "--prefix", prefix], {
        timeoutMs: 180_000,
      });
      assert.equal(first.code, 0, first.stderr);
      const launcher = await Deno.readTextFile(
        `${prefix}/lib/sshproxy/bin/sshproxy-launcher`,
      );
      await Deno.writeTextFile(
        `${source}/src/cli/proxy.ts`,
        "export const = ;\n",
        { append: true },
      );
      const broken = await installFrom(source, prefix);
      assert.equal(broken.code, 1, broken.stderr);
      assert.match(
        broken.stderr,
        /^bundle: cannot build .*app\/sshproxy\.js from src\/cli\/entries\/sshproxy\.ts: /,
      );
      assert.equal(broken.stderr.trim().split("\n").length, 1, broken.stderr);
      assert.deepEqual(await listTree(prefix), EXPECTED);
      assert.equal(
        await Deno.readTextFile(`${prefix}/lib/sshproxy/bin/sshproxy-launcher`),
        launcher,
      );
      const version = await runAs(USERS.user1, [
        `${prefix}/bin/sshproxy`,
        "-version",
      ]);
      assert.equal(version.code, 0, version.stderr);
      assert.match(version.stderr, /^sshproxy version /);
    } finally {
      await Deno.remove(source, { recursive: true });
      await Deno.remove(prefix, { recursive: true });
    }
  },
});

Deno.test({
  name:
    "a missing prebuilt module is one line naming it and the fix, exit 1, at every name",
  ...e2e,
  async fn() {
    await ensureTestAccounts();
    const prefix = await makeSharedTempDir("sshproxy-install-missing-");
    try {
      const first = await run(["bash", SCRIPT, "--prefix", prefix], {
        timeoutMs: 180_000,
      });
      assert.equal(first.code, 0, first.stderr);
      const app = `${prefix}/lib/sshproxy/app`;
      await Deno.remove(`${app}/sshproxy-replay.js`);
      await Deno.remove(`${app}/main.js`);
      const replay = await runAs(USERS.user1, [
        `${prefix}/bin/sshproxy-replay`,
        "-version",
      ]);
      assert.equal(replay.code, 1);
      assert.equal(
        replay.stderr,
        `sshproxy-replay: ${app}/sshproxy-replay.js is missing (reinstall: scripts/install.sh --prefix ${prefix})\n`,
      );
      const other = await runAs(USERS.user1, [
        `${prefix}/lib/sshproxy/bin/sshproxy-launcher`,
        "proxy",
        "-version",
      ]);
      assert.equal(other.code, 1);
      assert.match(other.stderr, /^sshproxy-launcher: .*\/main\.js is missing/);
      // The other faces still run.
      const version = await runAs(USERS.user1, [
        `${prefix}/bin/sshproxy`,
        "-version",
      ]);
      assert.equal(version.code, 0, version.stderr);
    } finally {
      await Deno.remove(prefix, { recursive: true });
    }
  },
});

Deno.test({
  name:
    "the launcher clears every DENO_ variable and NODE_OPTIONS a user sets, multi-line values included",
  ...e2e,
  async fn() {
    await ensureTestAccounts();
    const product = await installed();
    const dir = await makeSharedTempDir("sshproxy-launcher-env-");
    try {
      await Deno.chmod(dir, 0o1777);
      const result = await runAs(USERS.user1, [product.sshproxy, "-version"], {
        env: {
          // Each would change what runs or where Deno writes, if it reached it.
          DENO_DIR: `${dir}/deno-dir`,
          DENO_V8_FLAGS: "--help",
          DENO_CERT: `${dir}/nonexistent.pem`,
          DENO_SOMETHING_NEW: "1",
          NODE_OPTIONS: "--require /nonexistent.js",
          // A value that looks like more variables must not hide one.
          SSHPROXY_TRICK: "a\nexport DENO_FAKE='x'\nb",
        },
      });
      assert.equal(result.code, 0, result.stderr);
      assert.match(result.stderr, /^sshproxy version \S+\n$/);
      assert.equal(result.stdout, "");
      assert.equal(
        await Deno.lstat(`${dir}/deno-dir`).then(() => true, () => false),
        false,
        "DENO_DIR reached Deno",
      );
      // Seen from the face itself: what the launcher passed on.
      const env = await runAs(USERS.user1, [
        product.sshproxy,
        "/nonexistent.yaml",
      ], {
        env: {
          DENO_V8_FLAGS: "--max-old-space-size=1",
          DENO_NO_PROMPT: "",
          SSH_CONNECTION: "127.0.0.1 1 127.0.0.1 22",
        },
      });
      assert.equal(env.code, 1);
      assert.match(env.stderr, /^sshproxy: \/nonexistent\.yaml: cannot read/);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
