// The proxy and etcd over time, through the real gateway: TLS + auth;
// etcd killed in the middle of a session and restarted (the session goes
// on, its key is back within 2 x keyttl); a lease lost under a live
// session (key re-created under a fresh lease); bandwidth published every
// etcd_stats_interval (spec §8.5).
import assert from "node:assert/strict";
import { sleep, USERS } from "../harness/mod.ts";
import { e2e, startEtcdGateways, WHERE } from "./proxy_etcd_env.ts";

const FEDORA = USERS.fedora;
const CONNECTIONS = "/sshproxy/connections/";

Deno.test({
  name:
    "TLS + auth etcd: sessions register and deregister; wrong credentials are one ERROR line and the session goes on",
  ...e2e,
  async fn() {
    await using env = await startEtcdGateways({
      etcd: { tls: true, auth: { user: "sshproxy", password: "sshproxy" } },
    });
    const session = await env.start("sleep 20");
    const keys = await env.until("registered over TLS", async () => {
      const found = await env.dump(CONNECTIONS);
      return found.size === 1 ? found : undefined;
    });
    assert.match(
      [...keys.keys()][0],
      new RegExp(`^${CONNECTIONS}${FEDORA}@service2/`),
    );
    const shown = await env.showJson<{ N: number }[]>(["connections"]);
    assert.equal(shown[0].N, 1);
    session.kill("SIGKILL");
    await session.result();
    await env.until(
      "deregistered",
      async () => (await env.dump(CONNECTIONS)).size === 0,
    );

    // Wrong password: the proxy says who was refused, and routes anyway.
    const text = await Deno.readTextFile(env.gw.configPath);
    await env.gw.writeConfig(
      text.replace("password: sshproxy", "password: wrong"),
    );
    const length = (await env.gw.readLog(FEDORA)).length;
    const result = await env.ssh(WHERE);
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stdout.trim(), "server1");
    const log = (await env.gw.readLog(FEDORA)).slice(length);
    const errors = log.split("\n").filter((l) => / ERROR /.test(l));
    assert.equal(errors.length, 1, errors.join("\n"));
    assert.match(
      errors[0],
      /Cannot contact etcd cluster to update state: .*refused user "sshproxy": wrong user name or password/,
    );
  },
});

Deno.test({
  name:
    "etcd killed in the middle of a session and restarted: the session goes on and its key is back within 2 x keyttl",
  ...e2e,
  async fn() {
    await using env = await startEtcdGateways();
    const keyttl = 1;
    const session = await env.start("sleep 9; echo survived");
    const registered = await env.until("registered", async () => {
      const found = await env.dump(CONNECTIONS);
      return found.size === 1 ? [...found.keys()][0] : undefined;
    });
    await env.etcd.kill();
    await sleep(2500);
    await env.etcd.restart();
    const restarted = Date.now();
    const back = await env.until("the key is back", async () => {
      const found = await env.dump(CONNECTIONS);
      return found.has(registered) ? Date.now() : undefined;
    }, 10_000);
    assert.ok(
      back - restarted <= 2 * keyttl * 1000,
      `back ${back - restarted} ms after the restart`,
    );
    // Still kept alive afterwards (the lease is renewed, not left to lapse).
    await sleep(2500);
    assert.ok((await env.dump(CONNECTIONS)).has(registered));
    const result = await session.result();
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stdout.trim(), "survived");
    const log = await env.gw.readLog(FEDORA);
    assert.match(
      log,
      /WARNING [^:]+: lost contact with etcd, the session goes on/,
    );
    assert.match(
      log,
      /INFO [^:]+: etcd answers again: connection registered again/,
    );
    assert.doesNotMatch(
      log.split("\n").filter((l) => / ERROR /.test(l)).join("\n"),
      /./,
    );
    await env.until(
      "deregistered",
      async () => (await env.dump(CONNECTIONS)).size === 0,
    );
  },
});

Deno.test({
  name:
    "a connection lease revoked under a live session: the key is written again under a fresh lease within 2 x keyttl",
  ...e2e,
  async fn() {
    await using env = await startEtcdGateways();
    const session = await env.start("sleep 20");
    const key = await env.until("registered", async () => {
      const found = await env.dump(CONNECTIONS);
      return found.size === 1 ? [...found.keys()][0] : undefined;
    });
    const leaseOf = async () => {
      const out = await env.etcdctl(["get", "-w", "json", key]);
      return /"lease":(\d+)/.exec(out)?.[1];
    };
    const lease = (await leaseOf())!;
    await env.etcdctl(["lease", "revoke", BigInt(lease).toString(16)]);
    const revoked = Date.now();
    const fresh = await env.until("re-created", async () => {
      const now = await leaseOf();
      return now !== undefined && now !== lease ? now : undefined;
    }, 5000);
    assert.ok(Date.now() - revoked <= 2000, `${Date.now() - revoked} ms`);
    assert.notEqual(fresh, lease);
    session.kill("SIGKILL");
    await session.result();
  },
});

Deno.test({
  name:
    "etcd_stats_interval: the session's bandwidth (integer kB/s, Out = to the user) is published on its connection key",
  ...e2e,
  async fn() {
    await using env = await startEtcdGateways();
    await env.configure({
      keyttl: 2,
      extra: "dump: etcd\netcd_stats_interval: 1s",
    });
    // About 400 kB/s towards the user for ~8 s.
    const session = await env.start(
      "for i in $(seq 1 32); do head -c 100000 /dev/zero; sleep 0.25; done",
    );
    const value = await env.until("bandwidth published", async () => {
      const found = [...(await env.dump(CONNECTIONS)).values()];
      if (found.length !== 1) return undefined;
      const parsed = JSON.parse(found[0]) as { In: number; Out: number };
      return parsed.Out > 0 ? parsed : undefined;
    }, 8000);
    assert.equal(value.In, 0);
    assert.ok(value.Out >= 100 && value.Out <= 1000, JSON.stringify(value));
    const rows = await env.showJson<{ BwOut: number }[]>(["connections"]);
    assert.ok(rows[0].BwOut > 0);
    const result = await session.result();
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stdoutBytes.length, 3_200_000);
  },
});
