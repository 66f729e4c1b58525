// Stickiness shared by two gateways through a real etcd (spec §10.2):
// TestStickyConnections, TestNotLongStickyConnections,
// TestLongStickyConnections, TestForgetPersist, TestMissingUser,
// TestBalancedConnections, TestEnableDisableHost, and keys written by a
// reference gateway (etcdctl, the reference's exact format) honoured.
import assert from "node:assert/strict";
import {
  ensureTestAccounts,
  GROUPS,
  removeTestAccount,
  run,
  USERS,
} from "../harness/mod.ts";
import {
  e2e,
  type EtcdGateways,
  startEtcdGateways,
  WHERE,
} from "./proxy_etcd_env.ts";

const FEDORA = USERS.fedora;

/** server1/server2 addresses and host:port parts. */
function servers(env: EtcdGateways) {
  const { server1, server2 } = env.gw.servers;
  return {
    s1: server1.address,
    s2: server2.address,
    host1: server1.host,
    port1: String(server1.port),
    host2: server2.host,
    port2: String(server2.port),
  };
}

/** State of a host in `show -json hosts`, or undefined. */
async function hostState(
  env: EtcdGateways,
  dest: string,
): Promise<string | undefined> {
  const rows = await env.showJson<{ Hostname: string; State: string }[]>([
    "hosts",
  ]);
  return rows.find((row) => row.Hostname === dest)?.State;
}

/** Destinations of the live connection keys of user@service. */
async function connectedTo(
  env: EtcdGateways,
  user: string,
  service: string,
): Promise<string[]> {
  const keys = await env.dump(`/sshproxy/connections/${user}@${service}/`);
  return [...keys.keys()].map((key) => key.split("/")[4]);
}

async function ctlOk(env: EtcdGateways, args: string[]): Promise<void> {
  const result = await env.ctl(args);
  assert.equal(
    result.code,
    0,
    `sshproxyctl ${args.join(" ")}: ${result.stderr}`,
  );
}

Deno.test({
  name:
    "TestStickyConnections: a session on server2 (server1 disabled) keeps the user on server2 through the other gateway after server1 is enabled",
  ...e2e,
  async fn() {
    await using env = await startEtcdGateways({ gateways: 2 });
    const { s1, s2, host1, port1 } = servers(env);
    await ctlOk(env, ["disable", "-host", host1, "-port", port1]);
    assert.equal(await hostState(env, s1), "disabled");
    await env.start("sleep 20", { gateway: 1, role: 2022 });
    assert.deepEqual(
      await env.until("registered", async () => {
        const dests = await connectedTo(env, FEDORA, "service1");
        return dests.length === 1 ? dests : undefined;
      }),
      [s2],
    );
    await ctlOk(env, ["enable", "-host", host1, "-port", port1]);
    assert.equal(await hostState(env, s1), "up");
    const second = await env.ssh(WHERE, { gateway: 2, role: 2022 });
    assert.equal(second.code, 0, second.stderr);
    assert.equal(second.stdout.trim(), "server2");
    const log = await env.gw.readLog(FEDORA);
    assert.match(log, new RegExp(`found destination in etcd: ${s2}`));
  },
});

Deno.test({
  name:
    "TestNotLongStickyConnections / TestLongStickyConnections: without etcd_keyttl stickiness ends with the session, with it the history key keeps it",
  ...e2e,
  async fn() {
    await using env = await startEtcdGateways({ gateways: 2 });
    const { s1, s2, host1, port1 } = servers(env);
    for (const [keyttl, expected] of [[0, "server1"], [10, "server2"]]) {
      await env.configure({ o1: { etcdKeyttl: keyttl as number } });
      await env.etcdctl(["del", "--prefix", "/sshproxy/"]);
      await ctlOk(env, ["disable", "-host", host1, "-port", port1]);
      const first = await env.ssh(WHERE, { gateway: 1, role: 2022 });
      assert.equal(first.stdout.trim(), "server2", first.stderr);
      await ctlOk(env, ["enable", "-host", host1, "-port", port1]);
      const history = await env.dump(`/sshproxy/history/${FEDORA}@service1/`);
      if (keyttl === 0) assert.equal(history.size, 0);
      else {
        assert.deepEqual([...history.values()], [s2]);
        // The history key is under a lease of etcd_keyttl seconds.
        const [key] = history.keys();
        const leaseId = key.split("/").at(-1)!;
        const ttl = await env.etcdctl([
          "lease",
          "timetolive",
          BigInt(leaseId).toString(16),
        ]);
        const remaining = Number(/remaining\((\d+)s\)/.exec(ttl)?.[1]);
        assert.ok(remaining > 0 && remaining <= 10, ttl);
      }
      const second = await env.ssh(WHERE, { gateway: 2, role: 2022 });
      assert.equal(second.code, 0, second.stderr);
      assert.equal(second.stdout.trim(), expected, `etcd_keyttl ${keyttl}`);
      assert.ok(s1);
    }
  },
});

