// The agent's copy of /sshproxy/ (src/agent/state_mirror.ts): answers as
// etcd's range does (byte order, prefixes, keys only), follows puts and
// deletes, and says it covers etcd's summary exactly when the two states
// are the same or the copy is newer. Pure logic: the snapshot and events
// are built here as the watch decodes them.
import assert from "node:assert/strict";
import { PrefixMirror } from "../../src/agent/state_mirror.ts";
import type { KeyValue } from "../../src/state/etcd_client.ts";
import type { PrefixSummary, WatchEvent } from "../../src/state/etcd_watch.ts";
import { byteStringOf, type RangeItem } from "../../src/state/etcd_wire.ts";

function kv(key: string, value: string, created: number, modified = created) {
  return {
    key,
    value,
    lease: "0",
    createRevision: String(created),
    modRevision: String(modified),
  } satisfies KeyValue;
}

function item(entry: KeyValue): RangeItem {
  return { rawKey: byteStringOf(entry.key), kv: entry };
}

function put(entry: KeyValue): WatchEvent {
  return {
    type: "put",
    rawKey: byteStringOf(entry.key),
    kv: entry,
    revision: BigInt(entry.modRevision!),
  };
}

function del(key: string, revision: number): WatchEvent {
  return {
    type: "delete",
    rawKey: byteStringOf(key),
    revision: BigInt(revision),
  };
}

// etcd's answer for a state: its revision, count and newest change.
function summary(
  mirror: PrefixMirror,
  revision: number,
): PrefixSummary {
  const all = mirror.list("/sshproxy/");
  return {
    revision: BigInt(revision),
    count: all.length,
    newestModRevision: all.reduce(
      (newest, entry) =>
        BigInt(entry.modRevision!) > newest
          ? BigInt(entry.modRevision!)
          : newest,
      0n,
    ),
  };
}

Deno.test("the copy lists keys under a prefix in etcd's byte order, values or keys only", () => {
  const mirror = new PrefixMirror();
  mirror.load([
    item(kv("/sshproxy/hosts/b:22", "{}", 3)),
    item(kv("/sshproxy/connections/zoé@s/d", "{}", 4)),
    item(kv("/sshproxy/connections/zoe@s/d", "{}", 5)),
    item(kv("/sshproxy/connections/alice@s/d", '{"In":0}', 2)),
    item(kv("/sshproxy/connectionsX", "x", 6)),
  ], 6n);
  assert.equal(mirror.size, 5);
  assert.equal(mirror.revision, 6n);
  assert.deepEqual(
    mirror.list("/sshproxy/connections/").map((entry) => entry.key),
    [
      "/sshproxy/connections/alice@s/d",
      "/sshproxy/connections/zoe@s/d",
      // é is 0xC3 0xA9 in UTF-8: after every ASCII byte.
      "/sshproxy/connections/zoé@s/d",
    ],
  );
  assert.deepEqual(mirror.list("/sshproxy/connections/alice@"), [
    kv("/sshproxy/connections/alice@s/d", '{"In":0}', 2),
  ]);
  assert.equal(
    mirror.list("/sshproxy/connections/alice@", { keysOnly: true })[0].value,
    "",
  );
  assert.equal(mirror.get("/sshproxy/hosts/b:22")?.value, "{}");
  assert.equal(mirror.get("/sshproxy/hosts/c:22"), undefined);
  // What a caller does with an answer does not change the copy: an entry
  // is a copy, a listing's entries are frozen.
  mirror.get("/sshproxy/hosts/b:22")!.value = "changed";
  assert.equal(mirror.get("/sshproxy/hosts/b:22")?.value, "{}");
  const listed = mirror.list("/sshproxy/connections/alice@")[0];
  assert.throws(() => {
    listed.value = "changed";
  }, TypeError);
  assert.equal(
    mirror.list("/sshproxy/connections/alice@")[0].value,
    '{"In":0}',
  );
});

Deno.test("puts, overwrites and deletes are followed, and the revision with them", () => {
  const mirror = new PrefixMirror();
  mirror.load([item(kv("/sshproxy/a", "1", 2))], 2n);
  mirror.apply([
    put(kv("/sshproxy/c", "3", 3)),
    put(kv("/sshproxy/b", "2", 3)),
  ]);
  mirror.apply([put(kv("/sshproxy/a", "1b", 2, 4))]);
  mirror.apply([del("/sshproxy/c", 5), del("/sshproxy/never", 5)]);
  assert.deepEqual(mirror.list("/sshproxy/").map((e) => [e.key, e.value]), [
    ["/sshproxy/a", "1b"],
    ["/sshproxy/b", "2"],
  ]);
  assert.equal(mirror.get("/sshproxy/a")?.createRevision, "2");
  assert.equal(mirror.get("/sshproxy/a")?.modRevision, "4");
  assert.equal(mirror.revision, 5n);
  mirror.progress(9n);
  assert.equal(mirror.revision, 9n);
  mirror.progress(7n);
  assert.equal(mirror.revision, 9n, "never goes back");
});

Deno.test("the copy covers etcd's summary exactly when it holds the same state, or a newer one", () => {
  const start = [
    item(kv("/sshproxy/a", "1", 2)),
    item(kv("/sshproxy/b", "2", 3)),
  ];
  const behind = () => {
    const mirror = new PrefixMirror();
    mirror.load(start, 10n);
    return mirror;
  };
  // etcd's state after some events, and the copy that has not seen them.
  const cases: [string, WatchEvent[], boolean][] = [
    ["only keys outside the prefix changed", [], true],
    ["a key was added", [put(kv("/sshproxy/c", "3", 11))], false],
    ["a key was overwritten", [put(kv("/sshproxy/a", "1b", 2, 11))], false],
    ["a key was deleted", [del("/sshproxy/b", 11)], false],
    [
      "a key was deleted and another overwritten",
      [del("/sshproxy/b", 11), put(kv("/sshproxy/a", "x", 2, 12))],
      false,
    ],
    [
      "a key came and went",
      [put(kv("/sshproxy/t", "t", 11)), del("/sshproxy/t", 12)],
      true,
    ],
  ];
  for (const [what, events, same] of cases) {
    const etcd = behind();
    etcd.apply(events);
    const answer = summary(etcd, 20);
    assert.equal(behind().covers(answer), same, what);
    const caughtUp = behind();
    caughtUp.apply(events);
    assert.equal(caughtUp.covers(answer), true, `${what}, once applied`);
  }
  // A copy at or past etcd's revision covers it, whatever it holds.
  const ahead = behind();
  ahead.apply([put(kv("/sshproxy/z", "z", 25))]);
  assert.equal(
    ahead.covers({ revision: 20n, count: 0, newestModRevision: 0n }),
    true,
  );
});
