// Signals once a session is handed off (sshproxy(8), HAND-OFF): the
// gateway's ssh is the process sshd started, so what sshd or an admin
// sends the session reaches ssh itself. A terminal session whose client
// vanishes is hung up: ssh gets SIGHUP and the destination's shell goes.
// SIGTERM to the session ends it as it ends ssh. A session without a
// terminal ends when the destination's command sees the end of its input.
import assert from "node:assert/strict";
import { spawnAs, sshArgv, USERS } from "../harness/mod.ts";
import { alive, e2e, startProxyGateway, waitFor } from "./gateway.ts";
import { gatewayProcesses, gatewaySsh, isOurs } from "./handoff_env.ts";
import { tmuxAs } from "./tmux.ts";

const user = USERS.fedora;

/** A number no other run or test uses as a sleep duration. */
function uniqueSeconds(): number {
  return 100_000 + Math.floor(Math.random() * 800_000);
}

/** pids of processes whose argv is exactly `argv`. */
async function running(argv: string[]): Promise<number[]> {
  const found: number[] = [];
  const wanted = argv.join("\0") + "\0";
  for await (const entry of Deno.readDir("/proc")) {
    if (!/^\d+$/.test(entry.name)) continue;
    const cmdline = await Deno.readTextFile(`/proc/${entry.name}/cmdline`)
      .catch(() => "");
    if (cmdline === wanted) found.push(Number(entry.name));
  }
  return found;
}

Deno.test({
  name:
    "the client of a handed-off terminal session vanishing hangs up the gateway's ssh and the destination's shell",
  ...e2e,
  async fn() {
    await using gw = await startProxyGateway();
    await gw.writeConfig(gw.basicConfig({ extra: "handoff: true" }));
    const seconds = String(uniqueSeconds());
    const socket = `${gw.logDir}/tmux.sock`;
    const terminal = tmuxAs(user, socket);
    let ssh: number | undefined;
    try {
      await terminal.start(
        sshArgv(user, {
          port: gw.gateway.ports[2023],
          host: gw.gateway.host,
          tty: true,
          command: `sleep ${seconds}`,
        }),
      );
      const started = await waitFor(async () => {
        const processes = await gatewayProcesses(gw);
        const found = gatewaySsh(processes);
        return found.length === 1 &&
            (await running(["sleep", seconds])).length === 1
          ? { processes, ssh: found[0] }
          : undefined;
      }, 10_000);
      assert.ok(started, "the session never started");
      ssh = started.ssh.pid;
      assert.deepEqual(
        started.processes.filter((process) => isOurs(process, gw.product)),
        [],
      );
    } finally {
      // The client's terminal goes away, its ssh with it.
      await terminal.kill();
    }
    const ended = await waitFor(
      async () =>
        !(await alive(ssh!)) &&
        (await running(["sleep", seconds])).length === 0,
      5_000,
    );
    assert.ok(
      ended,
      `left: gateway ssh ${await alive(ssh!)}, sleep ${await running([
        "sleep",
        seconds,
      ])}`,
    );
  },
});

Deno.test({
  name:
    "SIGTERM to a handed-off session's process ends its ssh, and the client sees ssh's status",
  ...e2e,
  async fn() {
    await using gw = await startProxyGateway();
    await gw.writeConfig(gw.basicConfig({ extra: "handoff: true" }));
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
    const found = await waitFor(async () => {
      const processes = await gatewayProcesses(gw);
      const ssh = gatewaySsh(processes);
      return ssh.length === 1 ? { processes, ssh: ssh[0] } : undefined;
    }, 10_000);
    assert.ok(found, "no gateway ssh");
    const parent = found.processes.find((p) => p.pid === found.ssh.ppid);
    assert.equal(parent?.exe, "/usr/sbin/sshd");
    Deno.kill(found.ssh.pid, "SIGTERM");
    const result = await session.result();
    assert.equal(result.timedOut, false);
    // ssh's own answer to SIGTERM.
    assert.equal(result.code, 255);
    assert.equal(await alive(found.ssh.pid), false);
  },
});

Deno.test({
  name:
    "a handed-off session without a terminal ends when its client vanishes and the destination's command reads its input",
  ...e2e,
  async fn() {
    await using gw = await startProxyGateway();
    await gw.writeConfig(gw.basicConfig({ extra: "handoff: true" }));
    const seconds = String(uniqueSeconds());
    // `cat` ends at the end of its input; the sleep marks the session.
    // The client's input stays open (a pipe nobody writes) until it dies.
    const session = await spawnAs(user, [
      "/bin/sh",
      "-c",
      'sleep 600 | "$@"',
      "sh",
      ...sshArgv(user, {
        port: gw.gateway.ports[2023],
        host: gw.gateway.host,
        command: `sleep ${seconds} & cat; kill $!`,
      }),
    ], { timeoutMs: 30_000 });
    const found = await waitFor(async () => {
      const ssh = gatewaySsh(await gatewayProcesses(gw));
      return ssh.length === 1 && (await running(["sleep", seconds])).length
        ? ssh[0]
        : undefined;
    }, 10_000);
    assert.ok(found, "the session never started");
    session.kill("SIGKILL");
    await session.result();
    const ended = await waitFor(
      async () =>
        !(await alive(found.pid)) &&
        (await running(["sleep", seconds])).length === 0,
      5_000,
    );
    assert.ok(ended, `the gateway's ssh ${found.pid} outlived its client`);
  },
});
