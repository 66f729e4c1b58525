// The agent's identity cache (src/agent/identity_cache.ts): one lookup of a
// uid serves its logins for IDENTITY_CACHE_MS, concurrent logins share one
// lookup, a failure is never kept, and a change in the name service shows
// once the time has passed. Pure logic: the lookup and the clock are the
// test's.
import assert from "node:assert/strict";
import {
  IDENTITY_CACHE_MS,
  IdentityCache,
} from "../../src/agent/identity_cache.ts";
import { fail, ok, type Result } from "../../src/result.ts";
import type { UserIdentity } from "../../src/system/identity.ts";

function directory() {
  const groups = new Map<number, string[]>([[1001, ["alice", "staff"]]]);
  let lookups = 0;
  let broken = false;
  let gate: Promise<void> | undefined;
  return {
    groups,
    get lookups() {
      return lookups;
    },
    set broken(value: boolean) {
      broken = value;
    },
    /** Holds every lookup until the returned function is called. */
    hold(): () => void {
      const held = Promise.withResolvers<void>();
      gate = held.promise;
      return () => {
        gate = undefined;
        held.resolve();
      };
    },
    async lookup(uid: number): Promise<Result<UserIdentity>> {
      lookups++;
      if (gate !== undefined) await gate;
      if (broken) return fail(`id ${uid}: the name service does not answer`);
      const names = groups.get(uid);
      if (names === undefined) return fail(`id ${uid}: no such user`);
      return ok({
        uid,
        user: names[0],
        groups: [...names],
        unnamedGroupIds: [],
      });
    },
  };
}

Deno.test("a uid is looked up once per IDENTITY_CACHE_MS and a group change shows after it", async () => {
  const names = directory();
  let now = 1_000_000;
  const cache = new IdentityCache((uid) => names.lookup(uid), {
    now: () => now,
  });
  const first = await cache.get(1001);
  assert.ok(first.ok);
  assert.deepEqual(first.value.groups, ["alice", "staff"]);
  names.groups.set(1001, ["alice", "staff", "admins"]);
  now += IDENTITY_CACHE_MS - 1;
  const kept = await cache.get(1001);
  assert.ok(kept.ok);
  assert.deepEqual(kept.value.groups, ["alice", "staff"], "still the kept one");
  assert.equal(names.lookups, 1);
  now += 1;
  const renewed = await cache.get(1001);
  assert.ok(renewed.ok);
  assert.deepEqual(renewed.value.groups, ["alice", "staff", "admins"]);
  assert.equal(names.lookups, 2);
});

Deno.test("logins of one uid during its lookup share it; failures are asked again", async () => {
  const names = directory();
  const cache = new IdentityCache((uid) => names.lookup(uid));
  const release = names.hold();
  const burst = Array.from({ length: 20 }, () => cache.get(1001));
  release();
  const answers = await Promise.all(burst);
  assert.ok(answers.every((answer) => answer.ok));
  assert.equal(names.lookups, 1, "one lookup for the burst");

  const failing = new IdentityCache((uid) => names.lookup(uid));
  names.broken = true;
  assert.equal((await failing.get(1001)).ok, false);
  names.broken = false;
  assert.equal((await failing.get(1001)).ok, true, "not kept as a failure");
  assert.equal((await failing.get(4242)).ok, false);
  assert.equal(names.lookups, 4);
});
