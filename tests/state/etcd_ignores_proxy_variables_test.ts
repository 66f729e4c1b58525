// A logged-in user controls the proxy's environment (what sshd passes).
// Proxy variables there must never steer etcd traffic: with every variable
// Deno's fetch reads pointing at a listener of the "user", the etcd client
// still talks to etcd directly (plain and TLS), the listener sees no
// connection, and the variables are still there, unchanged, for the
// session's children. A control proves the listener would have seen the
// traffic of an ordinary fetch client.
import assert from "node:assert/strict";
import { etcdSettings, startEtcd } from "../harness/mod.ts";
import { openEtcd } from "../../src/state/etcd_client.ts";

const VARIABLES = [
  "ALL_PROXY",
  "all_proxy",
  "HTTPS_PROXY",
  "https_proxy",
  "HTTP_PROXY",
  "http_proxy",
  "grpc_proxy",
];
// Hosts these name would be exempted from the proxy: not in this test.
const EXEMPTIONS = ["NO_PROXY", "no_proxy", "REQUEST_METHOD"];

/** A listener standing in for the user's proxy: counts connections. */
function startProxy() {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const connections: Deno.Conn[] = [];
  const accepting = (async () => {
    try {
      for await (const conn of listener) connections.push(conn);
    } catch {
      // closed
    }
  })();
  return {
    url: `http://127.0.0.1:${(listener.addr as Deno.NetAddr).port}`,
    connections,
    async close() {
      listener.close();
      await accepting;
      for (const conn of connections) conn.close();
    },
  };
}

Deno.test({
  name:
    "proxy variables in the environment never steer etcd traffic, and stay for children",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    await using plain = await startEtcd();
    await using secure = await startEtcd({
      tls: true,
      auth: { user: "sshproxy", password: "pw" },
    });
    const proxy = startProxy();
    const saved = new Map<string, string | undefined>();
    for (const name of [...VARIABLES, ...EXEMPTIONS]) {
      saved.set(name, Deno.env.get(name));
    }
    try {
      for (const name of EXEMPTIONS) Deno.env.delete(name);
      for (const name of VARIABLES) Deno.env.set(name, proxy.url);

      // Control: an ordinary client built now goes to the "proxy".
      const ordinary = Deno.createHttpClient({});
      try {
        await fetch(`${plain.endpoint}/v3/kv/range`, {
          method: "POST",
          body: "{}",
          client: ordinary,
          signal: AbortSignal.timeout(1000),
        });
      } catch {
        // the listener never answers
      } finally {
        ordinary.close();
      }
      assert.equal(proxy.connections.length, 1, "the control used the proxy");

      for (const etcd of [plain, secure]) {
        const opened = await openEtcd(etcdSettings(etcd));
        assert.ok(opened.ok, opened.ok ? "" : opened.error);
        const client = opened.value;
        try {
          const put = await client.put("/sshproxy/direct", etcd.endpoint);
          assert.ok(put.ok, put.ok ? "" : put.error);
          const lease = await client.grant(5);
          assert.ok(lease.ok, lease.ok ? "" : lease.error);
          const renewed = await client.keepAliveOnce(lease.value);
          assert.deepEqual(renewed, { ok: true, value: 5 });
        } finally {
          client.close();
        }
        const got = await etcd.etcdctl([
          "get",
          "--print-value-only",
          "/sshproxy/direct",
        ]);
        assert.equal(got.stdout.trim(), etcd.endpoint);
      }
      assert.equal(
        proxy.connections.length,
        1,
        "the etcd client never connected to the proxy",
      );

      // The session's children inherit the variables as they were.
      for (const name of VARIABLES) assert.equal(Deno.env.get(name), proxy.url);
      const child = await new Deno.Command("/usr/bin/env", {
        stdout: "piped",
      }).output();
      const inherited = new TextDecoder().decode(child.stdout).split("\n");
      for (const name of VARIABLES) {
        assert.ok(inherited.includes(`${name}=${proxy.url}`), name);
      }
    } finally {
      for (const [name, value] of saved) {
        if (value === undefined) Deno.env.delete(name);
        else Deno.env.set(name, value);
      }
      await proxy.close();
    }
  },
});
