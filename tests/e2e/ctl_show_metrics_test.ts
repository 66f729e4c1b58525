// `sshproxyctl show metrics` (sshproxyctl(8), our addition): the installed
// command reads the running agent's metrics at agent.metrics and tells them
// in a few lines; with the agent stopped it says so in one line, status 1.
import assert from "node:assert/strict";
import { prepareAgent } from "./agent_env.ts";
import { e2e, startEtcdGateways, WHERE } from "./proxy_etcd_env.ts";

Deno.test({
  name:
    "sshproxyctl show metrics summarizes the running agent, and says in one line when it is not running",
  ...e2e,
  async fn() {
    await using env = await startEtcdGateways();
    await using agent = await prepareAgent(env.gw);
    await env.configure({ keyttl: 5, extra: agent.agentYaml() });
    await agent.start();
    await agent.waitForLog(/watching \/sshproxy\/ in etcd/);
    const login = await env.ssh(WHERE, { role: 2022 });
    assert.equal(login.code, 0, login.stderr);
    const shown = await env.ctl(["show", "metrics"]);
    assert.equal(shown.code, 0, shown.stderr);
    assert.equal(shown.stderr, "");
    const lines = shown.stdout.trimEnd().split("\n");
    assert.match(lines[0], /^agent \S+, up \d+s, \d+\.\d MiB resident$/);
    assert.ok(lines.includes("logins: 1 proxied, 0 refused"), shown.stdout);
    assert.ok(
      lines.some((line) =>
        /^decisions: 1, median ≤ \d+ ms, 90% ≤ \d+ ms; 1 of 1 read the watched copy of etcd$/
          .test(line)
      ),
      shown.stdout,
    );
    assert.ok(
      lines.some((line) =>
        /^etcd: watch up \(\d+ keys\), \d+ requests/.test(line)
      ),
      shown.stdout,
    );
    await agent.stop();
    const stopped = await env.ctl(["show", "metrics"]);
    assert.equal(stopped.code, 1);
    assert.equal(stopped.stdout, "");
    assert.match(
      stopped.stderr,
      new RegExp(
        `^sshproxyctl: the gateway agent is not running: nothing listens on 127\\.0\\.0\\.1:${agent.metricsPort} \\(agent\\.metrics in ${
          env.gw.configPath.replaceAll(".", "\\.")
        }\\)\\n$`,
      ),
    );
  },
});
