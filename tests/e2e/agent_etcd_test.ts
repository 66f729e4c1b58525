// The gateway agent with a real etcd (sshproxy-agent(8)): sessions routed by
// the agent stick to where a reference gateway's keys say, their keys are
// the reference's, under the agent's one lease, gone when the session's
// process ends; the agent killed mid-session leaves sessions running, lets
// its keys lapse, and new logins route themselves.
import assert from "node:assert/strict";
import { sleep, USERS } from "../harness/mod.ts";
import { prepareAgent, sample, type TestAgent } from "./agent_env.ts";
import { alive, waitFor } from "./gateway.ts";
import {
  e2e,
  type EtcdGateways,
  type ReferenceOptions,
  startEtcdGateways,
  WHERE,
} from "./proxy_etcd_env.ts";

const FEDORA = USERS.fedora;

/** The reference configuration with the agent section. */
async function configure(
  env: EtcdGateways,
  agent: TestAgent,
  options: ReferenceOptions = {},
): Promise<void> {
  await env.configure({
    ...options,
    extra: `${agent.agentYaml()}${options.extra ?? ""}`,
  });
}

/** The lease (decimal) of every key under `prefix`. */
async function leases(env: EtcdGateways, prefix: string): Promise<string[]> {
  const out = await env.etcdctl(["get", "--prefix", "-w", "json", prefix]);
  // Lease IDs exceed 2^53: read them as text, not through JSON.parse.
  return [...out.matchAll(/"lease":(\d+)/g)].map((match) => match[1]);
}

/** One revision field of every key at `key` (at revision `at`, or now). */
async function revisions(
  env: EtcdGateways,
  key: string,
  field: "create_revision" | "mod_revision",
  at?: number,
): Promise<number[]> {
  const out = await env.etcdctl([
    "get",
    "-w",
    "json",
    ...(at === undefined ? [] : [`--rev=${at}`]),
    key,
  ]);
  return [...out.matchAll(new RegExp(`"${field}":(\\d+)`, "g"))].map((
    match,
  ) => Number(match[1]));
}

Deno.test({
  name:
    "sessions through the agent stick to a reference gateway's key; theirs are reference keys under one agent lease, gone with the session",
  ...e2e,
  async fn() {
    await using env = await startEtcdGateways();
    await using agent = await prepareAgent(env.gw);
    await configure(env, agent, { keyttl: 5 });
    await agent.start();
    const s2 = env.gw.servers.server2.address;
    // A live session of a reference gateway on server2.
    const granted = await env.etcdctl(["lease", "grant", "60"]);
    const refLease = /lease ([0-9a-f]+) granted/.exec(granted)![1];
    const refKey =
      `/sshproxy/connections/${FEDORA}@service1/${s2}/192.168.0.1:2022/2024-05-02T09:15:03.041527381+02:00`;
    await env.etcdctl([
      "put",
      `--lease=${refLease}`,
      refKey,
      '{"In":0,"Out":0}',
    ]);
    // ordered would say server1: the reference's key says server2.
    const first = await env.start("sleep 30", { role: 2022 });
    const second = await env.start("sleep 30", { role: 2022 });
    const keys = await env.until("two sessions registered", async () => {
      const found = await env.dump(`/sshproxy/connections/${FEDORA}@service1/`);
      return found.size === 3 ? found : undefined;
    });
    const ours = [...keys.keys()].filter((key) => key !== refKey);
    for (const key of ours) {
      assert.match(
        key,
        new RegExp(
          `^/sshproxy/connections/${FEDORA}@service1/${
            s2.replaceAll(".", "\\.")
          }/127\\.0\\.0\\.1:${
            env.gw.gateway.ports[2022]
          }/\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d\\.\\d{1,9}(Z|[+-]\\d\\d:\\d\\d)$`,
        ),
      );
      assert.equal(keys.get(key), '{"In":0,"Out":0}');
    }
    const sessionLeases = (await leases(
      env,
      `/sshproxy/connections/${FEDORA}@service1/`,
    )).filter((lease) => BigInt(lease) !== BigInt(`0x${refLease}`));
    assert.equal(
      (await leases(env, `/sshproxy/connections/${FEDORA}@service1/`)).length,
      3,
    );
    assert.equal(sessionLeases.length, 2);
    assert.equal(new Set(sessionLeases).size, 1, "one lease for both");
    // The host state the decision probed went in the registration's own
    // transaction: at the revision that created each session's key, the
    // host's state was written too.
    for (const key of ours) {
      const created = await revisions(env, key, "create_revision");
      assert.equal(created.length, 1);
      assert.deepEqual(
        await revisions(
          env,
          `/sshproxy/hosts/${s2}`,
          "mod_revision",
          created[0],
        ),
        created,
        `the host state and ${key} in one transaction`,
      );
    }
    const log = await env.gw.readLog(FEDORA);
    assert.match(log, /route given by the agent/);
    assert.match(log, new RegExp(`found destination in etcd: ${s2}`));
    assert.doesNotMatch(log, /routing without it/);
    // The first session ends: its key goes at once, the other's stays.
    first.kill("SIGKILL");
    await first.result();
    const left = await env.until(
      "the ended session's key deleted",
      async () => {
        const found = await env.dump(
          `/sshproxy/connections/${FEDORA}@service1/`,
        );
        return found.size === 2 ? found : undefined;
      },
      8_000,
    );
    assert.ok(left.has(refKey));
    second.kill("SIGKILL");
    await second.result();
    await env.until("every agent key deleted", async () => {
      const found = await env.dump(`/sshproxy/connections/${FEDORA}@service1/`);
      return found.size === 1 ? true : undefined;
    }, 8_000);
    await agent.waitForLog(new RegExp(`session of ${FEDORA} ended`));
  },
});