Deno.test({
  name:
    "TestForgetPersist: the persisted destination shows in users -all and forget persist -port removes it",
  ...e2e,
  async fn() {
    await using env = await startEtcdGateways({ gateways: 2 });
    await env.configure({ o1: { etcdKeyttl: 3600 } });
    const { s1, port1 } = servers(env);
    // A live session keeps the user listed after the forget (our keys go
    // at session end, the reference's linger one TTL).
    await env.start("sleep 20", { gateway: 1, role: 2022 });
    type UserRow = { User: string; Service: string; N: number; Dest: string };
    const before = await env.until("persisted", async () => {
      const rows = await env.showJson<UserRow[]>(["-all", "users"]);
      return rows[0]?.Dest !== "" && rows[0]?.N === 1 ? rows : undefined;
    });
    assert.equal(before[0].Dest, s1);
    await ctlOk(env, ["forget", "persist", "-port", port1]);
    const after = await env.showJson<UserRow[]>(["-all", "users"]);
    assert.deepEqual(
      after.map(({ User, Service, N, Dest }) => ({ User, Service, N, Dest })),
      [{ User: FEDORA, Service: "service1", N: 1, Dest: "" }],
    );
  },
});

Deno.test({
  name:
    "TestMissingUser: a user whose account was deleted is still listed, with empty Groups",
  ...e2e,
  async fn() {
    await using env = await startEtcdGateways();
    // keyttl 5: with the reference suite's 1 s, a briefly starved proxy
    // lets its lease lapse and the listing is empty for a moment.
    await env.configure({ keyttl: 5 });
    try {
      await env.start("sleep 20", { user: USERS.tmpuser, role: 2022 });
      type UserRow = { User: string; Groups: string };
      const before = await env.until("registered", async () => {
        const rows = await env.showJson<UserRow[]>(["-all", "users"]);
        return rows.length === 1 ? rows : undefined;
      });
      assert.equal(before[0].User, USERS.tmpuser);
      assert.equal(before[0].Groups, GROUPS.user1);
      // The key is registered while ssh starts: delete the account only once
      // the session really runs on the destination, or the gateway's ssh
      // itself fails to look its user up (exit 255) and the session ends.
      await env.until(
        "the remote sleep runs",
        async () =>
          (await run(["pgrep", "-u", USERS.tmpuser, "-x", "sleep"])).ok ||
          undefined,
      );
      await removeTestAccount(USERS.tmpuser);
      // As root: running as a test user would provision the accounts again.
      const result = await run([
        env.gw.product.sshproxyctl,
        "-c",
        env.gw.configPath,
        ...["show", "-json", "-all", "users"],
      ]);
      assert.equal(result.code, 0, result.stderr);
      const after = JSON.parse(result.stdout) as UserRow[];
      assert.equal(after.length, 1);
      assert.equal(after[0].User, USERS.tmpuser);
      assert.equal(after[0].Groups, "");
      assert.match(result.stderr, new RegExp(`unknown user ${USERS.tmpuser}`));
    } finally {
      await ensureTestAccounts();
    }
  },
});

Deno.test({
  name:
    "TestBalancedConnections: route_select connections + mode balanced sends the second session to the less loaded server2",
  ...e2e,
  async fn() {
    await using env = await startEtcdGateways({ gateways: 2 });
    const { s1 } = servers(env);
    await env.start("sleep 20", { gateway: 1, role: 2022 });
    assert.deepEqual(
      await env.until("registered", async () => {
        const dests = await connectedTo(env, FEDORA, "service1");
        return dests.length === 1 ? dests : undefined;
      }),
      [s1],
    );
    await env.configure({
      o1: { routeSelect: "connections", mode: "balanced" },
    });
    for (let i = 0; i < 3; i++) {
      const second = await env.ssh(WHERE, { gateway: 2, role: 2022 });
      assert.equal(second.code, 0, second.stderr);
      assert.equal(second.stdout.trim(), "server2");
    }
    assert.match(
      await env.gw.readLog(FEDORA),
      /DEBUG [^:]+: ordered destinations based on # of connections: \[127\.0\.0\.12:\d+ 127\.0\.0\.11:\d+\]/,
    );
  },
});

