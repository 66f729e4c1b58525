// sshproxyctl's aggregations (spec §6.4) and the proxy's per-destination
// loads and host verdicts (§5.8), on hand-made records.
import assert from "node:assert/strict";
import {
  aggregateConnections,
  compareStrings,
  type Connection,
  destinationLoads,
  groupRows,
  type HistoryEntry,
  hostRows,
  stickyFromConnections,
  storedHostVerdict,
  userRows,
} from "../../src/state/aggregate.ts";
import { parseRfc3339 } from "../../src/format/time.ts";

function ts(text: string) {
  const parsed = parseRfc3339(text);
  assert.ok(parsed.ok);
  return parsed.value;
}

function conn(
  user: string,
  service: string,
  dest: string,
  from: string,
  time: string,
  bwIn = 0,
  bwOut = 0,
): Connection {
  return {
    key: `/sshproxy/connections/${user}@${service}/${dest}/${from}/${time}`,
    user,
    service,
    dest,
    from,
    ts: ts(time),
    bwIn,
    bwOut,
  };
}

function history(
  user: string,
  service: string,
  dest: string,
  ttl: number,
): HistoryEntry {
  return {
    key: `/sshproxy/history/${user}@${service}/1`,
    user,
    service,
    leaseId: "1",
    dest,
    ttl,
  };
}

// Ascending key order, as etcd returns them.
const CONNECTIONS = [
  conn(
    "bob",
    "default",
    "server2:22",
    "10.0.0.1:22",
    "2024-05-02T09:00:00Z",
    10,
    1,
  ),
  conn(
    "fedora",
    "service2",
    "server1:22",
    "10.0.0.1:22",
    "2024-05-02T09:15:03+02:00",
    1,
    2,
  ),
  conn(
    "fedora",
    "service2",
    "server1:22",
    "10.0.0.2:22",
    "2024-05-02T08:00:00+02:00",
    3,
    4,
  ),
  conn(
    "fedora",
    "service3",
    "server2:22",
    "10.0.0.1:22",
    "2024-05-02T09:30:00Z",
  ),
];

Deno.test("aggregated connections: N, sums, Last = last key of the group in key order", () => {
  const rows = aggregateConnections(CONNECTIONS);
  assert.deepEqual(
    rows.map((r) => [r.user, r.service, r.dest, r.n, r.bwIn, r.bwOut]),
    [
      ["bob", "default", "server2:22", 1, 10, 1],
      ["fedora", "service2", "server1:22", 2, 4, 6],
      ["fedora", "service3", "server2:22", 1, 0, 0],
    ],
  );
  // The later key (sshd 10.0.0.2) is not the most recent connection.
  assert.deepEqual(rows[1].last, ts("2024-05-02T08:00:00+02:00"));
  assert.deepEqual(aggregateConnections([]), []);
});

Deno.test("hosts count connections and persisted destinations per host:port", () => {
  const rows = hostRows(
    [
      {
        key: "k1",
        hostname: "server1:22",
        state: "up",
        ts: ts("2024-05-02T07:00:00Z"),
      },
      {
        key: "k2",
        hostname: "server3:22",
        state: "disabled",
        ts: ts("2024-05-02T07:00:00Z"),
      },
    ],
    CONNECTIONS,
    [
      history("alice", "default", "server1:22", 30),
      history("bob", "x", "server1:22", 5),
    ],
  );
  assert.deepEqual(
    rows.map((r) => [r.hostname, r.n, r.bwIn, r.bwOut, r.historyN, r.state]),
    [
      ["server1:22", 2, 4, 6, 2, "up"],
      ["server3:22", 0, 0, 0, 0, "disabled"],
    ],
  );
});

Deno.test("users group by user, or by user@service with persisted destination and TTL", () => {
  const groupsOf = (user: string) => user === "fedora" ? "fedora wheel" : "";
  const plain = userRows(CONNECTIONS, { all: false, groupsOf });
  assert.deepEqual(plain, [
    { user: "bob", groups: "", n: 1, bwIn: 10, bwOut: 1 },
    { user: "fedora", groups: "fedora wheel", n: 3, bwIn: 4, bwOut: 6 },
  ]);
  const all = userRows(CONNECTIONS, {
    all: true,
    groupsOf,
    history: [
      history("fedora", "service2", "server1:22", 3725),
      history("zoe", "default", "server9:22", 12),
    ],
  });
  assert.deepEqual(all.map((r) => [r.user, r.service, r.n, r.dest, r.ttl]), [
    ["bob", "default", 1, "", 0],
    ["fedora", "service2", 2, "server1:22", 3725],
    ["fedora", "service3", 1, "", 0],
    ["zoe", "default", 0, "server9:22", 12],
  ]);
});

