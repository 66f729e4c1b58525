// Registrations that always land (issue 13 item 2), through the real
// gateway and a real etcd: 100 logins released at once are all registered
// while they live and all gone soon after they end; a login that finds
// etcd gone after it connected registers as soon as etcd is back, within
// 2 x keyttl, and its key goes when it ends.
import assert from "node:assert/strict";
import { freePorts, sleep, type TestUser, USERS } from "../harness/mod.ts";
import { etcdSection } from "./ctl_env.ts";
import { proxyPids } from "./gateway.ts";
import { e2e, type EtcdGateways, startEtcdGateways } from "./proxy_etcd_env.ts";

const CONNECTIONS = "/sshproxy/connections/";

async function countFiles(dir: string, prefix: string): Promise<number> {
  let count = 0;
  for await (const entry of Deno.readDir(dir)) {
    if (entry.name.startsWith(prefix)) count++;
  }
  return count;
}

// How many log lines of each kind (numbers blurred), to see on failure why
// sessions did not register.
async function logSummary(
  env: EtcdGateways,
  users: readonly TestUser[],
): Promise<string> {
  const kinds = new Map<string, number>();
  for (const user of users) {
    for (const line of (await env.gw.readLog(user)).split("\n")) {
      const match = / (WARNING|ERROR|INFO|CRITICAL|DEBUG) [^:]+: (.{0,80})/
        .exec(line);
      if (!match || (match[1] === "DEBUG" && !/etcd/.test(match[2]))) continue;
      const kind = `${match[1]} ${match[2].replace(/\d+/g, "N")}`;
      kinds.set(kind, (kinds.get(kind) ?? 0) + 1);
    }
  }
  return [...kinds].map(([kind, n]) => `${n} x ${kind}`).join("\n");
}

async function writeConfig(
  env: EtcdGateways,
  options: { keyttl: number; dest: string[]; extra?: string },
): Promise<void> {
  await env.gw.writeConfig(`debug: true
log: ${env.gw.logDir}/sshproxy-{user}.log
ssh:
  args: ${env.gw.sshArgsYaml}
${etcdSection(env.etcd)}  keyttl: ${options.keyttl}
service: burst
dest: [${options.dest.map((d) => JSON.stringify(d)).join(", ")}]
${options.extra ?? ""}
`);
}

