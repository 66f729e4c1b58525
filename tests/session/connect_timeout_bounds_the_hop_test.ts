// A destination that accepts TCP but never sends its SSH banner must not
// hold a login for ever (issue 13 item 3): the gateway's ssh gets
// -oConnectTimeout=10 unless the admin's arguments set a ConnectTimeout,
// in any spelling ssh accepts. Each case is checked against the real ssh
// (`ssh -G` prints the value it would use).
import assert from "node:assert/strict";
import type { TranslateCommand } from "../../src/config/types.ts";
import {
  buildSshCommand,
  type SshCommand,
} from "../../src/session/ssh_command.ts";
import { sshInput } from "./ssh_command_fixtures.ts";

function built(
  args: string[],
  translation?: TranslateCommand,
): SshCommand {
  const result = buildSshCommand(sshInput({
    config: {
      ssh: { exe: "ssh", args },
      translateCommands: new Map(
        translation === undefined ? [] : [["sftp-server", translation]],
      ),
    },
    originalCommand: translation === undefined ? "" : "sftp-server",
  }));
  assert.ok(result.ok, result.ok ? "" : result.error);
  return result.value;
}

/** The ConnectTimeout OpenSSH itself reads from this argv (0 or none: unbounded). */
async function sshReads(argv: string[]): Promise<string> {
  const output = await new Deno.Command("/usr/bin/ssh", {
    args: ["-G", ...argv.slice(1)],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(output.stdout);
  assert.equal(output.code, 0, new TextDecoder().decode(output.stderr));
  const line = text.split("\n").find((l) => l.startsWith("connecttimeout "));
  assert.ok(line, "ssh -G printed no connecttimeout");
  return line.slice("connecttimeout ".length);
}

Deno.test("without a ConnectTimeout of the admin's, ssh waits at most 10 s", async () => {
  const command = built(["-q", "-Y"]);
  assert.deepEqual(command.argv, [
    "ssh",
    "-q",
    "-Y",
    "-e",
    "none",
    "-oConnectTimeout=10",
    "server1",
  ]);
  assert.equal(command.connectTimeoutSeconds, 10);
  assert.equal(await sshReads(command.argv), "10");
});

Deno.test("the admin's ConnectTimeout, in any spelling, is kept and ours not added", async (t) => {
  const cases: [string[], number | undefined, string][] = [
    [["-oConnectTimeout=5"], 5, "5"],
    [["-o", "ConnectTimeout=5"], 5, "5"],
    [["-o", "ConnectTimeout 5"], 5, "5"],
    [["-o ConnectTimeout=5"], 5, "5"],
    [["-oconnecttimeout=5"], 5, "5"],
    [["-o", "CONNECTTIMEOUT = 7"], 7, "7"],
    [["-qo", "ConnectTimeout=5"], 5, "5"],
    [["-qYoConnectTimeout=5"], 5, "5"],
    [["-oConnectTimeout=1m30s"], 90, "90"],
    [["-oConnectTimeout=3", "-oConnectTimeout=9"], 3, "3"],
    // 0 and none: the admin asked for no bound.
    [["-oConnectTimeout=0"], undefined, "0"],
    [["-oConnectTimeout=none"], undefined, "none"],
  ];
  for (const [args, seconds, read] of cases) {
    await t.step(args.join(" "), async () => {
      const command = built(args);
      assert.ok(
        !command.argv.includes("-oConnectTimeout=10"),
        command.argv.join(" "),
      );
      assert.equal(command.connectTimeoutSeconds, seconds);
      assert.equal(await sshReads(command.argv), read);
    });
  }
});

Deno.test("a ConnectTimeout in a translation's ssh_args is kept too", async () => {
  const command = built(["-q"], {
    sshArgs: ["-oConnectTimeout=4", "-s"],
    command: "sftp",
    disableDump: false,
  });
  assert.deepEqual(command.argv, [
    "ssh",
    "-q",
    "-e",
    "none",
    "-oConnectTimeout=4",
    "-s",
    "server1",
    "--",
    "sftp",
  ]);
  assert.equal(command.connectTimeoutSeconds, 4);
  assert.equal(await sshReads(command.argv), "4");
});

Deno.test("words that only look like a ConnectTimeout do not stop ours", async (t) => {
  const cases: string[][] = [
    ["-l", "-oConnectTimeout=5"], // the value of -l, a user name
    ["-oSendEnv=ConnectTimeout=5"],
    ["-oConnectTimeoutX=5"],
    ["-i", "ConnectTimeout=5"],
  ];
  for (const args of cases) {
    await t.step(args.join(" "), () => {
      const command = built(args);
      assert.equal(
        command.argv[command.argv.indexOf("server1") - 1],
        "-oConnectTimeout=10",
      );
      assert.equal(command.connectTimeoutSeconds, 10);
    });
  }
});
