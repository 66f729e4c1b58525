// Destination choice with shared state (spec §5.8), through the proxy's
// SharedState over an in-memory etcd: the reference's unit-test table of
// §5.8.4 restated, the orderings of §5.8.2, check_interval, history,
// prefix collisions, and the bandwidth publisher of §8.5.
import assert from "node:assert/strict";
import { fail, ok, type Result } from "../../src/result.ts";
import { orderByLoad } from "../../src/route/stateful_order.ts";
import type { KeyValue } from "../../src/state/etcd_client.ts";
import { StateStore } from "../../src/state/store.ts";
import {
  chooseSessionDestination,
  loadStateHelpers,
  publishStats,
  SharedState,
} from "../../src/session/shared_state.ts";
import type { Level } from "../../src/log/format.ts";
import { effective } from "../config/fixture_helpers.ts";
import { MemoryEtcd } from "../state/memory_backend.ts";

const C = "/sshproxy/connections/";
const H = "/sshproxy/hosts/";
const TS = "2024-05-02T09:15:03.041527381+02:00";

/** The reference's mocked etcd (spec §5.8.4), with its failing keys. */
class ReferenceEtcd extends MemoryEtcd {
  override get(key: string): Promise<Result<KeyValue | undefined>> {
    if (key === `${H}errorhost:22`) {
      return Promise.resolve(fail("etcd read error"));
    }
    return super.get(key);
  }
  override list(
    prefix: string,
    options?: { keysOnly?: boolean },
  ): Promise<Result<KeyValue[]>> {
    if (prefix.startsWith(`${C}arno@`)) {
      return Promise.resolve(fail("etcd list error"));
    }
    return super.list(prefix, options);
  }
  override put(
    key: string,
    value: string,
    lease?: string,
  ): Promise<Result<void>> {
    if (key === `${H}downhost:22`) {
      return Promise.resolve(fail("etcd write error"));
    }
    return super.put(key, value, lease);
  }
}

function referenceEtcd(): ReferenceEtcd {
  const etcd = new ReferenceEtcd();
  const old = "1970-01-01T00:00:00Z";
  for (const host of ["host1", "host2", "host3"]) {
    etcd.seed(`${H}${host}:22`, `{"State":"up","Ts":"${old}"}`);
  }
  const now = new Date().toISOString();
  etcd.seed(`${H}host4:22`, `{"State":"up","Ts":"${now}"}`);
  etcd.seed(`${H}downhost:22`, `{"State":"down","Ts":"${old}"}`);
  etcd.seed(`${H}disabledhost:22`, `{"State":"disabled","Ts":"${old}"}`);
  etcd.seed(
    `${C}cyril@default/host2:22/127.0.0.1:2022/${TS}`,
    '{"In":0,"Out":0}',
  );
  etcd.seed(
    `${C}bob@default/downhost:22/127.0.0.1:2022/${TS}`,
    '{"In":0,"Out":0}',
  );
  return etcd;
}

// TCP fails to downhost and errorhost; everything else answers.
const referenceLive = (destination: string): Promise<Result<void>> =>
  Promise.resolve(
    destination === "downhost:22" || destination === "errorhost:22"
      ? fail(`dial tcp ${destination}: connect: connection refused`)
      : ok(undefined),
  );

interface Row {
  user: string;
  etcd: boolean;
  dest: string[];
  routeSelect: string;
  mode?: string;
  expected: string | string[] | undefined | { error: string };
  lines: string[];
}

const refused = (d: string) =>
  `INFO cannot connect to ${d}: dial tcp ${d}: connect: connection refused`;

