// Hand-off (sshproxy(8), HAND-OFF) through a real gateway: with
// `handoff: true` a session that needs nothing of ours ends with the
// gateway's ssh as the very process sshd started, and nothing of ours in
// the session's process tree; what the user sees (output, exit status, a
// signal death on the destination) is what they see without hand-off; the
// plan file never stays in /tmp; and nothing a user sends (a command full
// of quotes, newlines and substitutions, SSHPROXY_ARGS, TMPDIR, variables
// named like the launcher's) runs anything on the gateway.
import assert from "node:assert/strict";
import {
  ensureTestAccounts,
  spawnAs,
  sshArgv,
  sshAs,
  USERS,
} from "../harness/mod.ts";
import {
  e2e,
  type ProxyGateway,
  startProxyGateway,
  waitFor,
} from "./gateway.ts";
import {
  gatewayProcesses,
  gatewaySsh,
  isOurs,
  planFilesOf,
} from "./handoff_env.ts";

const user = USERS.fedora;

function handoffConfig(gw: ProxyGateway, handoff: boolean, extra = ""): string {
  return gw.basicConfig({ extra: `handoff: ${handoff}\n${extra}` });
}

Deno.test({
  name:
    "a handed-off session leaves its ssh as the process sshd started, nothing of ours, and no plan file",
  ...e2e,
  async fn() {
    const accounts = await ensureTestAccounts();
    await using gw = await startProxyGateway();
    await gw.writeConfig(handoffConfig(gw, true));
    const session = await spawnAs(
      user,
      sshArgv(user, {
        port: gw.gateway.ports[2023],
        host: gw.gateway.host,
        command: "sleep 3; echo $SSHPROXY_TEST_HOST",
      }),
      { timeoutMs: 30_000 },
    );
    await using _ = session;
    const during = await waitFor(async () => {
      const processes = await gatewayProcesses(gw);
      return gatewaySsh(processes).length > 0 ? processes : undefined;
    }, 10_000);
    assert.ok(during, "no gateway ssh seen");
    // Let anything that would outlive the start of ssh show up.
    await new Promise((resolve) => setTimeout(resolve, 500));
    const processes = await gatewayProcesses(gw);
    const ours = processes.filter((process) => isOurs(process, gw.product));
    assert.deepEqual(
      ours.map((process) => process.argv.join(" ")),
      [],
      "a process of ours stays",
    );
    const [ssh] = gatewaySsh(processes);
    assert.equal(gatewaySsh(processes).length, 1);
    const parent = processes.find((process) => process.pid === ssh.ppid);
    assert.equal(parent?.exe, "/usr/sbin/sshd", "ssh's parent is sshd");
    assert.ok(
      ssh.fds.every((fd) =>
        !fd.includes("sshproxy-plan") && !fd.startsWith(gw.product.prefix)
      ),
      `ssh keeps a file of ours open: ${ssh.fds.join(" ")}`,
    );
    assert.deepEqual(await planFilesOf(accounts[user].uid), []);

    const result = await session.result();
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stdout, "server1\n");
    assert.deepEqual(await planFilesOf(accounts[user].uid), []);
    const log = await gw.readLog(user);
    assert.match(
      log,
      / INFO [0-9A-F]{10}: proxied to 127\.0\.0\.11:\d+ \(service: default\)\n/,
    );
    assert.match(
      log,
      new RegExp(
        ` INFO [0-9A-F]{10}: handed off to ssh, pid ${ssh.pid}: the end of the session is not logged here\n$`,
      ),
    );
    assert.doesNotMatch(log, /disconnected/);
  },
});

Deno.test({
  name:
    "exit statuses, output and a signal death on the destination are the same with and without hand-off",
  ...e2e,
  async fn() {
    await using gw = await startProxyGateway();
    const commands = [
      "echo out; echo err >&2; exit 0",
      "echo three; exit 3",
      "exit 255",
      "kill -KILL $$",
      "printf 'no newline'; exit 77",
    ];
    const outcomes = async (handoff: boolean) => {
      await gw.writeConfig(handoffConfig(gw, handoff, "debug: true"));
      const results = [];
      for (const command of commands) {
        const result = await sshAs(user, {
          port: gw.gateway.ports[2023],
          host: gw.gateway.host,
          command,
        });
        results.push({
          command,
          code: result.code,
          stdout: result.stdout,
          stderr: result.stderr,
        });
      }
      return results;
    };
    const without = await outcomes(false);
    const withHandoff = await outcomes(true);
    assert.deepEqual(withHandoff, without);
    assert.deepEqual(without.map((outcome) => outcome.code), [
      0,
      3,
      255,
      255,
      77,
    ]);
    const log = await gw.readLog(user);
    assert.equal(
      (log.match(/: handed off to ssh, pid \d+/g) ?? []).length,
      commands.length,
      log,
    );
  },
});

