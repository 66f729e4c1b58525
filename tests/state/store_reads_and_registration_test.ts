// The state store over an in-memory etcd: tolerant listings, the proxy's
// look-ups, the registration lifecycle (atomic write, lease renewal,
// recovery after an outage, deletion at session end), banners.
import assert from "node:assert/strict";
import { StateStore } from "../../src/state/store.ts";
import type { RegistrationEvent } from "../../src/state/store.ts";
import { MemoryEtcd } from "./memory_backend.ts";
import { parseBannerExpire } from "../../src/format/time.ts";

const CONN = "/sshproxy/connections/";

function sleep(ms: number) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function valueAndLease(etcd: MemoryEtcd, key: string) {
  const stored = etcd.keys.get(key);
  return stored && { value: stored.value, lease: stored.lease };
}

async function waitFor(what: string, check: () => boolean, ms = 3000) {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

Deno.test("a malformed key is reported and skipped; the listing still succeeds", async () => {
  const etcd = new MemoryEtcd();
  etcd.seed(
    `${CONN}alice@default/server1:22/10.0.0.1:22/2024-05-02T09:15:03.041527381+02:00`,
    '{"In":1,"Out":2}',
  );
  etcd.seed(`${CONN}garbage`, "x");
  etcd.seed(
    `${CONN}bob@default/server2:22/10.0.0.1:22/2024-05-02T09:15:03Z`,
    "not json",
  );
  etcd.seed(
    "/sshproxy/hosts/server1:22",
    '{"State":"up","Ts":"2024-05-02T07:00:00Z"}',
  );
  etcd.seed("/sshproxy/hosts/server2:22", "{broken");
  const store = new StateStore(etcd);
  const connections = await store.connections();
  assert.ok(connections.ok);
  assert.deepEqual(connections.value.items.map((c) => c.user), ["alice"]);
  assert.deepEqual(
    connections.value.problems.map((p) => [p.key, p.skipped]),
    [
      [`${CONN}bob@default/server2:22/10.0.0.1:22/2024-05-02T09:15:03Z`, true],
      [`${CONN}garbage`, true],
    ],
  );
  const hosts = await store.hosts();
  assert.ok(hosts.ok);
  assert.deepEqual(hosts.value.items.map((h) => h.hostname), ["server1:22"]);
  assert.equal(hosts.value.problems.length, 1);
});

Deno.test("history: TTLs from the key's lease; a lease-less reference key is kept and reported", async () => {
  const etcd = new MemoryEtcd();
  const lease = await etcd.grant(3600);
  assert.ok(lease.ok);
  etcd.seed(
    `/sshproxy/history/alice@default/${lease.value}`,
    "server1:22",
    lease.value,
  );
  etcd.seed("/sshproxy/history/bob@default/0", "server2:22");
  etcd.seed("/sshproxy/history/carol@default/12", "");
  const history = await new StateStore(etcd).history({}, { ttl: true });
  assert.ok(history.ok);
  assert.deepEqual(
    history.value.items.map((h) => [h.user, h.dest, h.ttl]),
    [["alice", "server1:22", 3600], ["bob", "server2:22", 0]],
  );
  assert.deepEqual(history.value.problems.map((p) => p.skipped), [false, true]);
  assert.match(history.value.problems[0].reason, /never expires/);
});

Deno.test("sticky look-up: most recent connection of this service only, then history", async () => {
  const etcd = new MemoryEtcd();
  etcd.seed(
    `${CONN}alice@default/zeta:22/g:22/2024-05-02T09:00:00Z`,
    '{"In":0,"Out":0}',
  );
  etcd.seed(
    `${CONN}alice@default/alpha:22/g:22/2024-05-02T10:00:00Z`,
    '{"In":0,"Out":0}',
  );
  etcd.seed(
    `${CONN}alice@default2/omega:22/g:22/2024-05-02T11:00:00Z`,
    '{"In":0,"Out":0}',
  );
  etcd.seed("/sshproxy/history/bob@default2/5", "elsewhere:22");
  etcd.seed("/sshproxy/history/bob@default/6", "server3:22");
  const store = new StateStore(etcd);
  const alice = await store.stickyDestination("alice", "default", {
    useHistory: true,
  });
  assert.ok(alice.ok);
  assert.deepEqual([alice.value.dest, alice.value.from], [
    "alpha:22",
    "connection",
  ]);
  const bob = await store.stickyDestination("bob", "default", {
    useHistory: true,
  });
  assert.ok(bob.ok);
  assert.deepEqual([bob.value.dest, bob.value.from], ["server3:22", "history"]);
  const noHistory = await store.stickyDestination("bob", "default", {
    useHistory: false,
  });
  assert.ok(noHistory.ok);
  assert.equal(noHistory.value.dest, undefined);
  const count = await store.countUserConnections("alice");
  assert.ok(count.ok);
  assert.equal(count.value.items.length, 3);
  etcd.seed(`${CONN}alice2@default/x:22/g:22/2024-05-02T11:00:00Z`, "{}");
  const stillThree = await store.countUserConnections("alice");
  assert.ok(stillThree.ok);
  assert.equal(stillThree.value.items.length, 3);
});

Deno.test("registration writes both keys at once, reuses a live history lease and drops stale history keys", async () => {
  const etcd = new MemoryEtcd();
  const history = await etcd.grant(60);
  assert.ok(history.ok);
  etcd.seed(
    `/sshproxy/history/alice@default/${history.value}`,
    "old:22",
    history.value,
  );
  etcd.seed("/sshproxy/history/alice@default/0", "garbage:22");
  etcd.seed("/sshproxy/history/alice@default2/1", "other:22");
  const store = new StateStore(etcd);
  const registered = await store.register({
    user: "alice",
    service: "default",
    dest: "server1:22",
    sshd: "192.168.0.1:2022",
    keyTtl: 0,
    historyTtl: 60,
    now: () => 1714633503041527381n,
  });
  assert.ok(registered.ok, registered.ok ? "" : registered.error);
  const registration = registered.value;
  try {
    assert.match(
      registration.key,
      /^\/sshproxy\/connections\/alice@default\/server1:22\/192\.168\.0\.1:2022\/2024-05-02T\d\d:\d\d:03\.041527381(Z|[+-]\d\d:\d\d)$/,
    );
    assert.deepEqual(valueAndLease(etcd, registration.key), {
      value: '{"In":0,"Out":0}',
      lease: registration.lease,
    });
    assert.equal(etcd.leases.get(registration.lease!), 5);
    assert.equal(etcd.calls.get("txn"), 1);
    const historyKeys = [...etcd.keys.keys()].filter((k) =>
      k.includes("/history/")
    );
    assert.deepEqual(historyKeys.sort(), [
      `/sshproxy/history/alice@default/${history.value}`,
      "/sshproxy/history/alice@default2/1",
    ]);
    assert.equal(
      etcd.keys.get(`/sshproxy/history/alice@default/${history.value}`)?.value,
      "server1:22",
    );
    await registration.updateStats({ bwIn: 12, bwOut: 3400 });
    assert.equal(
      etcd.keys.get(registration.key)?.value,
      '{"In":12,"Out":3400}',
    );
  } finally {
    await registration.close();
  }
  assert.equal(
    etcd.keys.has(registration.key),
    false,
    "key deleted at session end",
  );
  assert.equal(etcd.leases.has(registration.lease!), false, "lease revoked");
  assert.ok(etcd.keys.has(`/sshproxy/history/alice@default/${history.value}`));
});

Deno.test("a history lease that cannot be granted means no history key, never one without lease", async () => {
  const etcd = new MemoryEtcd();
  const store = new StateStore(etcd);
  const realGrant = etcd.grant.bind(etcd);
  let grants = 0;
  etcd.grant = (ttl: number) => {
    grants++;
    return grants === 1
      ? Promise.resolve({ ok: false as const, error: "boom" })
      : realGrant(ttl);
  };
  const registered = await store.register({
    user: "a",
    service: "s",
    dest: "d:22",
    sshd: "g:22",
    keyTtl: 5,
    historyTtl: 60,
  });
  assert.ok(registered.ok);
  try {
    assert.match(registered.value.warnings[0], /not persisted: boom/);
    assert.equal(
      [...etcd.keys.keys()].some((k) => k.includes("/history/")),
      false,
    );
  } finally {
    await registered.value.close();
  }
});

Deno.test("after an outage the key comes back under a fresh lease, with backoff, not a tight loop", async () => {
  const etcd = new MemoryEtcd();
  const events: RegistrationEvent[] = [];
  const registered = await new StateStore(etcd).register({
    user: "alice",
    service: "default",
    dest: "server1:22",
    sshd: "g:22",
    keyTtl: 1,
    historyTtl: 30,
    onEvent: (event) => events.push(event),
    backoff: { initialMs: 50, maxMs: 200 },
  });
  assert.ok(registered.ok);
  const registration = registered.value;
  try {
    const firstLease = registration.lease!;
    const firstHistory = registration.historyKey!;
    etcd.down = true;
    await waitFor("lost", () => events.some((e) => e.kind === "lost"));
    assert.equal(registration.active, false);
    const before = etcd.calls.get("keepAliveOnce") ?? 0;
    await sleep(1000);
    const during = (etcd.calls.get("keepAliveOnce") ?? 0) - before;
    assert.ok(during <= 10, `${during} attempts in 1 s is a tight loop`);
    // Meanwhile both leases ran out, taking the keys with them.
    etcd.expire(firstLease);
    etcd.expire(firstHistory.split("/").pop()!);
    etcd.down = false;
    await waitFor("restored", () => events.some((e) => e.kind === "restored"));
    assert.equal(registration.active, true);
    assert.notEqual(registration.lease, firstLease);
    assert.deepEqual(valueAndLease(etcd, registration.key), {
      value: '{"In":0,"Out":0}',
      lease: registration.lease,
    });
    assert.notEqual(registration.historyKey, firstHistory);
    assert.equal(etcd.keys.get(registration.historyKey!)?.value, "server1:22");
  } finally {
    await registration.close();
  }
  assert.equal(etcd.keys.has(registration.key), false);
});

Deno.test("keys that would break reference readers are refused at registration", async () => {
  const store = new StateStore(new MemoryEtcd());
  const bad = await store.register({
    user: "a@b",
    service: "s",
    dest: "d:22",
    sshd: "g:22",
    keyTtl: 5,
    historyTtl: 0,
  });
  assert.equal(bad.ok, false);
});

Deno.test("error banner: with an expiry under one lease with the expire text, else permanent", async () => {
  const etcd = new MemoryEtcd();
  const store = new StateStore(etcd);
  const expire = parseBannerExpire("2030-01-01 10:00");
  assert.ok(expire.ok);
  const now = expire.value - 3600n * 1_000_000_000n - 500_000_000n;
  assert.ok(
    (await store.setBanner("maintenance\nsorry", expire.value, now)).ok,
  );
  const value = etcd.keys.get("/sshproxy/error_banner/value");
  const expireKey = etcd.keys.get("/sshproxy/error_banner/expire");
  assert.equal(value?.value, "maintenance\nsorry");
  assert.equal(expireKey?.value, "2030-01-01 10:00:00");
  assert.equal(value?.lease, expireKey?.lease);
  assert.equal(etcd.leases.get(value!.lease), 3601);
  const banner = await store.banner();
  assert.deepEqual(banner, {
    ok: true,
    value: { message: "maintenance\nsorry", expire: "2030-01-01 10:00:00" },
  });
  const past = await store.setBanner("late", now - 1n, now);
  assert.equal(past.ok, false);
  assert.ok((await store.setBanner("forever")).ok);
  assert.deepEqual(valueAndLease(etcd, "/sshproxy/error_banner/value"), {
    value: "forever",
    lease: "0",
  });
  assert.equal(etcd.keys.has("/sshproxy/error_banner/expire"), false);
  assert.ok((await store.forgetBanner()).ok);
  assert.deepEqual(await store.banner(), {
    ok: true,
    value: { message: "", expire: "" },
  });
});
