// Destination choice with shared state (spec §5.8): the sticky lookup,
// the `connections`/`bandwidth` orderings and host checks that reuse what
// etcd holds. No I/O here: etcd and the live probe come in as
// dependencies, which return `undefined` when etcd is not usable or a read
// failed (they report that themselves), so the choice always goes on
// stateless rather than refusing the user (spec §12.3 item 31).
import type { Mode, RouteSelect } from "../config/types.ts";
import { type Result } from "../result.ts";
import type { DestinationLoad } from "../state/aggregate.ts";
import { chooseDestination, type HostState } from "./choose.ts";
import { orderWithoutState, type RandomSource } from "./order.ts";
import { orderByLoad } from "./stateful_order.ts";

/** A host state as stored under /sshproxy/hosts/ (Ts in ns since the epoch). */
export interface StoredHost {
  state: HostState;
  tsNs: bigint;
}

/** What the host check needs. */
export interface HostCheckDependencies {
  /** The stored state of a destination; undefined when absent or unknown. */
  stored(destination: string): Promise<StoredHost | undefined>;
  /**
   * Records a live check's result (started at `startedNs`). Not waited
   * for: the session goes on while etcd writes it (whoever provides this
   * keeps the write until it lands, e.g. SharedState until close).
   */
  record(
    destination: string,
    state: "up" | "down",
    startedNs: bigint,
  ): Promise<void>;
  /** The live probe (health_check); its error completes the INFO line. */
  live(destination: string): Promise<Result<void>>;
  /** `check_interval` in ns (0: always check). */
  checkIntervalNs: bigint;
  now(): bigint;
  log(level: "DEBUG" | "INFO", message: string): void;
}

/**
 * The host check of spec §5.8.3: `disabled` in etcd always wins (no probe);
 * a stored state younger than `check_interval` is reused; otherwise the
 * destination is probed and the result recorded with the probe's start
 * time. Each destination is checked at most once per session (the
 * reference probes a sticky candidate that failed a second time).
 */
export function hostChecker(
  dependencies: HostCheckDependencies,
): (destination: string) => Promise<HostState> {
  const results = new Map<string, Promise<HostState>>();
  const check = async (destination: string): Promise<HostState> => {
    const stored = await dependencies.stored(destination);
    const now = dependencies.now();
    if (stored !== undefined) {
      if (stored.state === "disabled") return "disabled";
      if (now - stored.tsNs <= dependencies.checkIntervalNs) {
        return stored.state;
      }
    }
    const probe = await dependencies.live(destination);
    if (!probe.ok) {
      dependencies.log(
        "INFO",
        `cannot connect to ${destination}: ${probe.error}`,
      );
    }
    const state = probe.ok ? "up" : "down";
    dependencies.record(destination, state, now).catch(() => {});
    return state;
  };
  return (destination) => {
    let result = results.get(destination);
    if (result === undefined) {
      result = check(destination);
      results.set(destination, result);
    }
    return result;
  };
}

/** The inputs of one stateful choice. */
export interface StatefulChoiceInputs {
  user: string;
  service: string;
  /** Normalised destinations, in configuration order. */
  destinations: readonly string[];
  routeSelect: RouteSelect;
  mode: Mode;
}

/** Where shared state comes from; every source may answer `undefined`. */
export interface StatefulChoiceDependencies {
  /** The host check (see hostChecker). */
  check(destination: string): Promise<HostState>;
  /** The sticky candidate (live connection, else history), if any. */
  sticky(): Promise<string | undefined>;
  /** Loads of the destinations, or undefined (then random order). */
  loads(): Promise<ReadonlyMap<string, DestinationLoad> | undefined>;
  random: RandomSource;
  log(level: "DEBUG" | "INFO", message: string): void;
}

/** Spec §5.8: sticky candidate first, then the route_select order. */
export async function chooseWithState(
  inputs: StatefulChoiceInputs,
  dependencies: StatefulChoiceDependencies,
): Promise<Result<string | undefined>> {
  const { destinations, routeSelect } = inputs;
  const byLoad = destinations.length > 0 &&
      (routeSelect === "connections" || routeSelect === "bandwidth")
    ? routeSelect
    : undefined;
  // Both reads go to etcd at once: a sticky candidate that is up makes the
  // loads unused, but a login without one no longer waits for two round
  // trips in a row.
  const loading = byLoad !== undefined ? dependencies.loads() : undefined;
  loading?.catch(() => {}); // unused when the sticky candidate is taken
  if (destinations.length > 0 && inputs.mode === "sticky") {
    const candidate = await dependencies.sticky();
    if (candidate !== undefined) {
      const key = `${inputs.user}@${inputs.service}`;
      const refused = (reason: string) =>
        dependencies.log(
          "INFO",
          `cannot connect ${key} to already existing connection(s) to ${candidate}: ${reason}`,
        );
      if (!destinations.includes(candidate)) refused("not in routes");
      else {
        const state = await dependencies.check(candidate);
        if (state === "up") {
          dependencies.log("DEBUG", `found destination in etcd: ${candidate}`);
          return { ok: true, value: candidate };
        }
        refused(`host ${state}`);
      }
    }
  }
  let ordering: { order: string[]; debug?: string } | undefined;
  if (loading !== undefined && byLoad !== undefined) {
    const loads = await loading;
    if (loads !== undefined) {
      ordering = orderByLoad(
        destinations,
        byLoad,
        loads,
        dependencies.random,
      );
    }
  }
  ordering ??= orderWithoutState(
    destinations,
    routeSelect,
    dependencies.random,
  );
  return await chooseDestination(
    {
      service: inputs.service,
      destinations,
      order: ordering.order,
      orderDebug: ordering.debug,
    },
    { check: dependencies.check, log: dependencies.log },
  );
}
