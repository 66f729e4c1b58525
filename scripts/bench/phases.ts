// The bench's measurement phases over a running topology, each turning the
// measurements of measure.ts, burst.ts and idle_sessions.ts into its part
// of Results. A path whose feature is absent is "not measured" with why; a
// measurement that fails is "failed" with why, never a figure.
import type { TestUser } from "../../tests/harness/mod.ts";
import type { BenchAgent } from "./agent.ts";
import { burst } from "./burst.ts";
import { idleSessions } from "./idle_sessions.ts";
import {
  concurrency,
  idleSessionMemory,
  latency,
  type Target,
  throughput,
} from "./measure.ts";
import {
  type ConcurrencyOnPath,
  type Outcome,
  PATH_ORDER,
  type PathId,
  type Results,
} from "./results.ts";
import { round, summarize } from "./stats.ts";
import {
  Cleanups,
  SetupError,
  startLatencyGateway,
  type Topology,
} from "./topology.ts";

/** How much each phase does: the full run, or `--quick` to check the harness. */
export interface Plan {
  logins: number;
  bytes: number;
  repeats: number;
  idleSeconds: number;
  /** Idle seconds of the memory's second sample (0: none), past V8's memory reducer. */
  settledIdleSeconds: number;
  /** Sessions of the concurrency runs through (d) and the agent. */
  sessions: number;
  /** Sessions of the stateless-against-etcd comparison (issue 10: 50). */
  logins50: number;
  burstSessions: number;
  burstBytes: number;
  /** Idle sessions for the etcd request rate (issue 14: 200). */
  idleSessions: number;
  /** Seconds of each etcd reading window. */
  etcdWindowSeconds: number;
  profileRepeats: number;
}

/** The plan of a full run, or of a quick one. */
export function plan(quick: boolean): Plan {
  return quick
    ? {
      logins: 6,
      bytes: 64 * 1024 * 1024,
      repeats: 1,
      idleSeconds: 2,
      settledIdleSeconds: 0,
      sessions: 20,
      logins50: 10,
      burstSessions: 20,
      burstBytes: 1_000_000,
      idleSessions: 20,
      etcdWindowSeconds: 3,
      profileRepeats: 3,
    }
    : {
      logins: 50,
      bytes: 1024 * 1024 * 1024,
      repeats: 3,
      idleSeconds: 5,
      settledIdleSeconds: 35,
      sessions: 200,
      logins50: 50,
      burstSessions: 100,
      burstBytes: 1_000_000,
      idleSessions: 200,
      etcdWindowSeconds: 10,
      profileRepeats: 10,
    };
}

/** What the phases share. */
export interface Phase {
  t: Topology;
  user: TestUser;
  plan: Plan;
  say(text: string): void;
  /** Why each path that cannot be measured is not (absent: measurable). */
  absent: Partial<Record<PathId, Outcome<unknown>>>;
  /** The agent serving each agent path. */
  agents: Partial<Record<PathId, BenchAgent>>;
}

/** Runs `body`; a failure (not a set-up error) becomes a "failed" outcome. */
export async function attempt<T>(
  say: (text: string) => void,
  what: string,
  body: () => Promise<T>,
): Promise<Outcome<T>> {
  try {
    return { status: "measured", value: await body() };
  } catch (error) {
    if (error instanceof SetupError) throw error;
    const reason = error instanceof Error ? error.message : String(error);
    say(`${what} FAILED: ${reason}`);
    return { status: "failed", reason };
  }
}

/** The "not measured" outcome of a path whose feature is absent. */
export function notMeasured<T>(why: Outcome<unknown>): Outcome<T> {
  return {
    status: "not measured",
    reason: why.status === "measured" ? "" : why.reason,
  };
}

/** The paths among `ids` that can be measured, in table order. */
function available(p: Phase, ids: readonly PathId[]): PathId[] {
  return PATH_ORDER.filter((id) =>
    ids.includes(id) && !p.absent[id] && p.t.targets[id]
  );
}

/** Each path of `ids`: its outcome, or why it is not measured. */
async function perPath<T>(
  p: Phase,
  ids: readonly PathId[],
  what: string,
  body: (target: Target) => Promise<T>,
): Promise<Partial<Record<PathId, Outcome<T>>>> {
  const out: Partial<Record<PathId, Outcome<T>>> = {};
  for (const id of ids) {
    const why = p.absent[id];
    if (why) out[id] = notMeasured(why);
    else if (!p.t.targets[id]) {
      out[id] = { status: "not measured", reason: "no such path in this run" };
    } else {
      p.say(`${what} through (${id})`);
      out[id] = await attempt(
        p.say,
        `${what} (${id})`,
        () => body(p.t.targets[id]!),
      );
    }
  }
  return out;
}

