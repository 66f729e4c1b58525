// The agent keeps a watched copy of /sshproxy/ (sshproxy-agent(8), State in memory)
// and decides from it, as fresh as etcd: what etcdctl writes (as a
// reference gateway or an admin would) just before a login is what that
// login's decision sees: a live connection to stick to, a disabled host, an
// error banner. Through etcd killed and restarted under the watch, and a
// compaction past the revision the watch had to resume from (the agent
// stopped meanwhile), the next decision still sees the latest keys, read
// from the copy again.
import assert from "node:assert/strict";
import { USERS } from "../harness/mod.ts";
import { prepareAgent, sample, type TestAgent } from "./agent_env.ts";
import {
  e2e,
  type EtcdGateways,
  startEtcdGateways,
  WHERE,
} from "./proxy_etcd_env.ts";

const FEDORA = USERS.fedora;

async function configure(env: EtcdGateways, agent: TestAgent): Promise<void> {
  await env.configure({ keyttl: 5, extra: agent.agentYaml() });
}

/** A reference gateway's live connection of fedora@service1 to `dest`. */
async function referenceConnection(
  env: EtcdGateways,
  dest: string,
): Promise<string> {
  const granted = await env.etcdctl(["lease", "grant", "60"]);
  const lease = /lease ([0-9a-f]+) granted/.exec(granted)![1];
  const key =
    `/sshproxy/connections/${FEDORA}@service1/${dest}/192.168.0.1:2022/2024-05-02T09:15:03.041527381+02:00`;
  await env.etcdctl(["put", `--lease=${lease}`, key, '{"In":0,"Out":0}']);
  return key;
}

const hostValue = (state: string) =>
  JSON.stringify({ State: state, Ts: new Date().toISOString() });

/** Waits until the agent's log holds `count` lines matching `pattern`. */
async function waitForLines(
  env: EtcdGateways,
  agent: TestAgent,
  pattern: RegExp,
  count: number,
): Promise<void> {
  await env.until(
    `${count} agent log line(s) matching ${pattern}`,
    async () =>
      (await agent.log()).split("\n").filter((line) => pattern.test(line))
          .length >= count
        ? true
        : undefined,
    20_000,
  );
}

/** The agent's log lines about decisions since `from` (a length of its log). */
async function decisions(agent: TestAgent, from: number): Promise<string[]> {
  return (await agent.log()).slice(from).split("\n").filter((line) =>
    /decided in \d+ ms/.test(line)
  );
}

Deno.test({
  name:
    "what etcdctl writes just before a login is what the agent's decision sees, read from its watched copy",
  ...e2e,
  async fn() {
    await using env = await startEtcdGateways();
    await using agent = await prepareAgent(env.gw);
    const { server1, server2 } = env.gw.servers;
    await configure(env, agent);
    await agent.start();
    await agent.waitForLog(/watching \/sshproxy\/ in etcd from revision/);
    const start = (await agent.log()).length;
    // A reference gateway's session on server2: ordered would say server1.
    const reference = await referenceConnection(env, server2.address);
    const sticky = await env.ssh(WHERE, { role: 2022 });
    assert.equal(sticky.stdout.trim(), "server2", sticky.stderr);
    // It ended; an admin disabled server1 meanwhile.
    await env.etcdctl(["del", reference]);
    await env.etcdctl([
      "put",
      `/sshproxy/hosts/${server1.address}`,
      hostValue("disabled"),
    ]);
    const avoided = await env.ssh(WHERE, { role: 2022 });
    assert.equal(avoided.stdout.trim(), "server2", avoided.stderr);
    // Everything disabled, and a banner in etcd.
    await env.etcdctl([
      "put",
      `/sshproxy/hosts/${server2.address}`,
      hostValue("disabled"),
    ]);
    await env.etcdctl(["put", "/sshproxy/error_banner/value", "back at noon"]);
    const refused = await env.ssh(WHERE, { role: 2022 });
    assert.equal(refused.code, 1);
    assert.equal(refused.stdout, "back at noon\n");
    const lines = await decisions(agent, start);
    assert.equal(lines.length, 3, lines.join("\n"));
    for (const line of lines) {
      assert.match(line, /state from the watched copy at revision \d+/);
    }
    const metrics = await agent.scrape();
    assert.equal(
      sample(metrics, 'sshproxy_agent_routing_reads_total{source="mirror"}'),
      3,
    );
    assert.equal(sample(metrics, "sshproxy_agent_mirror_up"), 1);
    const log = await env.gw.readLog(FEDORA);
    assert.equal(log.match(/route given by the agent/g)?.length, 2);
    assert.doesNotMatch(log, /routing without it/);
  },
});

Deno.test({
  name:
    "etcd killed and restarted under the agent's watch, then compacted past it: the next decision reads the latest keys from the copy each time",
  ...e2e,
  async fn() {
    await using env = await startEtcdGateways();
    await using agent = await prepareAgent(env.gw);
    const { server1, server2 } = env.gw.servers;
    await configure(env, agent);
    await agent.start();
    await agent.waitForLog(/watching \/sshproxy\/ in etcd from revision/);
    // etcd dies and comes back: the watch resumes.
    await env.etcd.kill();
    await agent.waitForLog(/the watch on \/sshproxy\/ ended/);
    await env.etcd.restart();
    await waitForLines(env, agent, /watching \/sshproxy\/ in etcd again/, 1);
    let from = (await agent.log()).length;
    const reference = await referenceConnection(env, server2.address);
    const sticky = await env.ssh(WHERE, { role: 2022 });
    assert.equal(sticky.stdout.trim(), "server2", sticky.stderr);
    assert.match(
      (await decisions(agent, from)).join("\n"),
      /state from the watched copy/,
    );
    // The agent cannot watch while etcd restarts, the keys change and etcd
    // compacts its history past the agent's revision.
    const pid = agent.pid()!;
    Deno.kill(pid, "SIGSTOP");
    try {
      await env.etcd.kill();
      await env.etcd.restart();
      await env.etcdctl(["del", reference]);
      await env.etcdctl([
        "put",
        `/sshproxy/hosts/${server1.address}`,
        hostValue("disabled"),
      ]);
      const out = await env.etcdctl(["get", "-w", "json", "/sshproxy/none"]);
      await env.etcdctl(["compaction", /"revision":(\d+)/.exec(out)![1]]);
    } finally {
      Deno.kill(pid, "SIGCONT");
    }
    await agent.waitForLog(
      /read \/sshproxy\/ again at revision \d+ \(\d+ keys\): etcd compacted past the watch's revision/,
      20_000,
    );
    await waitForLines(env, agent, /watching \/sshproxy\/ in etcd again/, 2);
    from = (await agent.log()).length;
    const avoided = await env.ssh(WHERE, { role: 2022 });
    assert.equal(avoided.stdout.trim(), "server2", avoided.stderr);
    assert.match(
      (await decisions(agent, from)).join("\n"),
      /state from the watched copy/,
    );
    const metrics = await agent.scrape();
    assert.equal(
      sample(metrics, 'sshproxy_agent_mirror_syncs_total{reason="compacted"}'),
      1,
    );
  },
});
