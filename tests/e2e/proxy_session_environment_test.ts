// What a user controls through sshd's AcceptEnv, tried as a hostile user
// would through a real gateway (issue 12 items 4 and 7): SSH_USER_AUTH
// naming a device, a FIFO or a huge file; SSHPROXY_CLUSTERSHELL_CONFDIR
// redefining the routing groups; proxy variables aimed at a listener of
// the user's. The gateway here accepts all of them, as a careless
// `AcceptEnv` would; the session must go on as if they were not set.
import assert from "node:assert/strict";
import { run, sshAs, USERS } from "../harness/mod.ts";
import { e2e, type ProxyGateway, startProxyGateway } from "./gateway.ts";

const user = USERS.user1;

const ACCEPTED = [
  "SSH_USER_AUTH",
  "SSHPROXY_*",
  "http_proxy",
  "https_proxy",
  "HTTP_PROXY",
  "HTTPS_PROXY",
  "ALL_PROXY",
  "all_proxy",
];

function permissiveGateway(): Promise<ProxyGateway> {
  return startProxyGateway({
    gatewayExtraConfig: [`AcceptEnv ${ACCEPTED.join(" ")}`],
  });
}

/** Logs in with `variables` sent by the client (ssh -o SetEnv) and runs `command`. */
function loginWith(
  gw: ProxyGateway,
  variables: Record<string, string>,
  command = "echo on-$SSHPROXY_TEST_HOST",
  timeoutMs = 30_000,
) {
  const setEnv = Object.entries(variables).map(([k, v]) => `${k}=${v}`);
  return sshAs(user, {
    port: gw.gateway.ports[2022],
    host: gw.gateway.host,
    command,
    extraArgs: setEnv.length ? ["-o", `SetEnv ${setEnv.join(" ")}`] : [],
  }, { timeoutMs });
}

Deno.test({
  name:
    "SSH_USER_AUTH naming a device, a FIFO or a huge file is a WARNING and the login goes on",
  ...e2e,
  async fn() {
    await using gw = await permissiveGateway();
    await gw.writeConfig(gw.basicConfig({ extra: "debug: true\n" }));
    const fifo = `${gw.logDir}/auth-fifo`;
    assert.equal((await run(["mkfifo", "-m", "666", fifo])).code, 0);
    const huge = `${gw.logDir}/auth-huge`;
    const file = await Deno.create(huge);
    await file.truncate(64 * 1024 * 1024); // sparse
    file.close();
    await Deno.chmod(huge, 0o644);
    const cases: [string, RegExp][] = [
      ["/dev/zero", /WARNING .*open \/dev\/zero: not a regular file/],
      [fifo, /WARNING .*: not a regular file/],
      [huge, /WARNING .*: larger than 1048576 bytes/],
    ];
    for (const [path, warning] of cases) {
      await Deno.truncate(gw.logPath(user)).catch(() => {});
      const started = Date.now();
      const result = await loginWith(gw, { SSH_USER_AUTH: path });
      const elapsed = Date.now() - started;
      assert.ok(!result.timedOut, `${path}: the login hung`);
      assert.equal(result.code, 0, `${path}: ${result.stderr}`);
      assert.equal(result.stdout, "on-server1\n", path);
      assert.ok(elapsed < 15_000, `${path}: took ${elapsed} ms`);
      const log = await gw.readLog(user);
      assert.match(log, warning, path);
      assert.match(log, /original command = echo on-\$SSHPROXY_TEST_HOST\n/);
    }
  },
});

Deno.test({
  name:
    "with ExposeAuthInfo yes (the guide's setting) sshd's own SSH_USER_AUTH wins over the client's",
  ...e2e,
  async fn() {
    await using gw = await startProxyGateway({
      gatewayExtraConfig: [
        "ExposeAuthInfo yes",
        `AcceptEnv ${ACCEPTED.join(" ")}`,
      ],
    });
    await gw.writeConfig(gw.basicConfig({ extra: "debug: true\n" }));
    const result = await loginWith(gw, { SSH_USER_AUTH: "/dev/zero" });
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stdout, "on-server1\n");
    const log = await gw.readLog(user);
    assert.doesNotMatch(log, /WARNING/);
    assert.match(log, /original command = echo on-\$SSHPROXY_TEST_HOST\n/);
  },
});

