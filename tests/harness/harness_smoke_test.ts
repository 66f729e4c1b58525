/**
 * Smoke test of the e2e harness itself: a shell "floor" proxy as the
 * gateway's ForceCommand must reach server1, and etcd must work plain and
 * with TLS + authentication. If this fails, no e2e result means anything.
 */

import assert from "node:assert/strict";
import {
  ensureTestAccounts,
  makeSharedTempDir,
  sshAs,
  startEtcd,
  startTopology,
  USERS,
} from "./mod.ts";

/** Single-quote for /bin/sh. */
function shQuote(word: string): string {
  return `'${word.replaceAll("'", `'\\''`)}'`;
}

Deno.test("harness: floor proxy through the gateway reaches server1", async () => {
  await ensureTestAccounts();
  const dir = await makeSharedTempDir("sshproxy-e2e-floor-");
  try {
    // sshd only runs the ForceCommand per session, so the script can be
    // written once server1's port is known.
    const script = `${dir}/floor-proxy`;
    await using topo = await startTopology({ forceCommand: script });
    const server1 = topo.servers.server1;
    await Deno.writeTextFile(
      script,
      "#!/bin/sh\n" +
        `exec ssh ${topo.sshArgs.map(shQuote).join(" ")} ` +
        `-p ${server1.port} ${server1.host} "$SSH_ORIGINAL_COMMAND"\n`,
    );
    await Deno.chmod(script, 0o755);

    const port = topo.gateway.ports[2023];
    const hello = await sshAs(USERS.fedora, {
      port,
      command: "echo $SSHPROXY_TEST_HOST",
    });
    assert.equal(hello.code, 0, `ssh failed: ${hello.stderr}`);
    assert.equal(hello.stdout.trim(), "server1");

    // Every gateway port runs the ForceCommand; the destinations differ.
    for (const [name, dest] of Object.entries(topo.servers)) {
      assert.equal(dest.name, name);
    }
    assert.equal(topo.servers.server2.sftp, "internal-sftp");
    assert.equal(new Set(Object.values(topo.gateway.ports)).size, 4);

    const three = await sshAs(USERS.fedora, {
      port: topo.gateway.ports[2025],
      command: "exit 3",
    });
    assert.equal(three.code, 3, `stderr: ${three.stderr}`);

    // A primary-group-only member of user1 logs in as well (its own key).
    const user2 = await sshAs(USERS.user2, {
      port,
      command: "id -gn; echo $USER",
    });
    assert.equal(user2.code, 0, `ssh failed: ${user2.stderr}`);
    assert.deepEqual(user2.stdout.trim().split("\n"), [
      "sshproxy-user1",
      "sshproxy-user2",
    ]);

    await topo.stop();
    await topo.stop();
    const after = await sshAs(USERS.fedora, { port, command: "true" }, {
      timeoutMs: 10_000,
    });
    assert.notEqual(
      after.code,
      0,
      "gateway still accepts connections after stop()",
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("harness: plain etcd put/get", async () => {
  await using etcd = await startEtcd();
  assert.match(etcd.endpoint, /^http:\/\/127\.0\.0\.1:\d+$/);
  const put = await etcd.etcdctl(["put", "/sshproxy/smoke", "plain"]);
  assert.equal(put.code, 0, put.stderr);
  const get = await etcd.etcdctl([
    "get",
    "--print-value-only",
    "/sshproxy/smoke",
  ]);
  assert.equal(get.stdout.trim(), "plain");

  // Killing and restarting keeps data and endpoint.
  await etcd.kill();
  assert.equal(etcd.running(), false);
  const down = await etcd.etcdctl([
    "--dial-timeout=500ms",
    "--command-timeout=1s",
    "get",
    "/sshproxy/smoke",
  ]);
  assert.notEqual(down.code, 0);
  await etcd.restart();
  const again = await etcd.etcdctl([
    "get",
    "--print-value-only",
    "/sshproxy/smoke",
  ]);
  assert.equal(again.stdout.trim(), "plain");
});

Deno.test("harness: etcd with TLS client certificates and auth", async () => {
  await using etcd = await startEtcd({
    tls: true,
    auth: { user: "sshproxy", password: "sshproxy" },
  });
  assert.match(etcd.endpoint, /^https:\/\/localhost:\d+$/);
  assert.ok(etcd.tls);
  const put = await etcd.etcdctl(["put", "/sshproxy/smoke", "secure"], "user");
  assert.equal(put.code, 0, put.stderr);
  const get = await etcd.etcdctl([
    "get",
    "--print-value-only",
    "/sshproxy/smoke",
  ], "user");
  assert.equal(get.code, 0, get.stderr);
  assert.equal(get.stdout.trim(), "secure");

  // The role only covers /sshproxy/, and a wrong password is refused.
  const outside = await etcd.etcdctl(["put", "/elsewhere", "x"], "user");
  assert.notEqual(outside.code, 0);
  assert.match(outside.stderr, /permission denied/);
  const bad = await etcd.etcdctl([
    "--user=sshproxy:wrong",
    "put",
    "/sshproxy/x",
    "y",
  ], "anonymous");
  assert.notEqual(bad.code, 0);
  assert.match(bad.stderr, /authentication failed/);

  // The product's own client over these TLS files is exercised by
  // tests/state/etcd_client_against_real_etcd_test.ts and through the
  // installed commands (tests/e2e/ctl_*, proxy_etcd_outage).
});
