// The shape of bench/results.json, shared by main.ts and report.ts.
import type {
  ConcurrencyFigure,
  IdleMemory,
  ThroughputFigure,
} from "./measure.ts";
import type { ProfileFigures } from "./profile.ts";
import type { Summary } from "./stats.ts";
import type { MachineInfo } from "./system.ts";

/** A figure that was measured, could not be (feature absent), or failed. */
export type Outcome<T> =
  | { status: "measured"; value: T }
  | { status: "not measured"; reason: string }
  | { status: "failed"; reason: string };

/** The paths of issue 7. */
export type PathId = "a" | "b" | "c" | "d" | "e";

/** Latency of one path. */
export interface LatencyFigure extends Summary {
  /** Every login in ms, in the order measured. */
  samplesMs: number[];
}

/** A target of the issue and where we stand. */
export interface TargetStatus {
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

/** Everything one run measured. */
export interface Results {
  date: string;
  quick: boolean;
  durationSeconds: number;
  commit: string;
  machine: MachineInfo & { loadAverage1mEnd: number };
  setup: {
    user: string;
    paths: Record<PathId, string>;
    gatewaySshd: string[];
    etcdEndpoint: string;
  };
  features: {
    etcd: Outcome<string>;
    recording: Outcome<string>;
  };
  latency: {
    logins: number;
    rounds: number;
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
  concurrency: Outcome<ConcurrencyFigure & { path: PathId }>;
  ctl: Outcome<CtlFigure>;
  profile: Outcome<ProfileFigures>;
  targets: TargetStatus[];
}

/** Descriptions of the paths, for the table and the doc. */
export const PATH_LABELS: Record<PathId, string> = {
  a: "(a) direct to the destination",
  b: "(b) floor: ForceCommand exec ssh",
  c: "(c) sshproxy, stateless",
  d: "(d) sshproxy + etcd (sticky, connections)",
  e: "(e) sshproxy + recording to a file",
};

/** KiB (smaps) to MB (10^6 bytes), one decimal. */
export function kibToMb(kib: number): number {
  return Math.round((kib * 1024) / 1e5) / 10;
}
