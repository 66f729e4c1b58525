// The proxy registering sessions in a real etcd, through the real gateway
// (spec §10.2): TestEtcdConnections, TestWithoutEtcd, TestMaxConnectionsPerUser,
// TestEtcdUsers, TestEtcdGroups, 50 concurrent sessions, and the key
// deleted at session end (the reference lets it linger one lease TTL).
import assert from "node:assert/strict";
import { GROUPS, USERS } from "../harness/mod.ts";
import {
  type ConnectionRow,
  e2e,
  settle,
  startEtcdGateways,
  WHERE,
} from "./proxy_etcd_env.ts";

const FEDORA = USERS.fedora;

Deno.test({
  name:
    "TestEtcdConnections: N=1 then N=2 while sessions live, none once they end (key deleted at once)",
  ...e2e,
  async fn() {
    await using env = await startEtcdGateways();
    const server1 =
      `${env.gw.servers.server1.host}:${env.gw.servers.server1.port}`;
    const first = await env.start("sleep 20");
    const rows = () => env.showJson<ConnectionRow[]>(["connections"]);
    const one = await env.until("one connection", async () => {
      const r = await rows();
      return r.length === 1 && r[0].N === 1 ? r : undefined;
    });
    assert.deepEqual(
      one.map(({ User, Service, Dest, N }) => ({ User, Service, Dest, N })),
      [{ User: FEDORA, Service: "service2", Dest: server1, N: 1 }],
    );
    const second = await env.start("sleep 20");
    await env.until("two connections", async () => {
      const r = await rows();
      return r.length === 1 && r[0].N === 2;
    });
    // The connection key: `<user>@<service>/<dest>/<sshd>/<RFC3339Nano>`
    // with {"In":0,"Out":0}, under a lease of etcd.keyttl (1 s here).
    const keys = await env.dump("/sshproxy/connections/");
    assert.equal(keys.size, 2);
    const sshd = `${env.gw.gateway.host}:${env.gw.gateway.ports[2023]}`;
    for (const [key, value] of keys) {
      assert.match(
        key,
        new RegExp(
          `^/sshproxy/connections/${FEDORA}@service2/${
            server1.replaceAll(".", "\\.")
          }/${
            sshd.replaceAll(".", "\\.")
          }/\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d(\\.\\d+)?(Z|[+-]\\d\\d:\\d\\d)$`,
        ),
      );
      assert.equal(value, '{"In":0,"Out":0}');
    }
    // Killing the clients ends the sessions; their keys go at once.
    first.kill("SIGKILL");
    second.kill("SIGKILL");
    await Promise.all([first.result(), second.result()]);
    const started = Date.now();
    await env.until(
      "no connection left",
      async () => (await rows()).length === 0,
    );
    // Deleted by the proxy, not by lease expiry (which takes >= 1-2 s more).
    assert.ok(Date.now() - started < 3000);
    // Spec §12.4: an empty list is [], never null.
    const empty = await env.ctl(["show", "-json", "connections"]);
    assert.equal(empty.stdout.trim(), "[]");
  },
});

Deno.test({
  name:
    "TestWithoutEtcd: unreachable etcd → the session still works; mandatory → refused with one line",
  ...e2e,
  async fn() {
    await using env = await startEtcdGateways();
    await env.configure({ endpoints: ["http://127.0.0.1:2"] });
    const stateless = await env.ssh(WHERE);
    assert.equal(stateless.code, 0, stateless.stderr);
    assert.equal(stateless.stdout.trim(), "server1");
    const log = await env.gw.readLog(FEDORA);
    assert.match(
      log,
      /ERROR [^:]+: Cannot contact etcd cluster to update state: cannot reach etcd at http:\/\/127\.0\.0\.1:2: connection refused/,
    );

    await env.configure({
      endpoints: ["http://127.0.0.1:2"],
      mandatory: true,
    });
    const refused = await env.ssh(WHERE);
    assert.equal(refused.code, 1);
    assert.equal(refused.stdout, "");
    assert.equal(
      refused.stderr.trim(),
      "sshproxy: Etcd is mandatory but unavailable",
    );
    assert.match(
      await env.gw.readLog(FEDORA),
      /CRITICAL [^:]+: Etcd is mandatory but unavailable\n/,
    );
  },
});

Deno.test({
  name:
    "no etcd configured at all: no etcd ERROR in the log (spec §12.2 item 15), nothing registered",
  ...e2e,
  async fn() {
    await using env = await startEtcdGateways();
    await env.configure({ noEtcd: true });
    const result = await env.ssh(WHERE);
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stdout.trim(), "server1");
    const log = await env.gw.readLog(FEDORA);
    // Only the DEBUG listing of the configuration mentions etcd.
    assert.deepEqual(
      log.split("\n").filter((l) => /etcd/i.test(l) && !/: config\./.test(l)),
      [],
    );
    assert.doesNotMatch(log, / ERROR /);
    assert.equal((await env.dump("/sshproxy/")).size, 0);
    // etcd.mandatory without endpoints refuses.
    await env.configure({ noEtcd: true, mandatory: true });
    const refused = await env.ssh(WHERE);
    assert.equal(refused.code, 1);
    assert.equal(
      refused.stderr.trim(),
      "sshproxy: Etcd is mandatory but unavailable",
    );
  },
});

