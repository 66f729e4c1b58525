// A registration against a real etcd (harness): the connection key is kept
// alive, survives etcd being killed and restarted, is re-created under a
// fresh lease when its lease vanished, and is deleted at session end.
import assert from "node:assert/strict";
import { etcdSettings, startEtcd } from "../harness/mod.ts";
import { StateStore } from "../../src/state/store.ts";
import type { RegistrationEvent } from "../../src/state/store.ts";

async function waitFor(
  what: string,
  check: () => Promise<boolean>,
  ms: number,
): Promise<number> {
  const start = Date.now();
  while (!(await check())) {
    if (Date.now() - start > ms) {
      throw new Error(`${what}: not within ${ms} ms`);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return Date.now() - start;
}

Deno.test({
  name:
    "the connection key outlives an etcd crash and comes back under a fresh lease within 2 x keyttl",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    await using etcd = await startEtcd();
    const opened = await StateStore.open(etcdSettings(etcd, { keyttl: 2 }));
    assert.ok(opened.ok, opened.ok ? "" : opened.error);
    const store = opened.value;
    const events: RegistrationEvent[] = [];
    const keyTtl = 2;
    const registered = await store.register({
      user: "alice",
      service: "default",
      dest: "server1:22",
      sshd: "127.0.0.1:2022",
      keyTtl,
      historyTtl: 30,
      onEvent: (event) => events.push(event),
    });
    assert.ok(registered.ok, registered.ok ? "" : registered.error);
    const registration = registered.value;
    const present = async (key: string) => {
      const got = await etcd.etcdctl(["get", "--keys-only", key]);
      return got.ok && got.stdout.trim() === key;
    };
    try {
      assert.ok(await present(registration.key));
      assert.equal(
        (await etcd.etcdctl(["get", "--print-value-only", registration.key]))
          .stdout.trim(),
        '{"In":0,"Out":0}',
      );
      // Kept alive well past its TTL.
      await new Promise((resolve) => setTimeout(resolve, keyTtl * 2000));
      assert.ok(await present(registration.key), "expired while alive");

      await etcd.kill();
      await waitFor(
        "inactive",
        () => Promise.resolve(!registration.active),
        keyTtl * 3000,
      );
      await etcd.restart();
      const back = await waitFor(
        "active again",
        () => Promise.resolve(registration.active),
        keyTtl * 2000,
      );
      assert.ok(await present(registration.key));
      assert.ok(back <= keyTtl * 2000, `${back} ms`);

      // The lease vanishes (as when etcd stayed away longer than the TTL):
      // a fresh lease, the same key.
      const oldLease = registration.lease!;
      const revoked = await etcd.etcdctl([
        "lease",
        "revoke",
        BigInt(oldLease).toString(16),
      ]);
      assert.ok(revoked.ok, revoked.stderr);
      assert.equal(await present(registration.key), false);
      const restored = await waitFor(
        "key re-created",
        () => present(registration.key),
        keyTtl * 2000,
      );
      assert.ok(restored <= keyTtl * 2000);
      assert.notEqual(registration.lease, oldLease);
      assert.ok(events.some((e) => e.kind === "lost"));
      assert.ok(events.some((e) => e.kind === "restored"));
      assert.ok(await present(registration.historyKey!));
    } finally {
      await registration.close();
    }
    assert.equal(await present(registration.key), false, "deleted at the end");
    assert.ok(await present(registration.historyKey!), "history stays");
    store.close();
  },
});
