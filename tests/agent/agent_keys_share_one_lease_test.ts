// The agent's etcd keys (src/agent/agent_keys.ts): every session's
// connection key under one lease, deleted at once when the session ends,
// history keys under one lease per user@service, and everything written
// again when etcd comes back or the lease expired.
import assert from "node:assert/strict";
import { AgentKeys, type KeysEvent } from "../../src/agent/agent_keys.ts";
import { MemoryEtcd } from "../state/memory_backend.ts";

const VALUE = '{"In":0,"Out":0}';
const key = (user: string, n: number) =>
  `/sshproxy/connections/${user}@default/s1:22/192.0.2.1:22/2026-12-01T10:00:0${n}.000000001Z`;

async function until(what: string, probe: () => boolean, ms = 5000) {
  const deadline = Date.now() + ms;
  while (!probe()) {
    if (Date.now() > deadline) throw new Error(`timed out: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

Deno.test("many sessions' keys live under one lease; an ended session's key goes at once", async () => {
  const etcd = new MemoryEtcd();
  const keys = new AgentKeys(etcd, { keyTtl: 5 });
  try {
    for (let i = 0; i < 5; i++) {
      assert.deepEqual(await keys.add(key("alice", i), VALUE), {
        ok: true,
        value: undefined,
      });
    }
    const leases = new Set([...etcd.keys.values()].map((entry) => entry.lease));
    assert.equal(leases.size, 1);
    assert.equal(etcd.calls.get("grant"), 1);
    assert.equal(etcd.keys.get(key("alice", 0))?.value, VALUE);
    await keys.remove(key("alice", 2));
    assert.equal(etcd.keys.has(key("alice", 2)), false);
    assert.equal(etcd.keys.size, 4);
  } finally {
    await keys.stop();
  }
});

Deno.test("an expired lease is replaced and every key written again", async () => {
  const etcd = new MemoryEtcd();
  const events: KeysEvent[] = [];
  const keys = new AgentKeys(etcd, {
    keyTtl: 1,
    onEvent: (event) => events.push(event),
  });
  try {
    await keys.add(key("alice", 1), VALUE);
    await keys.add(key("bob", 2), VALUE);
    const first = keys.lease!;
    etcd.expire(first);
    assert.equal(etcd.keys.size, 0);
    await until("keys back", () => etcd.keys.size === 2);
    assert.notEqual(keys.lease, first);
    for (const entry of etcd.keys.values()) {
      assert.equal(entry.lease, keys.lease);
    }
  } finally {
    await keys.stop();
  }
});

Deno.test("keys added while etcd is down are written when it answers", async () => {
  const etcd = new MemoryEtcd();
  const events: KeysEvent[] = [];
  const keys = new AgentKeys(etcd, {
    keyTtl: 1,
    onEvent: (event) => events.push(event),
    backoff: { initialMs: 20, maxMs: 50 },
  });
  try {
    etcd.down = true;
    const added = await keys.add(key("alice", 1), VALUE);
    assert.equal(added.ok, false);
    assert.equal(events[0]?.kind, "lost");
    etcd.down = false;
    await until("written", () => etcd.keys.size === 1);
    await until("restored", () => events.some((e) => e.kind === "restored"));
  } finally {
    await keys.stop();
  }
});

Deno.test("history: one lease per user@service, reused from etcd, kept while a session lives", async () => {
  const etcd = new MemoryEtcd();
  const keys = new AgentKeys(etcd, { keyTtl: 5 });
  try {
    // Another gateway already remembers alice@default under a live lease.
    const other = await etcd.grant(3600);
    assert.ok(other.ok);
    etcd.seed(
      `/sshproxy/history/alice@default/${other.value}`,
      "s0:22",
      other.value,
    );
    const wish = {
      user: "alice",
      service: "default",
      dest: "s1:22",
      ttl: 3600,
    };
    await keys.add(key("alice", 1), VALUE, wish);
    await keys.add(key("alice", 2), VALUE, wish);
    const history = [...etcd.keys]
      .filter(([k]) => k.startsWith("/sshproxy/history/"))
      .map(([k, { value, lease }]) => [k, { value, lease }]);
    assert.deepEqual(history, [[
      `/sshproxy/history/alice@default/${other.value}`,
      { value: "s1:22", lease: other.value },
    ]]);
    await keys.remove(key("alice", 1));
    await keys.remove(key("alice", 2));
    // The history key stays: it lapses etcd_keyttl after the last session.
    assert.equal(etcd.keys.size, 1);
  } finally {
    await keys.stop();
  }
});

Deno.test("the lease outlives a quiet moment: the next session's key needs no new grant", async () => {
  const etcd = new MemoryEtcd();
  const keys = new AgentKeys(etcd, { keyTtl: 1 });
  try {
    await keys.add(key("alice", 1), VALUE);
    const lease = keys.lease;
    await keys.remove(key("alice", 1));
    const renewals = etcd.calls.get("keepAliveOnce") ?? 0;
    await until(
      "renewed while unused",
      () => (etcd.calls.get("keepAliveOnce") ?? 0) >= renewals + 2,
    );
    await keys.add(key("bob", 2), VALUE);
    assert.equal(keys.lease, lease);
    assert.equal(etcd.calls.get("grant"), 1);
  } finally {
    await keys.stop();
  }
});

Deno.test("an ended session's key that etcd did not delete goes as soon as etcd answers again", async () => {
  const etcd = new MemoryEtcd();
  const keys = new AgentKeys(etcd, {
    keyTtl: 1,
    backoff: { initialMs: 20, maxMs: 50 },
  });
  try {
    await keys.add(key("alice", 1), VALUE);
    await keys.add(key("bob", 2), VALUE);
    etcd.down = true;
    const removed = await keys.remove(key("alice", 1));
    assert.equal(removed.ok, false);
    assert.ok(etcd.keys.has(key("alice", 1)), "etcd did not take it");
    etcd.down = false;
    // The lease the agent keeps alive would otherwise keep it for ever.
    await until("deleted", () => !etcd.keys.has(key("alice", 1)));
    assert.ok(etcd.keys.has(key("bob", 2)), "the live session's key stays");
    assert.ok(etcd.leases.has(keys.lease!));
  } finally {
    await keys.stop();
  }
});

Deno.test("a session that ends while its key is being written again is not written back", async () => {
  const etcd = new MemoryEtcd();
  const keys = new AgentKeys(etcd, {
    keyTtl: 1,
    backoff: { initialMs: 20, maxMs: 50 },
  });
  try {
    await keys.add(key("bob", 2), VALUE);
    etcd.down = true;
    // Not taken now: kept, to be written when etcd answers.
    assert.equal((await keys.add(key("alice", 1), VALUE)).ok, false);
    const held = Promise.withResolvers<void>();
    const rewriting = Promise.withResolvers<void>();
    etcd.beforeAnswer = async (method) => {
      if (method !== "txn") return;
      rewriting.resolve();
      await held.promise;
    };
    etcd.down = false;
    await rewriting.promise;
    // The session ends while the agent writes its key again.
    const removing = keys.remove(key("alice", 1));
    etcd.beforeAnswer = undefined;
    held.resolve();
    await removing;
    await until("deleted", () => !etcd.keys.has(key("alice", 1)));
    await new Promise((resolve) => setTimeout(resolve, 300));
    assert.ok(!etcd.keys.has(key("alice", 1)), "written back after its end");
    assert.ok(etcd.keys.has(key("bob", 2)));
  } finally {
    await keys.stop();
  }
});
