// Sessions the proxy must refuse, each with one clear line for the user
// and nothing reaching a destination: a missing or malformed
// SSH_CONNECTION (not started by sshd), SSHPROXY_ARGS that would escape the
// ForceCommand (spec §12.2 item 19), and a broken configuration file.
import assert from "node:assert/strict";
import { runAs, sshAs, USERS } from "../harness/mod.ts";
import { e2e, type ProxyGateway, startProxyGateway } from "./gateway.ts";

const user = USERS.fedora;

function oneLine(stderr: string): string {
  const lines = stderr.split("\n");
  assert.equal(lines.length, 2, `not one line: ${JSON.stringify(stderr)}`);
  assert.equal(lines[1], "", `not one line: ${JSON.stringify(stderr)}`);
  return lines[0];
}

Deno.test({
  name:
    "run outside sshd (no or malformed SSH_CONNECTION) the proxy refuses with one line and status 1",
  ...e2e,
  async fn() {
    await using gw = await startProxyGateway();
    await gw.writeConfig(gw.basicConfig());
    const cases: [string | undefined, RegExp][] = [
      [undefined, /^sshproxy: .*No SSH_CONNECTION environment variable/],
      ["garbage", /^sshproxy: .*parsing SSH_CONNECTION 'garbage': bad value/],
      [
        "1234 1234 192.168.0.1 22",
        /^sshproxy: .*bad value for source IP/,
      ],
      [
        "127.0.0.1 1234 1234 22",
        /^sshproxy: .*bad value for destination IP/,
      ],
    ];
    for (const [value, message] of cases) {
      const result = await runAs(
        user,
        [gw.product.sshproxy, gw.configPath],
        {
          env: value === undefined
            ? { SSH_ORIGINAL_COMMAND: "true" }
            : { SSH_CONNECTION: value, SSH_ORIGINAL_COMMAND: "true" },
        },
      );
      assert.equal(result.code, 1, `${value}: ${result.stderr}`);
      assert.equal(result.stdout, "");
      assert.match(oneLine(result.stderr), message);
    }
    assert.equal(
      await gw.readLog(user),
      "",
      "nothing is logged before the session is known",
    );
  },
});

/** A gateway whose sshd lets clients send SSHPROXY_ARGS, plus a trap script. */
async function permissiveGateway() {
  const gw = await startProxyGateway({
    gatewayExtraConfig: ["AcceptEnv SSHPROXY_ARGS"],
  });
  await gw.writeConfig(gw.basicConfig());
  const marker = `${gw.logDir}/escaped`;
  const trap = `${gw.logDir}/trap.sh`;
  await Deno.writeTextFile(trap, `#!/bin/sh\ntouch ${marker}\n`);
  await Deno.chmod(trap, 0o755);
  return { gw, marker, trap };
}

function withArgs(gw: ProxyGateway, sshproxyArgs: string, command: string) {
  return sshAs(
    user,
    {
      port: gw.gateway.ports[2023],
      host: gw.gateway.host,
      command,
      extraArgs: ["-o", "SendEnv=SSHPROXY_ARGS"],
    },
    { env: { SSHPROXY_ARGS: sshproxyArgs } },
  );
}

async function exists(path: string): Promise<boolean> {
  return await Deno.lstat(path).then(() => true, () => false);
}

Deno.test({
  name:
    "SSHPROXY_ARGS options that run commands, read files or forward ports are refused before any destination",
  ...e2e,
  async fn() {
    const { gw, marker, trap } = await permissiveGateway();
    await using _ = gw;
    const sshLog = `${gw.logDir}/ssh-E.log`;
    const refused = [
      "-oProxyCommand=sh",
      "-o ProxyCommand=sh",
      `-oProxyCommand=${trap}`,
      "-F /tmp/x",
      "-J host",
      "-L 1234:localhost:22",
      "-R 1234:localhost:22",
      "-D 1080",
      "-W localhost:22",
      "-oLocalCommand=id",
      `-oPermitLocalCommand=yes -oLocalCommand=${trap}`,
      `-E ${sshLog}`,
      "-v -oProxyCommand=sh",
    ];
    for (const args of refused) {
      await Deno.truncate(gw.logPath(user)).catch(() => {});
      const reached = `${gw.logDir}/reached`;
      const result = await withArgs(gw, args, `touch ${reached}`);
      assert.equal(result.code, 1, `${args}: ${result.stderr}`);
      assert.equal(result.stdout, "", args);
      assert.match(oneLine(result.stderr), /^sshproxy: .*SSHPROXY_ARGS/, args);
      const log = await gw.readLog(user);
      assert.match(
        log,
        / ERROR [0-9A-F]{10}: .*SSHPROXY_ARGS.*\n/,
        `${args}: ${log}`,
      );
      assert.doesNotMatch(log, /proxied to/, args);
      assert.equal(
        await exists(reached),
        false,
        `${args} reached a destination`,
      );
      assert.equal(await exists(marker), false, `${args} ran a command`);
      assert.equal(await exists(sshLog), false, `${args} wrote a file`);
    }
  },
});

Deno.test({
  name: "harmless SSHPROXY_ARGS (-v, -4) are accepted and the session works",
  ...e2e,
  async fn() {
    const { gw } = await permissiveGateway();
    await using _ = gw;
    for (const args of ["-v", "-4", "-4 -v"]) {
      const result = await withArgs(gw, args, "echo $SSHPROXY_TEST_HOST");
      assert.equal(result.code, 0, `${args}: ${result.stderr}`);
      assert.equal(result.stdout, "server1\n", args);
    }
    // -v made the gateway's ssh verbose, on the session's stderr.
    const verbose = await withArgs(gw, "-v", "true");
    assert.match(verbose.stderr, /debug1: /);
  },
});

Deno.test({
  name:
    "a configuration error gives the user exactly one line 'sshproxy: <path>: line N: ...' and status 1",
  ...e2e,
  async fn() {
    await using gw = await startProxyGateway();
    const cases: [string, number, RegExp][] = [
      // basicConfig's extra YAML starts on line 5.
      [gw.basicConfig({ extra: "route_select: nope" }), 5, /route_select/],
      [gw.basicConfig({ extra: "debug: true\nservice: [unclosed" }), 6, /./],
    ];
    for (const [config, line, detail] of cases) {
      await gw.writeConfig(config);
      const result = await sshAs(user, {
        port: gw.gateway.ports[2023],
        host: gw.gateway.host,
        command: "echo $SSHPROXY_TEST_HOST",
      });
      assert.equal(result.code, 1, result.stderr);
      assert.equal(result.stdout, "");
      const message = oneLine(result.stderr);
      assert.ok(
        message.startsWith(`sshproxy: ${gw.configPath}: line ${line}: `),
        message,
      );
      assert.match(message, detail);
    }
  },
});
