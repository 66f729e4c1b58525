import assert from "node:assert/strict";
import { buildSshCommand } from "../../src/session/ssh_command.ts";
import { sshInput } from "./ssh_command_fixtures.ts";

function argvWithAdminArgs(args: string[]): string[] {
  const built = buildSshCommand(
    sshInput({ config: { ssh: { exe: "ssh", args } }, sshproxyArgs: "-v" }),
  );
  assert.ok(built.ok);
  return built.value.argv;
}

Deno.test("-e none follows the admin's arguments, before the user's", () => {
  assert.deepEqual(argvWithAdminArgs(["-q", "-Y"]), [
    "ssh",
    "-q",
    "-Y",
    "-e",
    "none",
    "-v",
    "-oConnectTimeout=10",
    "server1",
  ]);
});

Deno.test("an admin who sets the escape character keeps it", async (t) => {
  const cases: string[][] = [
    ["-e", "~"],
    ["-e~"],
    ["-qe", "%"],
    ["-o", "EscapeChar=~"],
    ["-oEscapeChar ~"],
    ["-o escapechar=none"],
  ];
  for (const args of cases) {
    await t.step(args.join(" "), () => {
      assert.deepEqual(argvWithAdminArgs(args), [
        "ssh",
        ...args,
        "-v",
        "-oConnectTimeout=10",
        "server1",
      ]);
    });
  }
});

Deno.test("an -e inside another option's value is not an escape setting", async (t) => {
  const cases: string[][] = [
    ["-o", "SendEnv=LANG"],
    ["-l", "-e"],
    ["-oUser=e"],
    ["-i", "/keys/e"],
    ["-o SendEnv=XMODIFIERS"],
  ];
  for (const args of cases) {
    await t.step(args.join(" "), () => {
      assert.deepEqual(argvWithAdminArgs(args), [
        "ssh",
        ...args,
        "-e",
        "none",
        "-v",
        "-oConnectTimeout=10",
        "server1",
      ]);
    });
  }
});
