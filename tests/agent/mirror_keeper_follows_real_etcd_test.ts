// The agent's watched copy of /sshproxy/ (src/agent/mirror_keeper.ts) with
// a real etcd and etcdctl writing as a reference gateway would: a key
// written just before a decision is in the copy the decision gets (the
// freshness check makes it so, not luck); with the watch down the decision
// gets no copy (it reads etcd); etcd killed and restarted under the watch;
// and a compaction past the revision the watch must resume from, which
// makes the keeper read the prefix again, missing nothing.
import assert from "node:assert/strict";
import { type Etcd, etcdSettings, startEtcd } from "../harness/mod.ts";
import { openEtcd } from "../../src/state/etcd_client.ts";
import {
  isWatchable,
  type WatchableEtcd,
  type WatchEnd,
  type WatchStream,
} from "../../src/state/etcd_watch.ts";
import {
  type MirrorEvent,
  MirrorKeeper,
  type MirrorSource,
} from "../../src/agent/mirror_keeper.ts";

async function client(etcd: Etcd): Promise<WatchableEtcd> {
  const opened = await openEtcd(etcdSettings(etcd));
  assert.ok(opened.ok && isWatchable(opened.value));
  return opened.value;
}

async function ctl(etcd: Etcd, args: string[]): Promise<string> {
  const result = await etcd.etcdctl(args);
  assert.ok(result.ok, `etcdctl ${args.join(" ")}: ${result.stderr}`);
  return result.stdout;
}

