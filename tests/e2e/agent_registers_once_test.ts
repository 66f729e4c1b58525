// A session is registered in etcd exactly once (sshproxy-agent(8),
// PROTOCOL). The agent is made to decide late, deterministically: its
// identity helper shell (the `id` lookup it makes after it has read and
// proven a request, for a file that matches on groups: the file here has
// such an override, for a group nobody is in) is stopped with SIGSTOP
// before the login and continued
// only once the session gave up on the agent (`agent.decision_timeout`) and routed
// and registered itself. The agent then decides and registers too; the
// session never takes that route, so the agent must withdraw it: one
// connection key for the one live session, the session's own, and none
// under the agent's lease. (Before the accept step of protocol 2, the
// agent kept its key as well: two keys for one session, counted twice by
// max_connections_per_user.)
import assert from "node:assert/strict";
import { USERS } from "../harness/mod.ts";
import { descendants } from "../harness/process.ts";
import { prepareAgent, sample, type TestAgent } from "./agent_env.ts";
import { e2e, type EtcdGateways, startEtcdGateways } from "./proxy_etcd_env.ts";

const FEDORA = USERS.fedora;
const PREFIX = `/sshproxy/connections/${FEDORA}@service1/`;

async function configure(
  env: EtcdGateways,
  agent: TestAgent,
  timeout: string,
): Promise<void> {
  await env.configure({
    keyttl: 5,
    extra: agent.agentYaml({ timeout }),
    overrides:
      "  - match:\n      - groups: [nobody-is-in-this-group]\n    debug: true\n",
  });
}

/** The agent's helper shells, in the order it started them (identity first). */
async function helperShells(agentPid: number): Promise<number[]> {
  const found: number[] = [];
  for (const pid of await descendants([agentPid])) {
    const argv = await Deno.readTextFile(`/proc/${pid}/cmdline`).catch(() =>
      ""
    );
    if (argv.split("\0").includes("sshproxy-agent-helper")) found.push(pid);
  }
  return found.sort((a, b) => a - b);
}

/** The lease (decimal) of every key under `prefix`. */
async function leases(env: EtcdGateways, prefix: string): Promise<string[]> {
  const out = await env.etcdctl(["get", "--prefix", "-w", "json", prefix]);
  return [...out.matchAll(/"lease":(\d+)/g)].map((match) => match[1]);
}

Deno.test({
  name:
    "an agent that decides after the session gave up withdraws its registration: one key per session, the session's own",
  ...e2e,
  async fn() {
    await using env = await startEtcdGateways();
    await using agent = await prepareAgent(env.gw);
    await configure(env, agent, "300ms");
    await agent.start();
    const shells = await helperShells(agent.pid()!);
    assert.equal(shells.length, 2, `helper shells: ${shells.join(", ")}`);
    const identityShell = shells[0];
    Deno.kill(identityShell, "SIGSTOP");
    let stopped = true;
    try {
      const session = await env.start("sleep 60", { role: 2022 });
      // The session waited 300 ms, then routed and registered itself.
      const own = await env.until("the session registered itself", async () => {
        const log = await env.gw.readLog(FEDORA);
        return /routing without it/.test(log)
          ? /registered in etcd as (\S+)/.exec(log)?.[1]
          : undefined;
      }, 30_000);
      assert.deepEqual([...(await env.dump(PREFIX)).keys()], [own]);
      const decided = (await agent.log()).length;
      Deno.kill(identityShell, "SIGCONT");
      stopped = false;
      // The agent decides now, for a session that no longer listens.
      const after = await agent.waitForLog(
        new RegExp(`(routed|withdrew the route of) ${FEDORA}`),
        20_000,
      );
      // Exactly one key, the session's own, and it stays so.
      for (let i = 0; i < 5; i++) {
        assert.deepEqual([...(await env.dump(PREFIX)).keys()], [own]);
        await new Promise((resolve) => setTimeout(resolve, 300));
      }
      assert.match(
        after.slice(decided),
        new RegExp(`withdrew the route of ${FEDORA}`),
      );
      assert.doesNotMatch(
        await env.gw.readLog(FEDORA),
        /route given by the agent/,
      );
      const metrics = await agent.scrape();
      assert.equal(sample(metrics, "sshproxy_agent_withdrawn_routes_total"), 1);
      assert.equal(
        sample(metrics, 'sshproxy_logins_total{outcome="proxied"}') ?? 0,
        0,
      );
      session.kill("SIGKILL");
      await session.result();
      await env.until(
        "the session's key gone with it",
        async () => (await env.dump(PREFIX)).size === 0 ? true : undefined,
        15_000,
      );
    } finally {
      if (stopped) Deno.kill(identityShell, "SIGCONT");
    }
  },
});

Deno.test({
  name:
    "a session that takes the agent's route is registered once, under the agent's lease, and counted once by max_connections_per_user",
  ...e2e,
  async fn() {
    await using env = await startEtcdGateways();
    await using agent = await prepareAgent(env.gw);
    await env.configure({
      keyttl: 5,
      extra: `${agent.agentYaml({ timeout: "5s" })}max_connections_per_user: 2`,
    });
    await agent.start();
    const first = await env.start("sleep 60", { role: 2022 });
    const second = await env.start("sleep 60", { role: 2022 });
    await env.until(
      "two sessions registered",
      async () => (await env.dump(PREFIX)).size === 2 ? true : undefined,
      20_000,
    );
    const third = await env.ssh("true", { role: 2022 });
    assert.equal(third.code, 1, third.stderr);
    assert.equal(third.stderr, "Too many simultaneous connections\n");
    const keyLeases = await leases(env, PREFIX);
    assert.equal(keyLeases.length, 2);
    assert.equal(new Set(keyLeases).size, 1, "both under the agent's lease");
    const log = await env.gw.readLog(FEDORA);
    assert.equal(log.match(/route given by the agent/g)?.length, 2, log);
    assert.doesNotMatch(log, /routing without it/);
    assert.doesNotMatch(await agent.log(), /withdrew the route/);
    first.kill("SIGKILL");
    second.kill("SIGKILL");
    await Promise.all([first.result(), second.result()]);
    await env.until(
      "every key gone",
      async () => (await env.dump(PREFIX)).size === 0 ? true : undefined,
      15_000,
    );
  },
});
