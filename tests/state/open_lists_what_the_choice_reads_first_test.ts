// A session's check that etcd answers is its destination choice's reads
// (src/state/store.ts's firstRoutingLists, OpenOptions.firstLists): the
// connections and the host states in one request, at one revision, that
// answer the session's reads until it writes. Against a real etcd,
// counting the requests etcd itself reports on its /metrics.
import assert from "node:assert/strict";
import { etcdSettings, startEtcd } from "../harness/mod.ts";
import { openEtcd } from "../../src/state/etcd_client.ts";
import { firstRoutingLists } from "../../src/state/store.ts";
import { CONNECTIONS_PREFIX, HOSTS_PREFIX } from "../../src/state/keys.ts";

const choice = {
  mode: "sticky",
  routeSelect: "ordered",
  dest: ["server1:22"],
  service: "default",
};

Deno.test("the choice reads every connection for loads, the user's own for sticky, and the host states", () => {
  assert.deepEqual(
    firstRoutingLists({ ...choice, routeSelect: "connections" }, "alice"),
    [CONNECTIONS_PREFIX, HOSTS_PREFIX],
  );
  assert.deepEqual(
    firstRoutingLists(
      { ...choice, mode: "balanced", routeSelect: "bandwidth" },
      "alice",
    ),
    [CONNECTIONS_PREFIX, HOSTS_PREFIX],
  );
  assert.deepEqual(firstRoutingLists(choice, "alice"), [
    `${CONNECTIONS_PREFIX}alice@default/`,
    HOSTS_PREFIX,
  ]);
  assert.deepEqual(
    firstRoutingLists(
      { ...choice, routeSelect: "random", mode: "balanced" },
      "alice",
    ),
    [HOSTS_PREFIX],
  );
  // No destination: no choice, no read.
  assert.deepEqual(
    firstRoutingLists({ ...choice, dest: [], routeSelect: "connections" }, "a"),
    [],
  );
});

/** Range and Txn requests etcd has answered, from its own metrics. */
async function reads(endpoint: string): Promise<number> {
  const text = await (await fetch(`${endpoint}/metrics`)).text();
  let total = 0;
  for (const line of text.split("\n")) {
    if (
      line.startsWith("grpc_server_handled_total{") &&
      (line.includes('grpc_method="Range"') ||
        line.includes('grpc_method="Txn"'))
    ) {
      total += Number(line.slice(line.lastIndexOf(" ") + 1));
    }
  }
  return total;
}

Deno.test({
  name:
    "the open's listings answer the session's reads until it writes, as etcd held them",
  sanitizeResources: false,
  async fn() {
    await using etcd = await startEtcd();
    const endpoint = etcd.endpoints[0];
    const keys = [
      `${CONNECTIONS_PREFIX}alice@default/s1:22/127.0.0.1:22/2026-12-06T10:00:00Z`,
      `${CONNECTIONS_PREFIX}bob@default/s2:22/127.0.0.1:22/2026-12-06T10:00:01Z`,
    ];
    for (const key of keys) {
      const put = await etcd.etcdctl(["put", key, '{"In":0,"Out":0}']);
      assert.ok(put.ok, put.stderr);
    }
    const host = `${HOSTS_PREFIX}s1:22`;
    const state = '{"State":"disabled","Ts":"2026-12-06T10:00:00Z"}';
    assert.ok((await etcd.etcdctl(["put", host, state])).ok);
    const before = await reads(endpoint);
    const opened = await openEtcd(etcdSettings(etcd), {
      firstLists: [CONNECTIONS_PREFIX, HOSTS_PREFIX],
    });
    assert.ok(opened.ok, opened.ok ? "" : opened.error);
    const client = opened.value;
    try {
      assert.equal(await reads(endpoint), before + 1, "the open's one read");
      const listed = await client.list(CONNECTIONS_PREFIX);
      assert.ok(listed.ok);
      assert.deepEqual(listed.value.map((kv) => kv.key), keys);
      assert.equal(listed.value[0].value, '{"In":0,"Out":0}');
      const stored = await client.get(host);
      assert.ok(stored.ok);
      assert.equal(stored.value?.value, state);
      const missing = await client.get(`${HOSTS_PREFIX}s2:22`);
      assert.deepEqual(missing, { ok: true, value: undefined });
      assert.equal(await reads(endpoint), before + 1, "answered by the open");
      // Its own write: from now on etcd answers, and sees what changed.
      await etcd.etcdctl(["del", keys[1]]);
      assert.ok((await client.put(`${HOSTS_PREFIX}s2:22`, "up")).ok);
      const again = await client.list(CONNECTIONS_PREFIX);
      assert.ok(again.ok);
      assert.deepEqual(again.value.map((kv) => kv.key), [keys[0]]);
      const written = await client.get(`${HOSTS_PREFIX}s2:22`);
      assert.equal(written.ok && written.value?.value, "up");
      assert.equal(await reads(endpoint), before + 3);
    } finally {
      client.close();
    }
  },
});