async function until(what: string, holds: () => boolean, ms = 15_000) {
  const deadline = Date.now() + ms;
  while (!holds()) {
    assert.ok(Date.now() < deadline, `timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/**
 * The client as the keeper's source, with a hand on its watch: `cut()`
 * ends the running stream as a broken connection would, and `hold()`
 * keeps the next one from starting until released.
 */
function controlled(inner: WatchableEtcd) {
  let current: { end(reason: string): void } | undefined;
  let gate: Promise<void> | undefined;
  const starts: bigint[] = [];
  const source: MirrorSource = {
    snapshot: (prefix) => inner.snapshot(prefix),
    summary: (prefix) => inner.summary(prefix),
    revision: (prefix) => inner.revision(prefix),
    watch(prefix, start, onMessage): WatchStream {
      starts.push(start);
      const ended = Promise.withResolvers<WatchEnd>();
      let stream: WatchStream | undefined;
      let cancelled = false;
      const waited = gate ?? Promise.resolve();
      waited.then(() => {
        if (cancelled) return;
        stream = inner.watch(prefix, start, onMessage);
        stream.done.then(ended.resolve);
      });
      current = {
        end(reason) {
          stream?.cancel();
          ended.resolve({ kind: "ended", reason });
        },
      };
      return {
        done: ended.promise,
        cancel() {
          cancelled = true;
          stream?.cancel();
          ended.resolve({ kind: "cancelled" });
        },
      };
    },
  };
  return {
    source,
    starts,
    cut: (reason: string) => current?.end(reason),
    hold(): () => void {
      const held = Promise.withResolvers<void>();
      gate = held.promise;
      return () => {
        gate = undefined;
        held.resolve();
      };
    },
  };
}

function keeperOn(source: MirrorSource) {
  const events: MirrorEvent[] = [];
  const keeper = new MirrorKeeper(source, {
    prefix: "/sshproxy/",
    onEvent: (event) => events.push(event),
    backoff: { initialMs: 50, maxMs: 200 },
  });
  keeper.start();
  return { keeper, events };
}

Deno.test("a key etcdctl wrote is in the copy the next decision gets, every time", async () => {
  const etcd = await startEtcd();
  const etcdClient = await client(etcd);
  const { keeper, events } = keeperOn(etcdClient);
  try {
    await until("live", () => keeper.live);
    assert.deepEqual(events.map((e) => e.kind), ["synced", "live"]);
    for (let i = 0; i < 15; i++) {
      const key = `/sshproxy/hosts/h${i}:22`;
      await ctl(etcd, ["put", key, `{"State":"disabled","Ts":"${i}"}`]);
      if (i % 3 === 2) await ctl(etcd, ["del", `/sshproxy/hosts/h${i - 1}:22`]);
      const view = await keeper.fresh();
      assert.ok(view !== undefined, `no fresh copy after write ${i}`);
      assert.equal(view.get(key)?.value, `{"State":"disabled","Ts":"${i}"}`);
      if (i % 3 === 2) {
        assert.equal(view.get(`/sshproxy/hosts/h${i - 1}:22`), undefined);
      }
    }
    // A key outside the prefix changes etcd's revision, not the copy.
    await ctl(etcd, ["put", "/elsewhere", "x"]);
    assert.ok(await keeper.fresh());
  } finally {
    await keeper.stop();
    etcdClient.close();
    await etcd.stop();
  }
});

Deno.test("etcd killed and restarted under the watch: no copy while it is down, then the watch resumes with what was written meanwhile", async () => {
  const etcd = await startEtcd();
  const etcdClient = await client(etcd);
  const { keeper, events } = keeperOn(etcdClient);
  try {
    await until("live", () => keeper.live);
    await ctl(etcd, ["put", "/sshproxy/before", "1"]);
    await etcd.kill();
    await until("the watch lost", () => !keeper.live);
    assert.equal(await keeper.fresh(), undefined, "down: read etcd");
    await etcd.restart();
    await ctl(etcd, ["put", "/sshproxy/during", "2"]);
    await until("live again", () => keeper.live);
    const view = await keeper.fresh();
    assert.ok(view !== undefined);
    assert.equal(view.get("/sshproxy/before")?.value, "1");
    assert.equal(view.get("/sshproxy/during")?.value, "2");
    const kinds = events.map((e) => e.kind);
    assert.deepEqual(kinds.slice(0, 3), ["synced", "live", "lost"]);
    assert.equal(kinds.at(-1), "live");
    assert.equal(
      events.filter((e) => e.kind === "synced").length,
      1,
      "resumed from its revision, not read again",
    );
    const resumed = events.at(-1);
    assert.ok(resumed?.kind === "live" && resumed.resumed);
  } finally {
    await keeper.stop();
    etcdClient.close();
    await etcd.stop();
  }
});

Deno.test("a compaction past the revision the watch resumes from: the prefix is read again and nothing is missed", async () => {
  const etcd = await startEtcd();
  const etcdClient = await client(etcd);
  const hand = controlled(etcdClient);
  const { keeper, events } = keeperOn(hand.source);
  try {
    await until("live", () => keeper.live);
    await ctl(etcd, ["put", "/sshproxy/kept", "1"]);
    await ctl(etcd, ["put", "/sshproxy/gone", "1"]);
    const before = await keeper.fresh();
    assert.ok(before?.get("/sshproxy/gone"));
    const revisionBefore = keeper.revision;
    // The watch breaks and cannot resume until released.
    const release = hand.hold();
    hand.cut("connection reset");
    await until("the watch lost", () => !keeper.live);
    await ctl(etcd, ["put", "/sshproxy/new", "2"]);
    await ctl(etcd, ["del", "/sshproxy/gone"]);
    const out = await ctl(etcd, ["get", "-w", "json", "/sshproxy/new"]);
    const now = /"revision":(\d+)/.exec(out)![1];
    await ctl(etcd, ["compaction", now]);
    release();
    await until("live again", () => keeper.live);
    const synced = events.filter((e) => e.kind === "synced");
    assert.deepEqual(synced.map((e) => e.kind === "synced" && e.reason), [
      "start",
      "compacted",
    ]);
    assert.ok(hand.starts.includes(revisionBefore + 1n));
    const view = await keeper.fresh();
    assert.ok(view !== undefined);
    assert.equal(view.get("/sshproxy/new")?.value, "2");
    assert.equal(view.get("/sshproxy/gone"), undefined);
    assert.equal(view.get("/sshproxy/kept")?.value, "1");
  } finally {
    await keeper.stop();
    etcdClient.close();
    await etcd.stop();
  }
});

Deno.test("with etcd serving sshproxy alone, freshness costs one key; writes elsewhere send decisions to the summary", async () => {
  const etcd = await startEtcd();
  const etcdClient = await client(etcd);
  const reads = { summary: 0, revision: 0 };
  const counted: MirrorSource = {
    ...controlled(etcdClient).source,
    summary(prefix) {
      reads.summary++;
      return etcdClient.summary(prefix);
    },
    revision(prefix) {
      reads.revision++;
      return etcdClient.revision(prefix);
    },
  };
  const { keeper } = keeperOn(counted);
  try {
    await until("live", () => keeper.live);
    const atStart = { ...reads };
    for (let i = 0; i < 10; i++) {
      await ctl(etcd, ["put", `/sshproxy/hosts/h${i}:22`, `${i}`]);
      const view = await keeper.fresh();
      assert.equal(view?.get(`/sshproxy/hosts/h${i}:22`)?.value, `${i}`);
    }
    assert.equal(reads.revision - atStart.revision, 10);
    assert.equal(reads.summary - atStart.summary, 0, "no summary needed");
    // A write outside the prefix moves etcd's revision past anything the
    // watch brings: the summary shows the copy current, and decides next.
    await ctl(etcd, ["put", "/elsewhere", "x"]);
    const afterForeign = { ...reads };
    assert.ok(await keeper.fresh());
    assert.equal(reads.summary - afterForeign.summary, 1);
    await ctl(etcd, ["put", "/sshproxy/hosts/late:22", "late"]);
    const view = await keeper.fresh();
    assert.equal(view?.get("/sshproxy/hosts/late:22")?.value, "late");
    assert.equal(reads.revision - afterForeign.revision, 1, "skipped now");
    assert.equal(reads.summary - afterForeign.summary, 2);
  } finally {
    await keeper.stop();
    etcdClient.close();
    await etcd.stop();
  }
});
