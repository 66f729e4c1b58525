// The agent chooses a session's route while it reads the session's
// processes (a question to its helper, the slowest part of a decision),
// but writes the registration only once they check out, and nothing at
// all when they do not: the session is then left to route itself, and the
// reason names the process, as when the processes were read first. A real
// configuration file and destination socket; the in-memory etcd counts
// what is written; /proc is the test's, answering when the test says.
import assert from "node:assert/strict";
import { AgentKeys } from "../../src/agent/agent_keys.ts";
import {
  AgentStateStore,
  DecisionBackend,
} from "../../src/agent/agent_store.ts";
import { ConfigSource } from "../../src/agent/config_source.ts";
import type { ProcSource } from "../../src/agent/processes.ts";
import { decideRoute, type Decision } from "../../src/agent/router.ts";
import { topLevelConfig } from "../../src/config/resolve.ts";
import { ok } from "../../src/result.ts";
import { CONNECTIONS_PREFIX } from "../../src/state/keys.ts";
import { MemoryEtcd } from "../state/memory_backend.ts";
import {
  CLIENT_PID,
  routeRequest,
  SESSION_PID,
  sshLikeListener,
  statLine,
  UID,
} from "./router_fixtures.ts";

/** /proc answering only when `answer` is called, as `uid` for every pid. */
function heldProc(): {
  proc: ProcSource;
  asked: Promise<void>;
  answer(uid: number): void;
} {
  let answer = (_uid: number) => {};
  let wasAsked = () => {};
  const asked = new Promise<void>((resolve) => wasAsked = resolve);
  const answered = new Promise<number>((resolve) => answer = resolve);
  return {
    proc: {
      stat: () => Promise.resolve(new Map()),
      statAndUids: async (pids) => {
        wasAsked();
        const uid = await answered;
        return new Map(pids.map((pid) => [pid, {
          stat: statLine(pid === CLIENT_PID ? SESSION_PID : 1, 777),
          uids: `Uid:\t${uid}\t${uid}\t${uid}\t${uid}`,
        }]));
      },
    },
    asked,
    answer: (uid) => answer(uid),
  };
}

const connectionKeys = (etcd: MemoryEtcd) =>
  [...etcd.keys.keys()].filter((key) => key.startsWith(CONNECTIONS_PREFIX));

// Lets the decision run as far as it can without /proc's answer.
const settle = () => new Promise((resolve) => setTimeout(resolve, 100));

/** `promise`, or a failure naming `what` after 2 s. */
async function within(promise: Promise<void>, what: string): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    await Promise.race([
      promise,
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error(what)), 2000);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Starts a decision with /proc held back, lets it go as far as it can
 * (the store must be opened meanwhile), then hands it to `body`.
 */
async function decidingWithProcHeld(
  body: (
    decision: Promise<Decision>,
    held: ReturnType<typeof heldProc>,
    etcd: MemoryEtcd,
    keys: AgentKeys,
  ) => Promise<void>,
): Promise<void> {
  const destination = sshLikeListener();
  const etcd = new MemoryEtcd();
  const keys = new AgentKeys(etcd, { keyTtl: 5 });
  const held = heldProc();
  const dir = await Deno.makeTempDir();
  const path = `${dir}/sshproxy.yaml`;
  // The etcd section makes the decision use the store (and register).
  await Deno.writeTextFile(
    path,
    [
      `dest: [${JSON.stringify(destination.address)}]`,
      "etcd:",
      '  endpoints: ["http://127.0.0.1:2379"]',
      "",
    ].join("\n"),
  );
  try {
    const source = new ConfigSource(path, () => {});
    const loaded = await source.load();
    assert.ok(loaded.ok, loaded.ok ? "" : loaded.error);
    const request = routeRequest(path);
    let opened = () => {};
    const storeOpened = new Promise<void>((resolve) => opened = resolve);
    const decision = decideRoute(request, {
      config: source,
      userName: () => Promise.resolve(ok("alice")),
      identity: () => Promise.reject(new Error("no group matches here")),
      proc: held.proc,
      services: () => undefined,
      etcd: () => topLevelConfig(source.current.parsed).etcd,
      store: (gate) => {
        opened();
        const backend = new DecisionBackend(etcd, undefined);
        return Promise.resolve(
          ok(new AgentStateStore(backend, keys, { backend, gate })),
        );
      },
      routed: () => false,
      now: () => 1_700_000_000_000_000_000n,
    });
    await held.asked;
    await within(storeOpened, "routing waited for /proc's answer");
    await settle();
    await body(decision, held, etcd, keys);
  } finally {
    destination.close();
    await keys.stop();
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("the route is chosen while the processes are read, and registered only once they check out", async () => {
  await decidingWithProcHeld(async (decision, held, etcd) => {
    assert.deepEqual(connectionKeys(etcd), [], "nothing before the check");
    held.answer(UID);
    const { reply, routed } = await decision;
    assert.equal(reply.kind, "route", JSON.stringify(reply));
    assert.equal(routed?.process.pid, SESSION_PID);
    assert.ok(await routed?.shared?.registration?.whenLanded(2000));
    assert.equal(connectionKeys(etcd).length, 1);
    await routed?.shared?.close();
  });
});

Deno.test("a process that is not the user's gets no registration, and the reason names it", async () => {
  await decidingWithProcHeld(async (decision, held, etcd, keys) => {
    held.answer(UID + 1);
    const { reply, routed } = await decision;
    assert.deepEqual(reply, {
      kind: "fallback",
      reason: `process ${CLIENT_PID} does not run as uid ${UID}`,
    });
    assert.equal(routed, undefined);
    await settle();
    assert.deepEqual(connectionKeys(etcd), []);
    assert.equal(etcd.calls.get("txn") ?? 0, 0, "no transaction at all");
    assert.equal(keys.lease, undefined, "not even a lease");
  });
});
