// max_connections_per_user that holds under a burst (issue 12 item 5): a
// session registers, ranks its key among the user's by etcd's create
// revision and withdraws when `limit` keys came first. Over the in-memory
// etcd (with etcd's revision counting); a real TCP listener stands for the
// destination so that the health check passes. The real gateway does it in
// tests/e2e/proxy_etcd_limit_burst_test.ts.
import assert from "node:assert/strict";
import type { Level } from "../../src/log/format.ts";
import { fail, ok, type Result } from "../../src/result.ts";
import {
  loadStateHelpers,
  routeSession,
  SharedState,
} from "../../src/session/shared_state.ts";
import { rankConnection } from "../../src/state/admission.ts";
import { StateStore } from "../../src/state/store.ts";
import { effective } from "../config/fixture_helpers.ts";
import { MemoryEtcd } from "./memory_backend.ts";
import { acceptingDestination } from "../harness/net.ts";

const CONN = "/sshproxy/connections/";
const TS = "2024-05-02T09:15:03.041527381+02:00";

function sleep(ms: number) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function connectionKeys(etcd: MemoryEtcd): string[] {
  return [...etcd.keys.keys()].filter((key) => key.startsWith(CONN));
}

Deno.test("ranking: only keys created before one's own count; unknown revisions count against the limit", () => {
  const keys = [
    { key: "a", createRevision: "10" },
    { key: "b", createRevision: "12" },
    { key: "own", createRevision: "11" },
    { key: "c", createRevision: "9" },
  ];
  assert.deepEqual(rankConnection(keys, "own", 3), {
    before: 2,
    admitted: true,
  });
  assert.deepEqual(rankConnection(keys, "own", 2), {
    before: 2,
    admitted: false,
  });
  // Revisions are compared as numbers, not text.
  assert.equal(
    rankConnection(
      [{ key: "x", createRevision: "9" }, {
        key: "own",
        createRevision: "10",
      }],
      "own",
      5,
    ).before,
    1,
  );
  // A backend that does not report revisions, or a key lost meanwhile:
  // every other key counts.
  assert.equal(rankConnection([...keys, { key: "d" }], "own", 9).before, 3);
  assert.equal(
    rankConnection(keys.filter((k) => k.key !== "own"), "own", 9).before,
    3,
  );
  assert.equal(
    rankConnection(
      [{ key: "own" }, { key: "a", createRevision: "1" }],
      "own",
      1,
    )
      .admitted,
    false,
  );
});

async function session(
  etcd: MemoryEtcd,
  user = "alice",
): Promise<SharedState> {
  const config = (await effective(
    "dest: [server1:22]\netcd:\n  endpoints: [memory]\n",
    user,
    [],
  )).config;
  return new SharedState(
    new StateStore(etcd),
    config,
    user,
    () => {},
    await loadStateHelpers(),
  );
}

Deno.test("30 sessions of one user registering at once with a limit of 5: the 5 first in etcd's order get in, the others withdraw", async () => {
  const etcd = new MemoryEtcd();
  const sessions = await Promise.all(
    Array.from({ length: 30 }, () => session(etcd)),
  );
  await Promise.all(
    sessions.map((shared, i) => shared.register("server1:22", `g:${i}`)),
  );
  assert.equal(connectionKeys(etcd).length, 30);
  // Every session counts after all registered: each sees 30 keys, yet
  // only the 5 first are admitted (with a plain count none would be).
  const verdicts = await Promise.all(sessions.map((shared) => shared.admit(5)));
  const admitted = sessions.filter((_, i) => {
    const verdict = verdicts[i];
    return "admitted" in verdict && verdict.admitted;
  });
  assert.equal(admitted.length, 5);
  const revisions = sessions.map((shared) =>
    Number(etcd.keys.get(shared.registration!.key)!.createRevision)
  );
  const firstFive = [...revisions].sort((a, b) => a - b).slice(0, 5);
  assert.deepEqual(
    admitted.map((shared) =>
      Number(etcd.keys.get(shared.registration!.key)!.createRevision)
    ).sort((a, b) => a - b),
    firstFive,
  );
  await Promise.all(
    sessions.filter((s) => !admitted.includes(s)).map((s) => s.close()),
  );
  assert.deepEqual(
    connectionKeys(etcd).sort(),
    admitted.map((s) => s.registration!.key).sort(),
  );
  await Promise.all(admitted.map((s) => s.close()));
  assert.deepEqual(connectionKeys(etcd), []);
});