Deno.test("groups sum their users; an empty group list is one group with an empty name", () => {
  const groupsOf = (user: string) =>
    user === "fedora" ? "fedora wheel" : user === "bob" ? "wheel" : "";
  const users = userRows(
    [
      ...CONNECTIONS,
      conn(
        "gone",
        "default",
        "server1:22",
        "10.0.0.1:22",
        "2024-05-02T09:00:00Z",
      ),
    ],
    { all: false, groupsOf },
  );
  assert.deepEqual(groupRows(users, { all: false }), [
    { group: "", users: "gone", n: 1, bwIn: 0, bwOut: 0 },
    { group: "fedora", users: "fedora", n: 3, bwIn: 4, bwOut: 6 },
    { group: "wheel", users: "bob fedora", n: 4, bwIn: 14, bwOut: 7 },
  ]);
  const all = groupRows(userRows(CONNECTIONS, { all: true, groupsOf }), {
    all: true,
  });
  assert.deepEqual(all.map((r) => [r.group, r.service, r.users, r.n]), [
    ["fedora", "service2", "fedora", 2],
    ["fedora", "service3", "fedora", 1],
    ["wheel", "default", "bob", 1],
    ["wheel", "service2", "fedora", 2],
    ["wheel", "service3", "fedora", 1],
  ]);
});

Deno.test("strings sort in Go's byte order, not UTF-16 order", () => {
  const names = ["\u{1F600}", "\uFF5E", "b", "B", "a"];
  assert.deepEqual([...names].sort(compareStrings), [
    "B",
    "a",
    "b",
    "\uFF5E",
    "\u{1F600}",
  ]);
});

Deno.test("destination loads count every connection, with or without a host entry", () => {
  const loads = destinationLoads(CONNECTIONS, "fedora", "service2", [
    "server1:22",
    "server2:22",
    "server9:22",
  ]);
  assert.deepEqual(loads.get("server1:22"), {
    userN: 2,
    userIn: 4,
    userOut: 6,
    hostN: 2,
    hostIn: 4,
    hostOut: 6,
  });
  assert.deepEqual(loads.get("server2:22"), {
    userN: 0,
    userIn: 0,
    userOut: 0,
    hostN: 2,
    hostIn: 10,
    hostOut: 1,
  });
  assert.equal(loads.get("server9:22")?.hostN, 0);
});

Deno.test("sticky picks the most recent connection, not the greatest destination", () => {
  assert.equal(
    stickyFromConnections([
      conn("a", "s", "zeta:22", "g:22", "2024-05-02T09:00:00Z"),
      conn("a", "s", "alpha:22", "g:22", "2024-05-02T10:00:00+02:00"),
      conn("a", "s", "beta:22", "g:22", "2024-05-02T09:30:00Z"),
    ]),
    "beta:22",
  );
  assert.equal(stickyFromConnections([]), undefined);
});

Deno.test("stored host state: disabled always wins, fresh states are reused, old ones re-checked", () => {
  const checked = ts("2024-05-02T09:00:00Z");
  const second = 1_000_000_000n;
  assert.deepEqual(storedHostVerdict(undefined, 5n * second, checked.ns), {
    kind: "check",
  });
  assert.deepEqual(
    storedHostVerdict(
      { state: "disabled", ts: checked },
      0n,
      checked.ns + 3600n * second,
    ),
    { kind: "disabled" },
  );
  assert.deepEqual(
    storedHostVerdict(
      { state: "down", ts: checked },
      5n * second,
      checked.ns + 4n * second,
    ),
    { kind: "stored", state: "down" },
  );
  assert.deepEqual(
    storedHostVerdict(
      { state: "up", ts: checked },
      5n * second,
      checked.ns + 6n * second,
    ),
    { kind: "check" },
  );
  // check_interval 0: every session re-checks.
  assert.deepEqual(
    storedHostVerdict({ state: "up", ts: checked }, 0n, checked.ns + 1n),
    { kind: "check" },
  );
});