Deno.test({
  name:
    "TestEnableDisableHost: disable -host with a nodeset moves sessions to server2; enable brings them back (at once: keys go with their session)",
  ...e2e,
  async fn() {
    await using env = await startEtcdGateways({ gateways: 2 });
    const { s1, host1, port1 } = servers(env);
    const where = async () => {
      const r = await env.ssh(WHERE, { gateway: 1, role: 2022 });
      assert.equal(r.code, 0, r.stderr);
      return r.stdout.trim();
    };
    assert.equal(await where(), "server1");
    const prefix = host1.split(".").slice(0, 3).join(".");
    const last = host1.split(".")[3];
    await ctlOk(env, [
      "disable",
      "-host",
      `${prefix}.[${last},100]`,
      "-port",
      port1,
    ]);
    assert.equal(await hostState(env, s1), "disabled");
    assert.equal(await hostState(env, `${prefix}.100:${port1}`), "disabled");
    assert.equal(await where(), "server2");
    await ctlOk(env, ["enable", "-host", host1, "-port", port1]);
    assert.equal(await hostState(env, s1), "up");
    // The reference stays on server2 here for one lease TTL (its ended
    // session's key lingers, spec §12.3 item 28); ours is gone already.
    assert.equal(await where(), "server1");
  },
});

Deno.test({
  name:
    "interop: connection, history and host keys written by a reference gateway (etcdctl, exact format) steer our routing",
  ...e2e,
  async fn() {
    await using env = await startEtcdGateways({ gateways: 2 });
    const { s1, s2 } = servers(env);
    const lease = async (ttl: number) => {
      const out = await env.etcdctl(["lease", "grant", String(ttl)]);
      return /lease ([0-9a-f]+) granted/.exec(out)![1];
    };
    // A live session of a reference gateway on server2.
    const connectionLease = await lease(60);
    const refKey =
      `/sshproxy/connections/${FEDORA}@service1/${s2}/192.168.0.1:2022/2024-05-02T09:15:03.041527381+02:00`;
    await env.etcdctl([
      "put",
      `--lease=${connectionLease}`,
      refKey,
      '{"In":0,"Out":0}',
    ]);
    const onGw2 = await env.ssh(WHERE, { gateway: 2, role: 2022 });
    assert.equal(onGw2.stdout.trim(), "server2", onGw2.stderr);
    // Ours registered next to it; the reference's key is untouched.
    const keys = await env.dump(`/sshproxy/connections/${FEDORA}@service1/`);
    assert.equal(keys.get(refKey), '{"In":0,"Out":0}');
    await env.etcdctl(["lease", "revoke", connectionLease]);

    // A persisted destination of a reference gateway (history key named
    // after its lease, value host:port).
    await env.configure({ o1: { etcdKeyttl: 600 } });
    const historyLease = await lease(600);
    await env.etcdctl([
      "put",
      `--lease=${historyLease}`,
      `/sshproxy/history/${FEDORA}@service1/${BigInt(`0x${historyLease}`)}`,
      s2,
    ]);
    const fromHistory = await env.ssh(WHERE, { gateway: 1, role: 2022 });
    assert.equal(fromHistory.stdout.trim(), "server2", fromHistory.stderr);
    // Our registration reused the reference's history lease (one key).
    const history = await env.dump(`/sshproxy/history/${FEDORA}@service1/`);
    assert.deepEqual([...history.keys()], [
      `/sshproxy/history/${FEDORA}@service1/${BigInt(`0x${historyLease}`)}`,
    ]);
    await env.etcdctl(["del", "--prefix", "/sshproxy/history/"]);

    // A host disabled by a reference sshproxyctl.
    await env.etcdctl([
      "put",
      `/sshproxy/hosts/${s1}`,
      '{"State":"disabled","Ts":"2024-05-02T09:15:03.041527381+02:00"}',
    ]);
    const avoided = await env.ssh(WHERE, { gateway: 1, role: 2022 });
    assert.equal(avoided.stdout.trim(), "server2", avoided.stderr);
    // And what we write, the reference reads: {"State":..,"Ts":RFC3339Nano}.
    const hosts = await env.dump("/sshproxy/hosts/");
    assert.match(
      hosts.get(`/sshproxy/hosts/${s2}`)!,
      /^\{"State":"up","Ts":"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,9})?(Z|[+-]\d\d:\d\d)"\}$/,
    );
  },
});
