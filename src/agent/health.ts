// Background health checks of the configured destinations (spec §5.8.3):
// every `check_interval` (10 s when it is 0, for the metrics only), each
// destination of the file (top level and overrides) is checked with the
// same host check a session runs (src/route/stateful_choice.ts's
// hostChecker): `disabled` in etcd wins, a state younger than
// check_interval is trusted, anything older is probed with the
// destination's `health_check` and written to /sshproxy/hosts/ with the
// probe's start time, exactly as a session (or a reference gateway) does.
// So sessions find fresh states and rarely wait for a probe themselves.
import { type PortLookup, splitHostPort } from "../config/host_port.ts";
import type { ParsedConfig } from "../config/resolve.ts";
import type { HealthCheck } from "../config/types.ts";
import type { Level } from "../log/format.ts";
import { fail, type Result } from "../result.ts";
import type { HostState } from "../route/choose.ts";
import { liveCheck } from "../route/live_check.ts";
import { hostChecker } from "../route/stateful_choice.ts";
import type { StateStore } from "../state/store.ts";
import type { Timestamp } from "../format/time.ts";

/** A destination and how it is probed. */
export interface HealthTarget {
  destination: string;
  kind: HealthCheck;
}

/** Every destination of the file, with the health_check of the first settings that list it. */
export function healthTargets(parsed: ParsedConfig): HealthTarget[] {
  const topKind = parsed.top.healthCheck ?? "tcp";
  const targets = new Map<string, HealthCheck>();
  for (const patch of [parsed.top, ...parsed.overrides.map((o) => o.patch)]) {
    for (const destination of patch.dest ?? []) {
      if (!targets.has(destination)) {
        targets.set(destination, patch.healthCheck ?? topKind);
      }
    }
  }
  return [...targets].map(([destination, kind]) => ({ destination, kind }));
}

/** What the monitor needs. */
export interface HealthDependencies {
  targets(): HealthTarget[];
  /** `check_interval` of the top level, ns. */
  checkIntervalNs(): bigint;
  /** The agent's etcd, when usable now. */
  store(): StateStore | undefined;
  services: PortLookup;
  now(): bigint;
  localTime(ns: bigint): Timestamp;
  log(level: Level, message: string): void;
  /** A destination's state, as checked or found (for the metrics). */
  seen(destination: string, state: HostState, checkedNs: bigint): void;
  /** A probe the agent made, for the metrics. */
  probed(state: "up" | "down"): void;
  probe?: (
    kind: HealthCheck,
    host: string,
    port: number,
  ) => Promise<Result<void>>;
}

// Probes at once at most (each takes up to one second).
const PARALLEL_PROBES = 16;

/** The background checker. */
export class HealthMonitor {
  readonly #dependencies: HealthDependencies;
  readonly #last = new Map<string, HostState>();
  #timer: ReturnType<typeof setTimeout> | undefined;
  #cycle: Promise<void> | undefined;
  #stopped = false;

  constructor(dependencies: HealthDependencies) {
    this.#dependencies = dependencies;
  }

  /** Checks every destination once. */
  check(): Promise<void> {
    this.#cycle ??= this.#check().finally(() => {
      this.#cycle = undefined;
    });
    return this.#cycle;
  }

  async #check(): Promise<void> {
    const d = this.#dependencies;
    const store = d.store();
    const interval = d.checkIntervalNs();
    const checkedAt = new Map<string, bigint>();
    const reasons = new Map<string, string>();
    const check = hostChecker({
      stored: async (destination) => {
        if (store === undefined) return undefined;
        const got = await store.host(destination);
        if (!got.ok || got.value.entry === undefined) return undefined;
        const entry = got.value.entry;
        checkedAt.set(destination, entry.ts.ns);
        return { state: entry.state, tsNs: entry.ts.ns };
      },
      record: async (destination, state, startedNs) => {
        checkedAt.set(destination, startedNs);
        d.probed(state);
        if (store === undefined) return;
        const written = await store.setHostState(
          destination,
          state,
          d.localTime(startedNs),
        );
        if (!written.ok) {
          d.log("ERROR", `setting host state in etcd: ${written.error}`);
        }
      },
      live: (destination) => {
        const kind = this.#kinds.get(destination) ?? "tcp";
        const split = splitHostPort(destination, d.services);
        if (!split.ok) return Promise.resolve(fail(split.error));
        return (d.probe ?? liveCheck)(kind, split.value.host, split.value.port);
      },
      checkIntervalNs: interval,
      now: d.now,
      log: (_level, message) => {
        const failed = /^cannot connect to (\S+): (.*)$/.exec(message);
        if (failed) reasons.set(failed[1], failed[2]);
      },
    });
    const targets = d.targets();
    this.#kinds = new Map(targets.map((t) => [t.destination, t.kind]));
    const queue = [...targets];
    const worker = async () => {
      for (let target = queue.shift(); target; target = queue.shift()) {
        const state = await check(target.destination);
        const reason = reasons.get(target.destination);
        d.seen(
          target.destination,
          state,
          checkedAt.get(target.destination) ?? d.now(),
        );
        const before = this.#last.get(target.destination);
        if (before !== state) {
          this.#last.set(target.destination, state);
          if (before !== undefined || state !== "up") {
            d.log(
              state === "up" ? "INFO" : "WARNING",
              `destination ${target.destination} is ${state}${
                reason && state === "down" ? ` (${reason})` : ""
              }`,
            );
          }
        }
      }
    };
    await Promise.all(
      Array.from({ length: Math.min(PARALLEL_PROBES, queue.length) }, worker),
    );
  }

  #kinds = new Map<string, HealthCheck>();

  /** Checks now, then every check_interval (10 s when 0) until stopped. */
  start(): void {
    const tick = () => {
      this.#timer = undefined;
      this.check().finally(() => {
        if (this.#stopped) return;
        const interval = this.#dependencies.checkIntervalNs();
        const ms = interval > 0n
          ? Math.max(1000, Number(interval / 1_000_000n))
          : 10_000;
        this.#timer = setTimeout(tick, ms);
      });
    };
    this.#stopped = false;
    tick();
  }

  /** Stops checking. */
  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#timer);
    await this.#cycle;
  }
}