const ROWS: Row[] = [
  {
    user: "cyril",
    etcd: false,
    dest: ["host2:22", "host3:22"],
    routeSelect: "bandwidth",
    expected: ["host2:22", "host3:22"],
    lines: [],
  },
  {
    user: "cyril",
    etcd: false,
    dest: ["downhost:22"],
    routeSelect: "ordered",
    expected: undefined,
    lines: [refused("downhost:22")],
  },
  {
    user: "cyril",
    etcd: false,
    dest: [],
    routeSelect: "ordered",
    expected: { error: "no destination set for service default" },
    lines: [],
  },
  {
    user: "alice",
    etcd: true,
    dest: ["host2:22", "host3:22"],
    routeSelect: "connections",
    expected: "host3:22",
    lines: [],
  },
  {
    user: "cyril",
    etcd: true,
    dest: ["host3:22", "host4:22", "host2:22"],
    routeSelect: "ordered",
    mode: "sticky",
    expected: "host2:22",
    lines: [],
  },
  {
    user: "alice",
    etcd: true,
    dest: [
      "errorhost:22",
      "disabledhost:22",
      "downhost:22",
      "host4:22",
      "host2:22",
    ],
    routeSelect: "ordered",
    expected: "host4:22",
    lines: [
      "ERROR problem with etcd: etcd read error",
      refused("errorhost:22"),
      refused("downhost:22"),
      "ERROR setting host state in etcd: etcd write error",
    ],
  },
  {
    user: "cyril",
    etcd: true,
    dest: ["host3:22"],
    routeSelect: "ordered",
    mode: "sticky",
    expected: "host3:22",
    lines: [
      "INFO cannot connect cyril@default to already existing connection(s) to host2:22: not in routes",
    ],
  },
  {
    // The reference checks downhost a second time in the ordered pass and
    // logs both lines again; we check a destination once per session.
    user: "bob",
    etcd: true,
    dest: ["downhost:22", "host3:22"],
    routeSelect: "ordered",
    mode: "sticky",
    expected: "host3:22",
    lines: [
      refused("downhost:22"),
      "ERROR setting host state in etcd: etcd write error",
      "INFO cannot connect bob@default to already existing connection(s) to downhost:22: host down",
    ],
  },
  {
    user: "arno",
    etcd: true,
    dest: ["host3:22"],
    routeSelect: "ordered",
    mode: "sticky",
    expected: "host3:22",
    lines: ["ERROR problem with etcd: etcd list error"],
  },
];

async function setUp(
  user: string,
  yaml: string,
  etcd: MemoryEtcd | undefined,
) {
  const config = (await effective(yaml, user, [])).config;
  const lines: string[] = [];
  const log = (level: Level, message: string) => {
    if (level !== "DEBUG") lines.push(`${level} ${message}`);
  };
  const shared = etcd &&
    new SharedState(
      new StateStore(etcd),
      config,
      user,
      log,
      await loadStateHelpers(),
    );
  return { config, lines, log, shared };
}

for (const row of ROWS) {
  Deno.test(
    `spec §5.8.4: ${row.user}, ${row.etcd ? "etcd" : "no etcd"}, [${
      row.dest.join(" ")
    }], ${row.routeSelect}`,
    async () => {
      const { config, lines, log, shared } = await setUp(
        row.user,
        `dest: [${row.dest.join(", ")}]\nroute_select: ${row.routeSelect}\n` +
          `mode: ${row.mode ?? "balanced"}\ncheck_interval: 1m\n`,
        row.etcd ? referenceEtcd() : undefined,
      );
      const chosen = await chooseSessionDestination(
        config,
        row.user,
        shared,
        log,
        { live: referenceLive },
      );
      if (
        typeof row.expected === "object" && !Array.isArray(row.expected)
      ) {
        assert.deepEqual(chosen, { ok: false, error: row.expected.error });
      } else {
        assert.ok(chosen.ok);
        if (Array.isArray(row.expected)) {
          assert.ok(row.expected.includes(chosen.value!), String(chosen.value));
        } else assert.equal(chosen.value, row.expected);
      }
      assert.deepEqual(lines, row.lines);
    },
  );
}

Deno.test("a recorded check carries the time the check started, in etcd's format", async () => {
  const etcd = new MemoryEtcd();
  const { config, log, shared } = await setUp(
    "alice",
    "dest: [a:22]\nroute_select: ordered\n",
    etcd,
  );
  const start = 1_714_633_503_041_527_381n;
  const chosen = await chooseSessionDestination(config, "alice", shared, log, {
    live: () => Promise.resolve(ok(undefined)),
    now: () => start,
  });
  assert.deepEqual(chosen, { ok: true, value: "a:22" });
  await shared!.settled();
  const stored = JSON.parse(etcd.keys.get(`${H}a:22`)!.value);
  assert.equal(stored.State, "up");
  assert.equal(
    Date.parse(stored.Ts) * 1_000_000 +
      Number(stored.Ts.match(/\.\d{3}(\d{6})/)[1]),
    Number(start),
  );
});