Deno.test({
  name:
    "hostile commands, SSHPROXY_ARGS, TMPDIR and variables named like the launcher's run nothing on the gateway",
  ...e2e,
  async fn() {
    const accounts = await ensureTestAccounts();
    // The gateway accepts, on purpose, what an admin must never accept:
    // the launcher's own variable names and TMPDIR.
    const names = [
      "SSHPROXY_ARGS",
      "SSHPROXY_HANDOFF",
      "SSHPROXY_SSHD",
      "SSLKEYLOGFILE",
      "NODE_OPTIONS",
      "DENO_DIR",
      "TMPDIR",
      "child",
      "plan",
      "status",
      "line",
      "uuid",
      "label",
      "mask",
      "lib",
      "module",
      "cache",
    ];
    await using gw = await startProxyGateway({
      gatewayExtraConfig: [`AcceptEnv ${names.join(" ")}`],
    });
    await gw.writeConfig(handoffConfig(gw, true, "debug: true"));
    const marks = `${gw.logDir}/marks`;
    await Deno.mkdir(marks, { mode: 0o1777 });
    await Deno.chmod(marks, 0o1777);
    const tmpdir = `${gw.logDir}/user-tmp`;
    await Deno.mkdir(tmpdir, { mode: 0o1777 });
    await Deno.chmod(tmpdir, 0o1777);
    const inject =
      `$(touch ${marks}/dollar)\`touch ${marks}/backquote\`';touch ${marks}/quote;'\ntouch ${marks}/newline`;
    const env: Record<string, string> = {
      SSHPROXY_ARGS: "-T",
      SSHPROXY_HANDOFF: `${marks}/planted`,
      SSHPROXY_SSHD: "1",
      SSLKEYLOGFILE: `${marks}/keys`,
      NODE_OPTIONS: `--require ${marks}/node.js`,
      DENO_DIR: `${marks}/deno`,
      TMPDIR: tmpdir,
      child: "1",
      plan: `${marks}/plan`,
      status: "97",
      line: "# sshproxy hand-off plan",
      uuid: "../../../tmp/x",
      label: "Umask:",
      mask: "000",
      lib: marks,
      module: inject,
      cache: inject,
    };
    // The words the destination must receive, quoted for its shell: each
    // arrives as is, and any of them run by a shell on the gateway would
    // leave a mark.
    const words = [
      "it's",
      "'",
      `$(touch ${marks}/w1)`,
      `\`touch ${marks}/w2\``,
      `a\nb;touch ${marks}/w3`,
      "\\'",
    ];
    const quoted = words.map((word) => `'${word.replaceAll("'", `'\\''`)}'`);
    const command = `printf '[%s]' ${quoted.join(" ")}`;
    const result = await sshAs(user, {
      port: gw.gateway.ports[2023],
      host: gw.gateway.host,
      command,
      extraArgs: names.flatMap((name) => ["-o", `SendEnv=${name}`]),
    }, { env });
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stdout, words.map((word) => `[${word}]`).join(""));
    const left = [];
    for await (const entry of Deno.readDir(marks)) left.push(entry.name);
    assert.deepEqual(left, [], "something ran on the gateway");
    for await (const entry of Deno.readDir(tmpdir)) {
      assert.fail(`the launcher wrote to TMPDIR: ${entry.name}`);
    }
    assert.deepEqual(await planFilesOf(accounts[user].uid), []);
    const log = await gw.readLog(user);
    assert.match(log, /: handed off to ssh, pid \d+/, log);
    // SSHPROXY_ARGS took effect; variables named like the launcher's are
    // the launcher's alone: none reaches the session, neither the user's
    // value nor the launcher's; nor do the runtime's knobs.
    assert.match(log, /: command = ssh .*"none" "-T" /);
    for (
      const name of names.filter((name) =>
        !/^(SSHPROXY_ARGS|TMPDIR)$/.test(name)
      )
    ) {
      assert.doesNotMatch(log, new RegExp(`env = ${name}=`), name);
    }
    assert.match(log, new RegExp(`env = TMPDIR=${tmpdir}\n`));

    // A command refused for its SSHPROXY_ARGS is refused before any hand-off.
    const refused = await sshAs(user, {
      port: gw.gateway.ports[2023],
      host: gw.gateway.host,
      command: "true",
      extraArgs: ["-o", "SendEnv=SSHPROXY_ARGS"],
    }, { env: { SSHPROXY_ARGS: `-oProxyCommand=touch ${marks}/proxy` } });
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /SSHPROXY_ARGS: option .* is not allowed/);
    const after = [];
    for await (const entry of Deno.readDir(marks)) after.push(entry.name);
    assert.deepEqual(after, []);
    assert.deepEqual(await planFilesOf(accounts[user].uid), []);
  },
});
