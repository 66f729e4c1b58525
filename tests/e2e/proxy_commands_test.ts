// What the user's command becomes through the gateway: its exit status
// (TestReturnCode), its exact text, and the blocking command that may stop
// it first (TestBlockingCommand).
import assert from "node:assert/strict";
import { sshAs, USERS } from "../harness/mod.ts";
import { e2e, startProxyGateway } from "./gateway.ts";

const user = USERS.fedora;

Deno.test({
  name: "the client gets the remote command's exit status (TestReturnCode)",
  ...e2e,
  async fn() {
    await using gw = await startProxyGateway();
    await gw.writeConfig(gw.basicConfig());
    const target = { port: gw.gateway.ports[2023], host: gw.gateway.host };
    for (const status of [0, 3]) {
      const result = await sshAs(user, {
        ...target,
        command: `echo $SSHPROXY_TEST_HOST; exit ${status}`,
      });
      assert.equal(result.code, status, result.stderr);
      assert.equal(result.stdout, "server1\n");
    }
  },
});

Deno.test({
  name:
    "a command with quotes, ';', '$()' and a newline reaches the destination verbatim",
  ...e2e,
  async fn() {
    await using gw = await startProxyGateway();
    await gw.writeConfig(gw.basicConfig());
    const command = `printf '%s|' 'it'"'"'s' "x;y" '$(id)' 'a\nb'`;
    const result = await sshAs(user, {
      port: gw.gateway.ports[2023],
      host: gw.gateway.host,
      command,
    });
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stdout, "it's|x;y|$(id)|a\nb|");
    assert.equal(result.stderr, "");
  },
});

Deno.test({
  name:
    "blocking_command: success lets the session run, failure ends it with its status (TestBlockingCommand)",
  ...e2e,
  async fn() {
    await using gw = await startProxyGateway();
    const target = {
      port: gw.gateway.ports[2023],
      host: gw.gateway.host,
      command: "echo $SSHPROXY_TEST_HOST",
    };

    await gw.writeConfig(
      gw.basicConfig({ extra: "blocking_command: /bin/true" }),
    );
    const passed = await sshAs(user, target);
    assert.equal(passed.code, 0, passed.stderr);
    assert.equal(passed.stdout, "server1\n");

    await gw.writeConfig(
      gw.basicConfig({ extra: "blocking_command: /bin/false" }),
    );
    const failed = await sshAs(user, target);
    assert.equal(failed.code, 1, failed.stderr);
    assert.equal(failed.stdout, "", "the session must not reach server1");
  },
});

Deno.test({
  name:
    "a blocking_command that cannot start: exit 1, one line for the user, an ERROR in the log",
  ...e2e,
  async fn() {
    await using gw = await startProxyGateway();
    await gw.writeConfig(
      gw.basicConfig({
        extra: "blocking_command: /nonexistent/sshproxy-blocking --flag",
      }),
    );
    const result = await sshAs(user, {
      port: gw.gateway.ports[2023],
      host: gw.gateway.host,
      command: "echo $SSHPROXY_TEST_HOST",
    });
    assert.equal(result.code, 1, result.stderr);
    assert.equal(result.stdout, "");
    const lines = result.stderr.split("\n").filter((l) => l !== "");
    assert.equal(lines.length, 1, `stderr: ${JSON.stringify(result.stderr)}`);
    assert.match(lines[0], /^sshproxy: /);
    const log = await gw.readLog(user);
    assert.match(
      log,
      /^\S+ \S+ ERROR [0-9A-F]{10}: error running blocking command: .*\/nonexistent\/sshproxy-blocking/m,
      log,
    );
    assert.doesNotMatch(log, /proxied to/);
  },
});

Deno.test({
  name:
    "the blocking command writes to the user and sees the configured environment, not the launcher's variables",
  ...e2e,
  async fn() {
    await using gw = await startProxyGateway();
    await gw.writeConfig(
      gw.basicConfig({
        extra: `blocking_command: /usr/bin/env
environment:
  SSHPROXY_TEST_VAR: value-{user}`,
      }),
    );
    const result = await sshAs(user, {
      port: gw.gateway.ports[2023],
      host: gw.gateway.host,
      command: "echo $SSHPROXY_TEST_HOST",
    });
    assert.equal(result.code, 0, result.stderr);
    const lines = result.stdout.split("\n");
    // env's output first (stdout of the session), then the command's.
    assert.equal(lines.at(-2), "server1");
    const names = lines.slice(0, -2).map((l) => l.split("=")[0]);
    assert.ok(lines.includes(`SSHPROXY_TEST_VAR=value-${user}`), result.stdout);
    assert.ok(lines.includes(`USER=${user}`), result.stdout);
    assert.ok(names.includes("SSH_CONNECTION"), result.stdout);
    // Variables the installed launcher sets for Deno itself stay with Deno.
    for (
      const name of ["SSHPROXY_ARGV0", "DENO_DIR", "DENO_NO_UPDATE_CHECK"]
    ) {
      assert.ok(!names.includes(name), `${name} leaked:\n${result.stdout}`);
    }
  },
});
