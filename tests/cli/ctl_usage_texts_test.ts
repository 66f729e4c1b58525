// sshproxyctl's usage texts are byte-for-byte the reference's layout (spec §2.2).
import assert from "node:assert/strict";
import { commandUsage, mainUsage } from "../../src/cli/ctl_usage.ts";

Deno.test("main usage lists the eight commands with descriptions at column 17", () => {
  const lines = mainUsage("sshproxyctl").split("\n");
  assert.equal(lines[0], "Usage: sshproxyctl [OPTIONS] COMMAND");
  assert.equal(lines[1], "");
  assert.equal(lines[2], "The commands are:");
  assert.equal(lines[3], "  help          display help on a command");
  assert.equal(
    lines[10],
    "  convert       displays the config, converted from v1 to v2",
  );
  for (const line of lines.slice(3, 11)) {
    assert.equal(line.indexOf(line.trim().split(/\s{2,}/)[1]), 16);
  }
  assert.equal(lines[12], "The common options are:");
  assert.equal(lines[13], "  -c string");
  assert.equal(
    lines[14],
    '    \tpath to configuration file (default "/etc/sshproxy/sshproxy.yaml")',
  );
});

Deno.test("show usage pads subcommand synopses to 53 columns", () => {
  const lines = commandUsage("show", "sshproxyctl")!.split("\n");
  assert.equal(lines[0], "Usage: sshproxyctl show COMMAND [OPTIONS]");
  assert.equal(
    lines[3],
    `  ${
      "connections [-all] [-csv|-json]".padEnd(53)
    }  show connections stored in etcd`,
  );
  assert.equal(
    lines[8],
    "  config [-user USER] [-groups GROUPS] [-source SOURCE]  show the calculated configuration",
  );
  // Our addition, after the reference's subcommands.
  assert.equal(
    lines[9],
    `  ${"metrics".padEnd(53)}  show a summary of the gateway agent's metrics`,
  );
  assert.equal(lines[11], "The options are:");
  assert.equal(lines[12], "  -all");
});

Deno.test("forget usage has the two continuation lines indented by 71 spaces", () => {
  const lines = commandUsage("forget", "sshproxyctl")!.split("\n");
  assert.equal(
    lines[5].length,
    65 + 4 + "forget a persistent connection in etcd".length,
  );
  assert.equal(lines[6], `${" ".repeat(71)}(needs at least one option)`);
  assert.equal(
    lines[7],
    `${
      " ".repeat(71)
    }(only connections matching all the options are forgotten)`,
  );
});

Deno.test("convert usage shows how to use it", () => {
  assert.equal(
    commandUsage("convert", "sshproxyctl"),
    "Usage: sshproxyctl convert\n\nShow configuration converted from v1 to v2 and exit.\n" +
      "Should be used like this:\n" +
      "  sshproxyctl -c /etc/sshproxy/sshproxy.yaml.old convert > /etc/sshproxy/sshproxy.yaml.new\n",
  );
  assert.equal(commandUsage("nope", "x"), undefined);
});
