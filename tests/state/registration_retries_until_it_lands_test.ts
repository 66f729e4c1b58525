// A registration that could not be written at once is retried with a
// growing, capped delay until etcd takes it (issue 13 item 2); it is never
// skipped because an earlier read timed out; it stops at session end, and
// one that lands while the session ends removes itself. Over the
// in-memory etcd; tests/e2e/proxy_etcd_registration_test.ts does it for
// real.
import assert from "node:assert/strict";
import { ok } from "../../src/result.ts";
import {
  loadStateHelpers,
  SharedState,
} from "../../src/session/shared_state.ts";
import type { Level } from "../../src/log/format.ts";
import { nextDelay } from "../../src/state/registration.ts";
import { type RegistrationEvent, StateStore } from "../../src/state/store.ts";
import { effective } from "../config/fixture_helpers.ts";
import { MemoryEtcd } from "./memory_backend.ts";

const CONN = "/sshproxy/connections/";

function sleep(ms: number) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

async function waitFor(what: string, check: () => boolean, ms = 3000) {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

function connectionKeys(etcd: MemoryEtcd): string[] {
  return [...etcd.keys.keys()].filter((key) => key.startsWith(CONN));
}

const OPTIONS = {
  user: "alice",
  service: "default",
  dest: "server1:22",
  sshd: "10.0.0.1:22",
  keyTtl: 1,
  historyTtl: 30,
};

Deno.test("the delay doubles from the initial one and stays at the cap", () => {
  const backoff = { initialMs: 250, maxMs: 1666 };
  const delays: number[] = [];
  let delay = 0;
  for (let i = 0; i < 6; i++) delays.push(delay = nextDelay(delay, backoff));
  assert.deepEqual(delays, [250, 500, 1000, 1666, 1666, 1666]);
});

Deno.test("etcd down at the first attempt: retried with growing delays, lands as soon as etcd answers, then kept alive", async () => {
  const etcd = new MemoryEtcd();
  etcd.down = true;
  const events: RegistrationEvent[] = [];
  const registered = await new StateStore(etcd).register({
    ...OPTIONS,
    onEvent: (event) => events.push(event),
    backoff: { initialMs: 20, maxMs: 80 },
    random: () => 0.999,
  });
  assert.ok(registered.ok);
  const registration = registered.value;
  try {
    assert.equal(registration.landed, false);
    assert.equal(registration.active, false);
    assert.deepEqual(events[0], {
      kind: "deferred",
      reason: "reading history: connection refused",
      nextMs: 20,
    });
    const grantsBefore = etcd.calls.get("list") ?? 0;
    await sleep(600);
    const attempts = (etcd.calls.get("list") ?? 0) - grantsBefore;
    // 20, 40, 80, 80, ... ms: about 8 in 600 ms; a tight loop makes thousands.
    assert.ok(attempts >= 4 && attempts <= 12, `${attempts} attempts`);
    const delays = events.filter((e) => e.kind === "retry-failed").map((e) =>
      "nextMs" in e ? e.nextMs : 0
    );
    assert.deepEqual(delays.slice(0, 3), [40, 80, 80]);
    assert.deepEqual(connectionKeys(etcd), []);
    etcd.down = false;
    const back = Date.now();
    assert.equal(await registration.whenLanded(1000), true);
    assert.ok(Date.now() - back <= 200, `${Date.now() - back} ms`);
    const landed = events.find((e) => e.kind === "landed");
    assert.ok(landed && landed.kind === "landed" && landed.attempts > 4);
    assert.deepEqual(connectionKeys(etcd), [registration.key]);
    assert.equal(etcd.keys.get(registration.key)?.lease, registration.lease);
    assert.equal(
      etcd.keys.get(registration.historyKey!)?.value,
      "server1:22",
    );
    // Renewed like any registration: the lease is kept alive.
    const renewals = etcd.calls.get("keepAliveOnce") ?? 0;
    await sleep(700);
    assert.ok((etcd.calls.get("keepAliveOnce") ?? 0) > renewals);
  } finally {
    await registration.close();
  }
  assert.deepEqual(connectionKeys(etcd), []);
  assert.equal(etcd.leases.has(registration.lease!), false);
});

Deno.test("figures published before the key landed are the ones it lands with", async () => {
  const etcd = new MemoryEtcd();
  etcd.down = true;
  const registered = await new StateStore(etcd).register({
    ...OPTIONS,
    historyTtl: 0,
    backoff: { initialMs: 20, maxMs: 20 },
  });
  assert.ok(registered.ok);
  const registration = registered.value;
  try {
    const early = await registration.updateStats({ bwIn: 3, bwOut: 4 });
    assert.equal(early.ok, false);
    etcd.down = false;
    assert.equal(await registration.whenLanded(1000), true);
    assert.equal(etcd.keys.get(registration.key)?.value, '{"In":3,"Out":4}');
  } finally {
    await registration.close();
  }
});

Deno.test("closed while still pending: no attempt afterwards, nothing written", async () => {
  const etcd = new MemoryEtcd();
  etcd.down = true;
  const registered = await new StateStore(etcd).register({
    ...OPTIONS,
    backoff: { initialMs: 20, maxMs: 20 },
  });
  assert.ok(registered.ok);
  await sleep(100);
  const closing = Date.now();
  assert.ok((await registered.value.close()).ok);
  assert.ok(Date.now() - closing < 100);
  assert.equal(await registered.value.whenLanded(50), false);
  const calls = [...etcd.calls.values()].reduce((a, b) => a + b, 0);
  etcd.down = false;
  await sleep(200);
  assert.equal([...etcd.calls.values()].reduce((a, b) => a + b, 0), calls);
  assert.deepEqual([...etcd.keys.keys()], []);
});

Deno.test("an attempt that lands while the session ends removes itself", async () => {
  const etcd = new MemoryEtcd();
  let release = () => {};
  const held = new Promise<void>((resolve) => release = resolve);
  etcd.beforeAnswer = async (method) => {
    if (method === "txn") await held;
  };
  const store = new StateStore(etcd);
  const created = store.newRegistration({ ...OPTIONS, historyTtl: 0 });
  assert.ok(created.ok);
  const registration = created.value;
  const first = registration.start();
  await waitFor("the transaction sent", () => etcd.calls.get("txn") === 1);
  const closed = registration.close();
  release();
  await first;
  assert.ok((await closed).ok);
  assert.deepEqual(connectionKeys(etcd), []);
  assert.equal(etcd.leases.size, 0);
});

async function sessionState(
  etcd: MemoryEtcd | undefined,
  lines: string[],
  reconnect?: ConstructorParameters<typeof SharedState>[5],
) {
  const config = (await effective(
    "dest: [server1:22]\netcd:\n  endpoints: [memory]\n  keyttl: 1\n",
    "alice",
    [],
  )).config;
  const log = (level: Level, message: string) =>
    lines.push(`${level} ${message}`);
  return new SharedState(
    etcd && new StateStore(etcd),
    config,
    "alice",
    log,
    await loadStateHelpers(),
    reconnect,
  );
}

Deno.test("a routing read that timed out skips the other reads, never the registration", async () => {
  const etcd = new MemoryEtcd();
  const lines: string[] = [];
  const shared = await sessionState(etcd, lines);
  // etcd stops answering: the sticky read fails after a timeout's worth.
  etcd.beforeAnswer = async () => {
    await sleep(1000);
    return "no answer within 2s";
  };
  assert.equal(await shared.sticky(), undefined);
  assert.equal(shared.usable, false);
  const reads = etcd.calls.get("list");
  assert.equal(await shared.loads(), undefined);
  assert.equal(etcd.calls.get("list"), reads, "a read after the timeout");
  // etcd answers again: the registration still goes through.
  etcd.beforeAnswer = undefined;
  await shared.register("server1:22", "10.0.0.1:22");
  assert.equal(shared.registration?.landed, true);
  assert.equal(connectionKeys(etcd).length, 1);
  assert.ok(!lines.some((line) => /skipped/.test(line)), lines.join("\n"));
  await shared.close();
  assert.deepEqual(connectionKeys(etcd), []);
});

Deno.test("deferred at login: one WARNING, DEBUG only while the delay grows, one INFO when it lands", async () => {
  const etcd = new MemoryEtcd();
  const lines: string[] = [];
  const shared = await sessionState(etcd, lines);
  etcd.down = true;
  await shared.register("server1:22", "10.0.0.1:22");
  // keyttl 1: delays 250 ms, then 333 ms (TTL/3) for good.
  await sleep(1600);
  etcd.down = false;
  await waitFor("landed", () => shared.registration?.landed === true);
  const etcdLines = lines.filter((line) =>
    /etcd/.test(line) && !/config\./.test(line)
  );
  assert.match(
    etcdLines[0],
    /^WARNING setting destination in etcd: granting a lease: connection refused; the session goes on and registers as soon as etcd answers$/,
  );
  assert.deepEqual(
    etcdLines.slice(1, -1),
    [
      "DEBUG etcd still unreachable (granting a lease: connection refused), next attempt in 333 ms",
    ],
  );
  assert.match(
    etcdLines.at(-1)!,
    /^INFO registered in etcd as \/sshproxy\/connections\/alice@default\/server1:22\/10\.0\.0\.1:22\/\S+ \(lease \d+\) after \d+ attempts$/,
  );
  await shared.close();
  assert.deepEqual(connectionKeys(etcd), []);
});

Deno.test("etcd did not answer at login: routing was stateless, the session connects and registers as soon as it answers", async () => {
  const etcd = new MemoryEtcd();
  const lines: string[] = [];
  let opens = 0;
  const shared = await sessionState(undefined, lines, {
    open: () => {
      opens++;
      return Promise.resolve(
        opens < 4
          ? { ok: false as const, error: "connection refused" }
          : ok(new StateStore(etcd)),
      );
    },
    backoff: { initialMs: 20, maxMs: 40 },
    loginError: "cannot reach etcd at memory: connection refused",
  });
  assert.equal(shared.connected, false);
  assert.equal(await shared.sticky(), undefined);
  await shared.register("server1:22", "10.0.0.1:22");
  await waitFor("landed", () => shared.registration?.landed === true);
  assert.equal(shared.connected, true);
  assert.equal(opens, 4);
  assert.equal(connectionKeys(etcd).length, 1);
  assert.deepEqual(
    lines.filter((line) => !line.startsWith("DEBUG")).map((line) =>
      line.replace(/as \S+ \(lease \d+\)/, "as KEY")
    ),
    [
      "WARNING setting destination in etcd: etcd did not answer at login; the session goes on and registers as soon as etcd answers",
      // The login's own attempt, 3 failed ones, the good one.
      "INFO registered in etcd as KEY after 5 attempts",
    ],
  );
  await shared.close();
  assert.deepEqual(connectionKeys(etcd), []);
});

Deno.test("etcd did not answer at login and the session ends first: nothing is left behind", async () => {
  const lines: string[] = [];
  let opens = 0;
  const shared = await sessionState(undefined, lines, {
    open: () => {
      opens++;
      return Promise.resolve({ ok: false as const, error: "refused" });
    },
    backoff: { initialMs: 1000, maxMs: 1000 },
  });
  await shared.register("server1:22", "10.0.0.1:22");
  await waitFor("one attempt", () => opens === 1);
  const closing = Date.now();
  await shared.close();
  assert.ok(Date.now() - closing < 100, "close waited for the backoff");
  await sleep(50);
  assert.equal(opens, 1);
});

Deno.test("settings etcd refused at login (credentials): not retried, so etcd is not asked for a password every few seconds", async () => {
  const lines: string[] = [];
  let opens = 0;
  const shared = await sessionState(undefined, lines, {
    open: () => {
      opens++;
      return Promise.resolve({ ok: false as const, error: "refused" });
    },
    backoff: { initialMs: 10, maxMs: 10 },
    loginError:
      'etcd at http://e:2379 refused user "u": wrong user name or password (etcd.username, etcd.password)',
    retryable: (error) => error.startsWith("cannot reach etcd at "),
  });
  await shared.register("server1:22", "10.0.0.1:22");
  await sleep(100);
  assert.equal(opens, 0);
  assert.deepEqual(lines, []);
  await shared.close();
});
