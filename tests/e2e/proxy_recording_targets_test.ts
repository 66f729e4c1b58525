// Where recorded sessions go (spec §8.1, §8.5), through the real gateway:
// 20 concurrent sessions streamed to the installed sshproxy-dumpd land in
// 20 files holding exactly what each client got; an unwritable dump path,
// an unreachable collector and one that never reads cost the session
// nothing but one log line; `disable_dump` (sftp) and `dump: etcd` write no
// dump but log statistics, intermediate ones every log_stats_interval.
import assert from "node:assert/strict";
import {
  findSftpServer,
  freePort,
  run,
  runAs,
  SSH_OPTIONS,
  sshAs,
  USERS,
  waitForPort,
} from "../harness/mod.ts";
import { startService } from "../harness/process.ts";
import { e2e, type ProxyGateway, startProxyGateway } from "./gateway.ts";
import {
  findDumps,
  logLines,
  randomFile,
  readDump,
  sha256,
  streamBytes,
  userOwnedDir,
} from "./proxy_recording_helpers.ts";

const user = USERS.fedora;

function target(gw: ProxyGateway, command: string) {
  return {
    port: gw.gateway.ports[2023],
    host: gw.gateway.host,
    command,
  };
}

/** One log line per session start: its SID. */
function sessionIds(log: string): string[] {
  return logLines(log, " connected from ").map((line) =>
    / ([0-9A-F]{10}): /.exec(line)![1]
  );
}

Deno.test({
  name:
    "20 concurrent sessions streamed to the installed sshproxy-dumpd give 20 files with each client's bytes",
  ...e2e,
  async fn() {
    // sshd's default MaxStartups (10:30:100) randomly drops connections
    // once more than 10 are being authenticated at the same time.
    await using gw = await startProxyGateway({
      gatewayExtraConfig: ["MaxStartups 100"],
    });
    const output = `${gw.logDir}/collected`;
    const port = await freePort();
    const dumpd = startService(
      [gw.product.dumpd, "-listen", `127.0.0.1:${port}`, "-output", output],
      `${gw.logDir}/dumpd.log`,
    );
    try {
      assert.ok(
        await waitForPort("127.0.0.1", port, 30_000, dumpd.alive),
        await dumpd.log(),
      );
      const dir = await userOwnedDir(gw.logDir, "data", user);
      const source = await randomFile(`${dir}/source.bin`, 2_000_000, user);
      await gw.writeConfig(
        gw.basicConfig({ extra: `dump: "TCP:127.0.0.1:${port}"` }),
      );
      const sessions = Array.from({ length: 20 }, (_, i) => i);
      const results = await Promise.all(sessions.map((i) =>
        sshAs(
          user,
          target(
            gw,
            `echo session-${i}; head -c ${(i + 1) * 50_000} ${dir}/source.bin`,
          ),
          { timeoutMs: 60_000 },
        )
      ));
      for (const [i, result] of results.entries()) {
        assert.equal(result.code, 0, `session ${i}: ${result.stderr}`);
      }
      // The daemon writes as the streams arrive; each ends when its
      // session closes the connection.
      const log = await gw.readLog(user);
      const ids = sessionIds(log);
      assert.equal(ids.length, 20);
      let files: string[] = [];
      for (let tries = 0; tries < 100; tries++) {
        files = await findDumps(output);
        const dumpdLog = await dumpd.log();
        if (
          files.length === 20 && dumpdLog.split("] disconnected").length > 20
        ) break;
        await new Promise((r) => setTimeout(r, 100));
      }
      assert.equal(files.length, 20, files.join("\n"));
      const seen = new Set<number>();
      for (const file of files) {
        const sid = /-([0-9A-F]{10})\.dump$/.exec(file)![1];
        assert.ok(ids.includes(sid), `${file}: not a session of the log`);
        assert.ok(file.startsWith(`${output}/${user}/`));
        const { header, records } = await readDump(file);
        const command = new TextDecoder().decode(header.command);
        const i = Number(/session-([0-9]+)/.exec(command)![1]);
        seen.add(i);
        const stdout = streamBytes(records, 1);
        assert.deepEqual(stdout, results[i].stdoutBytes, `session ${i}`);
        assert.equal(
          await sha256(stdout.slice(`session-${i}\n`.length)),
          await sha256(source.slice(0, (i + 1) * 50_000)),
        );
      }
      assert.equal(seen.size, 20);
      assert.equal(logLines(log, "session recording").length, 0, log);
      assert.equal(logLines(log, "bytes transferred (final step)").length, 20);
    } finally {
      await dumpd.stop();
    }
  },
});