Deno.test("keys of other gateways (reference ones too) count when created earlier, not when created later", async () => {
  const etcd = new MemoryEtcd();
  etcd.seed(`${CONN}alice@other/x:22/10.9.9.9:22/${TS}`, '{"In":0,"Out":0}');
  etcd.seed(`${CONN}alice@default/y:22/10.9.9.9:22/${TS}`, '{"In":0,"Out":0}');
  // Another user's keys never count.
  etcd.seed(`${CONN}bob@default/y:22/10.9.9.9:22/${TS}`, '{"In":0,"Out":0}');
  const sessions = [await session(etcd), await session(etcd)];
  for (const shared of sessions) await shared.register("server1:22", "g:22");
  etcd.seed(`${CONN}alice@default/z:22/10.9.9.8:22/${TS}`, '{"In":0,"Out":0}');
  assert.deepEqual(await sessions[0].admit(3), { before: 2, admitted: true });
  assert.deepEqual(await sessions[1].admit(3), { before: 3, admitted: false });
  for (const shared of sessions) await shared.close();
});

interface Login {
  status?: number;
  destination?: string;
  stderr: string;
  lines: string[];
  durationMs: number;
  /** Ends the routed session. */
  end(): Promise<void>;
}

async function login(
  yaml: string,
  openStore: () => Promise<Result<StateStore>>,
  options: { admissionBudgetMs?: number; user?: string } = {},
): Promise<Login> {
  const user = options.user ?? "alice";
  const config = (await effective(yaml, user, [])).config;
  const lines: string[] = [];
  let stderr = "";
  const started = Date.now();
  const routed = await routeSession({
    config,
    user,
    log: (level: Level, message: string) => lines.push(`${level} ${message}`),
    writeStdout: () => {},
    writeStderr: (text) => stderr += text,
    sshd: "127.0.0.1:2022",
    openStore,
    admissionBudgetMs: options.admissionBudgetMs,
  });
  const result: Login = {
    stderr,
    lines,
    durationMs: Date.now() - started,
    end: async () => {},
  };
  if ("status" in routed) result.status = routed.status;
  else {
    result.destination = routed.destination;
    result.end = async () => await routed.shared?.close();
  }
  return result;
}

function limitConfig(destination: string, limit: number, extra = ""): string {
  return `dest: ["${destination}"]
max_connections_per_user: ${limit}
etcd:
  endpoints: ["http://127.0.0.1:1"]
${extra}`;
}

Deno.test("a login that already sees the limit reached is refused without registering, with the reference's words", async () => {
  const destination = acceptingDestination();
  try {
    const etcd = new MemoryEtcd();
    const existing = `${CONN}alice@default/x:22/10.9.9.9:22/${TS}`;
    etcd.seed(existing, '{"In":0,"Out":0}');
    const refused = await login(
      limitConfig(destination.address, 1),
      () => Promise.resolve(ok(new StateStore(etcd))),
    );
    assert.equal(refused.status, 1);
    assert.equal(refused.stderr, "Too many simultaneous connections\n");
    assert.ok(
      refused.lines.includes("DEBUG Number of connections of alice: 1"),
    );
    assert.equal(
      refused.lines.at(-1),
      "CRITICAL Max connections per user reached for alice",
    );
    assert.equal(etcd.calls.get("txn") ?? 0, 0, "it registered");
    assert.deepEqual(connectionKeys(etcd), [existing]);
  } finally {
    destination.close();
  }
});

