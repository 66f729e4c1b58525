// The gateway's ssh runs as the user, so it reads the user's own
// ~/.ssh/config: with homes shared between the cluster and the gateway, a
// user writes there a `Match exec`, a `ProxyCommand` or a `LocalCommand`
// that runs on the gateway, out of the ForceCommand. `ssh.config: FILE`
// makes that ssh read FILE instead (issue 12 item 6). Tried through a real
// gateway with such a file in a test account's home; its `Match exec` only
// matches this test's own destination port, so other tests are untouched.
import assert from "node:assert/strict";
import { sshAs, USERS } from "../harness/mod.ts";
import { withUserFile } from "../harness/user_files.ts";
import { e2e, type ProxyGateway, startProxyGateway } from "./gateway.ts";

const user = USERS.user2;

const MARKERS = ["match-exec", "proxy-command", "local-command"];

function hostileConfig(gw: ProxyGateway, dir: string): string {
  const port = gw.servers.server1.port;
  return [
    "# Written by sshproxy's tests/e2e/proxy_ssh_config_test.ts while it runs;",
    `# it only matches that test's destination port ${port}.`,
    `Match exec "test %p = ${port} && touch ${dir}/match-exec"`,
    "    PermitLocalCommand yes",
    `    LocalCommand touch ${dir}/local-command`,
    // A working relay, so the session itself still succeeds. Its reading
    // half must not outlive ssh holding ssh's stderr (the session's own,
    // which the gateway's sshd waits to see closed): once in six full test
    // runs the login hung until the test's 30 s timeout, likely so.
    `    ProxyCommand /bin/bash -c 'touch ${dir}/proxy-command; ` +
    "exec 3<>/dev/tcp/%h/%p; cat <&3 2>/dev/null & reader=$!; " +
    "cat >&3; kill $reader 2>/dev/null'",
    "",
  ].join("\n");
}

async function markersFound(dir: string): Promise<string[]> {
  const found: string[] = [];
  for (const marker of MARKERS) {
    if (await Deno.lstat(`${dir}/${marker}`).then(() => true, () => false)) {
      found.push(marker);
    }
  }
  return found;
}

async function login(gw: ProxyGateway) {
  return await sshAs(user, {
    port: gw.gateway.ports[2022],
    host: gw.gateway.host,
    command: "echo on-$SSHPROXY_TEST_HOST",
    // The tester's own client must not read the hostile file either.
    extraArgs: ["-F", "/dev/null"],
  }, { timeoutMs: 30_000 });
}

Deno.test({
  name:
    "the user's ~/.ssh/config runs commands on the gateway unless ssh.config is set",
  ...e2e,
  async fn() {
    await using gw = await startProxyGateway();
    const markers = `${gw.logDir}/markers`;
    await Deno.mkdir(markers);
    await Deno.chmod(markers, 0o1777);
    const adminFile = `${gw.logDir}/gateway_ssh_config`;
    await Deno.writeTextFile(
      adminFile,
      "# the gateway's ssh configuration\nHost *\n    ServerAliveInterval 30\n",
    );
    await Deno.chmod(adminFile, 0o644);
    await withUserFile(
      user,
      ".ssh/config",
      hostileConfig(gw, markers),
      async () => {
        // Without ssh.config (the default, as the reference): the user's
        // commands ran on the gateway.
        await gw.writeConfig(gw.basicConfig());
        const open = await login(gw);
        assert.equal(open.code, 0, open.stderr);
        assert.equal(open.stdout, "on-server1\n");
        assert.deepEqual(await markersFound(markers), MARKERS);
        for (const marker of MARKERS) await Deno.remove(`${markers}/${marker}`);

        // With ssh.config: only the admin's file is read.
        await gw.writeConfig(
          gw.basicConfig().replace(
            `  args: ${gw.sshArgsYaml}\n`,
            `  args: ${gw.sshArgsYaml}\n  config: ${adminFile}\n`,
          ),
        );
        const closed = await login(gw);
        assert.equal(closed.code, 0, closed.stderr);
        assert.equal(closed.stdout, "on-server1\n");
        assert.deepEqual(await markersFound(markers), []);
      },
      0o644,
    );
  },
});