Deno.test({
  name:
    "the agent killed mid-session: the session goes on, its key lapses within keyttl, new logins route themselves",
  ...e2e,
  async fn() {
    await using env = await startEtcdGateways();
    await using agent = await prepareAgent(env.gw);
    await configure(env, agent, { keyttl: 2 });
    await agent.start();
    const session = await env.start(`sleep 6; ${WHERE}`, { role: 2022 });
    await env.until("registered", async () => {
      const found = await env.dump(`/sshproxy/connections/${FEDORA}@service1/`);
      return found.size === 1 ? true : undefined;
    });
    // Killed once the route is the session's for good (the agent logs it as
    // it confirms): killed between its key's write and that confirmation,
    // the agent would leave the session to register itself, by design.
    await agent.waitForLog(/routed \S+ from /);
    const proxies = await env.gw.gatewaySshPids();
    assert.equal(proxies.length, 1);
    await agent.kill();
    const killedAt = Date.now();
    await env.until("the key lapsed with the agent's lease", async () => {
      const found = await env.dump(`/sshproxy/connections/${FEDORA}@service1/`);
      return found.size === 0 ? true : undefined;
    }, 5_000);
    // Within keyttl (2 s) of the last keep-alive, plus etcd's lease checks.
    assert.ok(Date.now() - killedAt < 4_500, `${Date.now() - killedAt} ms`);
    assert.ok(await alive(proxies[0]), "the session's ssh is still running");
    const after = await env.ssh(WHERE, { role: 2022 });
    assert.equal(after.code, 0, after.stderr);
    assert.equal(after.stdout.trim(), "server1");
    const log = await env.gw.readLog(FEDORA);
    assert.match(
      log,
      new RegExp(
        `DEBUG \\w+: agent at ${
          agent.socket.replaceAll(".", "\\.")
        }: [^\\n]*; routing without it`,
      ),
    );
    // Routing itself, the session registered itself.
    assert.match(log, /registered in etcd as /);
    const ended = await session.result();
    assert.equal(ended.code, 0, ended.stderr);
    assert.equal(ended.stdout.trim(), "server1");
    await sleep(0);
  },
});

