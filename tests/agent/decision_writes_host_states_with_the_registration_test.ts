// A decision's etcd (src/agent/agent_store.ts): the host states it probed
// are written in the session's registration transaction (one request to
// etcd, one revision, one watch event), and a decision that registers
// nothing still writes them when it ends. Against the in-memory etcd,
// which counts requests and revisions as etcd does; the real etcd's side
// is in tests/e2e/agent_etcd_test.ts.
import assert from "node:assert/strict";
import { AgentKeys } from "../../src/agent/agent_keys.ts";
import {
  AgentStateStore,
  DecisionBackend,
} from "../../src/agent/agent_store.ts";
import { MemoryEtcd } from "../state/memory_backend.ts";

const HOST = "/sshproxy/hosts/192.0.2.1:22";
const STATE = '{"State":"up","Ts":"2026-12-06T10:00:00Z"}';

async function until(what: string, probe: () => boolean, ms = 5000) {
  const deadline = Date.now() + ms;
  while (!probe()) {
    if (Date.now() > deadline) throw new Error(`timed out: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

Deno.test("a host state probed during a decision lands in the registration's transaction", async () => {
  const etcd = new MemoryEtcd();
  const keys = new AgentKeys(etcd, { keyTtl: 5 });
  try {
    const decision = new DecisionBackend(etcd, undefined);
    const store = new AgentStateStore(decision, keys, { backend: decision });
    assert.deepEqual(await decision.put(HOST, STATE), {
      ok: true,
      value: undefined,
    });
    assert.equal(etcd.keys.has(HOST), false, "kept for the registration");
    const created = store.newRegistration({
      user: "alice",
      service: "default",
      dest: "192.0.2.1:22",
      sshd: "127.0.0.1:22",
      keyTtl: 5,
      historyTtl: 0,
    });
    assert.ok(created.ok);
    const registration = created.value;
    await registration.start();
    assert.equal(await registration.whenLanded(1000), true);
    const connection = etcd.keys.get(registration.key);
    const host = etcd.keys.get(HOST);
    assert.equal(host?.value, STATE);
    assert.equal(host?.lease, "0", "a host state has no lease");
    assert.equal(host?.modRevision, connection?.createRevision);
    assert.equal(etcd.calls.get("put") ?? 0, 0, "no request of its own");
    // Taken once: the decision's end has nothing left to write.
    decision.writeHostStates();
    assert.equal(etcd.calls.get("txn"), 1);
    await registration.close();
  } finally {
    await keys.stop();
  }
});

Deno.test("a decision that registers nothing writes its host states when it ends", async () => {
  const etcd = new MemoryEtcd();
  const decision = new DecisionBackend(etcd, undefined);
  const down = '{"State":"down","Ts":"2026-12-06T10:00:00Z"}';
  await decision.put(HOST, down);
  await decision.put("/sshproxy/hosts/192.0.2.2:22", down);
  assert.equal(etcd.keys.size, 0);
  decision.writeHostStates();
  await until("both written", () => etcd.keys.size === 2);
  assert.equal(etcd.keys.get(HOST)?.value, down);
  assert.equal(
    etcd.keys.get(HOST)?.modRevision,
    etcd.keys.get("/sshproxy/hosts/192.0.2.2:22")?.modRevision,
    "in one request",
  );
});

Deno.test("a failed write of host states reaches the agent's log", async () => {
  const etcd = new MemoryEtcd();
  const errors: string[] = [];
  const decision = new DecisionBackend(
    etcd,
    undefined,
    (error) => errors.push(error),
  );
  await decision.put(HOST, STATE);
  etcd.down = true;
  decision.writeHostStates();
  await until("the failure reported", () => errors.length === 1);
});
