import assert from "node:assert/strict";
import { buildSshCommand } from "../../src/session/ssh_command.ts";
import { sshInput } from "./ssh_command_fixtures.ts";

const ALLOWED = "(allowed: -4 -6 -A -a -C -K -k -q -T -t -v -X -x -Y)";

// Spec §12.2 item 19: each of these would let a user run something on the
// gateway or open a forwarding from it.
const ESCAPES: [string, string][] = [
  ["-oProxyCommand=sh", "-oProxyCommand=sh"],
  ["-o ProxyCommand=sh", "-o"],
  ["-F /tmp/x", "-F"],
  ["-J host", "-J"],
  ["-L 1:a:2", "-L"],
  ["-R 2222:localhost:22", "-R"],
  ["-R", "-R"],
  ["-D 1080", "-D"],
  ["-W h:p", "-W"],
  ["-oLocalCommand=x", "-oLocalCommand=x"],
  ["-vo ProxyCommand=sh", "-vo"],
  ["-NfL 1:a:2", "-NfL"],
  ["-E log", "-E"],
  ["-e ~", "-e"],
  ["-w 0:0", "-w"],
  ["-S /tmp/ctl", "-S"],
  ["-M", "-M"],
  ["-G", "-G"],
  ["-i /tmp/key", "-i"],
  ["-l root", "-l"],
  ["-p 2222", "-p"],
  ["-g", "-g"],
  ["-Qv", "-Qv"],
  ["-v -- otherhost", "--"],
];

Deno.test("SSHPROXY_ARGS options that could escape the ForceCommand are refused", async (t) => {
  for (const [value, offending] of ESCAPES) {
    await t.step(value, () => {
      assert.deepEqual(buildSshCommand(sshInput({ sshproxyArgs: value })), {
        ok: false,
        error: `SSHPROXY_ARGS: option "${offending}" is not allowed ${ALLOWED}`,
      });
    });
  }
});

Deno.test("SSHPROXY_ARGS words that are not options are refused", () => {
  assert.deepEqual(
    buildSshCommand(sshInput({ sshproxyArgs: "-v otherhost" })),
    {
      ok: false,
      error: `SSHPROXY_ARGS: argument "otherhost" is not allowed ${ALLOWED}`,
    },
  );
});

Deno.test("harmless SSHPROXY_ARGS options pass, combined or not", () => {
  const built = buildSshCommand(
    sshInput({ sshproxyArgs: "  -vvv\t-4 -CAX  -T\n" }),
  );
  assert.ok(built.ok);
  assert.deepEqual(built.value.argv, [
    "ssh",
    "-q",
    "-Y",
    "-e",
    "none",
    "-vvv",
    "-4",
    "-CAX",
    "-T",
    "-oConnectTimeout=10",
    "server1",
  ]);
});

Deno.test("the refused option is quoted like Go's %q", () => {
  const built = buildSshCommand(sshInput({ sshproxyArgs: '-o"x' }));
  assert.deepEqual(built, {
    ok: false,
    error: `SSHPROXY_ARGS: option "-o\\"x" is not allowed ${ALLOWED}`,
  });
});

Deno.test("SSHPROXY_ARGS is checked before command_must_match", () => {
  const input = sshInput({
    sshproxyArgs: "-oProxyCommand=sh",
    originalCommand: "ls",
    config: { forceCommand: "/bin/menu", commandMustMatch: true },
  });
  const built = buildSshCommand(input);
  assert.ok(!built.ok);
  assert.match(built.error, /^SSHPROXY_ARGS: /);
});