Deno.test({
  name: "an open without listings reads one key, and every read goes to etcd",
  sanitizeResources: false,
  async fn() {
    await using etcd = await startEtcd();
    const endpoint = etcd.endpoints[0];
    const before = await reads(endpoint);
    const opened = await openEtcd(etcdSettings(etcd));
    assert.ok(opened.ok, opened.ok ? "" : opened.error);
    try {
      assert.equal(await reads(endpoint), before + 1);
      assert.ok((await opened.value.list(HOSTS_PREFIX)).ok);
      assert.equal(await reads(endpoint), before + 2);
    } finally {
      opened.value.close();
    }
  },
});

Deno.test({
  name:
    "a listing longer than a page is finished from where the open stopped, at the open's revision",
  sanitizeResources: false,
  async fn() {
    await using etcd = await startEtcd();
    const endpoint = etcd.endpoints[0];
    const settings = etcdSettings(etcd);
    const writer = await openEtcd(settings);
    assert.ok(writer.ok, writer.ok ? "" : writer.error);
    // One page is 10,000 keys: a site with more live sessions than that.
    const count = 10_050;
    const key = (n: number) =>
      `${CONNECTIONS_PREFIX}u${
        String(n).padStart(5, "0")
      }@default/s1:22/127.0.0.1:22/2026-12-06T10:00:00Z`;
    for (let first = 0; first < count; first += 128) {
      const ops = [];
      for (let n = first; n < Math.min(count, first + 128); n++) {
        ops.push({ put: { key: key(n), value: '{"In":0,"Out":0}' } });
      }
      assert.ok((await writer.value.txn(ops)).ok);
    }
    writer.value.close();
    const before = await reads(endpoint);
    const opened = await openEtcd(settings, {
      firstLists: [CONNECTIONS_PREFIX, HOSTS_PREFIX],
    });
    assert.ok(opened.ok, opened.ok ? "" : opened.error);
    try {
      // Deleted after the open: the listing is the open's snapshot.
      assert.ok((await etcd.etcdctl(["del", key(count - 1)])).ok);
      const listed = await opened.value.list(CONNECTIONS_PREFIX);
      assert.ok(listed.ok, listed.ok ? "" : listed.error);
      assert.equal(listed.value.length, count);
      assert.equal(listed.value[0].key, key(0));
      assert.equal(listed.value[count - 1].key, key(count - 1));
      assert.equal(new Set(listed.value.map((kv) => kv.key)).size, count);
      // The open's transaction, then one more page.
      assert.equal(await reads(endpoint), before + 2);
    } finally {
      opened.value.close();
    }
  },
});

Deno.test({
  name:
    "the open's transaction refused by etcd's access control is the same one line as before",
  sanitizeResources: false,
  async fn() {
    await using etcd = await startEtcd({
      auth: { user: "sshproxy", password: "s3cret" },
    });
    const lists = { firstLists: [CONNECTIONS_PREFIX, HOSTS_PREFIX] };
    const openError = async (changes: Parameters<typeof etcdSettings>[1]) => {
      const opened = await openEtcd(etcdSettings(etcd, changes), lists);
      if (opened.ok) {
        opened.value.close();
        assert.fail("opened");
      }
      return opened.error;
    };
    assert.equal(
      await openError({ password: "wrong" }),
      `etcd at ${etcd.endpoint} refused user "sshproxy": wrong user name or password (etcd.username, etcd.password)`,
    );
    assert.equal(
      await openError({ username: "", password: "" }),
      `etcd at ${etcd.endpoint} requires authentication: set etcd.username and etcd.password`,
    );
    // A user who may read the connections but not the host states.
    for (
      const args of [
        ["role", "add", "connections-only"],
        [
          "role",
          "grant-permission",
          "connections-only",
          "--prefix=true",
          "readwrite",
          CONNECTIONS_PREFIX,
        ],
        ["user", "add", "narrow:n4rrow"],
        ["user", "grant-role", "narrow", "connections-only"],
      ]
    ) {
      const done = await etcd.etcdctl(args);
      assert.ok(done.ok, done.stderr);
    }
    assert.equal(
      await openError({ username: "narrow", password: "n4rrow" }),
      `etcd at ${etcd.endpoint}: user "narrow" may not read /sshproxy/ (grant it readwrite on the prefix /sshproxy/)`,
    );
    // With every right, the open works and its listings serve.
    const opened = await openEtcd(etcdSettings(etcd), lists);
    assert.ok(opened.ok, opened.ok ? "" : opened.error);
    assert.deepEqual(await opened.value.list(HOSTS_PREFIX), {
      ok: true,
      value: [],
    });
    opened.value.close();
  },
});