Deno.test({
  name:
    "the agent shares its health checks through /sshproxy/hosts/ as the reference does, before any login",
  ...e2e,
  async fn() {
    await using env = await startEtcdGateways();
    await using agent = await prepareAgent(env.gw);
    const { server1, server2, server3 } = env.gw.servers;
    await configure(env, agent, {
      extra: `check_interval: 2s\nhealth_check: ssh\n`,
      overrides:
        `  - match:\n      - users: [nobody-here]\n    dest: ["127.0.0.11:1"]\n`,
    });
    await agent.start();
    const hosts = await env.until("every destination checked", async () => {
      const found = await env.dump("/sshproxy/hosts/");
      return found.size === 4 ? found : undefined;
    });
    const state = (dest: string) =>
      (JSON.parse(hosts.get(`/sshproxy/hosts/${dest}`)!) as { State: string })
        .State;
    for (const dest of [server1.address, server2.address, server3.address]) {
      assert.match(
        hosts.get(`/sshproxy/hosts/${dest}`)!,
        /^\{"State":"up","Ts":"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,9})?(Z|[+-]\d\d:\d\d)"\}$/,
      );
    }
    assert.equal(state("127.0.0.11:1"), "down");
    // sshproxyctl (any gateway's) reads them.
    const rows = await env.showJson<{ Hostname: string; State: string }[]>([
      "hosts",
    ]);
    assert.equal(
      rows.find((r) => r.Hostname === "127.0.0.11:1")?.State,
      "down",
    );
    // A host disabled by an admin is never probed nor overwritten.
    const ctl = await env.ctl([
      "disable",
      "-host",
      server1.host,
      "-port",
      String(server1.port),
    ]);
    assert.equal(ctl.code, 0, ctl.stderr);
    await sleep(4_500);
    const later = await env.dump("/sshproxy/hosts/");
    assert.match(
      later.get(`/sshproxy/hosts/${server1.address}`)!,
      /"disabled"/,
    );
    // Re-checked within check_interval: the time moved on.
    assert.notEqual(
      later.get(`/sshproxy/hosts/${server2.address}`),
      hosts.get(`/sshproxy/hosts/${server2.address}`),
    );
    const metrics = await agent.scrape();
    assert.match(
      metrics,
      new RegExp(
        `sshproxy_destination_state\\{destination="${server1.address}",state="disabled"\\} 1`,
      ),
    );
    assert.ok(await waitFor(() => true, 1));
  },
});

Deno.test({
  name:
    "a restarted agent takes its sessions back: their keys stay under the same lease and go when they end",
  ...e2e,
  async fn() {
    await using env = await startEtcdGateways();
    await using agent = await prepareAgent(env.gw);
    await configure(env, agent, { keyttl: 5 });
    await agent.start();
    const session = await env.start("sleep 30", { role: 2022 });
    const prefix = `/sshproxy/connections/${FEDORA}@service1/`;
    const [key] = await env.until("registered", async () => {
      const found = await env.dump(prefix);
      return found.size === 1 ? [...found.keys()] : undefined;
    });
    // Stopped once the route is the session's for good (see above).
    await agent.waitForLog(/routed \S+ from /);
    const [lease] = await leases(env, prefix);
    await agent.stop();
    let missing = false;
    const watching = (async () => {
      for (let i = 0; i < 40; i++) {
        if ((await env.dump(prefix)).size === 0) missing = true;
        await sleep(100);
      }
    })();
    await agent.start();
    await watching;
    assert.equal(missing, false, "the key disappeared during the restart");
    assert.deepEqual([...(await env.dump(prefix)).keys()], [key]);
    assert.deepEqual(await leases(env, prefix), [lease]);
    await agent.waitForLog(/took back 1 session\(s\) of the previous agent/);
    session.kill("SIGKILL");
    await session.result();
    await env.until(
      "the key deleted by the new agent",
      async () => (await env.dump(prefix)).size === 0 ? true : undefined,
      8_000,
    );
    await agent.waitForLog(new RegExp(`session of ${FEDORA} ended`));
  },
});

