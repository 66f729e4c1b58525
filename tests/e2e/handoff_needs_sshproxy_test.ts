// Sessions that need sshproxy while they run are never handed off
// (sshproxy(8), HAND-OFF): a recorded session, one with a bg_command, or
// any session of a file without `handoff: true`. They run as before, the
// proxy a child of the launcher (the process sshd started), which passes
// on what is sent to it: SIGTERM or SIGHUP to the session's process ends
// the session as they ended the proxy. A refused session leaves nothing.
import assert from "node:assert/strict";
import {
  ensureTestAccounts,
  spawnAs,
  sshArgv,
  sshAs,
  USERS,
} from "../harness/mod.ts";
import {
  alive,
  e2e,
  type ProxyGateway,
  startProxyGateway,
  waitFor,
} from "./gateway.ts";
import {
  gatewayProcesses,
  gatewaySsh,
  planFilesOf,
  type SessionProcess,
} from "./handoff_env.ts";

const user = USERS.fedora;

/** A number no other run or test uses as a sleep duration. */
function uniqueSeconds(): number {
  return 100_000 + Math.floor(Math.random() * 800_000);
}

/** The proxy (deno running the installed app/sshproxy.js) among `processes`. */
function proxies(
  gw: ProxyGateway,
  processes: SessionProcess[],
): SessionProcess[] {
  const script = `${gw.product.prefix}/lib/sshproxy/app/sshproxy.js`;
  return processes.filter((process) => process.argv.includes(script));
}

/** Runs `command` through the gateway; returns the result and the processes seen while ssh ran. */
async function sessionSeen(gw: ProxyGateway, command: string) {
  const session = await spawnAs(
    user,
    sshArgv(user, {
      port: gw.gateway.ports[2023],
      host: gw.gateway.host,
      command,
    }),
    { timeoutMs: 30_000 },
  );
  const during = await waitFor(async () => {
    const processes = await gatewayProcesses(gw);
    return gatewaySsh(processes).length === 1 ? processes : undefined;
  }, 10_000);
  const result = await session.result();
  assert.ok(during, "no gateway ssh seen");
  return { result, during };
}

Deno.test({
  name:
    "recorded sessions, sessions with a bg_command and files without handoff are not handed off",
  ...e2e,
  async fn() {
    const accounts = await ensureTestAccounts();
    await using gw = await startProxyGateway();
    const cases: [extra: string, why: string | undefined][] = [
      [
        `handoff: true\ndump: ${gw.logDir}/{user}-{sid}.dump`,
        "the session is recorded (dump)",
      ],
      [
        `handoff: true\nbg_command: /bin/sleep ${uniqueSeconds()}`,
        "bg_command runs beside it",
      ],
      ["handoff: false", undefined],
      ["", undefined],
    ];
    for (const [extra, why] of cases) {
      await gw.writeConfig(gw.basicConfig({ extra: `debug: true\n${extra}` }));
      const before = (await gw.readLog(user)).length;
      const { result, during } = await sessionSeen(
        gw,
        "sleep 2; echo $SSHPROXY_TEST_HOST; exit 4",
      );
      assert.equal(result.code, 4, `${extra}: ${result.stderr}`);
      assert.equal(result.stdout, "server1\n");
      const [proxy] = proxies(gw, during);
      assert.ok(proxy, `${extra}: no proxy beside ssh`);
      // The proxy is the launcher's child, the launcher sshd's.
      const launcher = during.find((process) => process.pid === proxy.ppid);
      assert.ok(launcher?.argv.includes(gw.product.sshproxy), extra);
      const log = (await gw.readLog(user)).slice(before);
      if (why === undefined) assert.doesNotMatch(log, /handed off/);
      else {assert.match(
          log,
          new RegExp(
            `: not handed off to ssh: ${why.replace(/[()]/g, "\\$&")}\n`,
          ),
        );}
      assert.match(log, / INFO [0-9A-F]{10}: disconnected\n$/);
      assert.deepEqual(await planFilesOf(accounts[user].uid), []);
    }
  },
});

for (
  const [signal, name] of [["SIGTERM", "terminated"], ["SIGHUP", "hangup"]] as [
    Deno.Signal,
    string,
  ][]
) {
  Deno.test({
    name:
      `${signal} to the process sshd started reaches a session that was not handed off, as it reached the proxy`,
    ...e2e,
    async fn() {
      await using gw = await startProxyGateway();
      await gw.writeConfig(
        gw.basicConfig({ extra: `handoff: true\nbg_command: /bin/true` }),
      );
      const session = await spawnAs(
        user,
        sshArgv(user, {
          port: gw.gateway.ports[2023],
          host: gw.gateway.host,
          command: `sleep ${uniqueSeconds()}`,
        }),
        { timeoutMs: 30_000 },
      );
      await using _ = session;
      const during = await waitFor(async () => {
        const processes = await gatewayProcesses(gw);
        return gatewaySsh(processes).length === 1 &&
            proxies(gw, processes).length === 1
          ? processes
          : undefined;
      }, 10_000);
      assert.ok(during, "the session never started");
      const [proxy] = proxies(gw, during);
      const [ssh] = gatewaySsh(during);
      // Let the session settle into its wait before the signal.
      await new Promise((resolve) => setTimeout(resolve, 200));
      Deno.kill(proxy.ppid, signal);
      const ended = await waitFor(
        async () =>
          !(await alive(proxy.ppid)) && !(await alive(proxy.pid)) &&
          !(await alive(ssh.pid)),
        1_500,
      );
      assert.ok(ended, "the launcher, the proxy or ssh outlived the signal");
      const result = await session.result();
      assert.notEqual(result.code, 0);
      const log = await gw.readLog(user);
      assert.match(
        log,
        new RegExp(` INFO [0-9A-F]{10}: Got signal ${name}, exiting\n`),
      );
      assert.match(log, / INFO [0-9A-F]{10}: disconnected\n$/);
    },
  });
}

Deno.test({
  name:
    "a refused session under hand-off exits with its status and leaves neither process nor plan file",
  ...e2e,
  async fn() {
    const accounts = await ensureTestAccounts();
    await using gw = await startProxyGateway();
    await gw.writeConfig(
      gw.basicConfig({
        extra:
          "handoff: true\nforce_command: /bin/true\ncommand_must_match: true",
      }),
    );
    const result = await sshAs(user, {
      port: gw.gateway.ports[2023],
      host: gw.gateway.host,
      command: "echo nope",
    });
    assert.equal(result.code, 1);
    assert.equal(result.stdout, "");
    assert.match(result.stderr, /does not match forceCommand/);
    const gone = await waitFor(
      async () => (await gatewayProcesses(gw)).length === 0,
      3_000,
    );
    assert.ok(gone, JSON.stringify(await gatewayProcesses(gw)));
    assert.deepEqual(await planFilesOf(accounts[user].uid), []);
  },
});
