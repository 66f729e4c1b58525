import assert from "node:assert/strict";
import { buildSshCommand } from "../../src/session/ssh_command.ts";
import { sshInput } from "./ssh_command_fixtures.ts";

function argvOf(input: Parameters<typeof buildSshCommand>[0]): string[] {
  const built = buildSshCommand(input);
  assert.ok(built.ok, built.ok ? "" : built.error);
  return built.value.argv;
}

const SFTP = {
  sshArgs: [
    "-oForwardX11=no",
    "-oForwardAgent=no",
    "-oPermitLocalCommand=no",
    "-oClearAllForwardings=yes",
    "-oProtocol=2",
    "-s",
  ],
  command: "sftp",
  disableDump: true,
};

// The rows of spec §5.11; our argv differs only by the "-e none" we insert
// after the admin's arguments and the "-oConnectTimeout=10" before the host.
Deno.test("ssh command lines of spec §5.11", async (t) => {
  await t.step("shell, dest server1:22", () => {
    assert.deepEqual(argvOf(sshInput()), [
      "ssh",
      "-q",
      "-Y",
      "-e",
      "none",
      "-oConnectTimeout=10",
      "server1",
    ]);
  });
  await t.step("hostname, dest server1:2222", () => {
    const input = sshInput({
      originalCommand: "hostname",
      destination: { host: "server1", port: 2222 },
    });
    assert.deepEqual(argvOf(input), [
      "ssh",
      "-q",
      "-Y",
      "-e",
      "none",
      "-p",
      "2222",
      "-oConnectTimeout=10",
      "server1",
      "--",
      "hostname",
    ]);
  });
  await t.step("same with stdout a tty", () => {
    const input = sshInput({
      originalCommand: "hostname",
      destination: { host: "server1", port: "2222" },
      stdoutIsTerminal: true,
    });
    assert.deepEqual(argvOf(input), [
      "ssh",
      "-q",
      "-Y",
      "-e",
      "none",
      "-p",
      "2222",
      "-t",
      "-oConnectTimeout=10",
      "server1",
      "--",
      "hostname",
    ]);
  });
  await t.step("sftp subsystem translated", () => {
    const input = sshInput({
      originalCommand: "/usr/libexec/openssh/sftp-server",
      stdoutIsTerminal: true, // a translation never adds -t
      config: {
        translateCommands: new Map([[
          "/usr/libexec/openssh/sftp-server",
          SFTP,
        ]]),
      },
    });
    assert.deepEqual(argvOf(input), [
      "ssh",
      "-q",
      "-Y",
      "-e",
      "none",
      ...SFTP.sshArgs,
      "-oConnectTimeout=10",
      "server1",
      "--",
      "sftp",
    ]);
  });
  await t.step('SSHPROXY_ARGS="-v -A", shell', () => {
    assert.deepEqual(argvOf(sshInput({ sshproxyArgs: "-v -A" })), [
      "ssh",
      "-q",
      "-Y",
      "-e",
      "none",
      "-v",
      "-A",
      "-oConnectTimeout=10",
      "server1",
    ]);
  });
});

Deno.test("the user's command stays one argument, unsplit", () => {
  const input = sshInput({ originalCommand: "ls -l 'a b'; rm x" });
  assert.deepEqual(argvOf(input).slice(-3), [
    "server1",
    "--",
    "ls -l 'a b'; rm x",
  ]);
});

Deno.test("an explicitly empty ssh.args gives no admin arguments", () => {
  const input = sshInput({
    config: { ssh: { exe: "/usr/bin/ssh", args: [] } },
  });
  assert.deepEqual(argvOf(input), [
    "/usr/bin/ssh",
    "-e",
    "none",
    "-oConnectTimeout=10",
    "server1",
  ]);
});

Deno.test("force_command replaces the user's command", async (t) => {
  await t.step("it is run instead, and is the dump header's command", () => {
    const built = buildSshCommand(
      sshInput({
        originalCommand: "ls",
        config: { forceCommand: "/bin/menu" },
      }),
    );
    assert.ok(built.ok);
    assert.deepEqual(built.value.argv.slice(-3), [
      "server1",
      "--",
      "/bin/menu",
    ]);
    assert.equal(built.value.command, "/bin/menu");
  });
  await t.step("it also applies to an interactive login", () => {
    const built = buildSshCommand(
      sshInput({ config: { forceCommand: "/bin/menu" } }),
    );
    assert.ok(built.ok);
    assert.deepEqual(built.value.argv.slice(-3), [
      "server1",
      "--",
      "/bin/menu",
    ]);
  });
  await t.step("the command for a shell is empty", () => {
    const built = buildSshCommand(sshInput());
    assert.ok(built.ok);
    assert.equal(built.value.command, "");
  });
});

