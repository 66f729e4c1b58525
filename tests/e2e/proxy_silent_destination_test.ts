// A destination that accepts TCP but never sends its SSH banner passes the
// default `tcp` health check; the gateway's ssh then waited for ever and
// the user saw a hung login (issue 13 item 3). Now ssh gives up after its
// ConnectTimeout (10 s unless ssh.args sets one) and the user gets one
// line naming the destination; with `health_check: ssh` the next
// destination is chosen instead. Tried through a real gateway against a
// loopback listener that accepts and stays silent.
import assert from "node:assert/strict";
import { sshAs, USERS } from "../harness/mod.ts";
import { e2e, type ProxyGateway, startProxyGateway } from "./gateway.ts";

const user = USERS.fedora;

/** A loopback listener that accepts every connection and never writes. */
function silentListener() {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const held: Deno.Conn[] = [];
  const accepting = (async () => {
    try {
      for await (const connection of listener) held.push(connection);
    } catch {
      // closed
    }
  })();
  return {
    address: `127.0.0.1:${(listener.addr as Deno.NetAddr).port}`,
    async close() {
      listener.close();
      for (const connection of held) {
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

async function timedLogin(gw: ProxyGateway, command = "echo hi") {
  const started = Date.now();
  const result = await sshAs(user, {
    port: gw.gateway.ports[2022],
    host: gw.gateway.host,
    command,
  }, { timeoutMs: 40_000 });
  return { ...result, elapsedMs: Date.now() - started };
}

Deno.test({
  name:
    "a destination that never sends its banner ends the login within the bound, with one line naming it",
  ...e2e,
  async fn() {
    await using gw = await startProxyGateway();
    const silent = silentListener();
    try {
      await gw.writeConfig(gw.basicConfig({ dest: [silent.address] }));
      const result = await timedLogin(gw);
      assert.ok(!result.timedOut, "the login hung");
      assert.equal(result.code, 255);
      assert.equal(result.stdout, "");
      assert.equal(
        result.stderr,
        `sshproxy: destination ${silent.address} did not answer within 10s, please try again later\n`,
      );
      // 10 s of ConnectTimeout, 1 s of confirming probe, the logins.
      assert.ok(result.elapsedMs < 16_000, `took ${result.elapsedMs} ms`);
      assert.ok(result.elapsedMs >= 10_000, `took ${result.elapsedMs} ms`);
      const log = await gw.readLog(user);
      assert.match(
        log,
        new RegExp(
          `ERROR [0-9A-F]{10}: destination ${silent.address} did not answer ` +
            `within 10s \\(ssh ConnectTimeout\\): ssh ${silent.address}: ` +
            `connected, but no SSH identification within 1s\n`,
        ),
      );
    } finally {
      await silent.close();
    }
  },
});

Deno.test({
  name: "the admin's own ConnectTimeout in ssh.args is the bound",
  ...e2e,
  async fn() {
    await using gw = await startProxyGateway();
    const silent = silentListener();
    try {
      await gw.writeConfig(
        gw.basicConfig({ dest: [silent.address] }).replace(
          `  args: [`,
          `  args: ["-o", "ConnectTimeout 2", `,
        ),
      );
      const result = await timedLogin(gw);
      assert.equal(result.code, 255);
      assert.equal(
        result.stderr,
        `sshproxy: destination ${silent.address} did not answer within 2s, please try again later\n`,
      );
      // Under our default the login could not end before 10 s.
      assert.ok(result.elapsedMs < 10_000, `took ${result.elapsedMs} ms`);
    } finally {
      await silent.close();
    }
  },
});

Deno.test({
  name:
    "with health_check: ssh the silent destination is skipped and the next one chosen",
  ...e2e,
  async fn() {
    await using gw = await startProxyGateway();
    const silent = silentListener();
    try {
      await gw.writeConfig(gw.basicConfig({
        dest: [silent.address, gw.servers.server1.address],
        extra: "health_check: ssh\n",
      }));
      const result = await timedLogin(gw, "echo on-$SSHPROXY_TEST_HOST");
      assert.equal(result.code, 0, result.stderr);
      assert.equal(result.stdout, "on-server1\n");
      assert.equal(result.stderr, "");
      // Skipped by the one-second check, not after ssh's 10 s.
      assert.ok(result.elapsedMs < 10_000, `took ${result.elapsedMs} ms`);
    } finally {
      await silent.close();
    }
  },
});

Deno.test({
  name:
    "a remote command that exits 255 is not mistaken for a silent destination",
  ...e2e,
  async fn() {
    await using gw = await startProxyGateway();
    await gw.writeConfig(
      gw.basicConfig().replace(`  args: [`, `  args: ["-oConnectTimeout=1", `),
    );
    // Status 255 about one ConnectTimeout after ssh started: only the
    // probe (server1 answers) tells it from a silent destination.
    const result = await timedLogin(gw, "sleep 1; exit 255");
    assert.equal(result.code, 255);
    assert.equal(result.stderr, "");
  },
});
