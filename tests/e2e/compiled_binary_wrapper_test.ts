// `install.sh --binary FILE` puts the compiled binary behind a wrapper
// script: the user's DENO_*, NODE_OPTIONS and SSLKEYLOGFILE (which a
// compiled binary would honour) never reach it, each name runs its face,
// and the proxy can hand its session off to ssh as under the launcher.
// `deno compile` cannot get its runtime here, so the binary is a stand-in
// that runs the installed program's main module exactly as the compiled
// binary does (face by name, else by the first argument) and records the
// environment it was given.
import assert from "node:assert/strict";
import {
  ensureTestAccounts,
  makeSharedTempDir,
  run,
  runAs,
  spawnAs,
  sshArgv,
  startTopology,
  USERS,
} from "../harness/mod.ts";
import { e2e, waitFor } from "./gateway.ts";
import { gatewaySsh, type SessionProcess } from "./handoff_env.ts";
import { installed, sharedWritableDir } from "./installed.ts";
import { descendants } from "../harness/process.ts";

const SCRIPT = new URL("../../scripts/install.sh", import.meta.url).pathname;
const user = USERS.fedora;

/** A stand-in for dist/sshproxy, recording its environment under `envDir`. */
async function standIn(dir: string, envDir: string): Promise<string> {
  const product = await installed();
  const lib = `${product.prefix}/lib/sshproxy`;
  const launcher = await Deno.readTextFile(`${lib}/bin/sshproxy-launcher`);
  const flags = /set -- "\$lib\/bin\/deno" (.*?) --config /.exec(launcher);
  assert.ok(flags, "the launcher's layout changed");
  const path = `${dir}/sshproxy-standin`;
  await Deno.writeTextFile(
    path,
    `#!/bin/sh
env >'${envDir}/env.'$$
SSHPROXY_ARGV0=$0 DENO_DIR='${lib}/cache' DENO_NO_UPDATE_CHECK=1 NO_COLOR=1 \\
  exec '${lib}/bin/deno' ${
      flags[1]
    } --config '${lib}/deno.json' '${lib}/app/main.js' "$@"
`,
  );
  await Deno.chmod(path, 0o755);
  return path;
}

async function processTree(sshdPidFile: string): Promise<SessionProcess[]> {
  const root = Number((await Deno.readTextFile(sshdPidFile)).trim());
  const found: SessionProcess[] = [];
  for (const pid of await descendants([root])) {
    try {
      const stat = await Deno.readTextFile(`/proc/${pid}/stat`);
      found.push({
        pid,
        ppid: Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]),
        exe: await Deno.readLink(`/proc/${pid}/exe`).catch(() => ""),
        argv: (await Deno.readTextFile(`/proc/${pid}/cmdline`)).split("\0")
          .slice(0, -1),
        fds: [],
      });
    } catch {
      // gone meanwhile
    }
  }
  return found;
}

