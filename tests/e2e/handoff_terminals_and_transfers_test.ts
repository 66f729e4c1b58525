// Hand-off (sshproxy(8), HAND-OFF) with what users really run: a terminal
// (`ssh -tt` in tmux: prompt, typed input, window size and its changes)
// and file transfers (scp in both protocols, sftp through the translated
// subsystem, rsync), byte for byte, every session handed off to the
// gateway's ssh with nothing of ours left while it runs.
import assert from "node:assert/strict";
import {
  findSftpServer,
  run,
  runAs,
  SSH_OPTIONS,
  sshArgv,
  USERS,
} from "../harness/mod.ts";
import { e2e, type ProxyGateway, startProxyGateway } from "./gateway.ts";
import { gatewayProcesses, gatewaySsh, isOurs } from "./handoff_env.ts";
import { tmuxAs } from "./tmux.ts";

const user = USERS.fedora;

/** How many sessions of `user` the log says were handed off. */
async function handedOff(gw: ProxyGateway): Promise<number> {
  const log = await gw.readLog(user);
  return (log.match(/: handed off to ssh, pid \d+:/g) ?? []).length;
}

Deno.test({
  name:
    "a handed-off terminal session shows the prompt, runs typed input and follows window resizes",
  ...e2e,
  async fn() {
    await using gw = await startProxyGateway();
    await gw.writeConfig(gw.basicConfig({ extra: "handoff: true" }));
    const socket = `${gw.logDir}/tmux.sock`;
    const terminal = tmuxAs(user, socket);
    try {
      await terminal.start(
        sshArgv(user, {
          port: gw.gateway.ports[2023],
          host: gw.gateway.host,
          tty: true,
        }),
        { columns: 100, rows: 30 },
      );
      const prompt = await terminal.waitForPrompt();
      assert.ok(prompt, `no prompt:\n${await terminal.screen()}`);
      const processes = await gatewayProcesses(gw);
      assert.equal(gatewaySsh(processes).length, 1);
      assert.deepEqual(
        processes.filter((process) => isOurs(process, gw.product)).map((
          process,
        ) => process.argv.join(" ")),
        [],
      );

      await terminal.typeLine(
        "echo host=$SSHPROXY_TEST_HOST tty=$(tty | cut -c1-8)",
      );
      await terminal.waitForLine("host=server1 tty=/dev/pts");
      await terminal.typeLine("stty size");
      await terminal.waitForLine("30 100");
      await terminal.resizeTo(120, 40);
      await terminal.typeLine("exit 5");
      assert.ok(
        await terminal.ended(5_000),
        "the session did not end after exit",
      );
      assert.equal(await handedOff(gw), 1);
    } finally {
      await terminal.kill();
    }
  },
});

/** A directory owned by the test user inside the gateway's shared dir. */
async function userDir(gw: ProxyGateway, name: string): Promise<string> {
  const dir = `${gw.logDir}/${name}`;
  await Deno.mkdir(dir);
  await run(["chown", `${user}:`, dir]);
  return dir;
}

async function randomFile(path: string, size: number): Promise<string> {
  const data = new Uint8Array(size);
  for (let offset = 0; offset < size; offset += 65536) {
    crypto.getRandomValues(data.subarray(offset, offset + 65536));
  }
  await Deno.writeFile(path, data);
  await run(["chown", `${user}:`, path]);
  return await digest(path);
}

async function digest(path: string): Promise<string> {
  const data = await Deno.readFile(path).catch(() => new Uint8Array());
  const hash = await crypto.subtle.digest("SHA-256", data);
  return `${data.length}:${
    [...new Uint8Array(hash)].map((b) => b.toString(16).padStart(2, "0"))
      .join("")
  }`;
}

Deno.test({
  name:
    "scp (both protocols), sftp and rsync through hand-off move 10 MB byte for byte",
  ...e2e,
  async fn() {
    await using gw = await startProxyGateway();
    const sftpServer = await findSftpServer();
    const sftpArgs = [
      "-oForwardX11=no",
      "-oForwardAgent=no",
      "-oPermitLocalCommand=no",
      "-oClearAllForwardings=yes",
      "-s",
    ];
    await gw.writeConfig(gw.basicConfig({
      extra: `handoff: true
translate_commands:
  ${JSON.stringify(sftpServer)}:
    ssh_args: ${JSON.stringify(sftpArgs)}
    command: sftp
`,
    }));
    const dir = await userDir(gw, "transfers");
    const source = await randomFile(`${dir}/source.bin`, 10 * 1024 * 1024 + 3);
    const remote = `${user}@${gw.gateway.host}`;
    const port = String(gw.gateway.ports[2023]);
    let sessions = 0;
    for (const legacy of [false, true]) {
      const scp = (from: string, to: string) =>
        runAs(user, [
          "/usr/bin/scp",
          ...SSH_OPTIONS,
          ...(legacy ? ["-O"] : []),
          "-P",
          port,
          from,
          to,
        ]);
      const up = await scp(
        `${dir}/source.bin`,
        `${remote}:${dir}/up-${legacy}`,
      );
      assert.equal(up.code, 0, up.stderr);
      assert.equal(await digest(`${dir}/up-${legacy}`), source);
      const down = await scp(
        `${remote}:${dir}/source.bin`,
        `${dir}/down-${legacy}`,
      );
      assert.equal(down.code, 0, down.stderr);
      assert.equal(await digest(`${dir}/down-${legacy}`), source);
      sessions += 2;
    }
    const batch = `${dir}/batch`;
    await Deno.writeTextFile(
      batch,
      `get ${dir}/source.bin ${dir}/sftp-down\nput ${dir}/source.bin ${dir}/sftp-up\n`,
    );
    const sftp = await runAs(user, [
      "/usr/bin/sftp",
      ...SSH_OPTIONS,
      "-P",
      port,
      "-b",
      batch,
      remote,
    ]);
    assert.equal(sftp.code, 0, sftp.stderr);
    assert.equal(await digest(`${dir}/sftp-down`), source);
    assert.equal(await digest(`${dir}/sftp-up`), source);
    sessions += 1;
    const rsh = [
      "/usr/bin/ssh",
      ...SSH_OPTIONS,
      "-T",
      "-p",
      port,
    ].join(" ");
    const rsyncUp = await runAs(user, [
      "rsync",
      "-a",
      "-e",
      rsh,
      `${dir}/source.bin`,
      `${remote}:${dir}/rsync-up`,
    ]);
    assert.equal(rsyncUp.code, 0, rsyncUp.stderr);
    assert.equal(await digest(`${dir}/rsync-up`), source);
    const rsyncDown = await runAs(user, [
      "rsync",
      "-a",
      "-e",
      rsh,
      `${remote}:${dir}/source.bin`,
      `${dir}/rsync-down`,
    ]);
    assert.equal(rsyncDown.code, 0, rsyncDown.stderr);
    assert.equal(await digest(`${dir}/rsync-down`), source);
    sessions += 2;
    assert.equal(await handedOff(gw), sessions, await gw.readLog(user));
  },
});