Deno.test({
  name:
    "TestMaxConnectionsPerUser: with one session running, a second is refused ('Too many simultaneous connections', exit 1); other users are not",
  ...e2e,
  async fn() {
    await using env = await startEtcdGateways();
    await env.configure({ extra: "max_connections_per_user: 1" });
    const first = await env.start("sleep 20");
    await env.until(
      "the first session registered",
      async () => (await env.dump("/sshproxy/connections/")).size === 1,
    );
    // Any service and gateway port counts (here service3 on 2024).
    const second = await env.ssh(WHERE, { role: 2024 });
    assert.equal(second.code, 1);
    assert.equal(second.stdout, "");
    assert.equal(second.stderr, "Too many simultaneous connections\n");
    const log = await env.gw.readLog(FEDORA);
    assert.match(
      log,
      new RegExp(`DEBUG [^:]+: Number of connections of ${FEDORA}: 1\n`),
    );
    assert.match(
      log,
      new RegExp(
        `CRITICAL [^:]+: Max connections per user reached for ${FEDORA}\n`,
      ),
    );
    const other = await env.ssh(WHERE, { user: USERS.user1, role: 2024 });
    assert.equal(other.code, 0, other.stderr);
    // Once the first session ends, the user may connect again at once.
    first.kill("SIGKILL");
    await first.result();
    await env.until(
      "the first session's key is gone",
      async () => (await env.dump("/sshproxy/connections/")).size === 0,
    );
    const again = await env.ssh(WHERE);
    assert.equal(again.code, 0, again.stderr);
    assert.equal(again.stdout.trim(), "server1");
  },
});

Deno.test({
  name:
    "TestEtcdUsers and TestEtcdGroups: sessions on service2 and service3 aggregated per user, group, and with -all per service",
  ...e2e,
  async fn() {
    await using env = await startEtcdGateways();
    await env.start("sleep 20", { role: 2023 });
    await env.start("sleep 20", { role: 2024 });
    await env.until(
      "two sessions registered",
      async () => (await env.dump("/sshproxy/connections/")).size === 2,
    );
    type Row = { User?: string; Group?: string; Service?: string; N: number };
    const pick = (rows: Row[]) =>
      rows.map(({ User, Group, Service, N }) =>
        Object.fromEntries(
          Object.entries({ User, Group, Service, N }).filter(([, v]) =>
            v !== undefined
          ),
        )
      );
    assert.deepEqual(pick(await env.showJson<Row[]>(["users"])), [
      { User: FEDORA, N: 2 },
    ]);
    assert.deepEqual(pick(await env.showJson<Row[]>(["-all", "users"])), [
      { User: FEDORA, Service: "service2", N: 1 },
      { User: FEDORA, Service: "service3", N: 1 },
    ]);
    assert.deepEqual(pick(await env.showJson<Row[]>(["groups"])), [
      { Group: GROUPS.fedora, N: 2 },
    ]);
    assert.deepEqual(pick(await env.showJson<Row[]>(["-all", "groups"])), [
      { Group: GROUPS.fedora, Service: "service2", N: 1 },
      { Group: GROUPS.fedora, Service: "service3", N: 1 },
    ]);
  },
});

Deno.test({
  name:
    "50 concurrent sessions through two gateways are all visible in show connections, and all gone after",
  ...e2e,
  async fn() {
    // sshd's default MaxStartups (10:30:100) randomly drops connections
    // once more than 10 are being authenticated at the same time.
    await using env = await startEtcdGateways({
      gateways: 2,
      gatewayExtraConfig: ["MaxStartups 200", "MaxSessions 200"],
      // The gateways' ssh clients log in to the destinations just as fast.
      destinationExtraConfig: ["MaxStartups 200", "MaxSessions 200"],
    });
    // keyttl 5 (the default): a loaded machine must not let leases lapse.
    await env.configure({ keyttl: 5 });
    const users = [USERS.fedora, USERS.user1, USERS.user2];
    const sessions = [];
    for (let i = 0; i < 50; i++) {
      // Starting 50 etcd-backed proxies on 2 cores can take most of a
      // minute: the sessions must outlive the start of the last one.
      sessions.push(
        await env.start("sleep 300", {
          user: users[i % users.length],
          gateway: (i % 2) + 1,
          role: 2022,
        }),
      );
      if (i % 10 === 9) await settle(200);
    }
    const all = await env.until(
      "50 connections",
      async () => {
        const rows = await env.showJson<{ User: string; From: string }[]>([
          "-all",
          "connections",
        ]);
        return rows.length === 50 ? rows : undefined;
      },
      90_000,
    );
    const byUser = new Map<string, number>();
    for (const row of all) {
      byUser.set(row.User, (byUser.get(row.User) ?? 0) + 1);
    }
    assert.deepEqual(
      [...byUser.entries()].sort(),
      [[USERS.fedora, 17], [USERS.user1, 17], [USERS.user2, 16]].sort(),
    );
    const gateways = new Set(all.map((row) => row.From.split(":")[0]));
    assert.deepEqual([...gateways].sort(), ["127.0.0.1", "127.0.0.2"]);
    for (const session of sessions) session.kill("SIGKILL");
    await Promise.all(sessions.map((s) => s.result()));
    await env.until(
      "every key gone",
      async () => (await env.dump("/sshproxy/connections/")).size === 0,
      30_000,
    );
  },
});
