// The agent reads each connection key once, not once per decision
// (src/agent/connection_readings.ts): a reading is reused while the key's
// value is the same, made again when it changes, shared frozen, and
// forgotten once no decision has read it for a while (the session ended).
// Through the agent's store over the in-memory etcd, as decisions read it.
import assert from "node:assert/strict";
import { AgentKeys } from "../../src/agent/agent_keys.ts";
import {
  AgentStateStore,
  DecisionBackend,
} from "../../src/agent/agent_store.ts";
import { ConnectionReadings } from "../../src/agent/connection_readings.ts";
import type { Connection } from "../../src/state/aggregate.ts";
import { MemoryEtcd } from "../state/memory_backend.ts";

const KEY_A =
  "/sshproxy/connections/alice@default/10.0.0.1:22/127.0.0.1:22/2026-12-07T10:00:00.5Z";
const KEY_B =
  "/sshproxy/connections/bob@default/10.0.0.2:22/127.0.0.1:22/2026-12-07T10:00:01Z";

Deno.test("a decision reuses the readings of keys an earlier one read, and reads a changed value again", async () => {
  const etcd = new MemoryEtcd();
  const keys = new AgentKeys(etcd, { keyTtl: 5 });
  try {
    await etcd.put(KEY_A, '{"In":0,"Out":0}');
    await etcd.put(KEY_B, '{"In":0,"Out":0}');
    const readings = new ConnectionReadings();
    const decide = async () => {
      // As the agent opens each decision's store.
      readings.nextDecision();
      const backend = new DecisionBackend(etcd, undefined);
      const store = new AgentStateStore(backend, keys, { backend, readings });
      const listed = await store.connections();
      assert.ok(listed.ok);
      return listed.value.items;
    };
    const first = await decide();
    assert.deepEqual(first.map((c) => [c.user, c.dest, c.bwIn]), [
      ["alice", "10.0.0.1:22", 0],
      ["bob", "10.0.0.2:22", 0],
    ]);
    assert.equal(first[0].ts.ns, 1796637600500000000n);
    await etcd.put(KEY_B, '{"In":7,"Out":9}');
    const second = await decide();
    assert.equal(second[0], first[0], "alice's reading is the same object");
    assert.notEqual(second[1], first[1], "bob's value changed: read again");
    assert.deepEqual([second[1].bwIn, second[1].bwOut], [7, 9]);
    assert.ok(Object.isFrozen(second[0]) && Object.isFrozen(second[0].ts));
    assert.throws(() => {
      (second[0] as { dest: string }).dest = "elsewhere";
    }, TypeError);
  } finally {
    await keys.stop();
  }
});

Deno.test("a reading no decision asked for in 64 decisions is forgotten", () => {
  const readings = new ConnectionReadings();
  let parses = 0;
  const reading = (key: string): Connection => {
    parses++;
    return {
      key,
      user: "u",
      service: "s",
      from: "f",
      dest: "d",
      ts: { ns: 0n, offsetMinutes: 0 },
      bwIn: 0,
      bwOut: 0,
    };
  };
  const read = (key: string) =>
    readings.read({ key, value: "v", lease: "0" }, () => reading(key));
  read("/ended");
  for (let decision = 0; decision < 200; decision++) {
    readings.nextDecision();
    read("/live");
  }
  assert.equal(readings.size, 1, "the ended session's key is gone");
  assert.equal(parses, 2, "the live key was read once");
});
