// `-host @group` in sshproxyctl reads the ClusterShell groups of the
// configuration's `clustershell_dir`, like the proxy (issue 12 item 4: no
// variable of the environment chooses that directory any more).
import assert from "node:assert/strict";
import { e2e, startCtlEnv } from "./ctl_env.ts";

Deno.test({
  name: "disable -host @login expands the group from clustershell_dir",
  ...e2e,
  async fn() {
    const groups = await Deno.makeTempDir({ prefix: "sshproxy-cs-" });
    try {
      await Deno.mkdir(`${groups}/groups.d`);
      await Deno.writeTextFile(
        `${groups}/groups.d/site.yaml`,
        "site:\n  login: 'login[1-2]'\n",
      );
      for (const path of [groups, `${groups}/groups.d`]) {
        await Deno.chmod(path, 0o755);
      }
      await Deno.chmod(`${groups}/groups.d/site.yaml`, 0o644);
      await using env = await startCtlEnv({
        extra: `clustershell_dir: ${groups}\n`,
      });
      const disabled = await env.ctl(["disable", "-host", "@login"]);
      assert.equal(disabled.code, 0, disabled.stderr);
      const hosts = await env.ctl(["show", "-json", "hosts"]);
      assert.equal(hosts.code, 0, hosts.stderr);
      const states = (JSON.parse(hosts.stdout) as {
        Hostname: string;
        State: string;
      }[]).map((h) => `${h.Hostname}=${h.State}`).sort();
      assert.deepEqual(states, ["login1:22=disabled", "login2:22=disabled"]);

      const unknown = await env.ctl(["disable", "-host", "@nosuch"]);
      assert.equal(unknown.code, 2);
      assert.match(unknown.stderr, /unknown group '@nosuch'/);
    } finally {
      await Deno.remove(groups, { recursive: true });
    }
  },
});