Deno.test("10 logins at once with a limit of 3: 3 routed, 7 refused and withdrawn, never more than 3 keys once decided", async () => {
  const destination = acceptingDestination();
  try {
    const etcd = new MemoryEtcd();
    const logins = await Promise.all(
      Array.from({ length: 10 }, () =>
        login(
          limitConfig(destination.address, 3),
          () => Promise.resolve(ok(new StateStore(etcd))),
        )),
    );
    const routed = logins.filter((l) => l.destination !== undefined);
    assert.equal(routed.length, 3);
    for (const refused of logins.filter((l) => l.status !== undefined)) {
      assert.equal(refused.status, 1);
      assert.equal(refused.stderr, "Too many simultaneous connections\n");
      assert.equal(
        refused.lines.at(-1),
        "CRITICAL Max connections per user reached for alice",
      );
    }
    // Refused logins withdrew before answering: the keys left are the
    // routed sessions'.
    assert.equal(connectionKeys(etcd).length, 3);
    for (const session of routed) await session.end();
    assert.deepEqual(connectionKeys(etcd), []);
    assert.ok(
      routed.every((l) =>
        l.lines.some((line) =>
          /^DEBUG Connections of alice registered before this one: [0-2]$/.test(
            line,
          )
        )
      ),
    );
  } finally {
    destination.close();
  }
});

Deno.test("a registration that cannot land within the budget: the login goes on without the limit (ERROR), or with etcd.mandatory is refused and withdrawn", async () => {
  const destination = acceptingDestination();
  try {
    for (const mandatory of [false, true]) {
      const etcd = new MemoryEtcd();
      // etcd answers the login's reads, then stops taking writes.
      etcd.beforeAnswer = (method) =>
        Promise.resolve(
          method === "grant" ? "no answer within 2s" : undefined,
        );
      const result = await login(
        limitConfig(
          destination.address,
          5,
          `  mandatory: ${mandatory}\n`,
        ),
        () => Promise.resolve(ok(new StateStore(etcd))),
        { admissionBudgetMs: 400 },
      );
      assert.ok(result.durationMs < 2000, `${result.durationMs} ms`);
      const errors = result.lines.filter((l) => /^(ERROR|CRITICAL)/.test(l));
      if (mandatory) {
        assert.equal(result.status, 1);
        assert.equal(
          result.stderr,
          "sshproxy: Etcd is mandatory but unavailable\n",
        );
        assert.deepEqual(errors, [
          "ERROR Getting user connections count: not registered in etcd within 0.4s (granting a lease: no answer within 2s)",
          "CRITICAL Etcd is mandatory but unavailable",
        ]);
      } else {
        assert.equal(result.destination, destination.address);
        assert.deepEqual(errors, [
          "ERROR Getting user connections count: not registered in etcd within 0.4s (granting a lease: no answer within 2s); the session goes on without max_connections_per_user",
        ]);
      }
      // Whatever happened, nothing is left once the session is over, and
      // nothing lands afterwards.
      await result.end();
      etcd.beforeAnswer = undefined;
      await sleep(600);
      assert.deepEqual(connectionKeys(etcd), []);
    }
  } finally {
    destination.close();
  }
});

Deno.test("etcd too busy to answer at login: the login waits for it and is still ranked; etcd down: it goes on at once without the limit", async () => {
  const destination = acceptingDestination();
  try {
    const etcd = new MemoryEtcd();
    etcd.seed(`${CONN}alice@default/x:22/10.9.9.9:22/${TS}`, "{}");
    let opens = 0;
    const busy = await login(
      limitConfig(destination.address, 1),
      async () => {
        opens++;
        if (opens > 1) return ok(new StateStore(etcd));
        // The connect budget ran out (a burst of logins on the gateway).
        await sleep(1000);
        return fail<StateStore>(
          "cannot reach etcd at memory: no answer within 2s",
        );
      },
    );
    assert.equal(busy.status, 1, busy.lines.join("\n"));
    assert.equal(busy.stderr, "Too many simultaneous connections\n");
    assert.ok(opens >= 2);
    assert.equal(connectionKeys(etcd).length, 1);

    const down = await login(
      limitConfig(destination.address, 1),
      () =>
        Promise.resolve(
          fail("cannot reach etcd at memory: connection refused"),
        ),
    );
    assert.equal(down.destination, destination.address);
    await down.end();
    assert.ok(down.durationMs < 1000, `${down.durationMs} ms`);
    assert.deepEqual(
      down.lines.filter((l) => /^(ERROR|CRITICAL)/.test(l)),
      [
        "ERROR Cannot contact etcd cluster to update state: cannot reach etcd at memory: connection refused",
        "ERROR Getting user connections count: etcd did not answer at login; the session goes on without max_connections_per_user",
      ],
    );
  } finally {
    destination.close();
  }
});