Deno.test({
  name:
    "SSHPROXY_CLUSTERSHELL_CONFDIR sent by the user does not redefine @groups: they come from clustershell_dir",
  ...e2e,
  async fn() {
    await using gw = await permissiveGateway();
    const groups = async (dir: string, login: string, owner?: number) => {
      await Deno.mkdir(`${dir}/groups.d`, { recursive: true });
      await Deno.writeTextFile(
        `${dir}/groups.d/site.yaml`,
        `site:\n  login: '${login}'\n`,
      );
      for (const path of [dir, `${dir}/groups.d`]) {
        await Deno.chmod(path, 0o755);
      }
      if (owner !== undefined) {
        for (
          const path of [dir, `${dir}/groups.d`, `${dir}/groups.d/site.yaml`]
        ) {
          await Deno.chown(path, owner, null);
        }
      }
    };
    const admin = `${gw.logDir}/clustershell`;
    await groups(admin, gw.servers.server1.address);
    // The user's own directory, where their groups send them to server2.
    const uid = Number((await run(["id", "-u", user])).stdout.trim());
    const mine = `${gw.logDir}/mine`;
    await groups(mine, gw.servers.server2.address, uid);
    await gw.writeConfig(
      gw.basicConfig({
        dest: ["@login"],
        extra: `clustershell_dir: ${admin}\n`,
      }),
    );
    const hostile = await loginWith(gw, {
      SSHPROXY_CLUSTERSHELL_CONFDIR: mine,
    });
    assert.equal(hostile.stdout, "on-server1\n", "the user's groups were used");
    assert.equal(hostile.code, 0, hostile.stderr);
    const plain = await loginWith(gw, {});
    assert.equal(plain.code, 0, plain.stderr);
    assert.equal(plain.stdout, "on-server1\n");
  },
});

/** A loopback TCP listener counting its connections and the bytes they send. */
function countingListener() {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const stats = { connections: 0, bytes: 0 };
  const open: Deno.Conn[] = [];
  const accepting = (async () => {
    try {
      for await (const connection of listener) {
        stats.connections++;
        open.push(connection);
        (async () => {
          const buffer = new Uint8Array(65536);
          try {
            for (;;) {
              const read = await connection.read(buffer);
              if (read === null) break;
              stats.bytes += read;
            }
          } catch {
            // reset by the peer
          }
        })();
      }
    } catch {
      // closed
    }
  })();
  return {
    port: (listener.addr as Deno.NetAddr).port,
    stats,
    async close() {
      listener.close();
      for (const connection of open) {
        try {
          connection.close();
        } catch {
          // already closed
        }
      }
      await accepting;
    },
  };
}

Deno.test({
  name:
    "proxy variables in the session's environment never carry the proxy's dump or health-check connections",
  ...e2e,
  async fn() {
    await using gw = await permissiveGateway();
    const trap = countingListener();
    const collector = countingListener();
    try {
      const proxyUrl = `http://127.0.0.1:${trap.port}`;
      const socks = `socks5://127.0.0.1:${trap.port}`;
      const variables = {
        http_proxy: proxyUrl,
        https_proxy: proxyUrl,
        HTTP_PROXY: proxyUrl,
        HTTPS_PROXY: proxyUrl,
        ALL_PROXY: socks,
        all_proxy: socks,
      };
      for (const check of ["tcp", "ssh", "ssh-kex"]) {
        const before = collector.stats.connections;
        await gw.writeConfig(gw.basicConfig({
          extra: `debug: true\nhealth_check: ${check}\n` +
            `dump: TCP:127.0.0.1:${collector.port}\n`,
        }));
        const result = await loginWith(gw, variables);
        assert.equal(result.code, 0, `${check}: ${result.stderr}`);
        assert.equal(result.stdout, "on-server1\n", check);
        // The recording reached the collector directly.
        const deadline = Date.now() + 10_000;
        while (
          collector.stats.connections === before && Date.now() < deadline
        ) {
          await new Promise((resolve) => setTimeout(resolve, 50));
        }
        assert.equal(collector.stats.connections, before + 1, check);
      }
      assert.ok(collector.stats.bytes > 0);
      // The variables were in the proxy's environment (its DEBUG listing).
      const log = await gw.readLog(user);
      assert.ok(log.includes(`env = ALL_PROXY=${socks}\n`), log);
      assert.ok(log.includes(`env = https_proxy=${proxyUrl}\n`), log);
      assert.equal(trap.stats.connections, 0, "something used the proxy");
    } finally {
      await trap.close();
      await collector.close();
    }
  },
});
