// `ssh.config: FILE` (our key) passes `-F FILE` to the gateway's ssh, which
// then reads that file instead of the user's ~/.ssh/config (whose
// ProxyCommand, LocalCommand and Match exec would run on the gateway) and
// of /etc/ssh/ssh_config. Only the admin chooses the file: an absolute
// path from the configuration, never SSHPROXY_ARGS (issue 12 item 6).
import assert from "node:assert/strict";
import { describeUnknownKeys } from "../../src/config/unknown_keys.ts";
import { buildSshCommand } from "../../src/session/ssh_command.ts";
import { effective, parse } from "../config/fixture_helpers.ts";
import { sshInput } from "./ssh_command_fixtures.ts";

Deno.test("unset, the argv is unchanged (ssh reads its usual files)", () => {
  const built = buildSshCommand(sshInput());
  assert.ok(built.ok);
  assert.ok(!built.value.argv.includes("-F"));
});

Deno.test("set, -F FILE comes last among the options, after any -F of the admin's arguments", () => {
  const built = buildSshCommand(sshInput({
    config: {
      ssh: { exe: "ssh", args: ["-q", "-F", "/etc/other"] },
      sshConfig: "/etc/sshproxy/ssh_config",
    },
    originalCommand: "hostname",
  }));
  assert.ok(built.ok);
  assert.deepEqual(built.value.argv, [
    "ssh",
    "-q",
    "-F",
    "/etc/other",
    "-e",
    "none",
    "-F",
    "/etc/sshproxy/ssh_config",
    "-oConnectTimeout=10",
    "server1",
    "--",
    "hostname",
  ]);
});

Deno.test("ssh really reads the file given last", async () => {
  const dir = await Deno.makeTempDir({ prefix: "sshproxy-ssh-config-" });
  try {
    await Deno.writeTextFile(`${dir}/other`, "User from-other\n");
    await Deno.writeTextFile(`${dir}/ours`, "User from-ours\n");
    const built = buildSshCommand(sshInput({
      config: {
        ssh: { exe: "ssh", args: ["-F", `${dir}/other`] },
        sshConfig: `${dir}/ours`,
      },
    }));
    assert.ok(built.ok);
    const output = await new Deno.Command("/usr/bin/ssh", {
      args: ["-G", ...built.value.argv.slice(1)],
      stdin: "null",
      stdout: "piped",
      stderr: "null",
    }).output();
    const text = new TextDecoder().decode(output.stdout);
    assert.match(text, /^user from-ours$/m);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("the user cannot name a file: -F in SSHPROXY_ARGS refuses the session", () => {
  for (const args of ["-F /tmp/mine", "-F/tmp/mine", "-qF /tmp/mine"]) {
    const built = buildSshCommand(sshInput({
      config: { sshConfig: "/etc/sshproxy/ssh_config" },
      sshproxyArgs: args,
    }));
    assert.ok(!built.ok, args);
  }
});

Deno.test("ssh.config is an absolute path, settable per override", async () => {
  const top = await effective(
    "ssh: {config: /etc/sshproxy/ssh_config}\n",
    "alice",
    [],
  );
  assert.equal(top.config.sshConfig, "/etc/sshproxy/ssh_config");
  assert.equal(
    (await effective("debug: false\n", "alice", [])).config.sshConfig,
    "",
  );
  const text = "ssh: {config: /etc/a}\noverrides:\n" +
    "  - match: [{users: [alice]}]\n    ssh: {config: /etc/b}\n" +
    "  - match: [{users: [bob]}]\n    ssh: {config: ''}\n";
  assert.equal((await effective(text, "alice", [])).config.sshConfig, "/etc/b");
  assert.equal((await effective(text, "bob", [])).config.sshConfig, "");
  assert.equal((await effective(text, "carol", [])).config.sshConfig, "/etc/a");
  for (
    const [yaml, error] of [
      [
        "ssh: {config: .ssh/config}\n",
        'line 1: ssh.config: ".ssh/config" is not an absolute path (expected a path starting with /)',
      ],
      [
        "ssh:\n  config: ~/.ssh/config\n",
        'line 2: ssh.config: "~/.ssh/config" is not an absolute path (expected a path starting with /)',
      ],
      [
        "ssh: {config: [a]}\n",
        "line 1: ssh.config: a list is not a string (expected a string)",
      ],
    ]
  ) {
    assert.deepEqual(parse(yaml), { ok: false, error });
  }
});

Deno.test("a misspelt ssh.config is suggested", () => {
  const parsed = parse("ssh: {confg: /etc/x}\n");
  assert.ok(parsed.ok);
  assert.deepEqual(describeUnknownKeys(parsed.value.unknownKeys), [
    'line 1: unknown key "ssh.confg" ignored (did you mean "config"?)',
  ]);
});