Deno.test({
  name:
    "100 logins released at once (sticky, 3 destinations): at least 99 registered while they live, none left 10 s after they end",
  ...e2e,
  async fn() {
    await using env = await startEtcdGateways({
      gatewayExtraConfig: ["MaxStartups 300", "MaxSessions 300"],
      destinationExtraConfig: ["MaxStartups 300", "MaxSessions 300"],
    });
    const { server1, server2, server3 } = env.gw.servers;
    // keyttl 5 (the default): on a loaded machine a shorter lease can
    // lapse between two renewals of a live session.
    await writeConfig(env, {
      keyttl: 5,
      dest: [server1.address, server2.address, server3.address],
      extra: "mode: sticky\nroute_select: connections\n",
    });
    const dir = env.gw.logDir;
    const users = [USERS.fedora, USERS.user1, USERS.user2];
    const logins = 100;
    const started = Date.now();
    const sessions = await Promise.all(
      Array.from(
        { length: logins },
        (_, i) =>
          // Ends by itself once its sshd session is gone (the client is
          // killed below; a non-tty command would outlive it otherwise).
          env.start(
            `mktemp ${dir}/up.XXXXXX >/dev/null && while kill -0 $PPID 2>/dev/null; do sleep 1; done`,
            {
              user: users[i % users.length],
              role: 2025,
            },
          ),
      ),
    );
    const ended: number[] = [];
    sessions.forEach((session, i) =>
      session.result().then(() => ended.push(i))
    );
    await env.until(
      "every session running its command",
      async () => {
        assert.deepEqual(ended, [], "a session ended early");
        return (await countFiles(dir, "up.")) === logins;
      },
      240_000,
    );
    const allUp = Date.now();
    let registered = 0;
    await env.until(
      "at least 99 sessions registered",
      async () => {
        registered = (await env.dump(CONNECTIONS)).size;
        return registered >= 99;
      },
      60_000,
    ).catch(async (error) => {
      console.log(await logSummary(env, users));
      throw new Error(`${registered} of ${logins} registered: ${error}`);
    });
    const landed = Date.now();
    // Every live session has exactly one key, nothing more.
    await sleep(1000);
    const keys = await env.dump(CONNECTIONS);
    assert.ok(keys.size >= 99 && keys.size <= logins, `${keys.size} keys`);
    for (const key of keys.keys()) {
      assert.match(
        key,
        new RegExp(`^${CONNECTIONS}sshproxy-(fedora|user1|user2)@burst/`),
      );
    }
    let deferred = 0;
    let late = 0;
    for (const user of users) {
      const log = await env.gw.readLog(user);
      deferred += log.match(/ WARNING [^:]+: setting destination in etcd/g)
        ?.length ?? 0;
      late += log.match(/ INFO [^:]+: registered in etcd as \S+ \(lease/g)
        ?.length ?? 0;
    }
    console.log(
      `burst: all running after ${
        allUp - started
      } ms, ${keys.size} registered ${
        landed - allUp
      } ms later; ${deferred} registrations deferred at login, ${late} landed later`,
    );

    for (const session of sessions) session.kill("SIGKILL");
    await Promise.all(sessions.map((s) => s.result()));
    await env.until(
      "every proxy ended",
      async () => (await proxyPids(env.gw.product)).length === 0,
      60_000,
    );
    await env.until(
      "no key left 10 s after the sessions ended",
      async () => (await env.dump(CONNECTIONS)).size === 0,
      10_000,
    );
  },
});

Deno.test({
  name:
    "etcd gone during the login, back later: the session registers within 2 x keyttl of etcd answering, one WARNING then one INFO, key gone at its end",
  ...e2e,
  async fn() {
    await using env = await startEtcdGateways();
    const keyttl = 1;
    const server1 = env.gw.servers.server1;
    // The destination is reached through a relay that stops etcd when the
    // proxy's health check connects: after the proxy opened etcd and made
    // its routing reads, before it registers.
    const [port] = await freePorts(1, "127.0.0.1");
    const relay = Deno.listen({ hostname: "127.0.0.1", port });
    let connections = 0;
    const pipes: Promise<void>[] = [];
    const serve = (async () => {
      for await (const client of relay) {
        connections++;
        if (connections === 1) await env.etcd.kill();
        pipes.push((async () => {
          const server = await Deno.connect({
            hostname: server1.host,
            port: server1.port,
          });
          await Promise.all([
            client.readable.pipeTo(server.writable).catch(() => {}),
            server.readable.pipeTo(client.writable).catch(() => {}),
          ]);
        })());
      }
    })();
    try {
      await writeConfig(env, {
        keyttl,
        dest: [`127.0.0.1:${port}`],
        extra: "health_check: ssh\n",
      });
      const session = await env.start("sleep 8; echo survived", {
        role: 2025,
      });
      const log = () => env.gw.readLog(USERS.fedora);
      await env.until(
        "the registration deferred",
        async () =>
          /WARNING [^:]+: setting destination in etcd/.test(await log()),
        20_000,
      );
      assert.ok(connections >= 1);
      // etcd stays away longer than the lease would last.
      await sleep(2 * keyttl * 1000);
      await env.etcd.restart();
      const restarted = Date.now();
      const key = await env.until("the session's key", async () => {
        const keys = await env.dump(CONNECTIONS);
        return keys.size === 1 ? [...keys.keys()][0] : undefined;
      }, 10_000);
      const after = Date.now() - restarted;
      assert.ok(
        after <= 2 * keyttl * 1000,
        `registered ${after} ms after etcd answered again`,
      );
      assert.match(key, new RegExp(`^${CONNECTIONS}${USERS.fedora}@burst/`));
      const result = await session.result();
      assert.equal(result.code, 0, result.stderr);
      assert.equal(result.stdout.trim(), "survived");
      await env.until(
        "the key gone at the session's end",
        async () => (await env.dump(CONNECTIONS)).size === 0,
        5_000,
      );
      const lines = (await log()).split("\n");
      const warnings = lines.filter((l) =>
        / WARNING [^:]+: setting destination in etcd/.test(l)
      );
      assert.equal(warnings.length, 1, warnings.join("\n"));
      const infos = lines.filter((l) =>
        / INFO [^:]+: registered in etcd/.test(l)
      );
      assert.equal(infos.length, 1, lines.join("\n"));
    } finally {
      relay.close();
      await serve.catch(() => {});
      await Promise.allSettled(pipes);
    }
  },
});