Deno.test({
  name:
    "an unwritable dump path: the session's output and status are intact, one log line says recording is off and why",
  ...e2e,
  async fn() {
    await using gw = await startProxyGateway();
    const locked = `${gw.logDir}/locked`;
    await Deno.mkdir(locked, { mode: 0o755 }); // root's: the user cannot write
    await gw.writeConfig(
      gw.basicConfig({ extra: `dump: "${locked}/{user}/{sid}.dump"` }),
    );
    const result = await sshAs(
      user,
      target(gw, "seq 1 20000; echo err >&2; exit 6"),
    );
    assert.equal(result.code, 6);
    assert.equal(result.stderr, "err\n");
    const expected = Array.from({ length: 20000 }, (_, i) => `${i + 1}\n`)
      .join("");
    assert.equal(result.stdout, expected);
    const log = await gw.readLog(user);
    const lines = logLines(log, "recording");
    assert.equal(lines.length, 1, log);
    assert.match(
      lines[0],
      new RegExp(
        ` ERROR [0-9A-F]{10}: session recording disabled due to error: creating directory ${locked}/${user}: mkdir ${locked}/${user}: permission denied$`,
      ),
    );
    assert.match(
      log,
      / bytes transferred \(final step\): duration=\d+s stdin=0 stdout=\d+ stderr=4\n/,
    );
    assert.equal((await findDumps(locked)).length, 0);
  },
});

Deno.test({
  name:
    "an unreachable collector: the session is intact and not delayed, one log line",
  ...e2e,
  async fn() {
    await using gw = await startProxyGateway();
    const port = await freePort(); // nothing listens there
    await gw.writeConfig(
      gw.basicConfig({ extra: `dump: "TCP:127.0.0.1:${port}"` }),
    );
    const result = await sshAs(user, target(gw, "echo hello; exit 4"));
    assert.equal(result.code, 4);
    assert.equal(result.stdout, "hello\n");
    const log = await gw.readLog(user);
    const lines = logLines(log, "recording");
    assert.equal(lines.length, 1, log);
    assert.match(
      lines[0],
      new RegExp(
        ` ERROR [0-9A-F]{10}: session recording disabled due to error connecting to host '127\\.0\\.0\\.1:${port}': dial tcp 127\\.0\\.0\\.1:${port}: connect: connection refused$`,
      ),
    );
  },
});

Deno.test({
  name:
    "a collector that accepts but never reads: the dump is dropped with an ERROR line, the 50 MB session arrives intact",
  ...e2e,
  async fn() {
    await using gw = await startProxyGateway();
    const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const held: Deno.Conn[] = [];
    const accepting = (async () => {
      for await (const conn of listener) held.push(conn);
    })();
    try {
      const dir = await userOwnedDir(gw.logDir, "data", user);
      const source = await randomFile(`${dir}/source.bin`, 50_000_000, user);
      await gw.writeConfig(
        gw.basicConfig({
          extra: `dump: "TCP:127.0.0.1:${listener.addr.port}"`,
        }),
      );
      const sshLine = [
        "/usr/bin/ssh",
        ...SSH_OPTIONS,
        "-T",
        "-p",
        String(gw.gateway.ports[2023]),
        `${user}@${gw.gateway.host}`,
        "--",
        `'cat ${dir}/source.bin'`,
      ].join(" ");
      const result = await runAs(
        user,
        ["sh", "-c", `${sshLine} > ${dir}/copy.bin`],
        { timeoutMs: 60_000 },
      );
      assert.equal(result.code, 0, result.stderr);
      assert.equal(
        await sha256(await Deno.readFile(`${dir}/copy.bin`)),
        await sha256(source),
      );
      const log = await gw.readLog(user);
      const lines = logLines(log, "recording");
      assert.match(
        lines[0],
        / ERROR [0-9A-F]{10}: session recording disabled: the dump target cannot keep up \(more than \d+ bytes waiting\)$/,
      );
      // The dropped dump's pending write to the stuck socket is aborted, so
      // there is exactly one line about recording.
      assert.equal(lines.length, 1, log);
      assert.match(log, / stdout=50000000 stderr=0\n/);
    } finally {
      listener.close();
      await accepting.catch(() => {});
      for (const conn of held) conn.close();
    }
  },
});