Deno.test("command_must_match rejects a different user command", async (t) => {
  const config = { forceCommand: "/bin/menu", commandMustMatch: true };
  await t.step("different command", () => {
    assert.deepEqual(
      buildSshCommand(sshInput({ originalCommand: "ls", config })),
      {
        ok: false,
        error: 'originalCmd "ls" does not match forceCommand "/bin/menu"',
      },
    );
  });
  await t.step("interactive login", () => {
    assert.deepEqual(buildSshCommand(sshInput({ config })), {
      ok: false,
      error: 'originalCmd "" does not match forceCommand "/bin/menu"',
    });
  });
  await t.step("same command", () => {
    assert.ok(
      buildSshCommand(sshInput({ originalCommand: "/bin/menu", config })).ok,
    );
  });
  await t.step("without force_command it never triggers", () => {
    const input = sshInput({
      originalCommand: "ls",
      config: { commandMustMatch: true },
    });
    assert.ok(buildSshCommand(input).ok);
  });
});

Deno.test("disable_dump turns a non-empty dump into etcd", async (t) => {
  const translateCommands = new Map([["sftp-server", SFTP]]);
  await t.step("recording is replaced by statistics only", () => {
    const built = buildSshCommand(
      sshInput({
        originalCommand: "sftp-server",
        config: { translateCommands, dump: "/var/dump/{user}" },
      }),
    );
    assert.ok(built.ok);
    assert.equal(built.value.dump, "etcd");
    assert.equal(built.value.dumpDisabled, true);
    assert.equal(built.value.command, "sftp-server");
    assert.equal(built.value.translation, SFTP);
  });
  await t.step("an empty dump stays empty", () => {
    const built = buildSshCommand(
      sshInput({
        originalCommand: "sftp-server",
        config: { translateCommands },
      }),
    );
    assert.ok(built.ok);
    assert.equal(built.value.dump, "");
    assert.equal(built.value.dumpDisabled, false);
  });
  await t.step("without disable_dump the dump is kept", () => {
    const keep = new Map([["sftp-server", { ...SFTP, disableDump: false }]]);
    const built = buildSshCommand(
      sshInput({
        originalCommand: "sftp-server",
        config: { translateCommands: keep, dump: "etcd2" },
      }),
    );
    assert.ok(built.ok);
    assert.equal(built.value.dump, "etcd2");
    assert.equal(built.value.dumpDisabled, false);
  });
  await t.step("translation needs an exact match", () => {
    const built = buildSshCommand(
      sshInput({
        originalCommand: "sftp-server ",
        config: { translateCommands, dump: "x" },
      }),
    );
    assert.ok(built.ok);
    assert.equal(built.value.translation, undefined);
    assert.equal(built.value.dump, "x");
  });
});

Deno.test("DEBUG lines render the argv with Go's %q", async (t) => {
  await t.step("command = <exe path> [quoted argv]", () => {
    const built = buildSshCommand(
      sshInput({
        originalCommand: 'echo "hi"\tthere',
        exePath: "/usr/bin/ssh",
      }),
    );
    assert.ok(built.ok);
    assert.deepEqual(built.value.debugLines, [
      'command = /usr/bin/ssh ["ssh" "-q" "-Y" "-e" "none" "-oConnectTimeout=10" "server1" "--" "echo \\"hi\\"\\tthere"]',
    ]);
  });
  await t.step("the translation is shown first, as &{...}", () => {
    const built = buildSshCommand(sshInput({
      originalCommand: "sftp-server",
      config: {
        translateCommands: new Map([["sftp-server", {
          sshArgs: ["-s"],
          command: "sftp",
          disableDump: false,
        }]]),
      },
    }));
    assert.ok(built.ok);
    assert.deepEqual(built.value.debugLines, [
      "translateCmdConf = &{SSHArgs:[-s] Command:sftp DisableDump:false}",
      'command = ssh ["ssh" "-q" "-Y" "-e" "none" "-s" "-oConnectTimeout=10" "server1" "--" "sftp"]',
    ]);
  });
});
