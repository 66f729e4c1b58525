// Hand-off with etcd (sshproxy(8), HAND-OFF): a session the gateway's agent
// routed is registered by the agent, which watches the launcher's process
// (the one that becomes ssh): the session is handed off, its connection
// key stays while ssh runs, goes when ssh ends, and the agent logs the
// end. A session that registers itself in etcd (no agent configured, or
// the agent not answering) needs its own process for that: it is not
// handed off and behaves as without hand-off.
import assert from "node:assert/strict";
import { USERS } from "../harness/mod.ts";
import { prepareAgent } from "./agent_env.ts";
import { gatewayProcesses, gatewaySsh, isOurs } from "./handoff_env.ts";
import { e2e, startEtcdGateways } from "./proxy_etcd_env.ts";

const FEDORA = USERS.fedora;
const KEYS = `/sshproxy/connections/${FEDORA}@service2/`;

Deno.test({
  name:
    "through the agent, a handed-off session's key lives as long as its ssh, and the agent logs the end",
  ...e2e,
  async fn() {
    await using env = await startEtcdGateways();
    await using agent = await prepareAgent(env.gw);
    await env.configure({ extra: `${agent.agentYaml()}handoff: true\n` });
    await agent.start();
    const session = await env.start("sleep 4; echo $SSHPROXY_TEST_HOST");
    const during = await env.until(
      "the session registered and handed off",
      async () => {
        const keys = await env.dump(KEYS);
        const processes = await gatewayProcesses(env.gw);
        return keys.size === 1 && gatewaySsh(processes).length === 1
          ? { keys, processes }
          : undefined;
      },
    );
    const [ssh] = gatewaySsh(during.processes);
    assert.deepEqual(
      during.processes.filter((process) => isOurs(process, env.gw.product)),
      [],
      "a process of ours stays",
    );
    const [key] = during.keys.keys();
    assert.match(key, new RegExp(`^${KEYS}127\\.0\\.0\\.11:\\d+/`));
    const result = await session.result();
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stdout, "server1\n");
    await env.until("the key removed", async () => {
      return (await env.dump(KEYS)).size === 0 ? true : undefined;
    }, 8_000);
    await agent.waitForLog(
      new RegExp(
        `session of ${FEDORA} ended: process ${ssh.pid} is gone after .* on 127\\.0\\.0\\.11:\\d+ \\(service: service2\\)`,
      ),
    );
    const log = await env.gw.readLog(FEDORA);
    assert.match(log, /route given by the agent/);
    assert.match(log, new RegExp(`: handed off to ssh, pid ${ssh.pid}:`));
    assert.doesNotMatch(log, /disconnected/);
    // The agent counted the login as proxied, latency included.
    const metrics = await agent.scrape();
    assert.match(
      metrics,
      /sshproxy_logins_total\{outcome="proxied"[^}]*\} 1\n/,
    );
    assert.match(metrics, /sshproxy_login_duration_seconds_count 1\n/);
  },
});

Deno.test({
  name:
    "a session that registers itself in etcd (no agent, or the agent away) is not handed off and ends as before",
  ...e2e,
  async fn() {
    await using env = await startEtcdGateways();
    await using agent = await prepareAgent(env.gw);
    const check = async (why: RegExp) => {
      const session = await env.start("sleep 3; echo $SSHPROXY_TEST_HOST");
      const during = await env.until("the session registered", async () => {
        const keys = await env.dump(KEYS);
        const processes = await gatewayProcesses(env.gw);
        return keys.size === 1 && gatewaySsh(processes).length === 1
          ? processes
          : undefined;
      });
      assert.equal(
        during.filter((process) =>
          isOurs(process, env.gw.product) &&
          process.argv.some((word) => word.endsWith("/app/sshproxy.js"))
        ).length,
        1,
        "the proxy runs beside its ssh",
      );
      const result = await session.result();
      assert.equal(result.code, 0, result.stderr);
      assert.equal(result.stdout, "server1\n");
      await env.until("the key removed", async () => {
        return (await env.dump(KEYS)).size === 0 ? true : undefined;
      }, 8_000);
      const log = await env.gw.readLog(FEDORA);
      const last = log.slice(log.lastIndexOf("connected from"));
      assert.match(last, why);
      assert.doesNotMatch(last, /handed off to ssh, pid/);
      assert.match(last, / INFO [0-9A-F]{10}: disconnected\n$/);
    };
    await env.configure({ extra: "handoff: true\n" });
    await check(
      /not handed off to ssh: its etcd registration is its own \(no agent configured\)/,
    );
    // The agent is configured but not started: its socket does not exist.
    await env.configure({ extra: `${agent.agentYaml()}handoff: true\n` });
    await check(
      /not handed off to ssh: it registered itself in etcd \(the agent did not route it\)/,
    );
  },
});