Deno.test({
  name:
    "sftp translated with disable_dump: no dump file, statistics only (the transfer counted)",
  ...e2e,
  async fn() {
    await using gw = await startProxyGateway();
    const dumps = `${gw.logDir}/dumps`;
    const sftpServer = await findSftpServer();
    await gw.writeConfig(gw.basicConfig({
      extra: `dump: "${dumps}/{user}/{sid}.dump"
translate_commands:
  ${JSON.stringify(sftpServer)}:
    ssh_args: ["-oForwardX11=no", "-oForwardAgent=no", "-s"]
    command: sftp
    disable_dump: true
`,
    }));
    const dir = await userOwnedDir(gw.logDir, "data", user);
    const source = await randomFile(`${dir}/source.bin`, 3_000_000, user);
    await Deno.writeTextFile(
      `${dir}/batch`,
      `get ${dir}/source.bin ${dir}/down.bin\n`,
    );
    const result = await runAs(user, [
      "/usr/bin/sftp",
      ...SSH_OPTIONS,
      "-P",
      String(gw.gateway.ports[2023]),
      "-b",
      `${dir}/batch`,
      `${user}@${gw.gateway.host}`,
    ]);
    assert.equal(result.code, 0, result.stderr);
    assert.equal(
      await sha256(await Deno.readFile(`${dir}/down.bin`)),
      await sha256(source),
    );
    assert.equal(
      await Deno.stat(dumps).then(() => true, () => false),
      false,
      "a dump directory was created",
    );
    const log = await gw.readLog(user);
    const final = logLines(log, "bytes transferred (final step)");
    assert.equal(final.length, 1, log);
    const stdout = Number(/ stdout=([0-9]+) /.exec(final[0])![1]);
    assert.ok(stdout > 3_000_000, final[0]);
    assert.equal(logLines(log, "recording").length, 0, log);
  },
});

Deno.test({
  name:
    "dump: etcd writes nothing, logs intermediate statistics every log_stats_interval and the final line",
  ...e2e,
  async fn() {
    await using gw = await startProxyGateway();
    await gw.writeConfig(gw.basicConfig({
      extra: `dump: etcd\nlog_stats_interval: 1s\n`,
    }));
    const result = await sshAs(
      user,
      target(gw, "echo a; sleep 1.6; echo b; sleep 1.6; echo c"),
      { stdin: "typed\n" },
    );
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stdout, "a\nb\nc\n");
    const log = await gw.readLog(user);
    const intermediate = logLines(log, "bytes transferred (intermediate step)");
    assert.ok(intermediate.length >= 2, log);
    assert.match(
      intermediate[0],
      / INFO [0-9A-F]{10}: bytes transferred \(intermediate step\): duration=1s stdin=\d+ stdout=\d+ stderr=0$/,
    );
    assert.match(
      log,
      / INFO [0-9A-F]{10}: bytes transferred \(final step\): duration=3s stdin=6 stdout=6 stderr=0\n.* INFO [0-9A-F]{10}: disconnected\n$/,
    );
    // Nothing written anywhere the user could: no dump, no side file.
    const listing = await run(["find", gw.logDir, "-name", "*.dump*"]);
    assert.equal(listing.stdout, "");
  },
});