Deno.test({
  name:
    "a recorded session with etcd_stats_interval sends its bandwidth to the agent, which puts it on the session's key",
  ...e2e,
  async fn() {
    await using env = await startEtcdGateways();
    await using agent = await prepareAgent(env.gw);
    await configure(env, agent, {
      keyttl: 5,
      extra: "dump: etcd\netcd_stats_interval: 1s\n",
    });
    await agent.start();
    // About 2 MB a second for 8 seconds, out of the destination.
    const session = await env.start(
      "for i in 1 2 3 4 5 6 7 8; do head -c 2000000 /dev/zero; sleep 1; done",
      { role: 2022 },
    );
    const prefix = `/sshproxy/connections/${FEDORA}@service1/`;
    const value = await env.until("bandwidth on the key", async () => {
      const [found] = [...(await env.dump(prefix)).values()];
      const out = Number(/"Out":(\d+)/.exec(found ?? "")?.[1] ?? 0);
      return out > 0 ? found : undefined;
    }, 15_000);
    assert.match(value, /^\{"In":\d+,"Out":\d+\}$/);
    const out = Number(/"Out":(\d+)/.exec(value)![1]);
    // KiB/s of the last interval: some hundreds to a few thousands.
    assert.ok(out > 100 && out < 100_000, value);
    const metrics = await agent.scrape();
    assert.ok(
      (sample(metrics, 'sshproxy_session_bytes_total{direction="out"}') ?? 0) >
        1_000_000,
      metrics,
    );
    const result = await session.result();
    assert.equal(result.code, 0);
    assert.equal(result.stdoutBytes.length, 16_000_000);
    const log = await env.gw.readLog(FEDORA);
    assert.match(log, /route given by the agent/);
  },
});

Deno.test({
  name:
    "with etcd_keyttl the agent keeps the history key as the reference does: under a lease of etcd_keyttl, kept after the session, sticky for the next login",
  ...e2e,
  async fn() {
    await using env = await startEtcdGateways();
    await using agent = await prepareAgent(env.gw);
    const { server1, server2 } = env.gw.servers;
    await configure(env, agent, { keyttl: 5, o1: { etcdKeyttl: 60 } });
    await agent.start();
    // server1 disabled: the session goes to server2 and is remembered there.
    const ctl = await env.ctl([
      "disable",
      "-host",
      server1.host,
      "-port",
      String(server1.port),
    ]);
    assert.equal(ctl.code, 0, ctl.stderr);
    const first = await env.ssh(WHERE, { role: 2022 });
    assert.equal(first.stdout.trim(), "server2", first.stderr);
    const history = await env.dump(`/sshproxy/history/${FEDORA}@service1/`);
    assert.deepEqual([...history.values()], [server2.address]);
    const [key] = history.keys();
    const leaseId = key.split("/").at(-1)!;
    const ttl = await env.etcdctl([
      "lease",
      "timetolive",
      BigInt(leaseId).toString(16),
    ]);
    const remaining = Number(/remaining\((\d+)s\)/.exec(ttl)?.[1]);
    assert.ok(remaining > 0 && remaining <= 60, ttl);
    await env.ctl([
      "enable",
      "-host",
      server1.host,
      "-port",
      String(server1.port),
    ]);
    // The session ended; its destination is remembered for the next one.
    await env.until(
      "the connection key gone",
      async () =>
        (await env.dump(`/sshproxy/connections/${FEDORA}@service1/`)).size === 0
          ? true
          : undefined,
      8_000,
    );
    const second = await env.ssh(WHERE, { role: 2022 });
    assert.equal(second.stdout.trim(), "server2", second.stderr);
    assert.match(await env.gw.readLog(FEDORA), /route given by the agent/);
    assert.deepEqual(
      [...(await env.dump(`/sshproxy/history/${FEDORA}@service1/`)).keys()],
      [key],
      "the same history key (and lease) reused",
    );
  },
});
