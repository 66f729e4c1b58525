// Issue 12 item 1, as a hostile user does it through the real gateway: a
// command or an environment value holding a newline and a fake log line,
// or terminal escape sequences, never writes a second (forged) record nor a
// control byte into the log file: not in the DEBUG listing, not in the
// ERROR line of a command refused by command_must_match (without debug).
import assert from "node:assert/strict";
import { sshAs, USERS } from "../harness/mod.ts";
import { e2e, type ProxyGateway, startProxyGateway } from "./gateway.ts";

const user = USERS.user1;
const LINE =
  /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d (CRITICAL|ERROR|WARNING|NOTICE|INFO|DEBUG) ([0-9A-F]{10}): (.*)$/;
const FAKE =
  "1999-01-01 00:00:00 INFO FAKE000000: admin connected from 10.0.0.1:1 to sshd listening on 10.0.0.2:22";
const ESCAPES = "\x1b]0;owned\x07\x1b[2J\u009b31m\u2028";

/** Every line well-formed, one session ID, no control character but the line ends. */
function assertNoForgery(log: string): { level: string; message: string }[] {
  assert.ok(log.endsWith("\n"), log);
  assert.ok(
    // deno-lint-ignore no-control-regex -- control characters are the point
    !/[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u2028\u2029]/.test(log),
    `control character in the log: ${JSON.stringify(log)}`,
  );
  const lines = log.slice(0, -1).split("\n").map((line) => {
    const match = LINE.exec(line);
    assert.ok(match, `malformed (forged?) line: ${JSON.stringify(line)}`);
    return { level: match[1], sid: match[2], message: match[3] };
  });
  assert.equal(new Set(lines.map((l) => l.sid)).size, 1, log);
  assert.ok(!lines.some((l) => l.sid === "FAKE000000"), log);
  return lines;
}

function login(
  gw: ProxyGateway,
  command: string,
  env: Record<string, string> = {},
) {
  return sshAs(user, {
    port: gw.gateway.ports[2023],
    host: gw.gateway.host,
    command,
    extraArgs: Object.keys(env).map((name) => `-oSendEnv=${name}`),
  }, { env });
}

Deno.test({
  name:
    "a command and an environment value with newlines and escape sequences stay inside their DEBUG lines",
  ...e2e,
  async fn() {
    await using gw = await startProxyGateway();
    await gw.writeConfig(gw.basicConfig({ extra: "debug: true" }));
    // The shell on the destination sees the rest as one quoted word.
    const command = `echo ok; : '\n${FAKE}${ESCAPES}'`;
    const result = await login(gw, command, {
      LC_SSHPROXY_FORGE: `x\n${FAKE}\r${ESCAPES}`,
    });
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stdout, "ok\n");
    const lines = assertNoForgery(await gw.readLog(user));
    const debug = lines.filter((l) => l.level === "DEBUG").map((l) =>
      l.message
    );
    const escapedFake = `\\n${FAKE}\\x1b]0;owned\\a\\x1b[2J\\u009b31m\\u2028`;
    assert.ok(
      debug.includes(`original command = echo ok; : '${escapedFake}'`),
      debug.join("\n"),
    );
    assert.ok(
      debug.includes(
        `env = LC_SSHPROXY_FORGE=x\\n${FAKE}\\r\\x1b]0;owned\\a\\x1b[2J\\u009b31m\\u2028`,
      ),
      debug.join("\n"),
    );
  },
});

Deno.test({
  name:
    "a command refused by command_must_match cannot forge a line through the ERROR record, without debug",
  ...e2e,
  async fn() {
    await using gw = await startProxyGateway();
    await gw.writeConfig(gw.basicConfig({
      extra: 'force_command: "hostname"\ncommand_must_match: true',
    }));
    const result = await login(gw, `id\n${FAKE}${ESCAPES}`);
    assert.notEqual(result.code, 0);
    const lines = assertNoForgery(await gw.readLog(user));
    assert.ok(!lines.some((l) => l.level === "DEBUG"));
    const errors = lines.filter((l) => l.level === "ERROR");
    assert.equal(errors.length, 1, JSON.stringify(lines));
    assert.equal(
      errors[0].message,
      `error executing proxied ssh command: originalCmd "id\\n${FAKE}\\x1b]0;owned\\a\\x1b[2J\\u009b31m\\u2028" does not match forceCommand "hostname"`,
    );
  },
});