Deno.test({
  name:
    "behind its wrapper the compiled binary never sees DENO_*, NODE_OPTIONS nor SSLKEYLOGFILE, and hands sessions off to ssh",
  ...e2e,
  async fn() {
    await ensureTestAccounts();
    const product = await installed();
    const work = await sharedWritableDir("sshproxy-wrapper-");
    const envDir = `${work}/env`;
    await Deno.mkdir(envDir);
    await Deno.chmod(envDir, 0o1777);
    const prefix = await makeSharedTempDir("sshproxy-install-wrapper-");
    try {
      const installing = await run([
        "bash",
        SCRIPT,
        "--prefix",
        prefix,
        "--binary",
        await standIn(work, envDir),
      ]);
      assert.equal(installing.code, 0, installing.stderr);
      assert.equal(
        await Deno.readLink(`${prefix}/bin/sshproxy`),
        "../lib/sshproxy/bin/sshproxy",
      );
      const wrapper = await Deno.readTextFile(
        `${prefix}/lib/sshproxy/bin/sshproxy`,
      );
      assert.match(wrapper, /^#!\/bin\/sh\n# sshproxy wrapper/);
      // install.sh ran the binary itself (`proxy -version`): start afresh.
      const fresh = async () => {
        await Deno.remove(envDir, { recursive: true });
        await Deno.mkdir(envDir);
        await Deno.chmod(envDir, 0o1777);
      };
      await fresh();

      const version = await runAs(user, [
        `${prefix}/bin/sshproxy-replay`,
        "-version",
      ], {
        env: {
          DENO_DIR: `${work}/deno-dir`,
          DENO_V8_FLAGS: "--help",
          NODE_OPTIONS: "--require /nonexistent.js",
          SSLKEYLOGFILE: `${work}/keys.log`,
          SSHPROXY_TRICK: "a\nexport DENO_FAKE='x'\nb",
        },
      });
      assert.equal(version.code, 0, version.stderr);
      assert.match(version.stderr, /^sshproxy-replay version \S+\n$/);
      const recorded = [];
      for await (const entry of Deno.readDir(envDir)) {
        recorded.push(await Deno.readTextFile(`${envDir}/${entry.name}`));
      }
      assert.equal(recorded.length, 1);
      assert.doesNotMatch(
        recorded[0],
        /^(DENO_|NODE_OPTIONS=|SSLKEYLOGFILE=)/m,
      );
      assert.match(recorded[0], /^SSHPROXY_TRICK=a$/m);
      await fresh();

      // A gateway whose ForceCommand is the wrapper.
      const config = `${work}/sshproxy.yaml`;
      await using topology = await startTopology({
        forceCommand: `${prefix}/bin/sshproxy ${config}`,
      });
      const args = ["-q", ...topology.sshArgs].map((arg) =>
        JSON.stringify(arg)
      );
      await Deno.writeTextFile(
        config,
        `log: ${work}/sshproxy-{user}.log\nhandoff: true\nssh:\n  args: [${
          args.join(", ")
        }]\ndest: [${JSON.stringify(topology.servers.server1.address)}]\n`,
      );
      await Deno.chmod(config, 0o644);
      const session = await spawnAs(
        user,
        sshArgv(user, {
          port: topology.gateway.ports[2023],
          host: topology.gateway.host,
          command: "sleep 3; echo $SSHPROXY_TEST_HOST",
        }),
        { timeoutMs: 30_000 },
      );
      const sshdPid = `${topology.gateway.sshd.dir}/sshd.pid`;
      const during = await waitFor(async () => {
        const processes = await processTree(sshdPid);
        return gatewaySsh(processes).length === 1 ? processes : undefined;
      }, 10_000);
      assert.ok(during, "no gateway ssh seen");
      await new Promise((resolve) => setTimeout(resolve, 500));
      const processes = await processTree(sshdPid);
      const ours = processes.filter((process) =>
        [prefix, product.prefix].some((dir) =>
          process.exe.startsWith(`${dir}/`) ||
          process.argv.some((word) => word.startsWith(`${dir}/`))
        )
      );
      assert.deepEqual(ours.map((process) => process.argv.join(" ")), []);
      const [ssh] = gatewaySsh(processes);
      const result = await session.result();
      assert.equal(result.code, 0, result.stderr);
      assert.equal(result.stdout, "server1\n");
      const log = await Deno.readTextFile(`${work}/sshproxy-${user}.log`);
      assert.match(log, new RegExp(`: handed off to ssh, pid ${ssh.pid}:`));
      // The binary got the plan's name; nothing of the user's knobs.
      const [seen] = await Array.fromAsync(Deno.readDir(envDir));
      const environment = await Deno.readTextFile(`${envDir}/${seen.name}`);
      assert.match(environment, /^SSHPROXY_HANDOFF=\/tmp\/sshproxy-plan\./m);
    } finally {
      await run(["bash", SCRIPT, "--prefix", prefix, "--uninstall"]);
      await Deno.remove(prefix, { recursive: true });
      await Deno.remove(work, { recursive: true });
    }
  },
});
