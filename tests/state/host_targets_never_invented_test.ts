// Targets of enable/disable/forget host (spec §6.5, fixed per §12.4 items
// 35-36) and the selection of forget persist.
import assert from "node:assert/strict";
import { expandNodeset } from "../../src/nodeset/expand.ts";
import type { HistoryEntry } from "../../src/state/aggregate.ts";
import {
  computeTargets,
  joinDest,
  selectPersisted,
  splitDest,
} from "../../src/state/targets.ts";

const expand = (text: string) => expandNodeset(text);

function targets(
  known: string[],
  flags: { all?: boolean; host?: string; port?: string },
) {
  return computeTargets(known, { all: false, ...flags }, expand);
}

Deno.test("-host without -port: port 22 for unknown hosts, never the ports of other hosts", () => {
  const known = ["server1:22", "server2:2222"];
  assert.deepEqual(targets(known, { host: "server[1000-1002]" }), {
    ok: true,
    value: ["server1000:22", "server1001:22", "server1002:22"],
  });
  // The reference would also create server1000:2222 because server2 uses it.
  assert.deepEqual(targets(known, { host: "server2" }), {
    ok: true,
    value: ["server2:2222"],
  });
  // And with no host in etcd at all the reference does nothing.
  assert.deepEqual(targets([], { host: "server1" }), {
    ok: true,
    value: ["server1:22"],
  });
  assert.deepEqual(
    targets(["server1:22", "server1:2222"], { host: "server1" }),
    { ok: true, value: ["server1:22", "server1:2222"] },
  );
});

Deno.test("-port pairs every port with every host, ports outer", () => {
  assert.deepEqual(targets([], { host: "a,b", port: "22,2222" }), {
    ok: true,
    value: ["a:22", "b:22", "a:2222", "b:2222"],
  });
});

Deno.test("-all means the hosts in etcd; with -port each distinct host once per port", () => {
  const known = ["a:22", "a:2222", "b:22"];
  assert.deepEqual(targets(known, { all: true }), { ok: true, value: known });
  assert.deepEqual(targets(known, { all: true, port: "23" }), {
    ok: true,
    value: ["a:23", "b:23"],
  });
});

Deno.test("IPv6 hosts are written [addr]:port", () => {
  assert.deepEqual(targets([], { host: "::1" }), {
    ok: true,
    value: ["[::1]:22"],
  });
  assert.deepEqual(targets([], { host: "[::1]", port: "2222" }), {
    ok: true,
    value: ["[::1]:2222"],
  });
  assert.deepEqual(targets(["[::1]:2022"], { all: true, port: "22" }), {
    ok: true,
    value: ["[::1]:22"],
  });
  assert.deepEqual(targets(["[::1]:2022"], { host: "::1" }), {
    ok: true,
    value: ["[::1]:2022"],
  });
  assert.deepEqual(splitDest("[fe80::1]:22"), { host: "fe80::1", port: "22" });
  assert.equal(joinDest("fe80::1", "22"), "[fe80::1]:22");
});

Deno.test("bad nodesets, ports and hosts are errors with the reference's texts", () => {
  const bad = targets([], { host: "server[notAnumber]" });
  assert.equal(bad.ok, false);
  if (!bad.ok) assert.match(bad.error, /notAnumber - rangeset parse error/);
  assert.deepEqual(targets([], { host: "a", port: "ssh" }), {
    ok: false,
    error: 'port "ssh" must be an integer',
  });
  assert.deepEqual(targets([], { host: "a", port: "70000" }), {
    ok: false,
    error: 'port "70000" must be in the 0-65535 range',
  });
  assert.deepEqual(targets([], {}), {
    ok: false,
    error: "missing '-all' or '-host'",
  });
  assert.equal(targets([], { host: "a/b" }).ok, false);
  assert.equal(targets([], { host: "a:22" }).ok, false);
});

function entry(user: string, service: string, dest: string): HistoryEntry {
  return {
    key: `/sshproxy/history/${user}@${service}/7`,
    user,
    service,
    leaseId: "7",
    dest,
    ttl: 10,
  };
}

Deno.test("forget persist keeps entries matching every given filter", () => {
  const history = [
    entry("alice", "default", "server1:22"),
    entry("alice", "default2", "server2:2222"),
    entry("bob", "default", "server2:22"),
    entry("carol", "v6", "[::1]:22"),
  ];
  const pick = (filter: Record<string, string>) => {
    const picked = selectPersisted(history, filter, expand);
    assert.ok(picked.ok);
    return picked.value.map((p) => `${p.user}@${p.service}`);
  };
  assert.deepEqual(pick({ port: "22" }), [
    "alice@default",
    "bob@default",
    "carol@v6",
  ]);
  assert.deepEqual(pick({ user: "alice" }), [
    "alice@default",
    "alice@default2",
  ]);
  assert.deepEqual(pick({ user: "alice", service: "default" }), [
    "alice@default",
  ]);
  assert.deepEqual(pick({ host: "server[1-2]", port: "2222" }), [
    "alice@default2",
  ]);
  assert.deepEqual(pick({ host: "::1" }), ["carol@v6"]);
  assert.equal(
    selectPersisted(history, { host: "server[x]" }, expand).ok,
    false,
  );
});
