// A session's check that etcd answers is its destination choice's first
// read (src/state/store.ts's firstRoutingList, OpenOptions.firstList): one
// request to etcd less per login. Against a real etcd, counting the range
// requests etcd itself reports on its /metrics.
import assert from "node:assert/strict";
import { startEtcd } from "../harness/mod.ts";
import { openEtcd } from "../../src/state/etcd_client.ts";
import { firstRoutingList } from "../../src/state/store.ts";
import { CONNECTIONS_PREFIX } from "../../src/state/keys.ts";

const choice = {
  mode: "sticky",
  routeSelect: "ordered",
  dest: ["server1:22"],
  service: "default",
};

Deno.test("the choice reads every connection for loads, the user's own for sticky, nothing otherwise", () => {
  assert.equal(
    firstRoutingList({ ...choice, routeSelect: "connections" }, "alice"),
    CONNECTIONS_PREFIX,
  );
  assert.equal(
    firstRoutingList(
      { ...choice, mode: "balanced", routeSelect: "bandwidth" },
      "alice",
    ),
    CONNECTIONS_PREFIX,
  );
  assert.equal(
    firstRoutingList(choice, "alice"),
    `${CONNECTIONS_PREFIX}alice@default/`,
  );
  assert.equal(
    firstRoutingList({ ...choice, mode: "balanced" }, "alice"),
    undefined,
  );
  assert.equal(
    firstRoutingList(
      { ...choice, routeSelect: "random", mode: "balanced" },
      "alice",
    ),
    undefined,
  );
  // No destination: no choice, no read.
  assert.equal(
    firstRoutingList({ ...choice, dest: [], routeSelect: "connections" }, "a"),
    undefined,
  );
});

/** Range requests etcd has answered, from its own metrics. */
async function ranges(endpoint: string): Promise<number> {
  const text = await (await fetch(`${endpoint}/metrics`)).text();
  let total = 0;
  for (const line of text.split("\n")) {
    if (
      line.startsWith("grpc_server_handled_total{") &&
      line.includes('grpc_method="Range"')
    ) {
      total += Number(line.slice(line.lastIndexOf(" ") + 1));
    }
  }
  return total;
}

Deno.test({
  name:
    "the open's listing answers the first list() of its prefix, once, as etcd holds it",
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
    const before = await ranges(endpoint);
    const opened = await openEtcd({
      endpoints: etcd.endpoints,
      tls: { cafile: "", certfile: "", keyfile: "" },
      username: "",
      password: "",
      keyttl: 5,
      mandatory: false,
    }, { firstList: CONNECTIONS_PREFIX });
    assert.ok(opened.ok, opened.ok ? "" : opened.error);
    const client = opened.value;
    try {
      assert.equal(await ranges(endpoint), before + 1, "the open's one read");
      const first = await client.list(CONNECTIONS_PREFIX);
      assert.ok(first.ok);
      assert.deepEqual(first.value.map((kv) => kv.key), keys);
      assert.equal(first.value[0].value, '{"In":0,"Out":0}');
      assert.equal(await ranges(endpoint), before + 1, "answered by the open");
      // Taken once: a later listing asks etcd, and sees what changed.
      await etcd.etcdctl(["del", keys[1]]);
      const second = await client.list(CONNECTIONS_PREFIX);
      assert.ok(second.ok);
      assert.deepEqual(second.value.map((kv) => kv.key), [keys[0]]);
      assert.equal(await ranges(endpoint), before + 2);
    } finally {
      client.close();
    }
  },
});
