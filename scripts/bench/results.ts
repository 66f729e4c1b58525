// The shape of bench/results.json, shared by main.ts and the renderers.
// Fields added after a results file was written are optional, so that
// `--from-results` still renders an older file (its missing figures show
// as "not measured in that run").
import type {
  ConcurrencyFigure,
  IdleMemory,
  ThroughputFigure,
} from "./measure.ts";
import type { BurstFigure } from "./burst.ts";
import type { IdleSessionsFigure } from "./idle_sessions.ts";
import type { ProfileFigures } from "./profile.ts";
import type { RuntimeFloor } from "./runtime_floor.ts";
import type { Summary } from "./stats.ts";
import type { MachineInfo } from "./system.ts";

/** A figure that was measured, could not be (feature absent), or failed. */
export type Outcome<T> =
  | { status: "measured"; value: T }
  | { status: "not measured"; reason: string }
  | { status: "failed"; reason: string };

/**
 * The paths: (a) direct, (b) the `exec ssh` floor, (f) the runtime's floor
 * (an empty Deno module run as the launcher runs ours, then `exec ssh`),
 * (c) stateless, (d) etcd, (e) recording, (g) etcd through the agent,
 * (h) as (g) with hand-off.
 */
export type PathId = "a" | "b" | "c" | "d" | "e" | "f" | "g" | "h";

/** Every path in the order tables show them. */
export const PATH_ORDER: readonly PathId[] = [
  "a",
  "b",
  "f",
  "c",
  "d",
  "e",
  "g",
  "h",
];

/** Latency of one path. */
export interface LatencyFigure extends Summary {
  /** Every login in ms, in the order measured. */
  samplesMs: number[];
  /** Inside the gateway, from each login's stamps (paths through one). */
  inGateway?: InGatewayFigure;
}

/**
 * What a path's logins spent inside the gateway (scripts/bench/stamps.ts):
 * everything the proxy adds, none of what every path shares.
 */
export interface InGatewayFigure {
  /** ForceCommand start -> the gateway's ssh client start (ms). */
  toSsh: Summary;
  /** The destination's command end -> the ForceCommand's end (ms). */
  afterSsh: Summary;
  /** Their sum, login by login (ms). */
  total: Summary;
  /** That sum for every login, in the order measured (ms). */
  samplesMs: number[];
}

/** A target of an issue and where we stand. */
export interface TargetStatus {
  /** The issue it comes from (e.g. 10). */
  issue?: number;
  name: string;
  target: string;
  measured: string;
  /** true met, false missed, null not measured. */
  met: boolean | null;
}

/** The sshproxyctl-at-scale figure from scripts/bench/ctl_scale.ts. */
export interface CtlFigure {
  /** Parsed JSON object printed by ctl_scale.ts (its last JSON line), if any. */
  figures?: Record<string, unknown>;
  /** Its stdout, trimmed (for the doc when it prints no JSON). */
  output: string;
  seconds: number;
}

/** A concurrency figure with the path it went through. */
export type ConcurrencyOnPath = ConcurrencyFigure & { path: PathId };

/** Everything one run measured. */
export interface Results {
  date: string;
  quick: boolean;
  durationSeconds: number;
  commit: string;
  machine: MachineInfo & { loadAverage1mEnd: number };
  setup: {
    user: string;
    paths: Partial<Record<PathId, string>>;
    gatewaySshd: string[];
    etcdEndpoint: string;
  };
  features: {
    etcd: Outcome<string>;
    recording: Outcome<string>;
    /** The agent face and routing through it (paths g, h). */
    agent?: Outcome<string>;
    /** Hand-off: no process of ours stays during a session (path h). */
    handoff?: Outcome<string>;
  };
  /** How the launcher runs Deno, and an empty module run that way. */
  runtime?: Outcome<RuntimeFloor>;
  latency: {
    logins: number;
    paths: Partial<Record<PathId, Outcome<LatencyFigure>>>;
    /** Added ms of p50/p95 over the floor (b). */
    addedOverFloor: Partial<Record<PathId, { p50: number; p95: number }>>;
  };
  throughput: {
    bytes: number;
    repeats: number;
    paths: Partial<Record<PathId, Outcome<ThroughputFigure>>>;
    ratioToFloor: Partial<Record<PathId, number>>;
  };
  memory: Partial<Record<PathId, Outcome<IdleMemory>>>;
  /** 200 concurrent sessions through (d). */
  concurrency: Outcome<ConcurrencyOnPath>;
  /** The same 50 concurrent sessions through (c) and (d) (issue 10). */
  logins50?: Partial<Record<PathId, Outcome<ConcurrencyOnPath>>>;
  /** 200 concurrent sessions through the agent (g) (issue 14). */
  agentConcurrency?: Outcome<ConcurrencyOnPath>;
  /** Concurrent 1 MB round trips through (d) and the floor (b) (issue 13). */
  burst?: Partial<Record<PathId, Outcome<BurstFigure>>>;
  /** Many idle sessions: etcd requests per second and our memory (issue 14). */
  idleSessions?: Partial<Record<PathId, Outcome<IdleSessionsFigure>>>;
  /** Each agent's own login counters over the whole run (its metrics). */
  agentCounters?: Partial<Record<PathId, Record<string, number>>>;
  ctl: Outcome<CtlFigure>;
  profile: Outcome<ProfileFigures>;
  targets: TargetStatus[];
}

/** Descriptions of the paths, for the table and the doc. */
export const PATH_LABELS: Record<PathId, string> = {
  a: "(a) direct to the destination",
  b: "(b) floor: ForceCommand exec ssh",
  f: "(f) runtime floor: empty Deno module, then exec ssh",
  c: "(c) sshproxy, stateless",
  d: "(d) sshproxy + etcd (sticky, connections)",
  e: "(e) sshproxy + recording to a file",
  g: "(g) sshproxy + etcd through the agent",
  h: "(h) as (g), with hand-off to ssh",
};

/** KiB (smaps) to MB (10^6 bytes), one decimal. */
export function kibToMb(kib: number): number {
  return Math.round((kib * 1024) / 1e5) / 10;
}

/** KiB (smaps) to MiB (2^20 bytes), one decimal. */
export function kibToMib(kib: number): number {
  return Math.round((kib / 1024) * 10) / 10;
}

/** The value of a measured outcome, or undefined. */
export function measured<T>(outcome: Outcome<T> | undefined): T | undefined {
  return outcome?.status === "measured" ? outcome.value : undefined;
}