Deno.test("check_interval: a fresh stored state is reused (Ts unchanged), an old one is re-checked", async () => {
  const etcd = new MemoryEtcd();
  const { config, log, shared } = await setUp(
    "alice",
    "dest: [a:22, b:22]\nroute_select: ordered\ncheck_interval: 5s\n",
    etcd,
  );
  const now = BigInt(Date.now()) * 1_000_000n;
  const fresh = `{"State":"down","Ts":"${new Date().toISOString()}"}`;
  etcd.seed(`${H}a:22`, fresh);
  const probed: string[] = [];
  const live = (d: string) => {
    probed.push(d);
    return Promise.resolve(ok(undefined));
  };
  const chosen = await chooseSessionDestination(config, "alice", shared, log, {
    live,
    now: () => now,
  });
  // a is down for 5 s more without being probed; b is probed.
  assert.deepEqual(chosen, { ok: true, value: "b:22" });
  await shared!.settled();
  assert.deepEqual(probed, ["b:22"]);
  assert.equal(etcd.keys.get(`${H}a:22`)!.value, fresh);
  // Six seconds later a is probed again and its Ts refreshed.
  const later = await setUp(
    "alice",
    "dest: [a:22, b:22]\nroute_select: ordered\ncheck_interval: 5s\n",
    etcd,
  );
  const again = await chooseSessionDestination(
    later.config,
    "alice",
    later.shared,
    later.log,
    { live, now: () => now + 6_000_000_000n },
  );
  assert.deepEqual(again, { ok: true, value: "a:22" });
  await later.shared!.settled();
  assert.deepEqual(probed, ["b:22", "a:22"]);
  assert.match(etcd.keys.get(`${H}a:22`)!.value, /^\{"State":"up","Ts":"/);
});

Deno.test("the choice does not wait for etcd to store a host's check; close() does", async () => {
  const etcd = new MemoryEtcd();
  const { config, log, shared } = await setUp(
    "alice",
    "dest: [a:22]\nroute_select: ordered\n",
    etcd,
  );
  let release = () => {};
  const held = new Promise<void>((resolve) => release = resolve);
  etcd.beforeAnswer = (method) => method === "put" ? held : Promise.resolve();
  const chosen = await chooseSessionDestination(config, "alice", shared, log, {
    live: () => Promise.resolve(ok(undefined)),
  });
  assert.deepEqual(chosen, { ok: true, value: "a:22" });
  assert.equal(etcd.keys.has(`${H}a:22`), false, "written in the background");
  const closing = shared!.close();
  let closed = false;
  closing.then(() => closed = true);
  await new Promise((resolve) => setTimeout(resolve, 20));
  assert.equal(closed, false, "close() waits for the write");
  release();
  await closing;
  assert.match(etcd.keys.get(`${H}a:22`)!.value, /^\{"State":"up","Ts":"/);
});

Deno.test("sticky and balanced by connections: one listing of every connection answers both, and another service's keys never leak in", async () => {
  const etcd = new MemoryEtcd();
  // alice's live connection of another service, and bob's of hers.
  etcd.seed(`${C}alice@default2/b:22/127.0.0.1:2022/${TS}`, '{"In":0,"Out":0}');
  etcd.seed(`${C}bob@default/b:22/127.0.0.1:2022/${TS}`, '{"In":0,"Out":0}');
  const { config, log, shared, lines } = await setUp(
    "alice",
    "dest: [a:22, b:22]\nroute_select: connections\nmode: sticky\n",
    etcd,
  );
  const live = () => Promise.resolve(ok(undefined));
  const before = etcd.calls.get("list") ?? 0;
  const chosen = await chooseSessionDestination(config, "alice", shared, log, {
    live,
  });
  // No sticky candidate for alice@default: the least loaded, a:22.
  assert.deepEqual(chosen, { ok: true, value: "a:22" });
  assert.equal((etcd.calls.get("list") ?? 0) - before, 1, "one listing");
  assert.deepEqual(lines, []);
  // With a live connection of alice@default, that one wins, from the same
  // single listing.
  etcd.seed(`${C}alice@default/b:22/127.0.0.1:2022/${TS}`, '{"In":0,"Out":0}');
  const again = await chooseSessionDestination(config, "alice", shared, log, {
    live,
  });
  assert.deepEqual(again, { ok: true, value: "b:22" });
  assert.equal((etcd.calls.get("list") ?? 0) - before, 2);
});

Deno.test("a disabled host is never chosen and never probed, whatever its age or check_interval", async () => {
  const etcd = new MemoryEtcd();
  etcd.seed(`${H}a:22`, `{"State":"disabled","Ts":"1970-01-01T00:00:00Z"}`);
  etcd.seed(
    `${H}b:22`,
    `{"State":"DISABLED","Ts":"${new Date().toISOString()}"}`,
  );
  const { config, lines, log, shared } = await setUp(
    "alice",
    "dest: [a:22, b:22]\nroute_select: ordered\n",
    etcd,
  );
  const probed: string[] = [];
  const chosen = await chooseSessionDestination(config, "alice", shared, log, {
    live: (d) => {
      probed.push(d);
      return Promise.resolve(ok(undefined));
    },
  });
  assert.deepEqual(chosen, { ok: true, value: undefined });
  assert.deepEqual(probed, []);
  assert.deepEqual(lines, []);
});

Deno.test("sticky: history is used only with etcd_keyttl > 0; another service's keys never leak in (§12.3 item 25)", async () => {
  const etcd = new MemoryEtcd();
  for (const lease of ["1000", "1001"]) etcd.leases.set(lease, 60);
  etcd.seed("/sshproxy/history/alice@default/1000", "c:22", "1000");
  etcd.seed(`${C}alice@default2/a:22/127.0.0.1:2022/${TS}`, '{"In":0,"Out":0}');
  etcd.seed("/sshproxy/history/alice@default2/1001", "a:22", "1001");
  const live = () => Promise.resolve(ok(undefined));
  for (
    const [keyttl, expected] of [[0, "b:22"], [3600, "c:22"]] as const
  ) {
    const { config, log, shared, lines } = await setUp(
      "alice",
      `dest: [b:22, a:22, c:22]\nroute_select: ordered\nmode: sticky\netcd_keyttl: ${keyttl}\n`,
      etcd,
    );
    const chosen = await chooseSessionDestination(
      config,
      "alice",
      shared,
      log,
      { live },
    );
    assert.deepEqual(chosen, { ok: true, value: expected }, `keyttl ${keyttl}`);
    assert.deepEqual(lines, []);
  }
});

Deno.test("sticky: the most recent live connection wins over a lexicographically greater one", async () => {
  const etcd = new MemoryEtcd();
  etcd.seed(
    `${C}alice@default/b:22/127.0.0.1:2022/2024-05-02T09:00:00Z`,
    '{"In":0,"Out":0}',
  );
  etcd.seed(
    `${C}alice@default/a:22/127.0.0.1:2022/2024-05-02T10:00:00Z`,
    '{"In":0,"Out":0}',
  );
  const { config, log, shared } = await setUp(
    "alice",
    "dest: [b:22, a:22]\nroute_select: ordered\nmode: sticky\n",
    etcd,
  );
  const chosen = await chooseSessionDestination(config, "alice", shared, log, {
    live: () => Promise.resolve(ok(undefined)),
  });
  assert.deepEqual(chosen, { ok: true, value: "a:22" });
});

Deno.test("a malformed key is reported once and skipped; routing still uses the others (§12.3 item 31)", async () => {
  const etcd = new MemoryEtcd();
  etcd.seed(`${C}alice@default/a:22/127.0.0.1:2022/${TS}`, '{"In":0,"Out":0}');
  etcd.seed(`${C}garbage`, "x");
  const { config, log, shared, lines } = await setUp(
    "bob",
    "dest: [a:22, b:22]\nroute_select: connections\n",
    etcd,
  );
  const chosen = await chooseSessionDestination(config, "bob", shared, log, {
    live: () => Promise.resolve(ok(undefined)),
  });
  assert.deepEqual(chosen, { ok: true, value: "b:22" });
  assert.equal(lines.length, 1);
  assert.match(
    lines[0],
    /^WARNING etcd key \/sshproxy\/connections\/garbage ignored: /,
  );
});

Deno.test("connections and bandwidth orderings: user load, then host load, then random among equals", () => {
  const loads = new Map([
    ["a", { userN: 1, userIn: 0, userOut: 0, hostN: 1, hostIn: 0, hostOut: 0 }],
    ["b", { userN: 0, userIn: 0, userOut: 0, hostN: 5, hostIn: 0, hostOut: 0 }],
    ["c", { userN: 0, userIn: 0, userOut: 0, hostN: 2, hostIn: 0, hostOut: 0 }],
    ["d", { userN: 0, userIn: 0, userOut: 0, hostN: 2, hostIn: 0, hostOut: 0 }],
  ]);
  const seen = new Set<string>();
  for (let seed = 0; seed < 50; seed++) {
    let state = seed + 1;
    const random = () => {
      state = (state * 16807) % 2147483647;
      return (state - 1) / 2147483646;
    };
    const { order, debug } = orderByLoad(
      ["a", "b", "c", "d"],
      "connections",
      loads,
      random,
    );
    assert.equal(order[2], "b");
    assert.equal(order[3], "a");
    seen.add(order.slice(0, 2).join(""));
    assert.equal(
      debug,
      `ordered destinations based on # of connections: [${order.join(" ")}]`,
    );
  }
  assert.deepEqual([...seen].sort(), ["cd", "dc"]);
  // bandwidth: user score In² + Out² + N, then host score.
  const bw = new Map([
    ["a", { userN: 1, userIn: 3, userOut: 0, hostN: 1, hostIn: 3, hostOut: 0 }],
    ["b", { userN: 2, userIn: 1, userOut: 1, hostN: 9, hostIn: 9, hostOut: 9 }],
    ["c", { userN: 0, userIn: 0, userOut: 0, hostN: 1, hostIn: 0, hostOut: 2 }],
  ]);
  const byBandwidth = orderByLoad(
    ["a", "b", "c"],
    "bandwidth",
    bw,
    Math.random,
  );
  assert.deepEqual(byBandwidth.order, ["c", "b", "a"]);
  assert.equal(
    byBandwidth.debug,
    "ordered destinations based on bandwidth used: [c b a]",
  );
});

Deno.test("destinations without a host entry still count their connections (§12.3 item 32)", async () => {
  const etcd = new MemoryEtcd();
  etcd.seed(`${C}bob@other/a:22/127.0.0.1:2022/${TS}`, '{"In":0,"Out":0}');
  const { config, log, shared } = await setUp(
    "alice",
    "dest: [a:22, b:22]\nroute_select: connections\n",
    etcd,
  );
  for (let i = 0; i < 10; i++) {
    const chosen = await chooseSessionDestination(
      config,
      "alice",
      shared,
      log,
      {
        live: () => Promise.resolve(ok(undefined)),
      },
    );
    assert.deepEqual(chosen, { ok: true, value: "b:22" });
  }
});

Deno.test("etcd down during the choice: logged, the choice goes on stateless", async () => {
  const etcd = new MemoryEtcd();
  etcd.seed(`${H}a:22`, `{"State":"disabled","Ts":"1970-01-01T00:00:00Z"}`);
  etcd.down = true;
  const { config, log, shared, lines } = await setUp(
    "alice",
    "dest: [b:22]\nroute_select: connections\nmode: sticky\n",
    etcd,
  );
  const chosen = await chooseSessionDestination(config, "alice", shared, log, {
    live: () => Promise.resolve(ok(undefined)),
  });
  assert.deepEqual(chosen, { ok: true, value: "b:22" });
  assert.ok(lines.every((l) => l.startsWith("ERROR ")), lines.join("\n"));
  assert.equal(await shared!.errorBanner(), "");
});

Deno.test("registration writes the connection key, close() deletes it and keeps the history", async () => {
  const etcd = new MemoryEtcd();
  const { log, shared } = await setUp(
    "alice",
    "dest: [a:22]\netcd_keyttl: 60\n",
    etcd,
  );
  await shared!.register("a:22", "127.0.0.1:2022");
  const key = shared!.registration!.key;
  assert.match(
    key,
    /^\/sshproxy\/connections\/alice@default\/a:22\/127\.0\.0\.1:2022\/\d{4}-/,
  );
  assert.equal(etcd.keys.get(key)?.value, '{"In":0,"Out":0}');
  assert.equal(
    [...etcd.keys.keys()].filter((k) =>
      k.startsWith("/sshproxy/history/alice@default/")
    ).length,
    1,
  );
  await shared!.close();
  assert.equal(etcd.keys.has(key), false);
  assert.equal(
    [...etcd.keys.entries()].filter(([k]) =>
      k.startsWith("/sshproxy/history/alice@default/")
    )[0][1].value,
    "a:22",
  );
  assert.ok(log);
});

Deno.test("close() right after an unawaited register() waits for it and deletes the key", async () => {
  const etcd = new MemoryEtcd();
  const { shared } = await setUp("alice", "dest: [a:22]\n", etcd);
  shared!.register("a:22", "127.0.0.1:2022");
  shared!.publishStats({ bandwidth: () => ({ In: 1, Out: 1 }) });
  await shared!.close();
  assert.deepEqual(
    [...etcd.keys.keys()].filter((k) => k.startsWith(C)),
    [],
  );
  assert.equal(etcd.leases.size, 0);
});

Deno.test("publishStats: first after the delay, then every interval, never doubled, failures logged once", async () => {
  let bandwidth = { In: 1, Out: 2 };
  const published: { bwIn: number; bwOut: number }[] = [];
  let active = true;
  let failing = false;
  let slow = false;
  const sink = {
    get active() {
      return active;
    },
    async updateStats(stats: { bwIn: number; bwOut: number }) {
      published.push(stats);
      if (slow) await new Promise((r) => setTimeout(r, 250));
      if (failing) {
        active = false;
        return fail<void>("connection refused");
      }
      return ok(undefined);
    },
  };
  const lines: string[] = [];
  const stop = publishStats(
    { bandwidth: () => bandwidth },
    sink,
    50_000_000n,
    (level, message) => lines.push(`${level} ${message}`),
    { firstDelayMs: 100 },
  );
  await new Promise((r) => setTimeout(r, 120));
  assert.equal(published.length, 0); // the first interval has not elapsed
  await new Promise((r) => setTimeout(r, 60));
  assert.deepEqual(published, [{ bwIn: 1, bwOut: 2 }]);
  bandwidth = { In: 7, Out: 0 };
  failing = true;
  await new Promise((r) => setTimeout(r, 160));
  assert.deepEqual(published.at(-1), { bwIn: 7, bwOut: 0 });
  assert.deepEqual(lines, ["ERROR updating stats: connection refused"]);
  failing = false;
  slow = true;
  const before = published.length;
  await new Promise((r) => setTimeout(r, 240));
  // One slow publish at a time: not one per 50 ms tick.
  assert.ok(published.length - before <= 2, `${published.length - before}`);
  stop();
  await new Promise((r) => setTimeout(r, 300));
  const after = published.length;
  await new Promise((r) => setTimeout(r, 120));
  assert.equal(published.length, after);
});

Deno.test("without etcd, the live check's connection is sent before the session prepares to start ssh", async () => {
  // Sticky and balanced: neither read has anything to wait for without
  // etcd, so neither may run the preparation ahead of the probe.
  for (const mode of ["sticky", "balanced"]) {
    const { config, log } = await setUp(
      "alice",
      `dest: [a:22, b:22]\nroute_select: connections\nmode: ${mode}\n`,
      undefined,
    );
    const events: string[] = [];
    const chosen = await chooseSessionDestination(
      config,
      "alice",
      undefined,
      log,
      {
        live: (destination) => {
          events.push(`probe ${destination} sent`);
          return Promise.resolve(
            destination === "a:22" ? fail("connection refused") : ok(undefined),
          );
        },
        whileWaiting: () => events.push("prepare"),
        random: () => 0,
      },
    );
    assert.ok(chosen.ok);
    assert.equal(events[0]?.endsWith(" sent"), true, `${mode}: ${events}`);
    assert.equal(events[1], "prepare", `${mode}: ${events}`);
  }
});

Deno.test("with etcd, the session prepares to start ssh while the first read travels", async () => {
  const { config, log, shared } = await setUp(
    "alice",
    "dest: [a:22]\nroute_select: ordered\nmode: sticky\n",
    new MemoryEtcd(),
  );
  const events: string[] = [];
  const chosen = await chooseSessionDestination(config, "alice", shared, log, {
    live: () => {
      events.push("probe sent");
      return Promise.resolve(ok(undefined));
    },
    whileWaiting: () => events.push("prepare"),
  });
  assert.deepEqual(chosen, { ok: true, value: "a:22" });
  assert.equal(events[0], "prepare", String(events));
  assert.ok(events.includes("probe sent"), String(events));
  await shared!.settled();
});