/** 1. Login latency of every path, interleaved. */
export async function latencyPhase(p: Phase): Promise<Results["latency"]> {
  const ids = available(p, PATH_ORDER);
  p.say(`latency: ${p.plan.logins} logins per path: ${ids.join(", ")}`);
  const outcome = await attempt(p.say, "latency", async () => {
    const gateway = new Cleanups(p.say);
    try {
      const targets = await startLatencyGateway(
        ids.map((id) => p.t.targets[id]!),
        p.t.stamps,
        gateway,
      );
      return await latency(
        p.user,
        targets,
        p.plan.logins,
        p.say,
        p.t.stamps,
      );
    } finally {
      await gateway.run();
    }
  });
  const paths: Results["latency"]["paths"] = {};
  for (const id of PATH_ORDER) {
    if (!ids.includes(id)) {
      const why = p.absent[id];
      if (why) paths[id] = notMeasured(why);
    } else if (outcome.status !== "measured") {
      paths[id] = { status: "failed", reason: outcome.reason };
    } else {
      const { totalMs, stamps } = outcome.value.get(id)!;
      const inside = stamps.map((s) => s.toSshMs + s.afterSshMs);
      paths[id] = {
        status: "measured",
        value: {
          ...summarize(totalMs),
          samplesMs: totalMs.map((v) => round(v)),
          ...(stamps.length === 0 ? {} : {
            inGateway: {
              toSsh: summarize(stamps.map((s) => s.toSshMs)),
              afterSsh: summarize(stamps.map((s) => s.afterSshMs)),
              total: summarize(inside),
              samplesMs: inside.map((v) => round(v, 2)),
            },
          }),
        },
      };
    }
  }
  const addedOverFloor: Results["latency"]["addedOverFloor"] = {};
  const floor = paths.b;
  for (const id of PATH_ORDER) {
    const o = paths[id];
    if (id === "a" || id === "b") continue;
    if (o?.status === "measured" && floor?.status === "measured") {
      addedOverFloor[id] = {
        p50: round(o.value.p50 - floor.value.p50),
        p95: round(o.value.p95 - floor.value.p95),
      };
    }
  }
  return {
    logins: p.plan.logins,
    paths,
    addedOverFloor,
  };
}

/** 2. Throughput of the floor, (c) and (e). */
export async function throughputPhase(
  p: Phase,
): Promise<Results["throughput"]> {
  const ids = available(p, ["b", "c", "e"]);
  p.say(`throughput: ${p.plan.bytes} bytes × ${p.plan.repeats} through ${ids}`);
  const outcome = await attempt(p.say, "throughput", () =>
    throughput(
      p.user,
      ids.map((id) => p.t.targets[id]!),
      p.plan.bytes,
      p.plan.repeats,
      p.say,
    ));
  const paths: Results["throughput"]["paths"] = {};
  for (const id of ["b", "c", "e"] as PathId[]) {
    if (!ids.includes(id)) {
      const why = p.absent[id];
      if (why) paths[id] = notMeasured(why);
    } else if (outcome.status !== "measured") {
      paths[id] = { status: "failed", reason: outcome.reason };
    } else paths[id] = { status: "measured", value: outcome.value.get(id)! };
  }
  const ratioToFloor: Results["throughput"]["ratioToFloor"] = {};
  const floor = paths.b?.status === "measured"
    ? paths.b.value.medianMbPerSecond
    : 0;
  for (const id of ["c", "e"] as PathId[]) {
    const o = paths[id];
    if (o?.status === "measured" && floor > 0) {
      ratioToFloor[id] = round(o.value.medianMbPerSecond / floor, 3);
    }
  }
  return { bytes: p.plan.bytes, repeats: p.plan.repeats, paths, ratioToFloor };
}

/** 3. Memory of an idle interactive session through each proxy path. */
export async function memoryPhase(p: Phase): Promise<Results["memory"]> {
  return await perPath(
    p,
    ["c", "d", "g", "h"],
    "memory: idle interactive session",
    (target) =>
      idleSessionMemory(
        p.user,
        target,
        p.plan.idleSeconds,
        p.plan.settledIdleSeconds,
      ),
  );
}

async function concurrencyOn(
  p: Phase,
  id: PathId,
  sessions: number,
): Promise<ConcurrencyOnPath> {
  return {
    ...await concurrency(p.user, p.t.targets[id]!, sessions, p.say),
    path: id,
  };
}

/** 4. The same concurrent sessions through (c) and (d) (issue 10). */
export async function logins50Phase(
  p: Phase,
): Promise<NonNullable<Results["logins50"]>> {
  return await perPath(
    p,
    ["c", "d"],
    `concurrency: ${p.plan.logins50} sessions`,
    (target) => concurrencyOn(p, target.id as PathId, p.plan.logins50),
  );
}

/** 5. Many concurrent sessions through (d), or (c) without etcd. */
export async function concurrencyPhase(
  p: Phase,
): Promise<Outcome<ConcurrencyOnPath>> {
  const id: PathId = p.absent.d ? "c" : "d";
  p.say(`concurrency: ${p.plan.sessions} sessions through (${id})`);
  return await attempt(
    p.say,
    "concurrency",
    () => concurrencyOn(p, id, p.plan.sessions),
  );
}

/** 6. The same through the agent (g) (issue 14). */
export async function agentConcurrencyPhase(
  p: Phase,
): Promise<Outcome<ConcurrencyOnPath>> {
  const outcomes = await perPath(
    p,
    ["g"],
    `concurrency: ${p.plan.sessions} sessions`,
    (target) => concurrencyOn(p, target.id as PathId, p.plan.sessions),
  );
  return outcomes.g!;
}

/** 7. The burst of 1 MB round trips through (d), and the floor (b) (issue 13). */
export async function burstPhase(
  p: Phase,
): Promise<NonNullable<Results["burst"]>> {
  return await perPath(
    p,
    ["b", "d"],
    `burst: ${p.plan.burstSessions} concurrent 1 MB round trips`,
    (target) =>
      burst(
        p.user,
        target,
        p.plan.burstSessions,
        p.plan.burstBytes,
        p.say,
        target.id === "d" ? p.t.etcd.endpoint : undefined,
      ),
  );
}

/** 8. Idle sessions: etcd's request rate and our memory per session (issue 14). */
export async function idleSessionsPhase(
  p: Phase,
): Promise<NonNullable<Results["idleSessions"]>> {
  return await perPath(
    p,
    ["d", "g", "h"],
    `idle sessions: ${p.plan.idleSessions}`,
    (target) =>
      idleSessions(
        p.user,
        target,
        p.plan.idleSessions,
        p.t.etcd.endpoint,
        p.plan.etcdWindowSeconds,
        p.say,
        p.agents[target.id as PathId],
      ),
  );
}
