// The proxy's use of shared state (spec §5.4 steps 6-8 and 12, §5.6-5.9,
// §8.5): the etcd connection when one is configured, the
// `max_connections_per_user` limit, the destination choice (sticky lookup,
// `connections`/`bandwidth`, host checks shared through etcd), the error
// banner, the session's registration and its bandwidth statistics.
//
// The state layer (and etcd3, 120-200 ms to import) is loaded only when
// `etcd.endpoints` is set; without it nothing is logged (the reference logs
// an ERROR on every session, spec §12.2 item 15). When etcd does not answer
// the session goes on stateless, unless `etcd.mandatory`. A request that
// fails is logged and the choice goes on without its answer (as the
// reference); one that failed by timing out makes the session leave etcd
// alone afterwards, so an etcd that stops answering costs one timeout, not
// one per request.
import type { Config } from "../config/types.ts";
import { loadServices } from "../system/network_names.ts";
import { splitHostPort } from "../config/host_port.ts";
import { nowNanoseconds } from "../format/time.ts";
import type { Level } from "../log/format.ts";
import { fail, ok, type Result } from "../result.ts";
import { liveCheck } from "../route/live_check.ts";
import type { RandomSource } from "../route/order.ts";
import {
  chooseWithState,
  hostChecker,
  type StoredHost,
} from "../route/stateful_choice.ts";
import type { DestinationLoad } from "../state/aggregate.ts";
import type { Problem, Registration, StateStore } from "../state/store.ts";
import type { ConnectionStats } from "../state/values.ts";

type Log = (level: Level, message: string) => void;

/** What routing a session needs from the flow. */
export interface RouteContext {
  config: Config;
  user: string;
  log: Log;
  /** The session's stdout (the error banner). */
  writeStdout(text: string): void;
  /** The session's stderr (messages for the user). */
  writeStderr(text: string): void;
}

/** A refused session (its exit status), or the chosen destination. */
export type Routed =
  | { status: number }
  | { destination: string; shared?: SharedState };

/**
 * Steps 6-8 of spec §5.4: etcd (if configured), the connection limit, the
 * destination, and the error banner when none is usable. Every refusal is
 * already logged and told to the user. `open` gives the etcd connection
 * (the gateway agent passes its own, kept open for all sessions).
 */
export async function routeSession(
  context: RouteContext,
  open: typeof openSharedState = openSharedState,
): Promise<Routed> {
  const { config, log, user } = context;
  const shared = await open(config, user, log);
  const refuse = async (status: number) => {
    await shared?.close();
    return { status };
  };
  if (shared === undefined && config.etcd.mandatory) {
    context.writeStderr("sshproxy: Etcd is mandatory but unavailable\n");
    log("CRITICAL", "Etcd is mandatory but unavailable");
    return { status: 1 };
  }
  if (shared !== undefined && config.maxConnectionsPerUser > 0) {
    const count = await shared.countUserConnections();
    if (count === undefined && config.etcd.mandatory) {
      context.writeStderr("sshproxy: Etcd is mandatory but unavailable\n");
      log("CRITICAL", "Etcd is mandatory but unavailable");
      return await refuse(1);
    }
    if (count !== undefined) {
      log("DEBUG", `Number of connections of ${user}: ${count}`);
      if (count >= config.maxConnectionsPerUser) {
        context.writeStderr("Too many simultaneous connections\n");
        log("CRITICAL", `Max connections per user reached for ${user}`);
        return await refuse(1);
      }
    }
  }
  const destination = await chooseSessionDestination(config, user, shared, log);
  if (!destination.ok) {
    log("CRITICAL", `Finding destination: ${destination.error}`);
    return await refuse(1);
  }
  if (destination.value === undefined) {
    // Spec §5.9: etcd's banner wins over the configuration's.
    const banner = (await shared?.errorBanner()) || config.errorBanner;
    if (banner !== "") context.writeStdout(`${banner}\n`);
    log("CRITICAL", "Cannot find a valid destination");
    return await refuse(1);
  }
  return { destination: destination.value, shared };
}

/**
 * Connects to etcd when `etcd.endpoints` is set; undefined when it is not
 * (silently) or when etcd cannot be used (logged as the reference does).
 */
export async function openSharedState(
  config: Config,
  user: string,
  log: Log,
): Promise<SharedState | undefined> {
  if (config.etcd.endpoints.length === 0) {
    if (config.etcd.mandatory) {
      log(
        "ERROR",
        "Cannot contact etcd cluster to update state: etcd.mandatory is set but etcd.endpoints is empty",
      );
    }
    return undefined;
  }
  const { StateStore, localNow } = await import("../state/store.ts");
  const opened = await StateStore.open(config.etcd);
  if (!opened.ok) {
    log(
      "ERROR",
      `Cannot contact etcd cluster to update state: ${opened.error}`,
    );
    return undefined;
  }
  const { destinationLoads } = await import("../state/aggregate.ts");
  return new SharedState(opened.value, config, user, log, {
    destinationLoads,
    localNow,
  });
}

/** What chooseSessionDestination takes from the system (replaced by tests). */
export interface ChoiceSystem {
  /** The live probe of a destination (default: health_check within 1 s). */
  live?: (destination: string) => Promise<Result<void>>;
  random?: RandomSource;
  now?: () => bigint;
}

/** The destination choice of spec §5.8, with or without shared state. */
export function chooseSessionDestination(
  config: Config,
  user: string,
  shared: SharedState | undefined,
  log: Log,
  system: ChoiceSystem = {},
): Promise<Result<string | undefined>> {
  const check = hostChecker({
    stored: (destination) =>
      shared?.storedHost(destination) ?? Promise.resolve(undefined),
    record: (destination, state, startedNs) =>
      shared?.recordHost(destination, state, startedNs) ?? Promise.resolve(),
    live: system.live ?? ((destination) => {
      const split = splitHostPort(destination, loadServices());
      if (!split.ok) return Promise.resolve(fail(split.error));
      return liveCheck(config.healthCheck, split.value.host, split.value.port);
    }),
    checkIntervalNs: config.checkInterval,
    now: system.now ?? nowNanoseconds,
    log,
  });
  return chooseWithState(
    {
      user,
      service: config.service,
      destinations: config.dest,
      routeSelect: config.routeSelect,
      mode: config.mode,
    },
    {
      check,
      sticky: () => shared?.sticky() ?? Promise.resolve(undefined),
      loads: () => shared?.loads() ?? Promise.resolve(undefined),
      random: system.random ?? Math.random,
      log,
    },
  );
}

/** What publishes a session's bandwidth (a Recorder). */
export interface BandwidthSource {
  bandwidth(): { In: number; Out: number };
}

/** Where the bandwidth goes (a Registration). */
export interface StatsSink {
  readonly active: boolean;
  updateStats(stats: ConnectionStats): Promise<Result<void>>;
}

/** Timing of publishStats (the reference waits 1 s, then every interval). */
export interface PublishTiming {
  firstDelayMs?: number;
}

/**
 * Spec §8.5: 1 s after the recorder started, then every `intervalNs`, puts
 * the recorder's last completed interval (integer kB/s) on the connection
 * key. A publish still waiting for etcd is not doubled; a failure is
 * logged once per outage (the registration recovers by itself). Returns
 * the function that stops publishing.
 */
export function publishStats(
  recorder: BandwidthSource,
  registration: StatsSink,
  intervalNs: bigint,
  log: Log,
  timing: PublishTiming = {},
): () => void {
  if (intervalNs <= 0n) return () => {};
  let pending = false;
  let interval: number | undefined;
  const publish = async () => {
    if (pending) return;
    pending = true;
    const wasActive = registration.active;
    const { In, Out } = recorder.bandwidth();
    const written = await registration.updateStats({ bwIn: In, bwOut: Out });
    pending = false;
    if (!written.ok && wasActive) {
      log("ERROR", `updating stats: ${written.error}`);
    }
  };
  const first = setTimeout(() => {
    interval = setInterval(
      publish,
      Math.max(1, Number(intervalNs / 1_000_000n)),
    ) as unknown as number;
    Deno.unrefTimer(interval);
  }, timing.firstDelayMs ?? 1000) as unknown as number;
  Deno.unrefTimer(first);
  return () => {
    clearTimeout(first);
    if (interval !== undefined) clearInterval(interval);
  };
}

/** Pure helpers of the state layer, loaded with it. */
export interface StateHelpers {
  destinationLoads: typeof import("../state/aggregate.ts")["destinationLoads"];
  localNow: typeof import("../state/store.ts")["localNow"];
}

// A failure that took this long was a timeout: etcd is not answering.
const SLOW_FAILURE_MS = 1000;

// Longest a session's end waits for etcd (deleting the connection key).
const CLOSE_BUDGET_MS = 2500;

/** etcd as one session uses it. */
export class SharedState {
  readonly #store: StateStore;
  readonly #config: Config;
  readonly #user: string;
  readonly #log: Log;
  readonly #helpers: StateHelpers;
  #usable = true;
  #reported = new Set<string>();
  #registration: Registration | undefined;
  #stopStats: (() => void) | undefined;
  #registering: Promise<void> | undefined;
  #closing: Promise<void> | undefined;

  constructor(
    store: StateStore,
    config: Config,
    user: string,
    log: Log,
    helpers: StateHelpers,
  ) {
    this.#store = store;
    this.#config = config;
    this.#user = user;
    this.#log = log;
    this.#helpers = helpers;
  }

  /** False once a request failed (reads and writes are skipped then). */
  get usable(): boolean {
    return this.#usable;
  }

  /** The session's registration, once registered. */
  get registration(): Registration | undefined {
    return this.#registration;
  }

  // A failed request is logged; one that took a timeout's worth of time
  // means etcd stopped answering, so the rest of the session leaves it alone.
  #failed(
    context: string,
    error: string,
    startedMs: number,
    level: Level = "ERROR",
  ): undefined {
    this.#log(level, `${context}: ${error}`);
    if (Date.now() - startedMs >= SLOW_FAILURE_MS) this.#usable = false;
    return undefined;
  }

  // Keys that do not parse are skipped; each is reported once per session.
  #report(problems: readonly Problem[]): void {
    for (const problem of problems) {
      if (this.#reported.has(problem.key)) continue;
      this.#reported.add(problem.key);
      this.#log(
        "WARNING",
        `etcd key ${problem.key}${
          problem.skipped ? " ignored" : ""
        }: ${problem.reason}`,
      );
    }
  }

  /** The user's live connections (all services and gateways), or undefined. */
  async countUserConnections(): Promise<number | undefined> {
    if (!this.#usable) return undefined;
    const started = Date.now();
    const counted = await this.#store.countUserConnections(this.#user);
    if (!counted.ok) {
      return this.#failed(
        "Getting user connections count",
        counted.error,
        started,
      );
    }
    this.#report(counted.value.problems);
    return counted.value.items.length;
  }

  /** Spec §5.8.1: the live connection's destination, else (etcd_keyttl > 0) the persisted one. */
  async sticky(): Promise<string | undefined> {
    if (!this.#usable) return undefined;
    const started = Date.now();
    const found = await this.#store.stickyDestination(
      this.#user,
      this.#config.service,
      { useHistory: this.#config.etcdKeyttl > 0 },
    );
    if (!found.ok) {
      return this.#failed("problem with etcd", found.error, started);
    }
    this.#report(found.value.problems);
    return found.value.dest;
  }

  /** Spec §5.8.2: the loads of the configured destinations. */
  async loads(): Promise<ReadonlyMap<string, DestinationLoad> | undefined> {
    if (!this.#usable) return undefined;
    const started = Date.now();
    const listed = await this.#store.connections();
    if (!listed.ok) {
      return this.#failed("problem with etcd", listed.error, started);
    }
    this.#report(listed.value.problems);
    return this.#helpers.destinationLoads(
      listed.value.items,
      this.#user,
      this.#config.service,
      this.#config.dest,
    );
  }

  /** Spec §5.8.3: what /sshproxy/hosts/<dest> holds. */
  async storedHost(destination: string): Promise<StoredHost | undefined> {
    if (!this.#usable) return undefined;
    const started = Date.now();
    const got = await this.#store.host(destination);
    if (!got.ok) return this.#failed("problem with etcd", got.error, started);
    if (got.value.problem) this.#report([got.value.problem]);
    const entry = got.value.entry;
    return entry && { state: entry.state, tsNs: entry.ts.ns };
  }

  /** Records a live check (Ts = when it started), as every gateway reads it. */
  async recordHost(
    destination: string,
    state: "up" | "down",
    startedNs: bigint,
  ): Promise<void> {
    if (!this.#usable) return;
    const started = Date.now();
    const written = await this.#store.setHostState(
      destination,
      state,
      this.#helpers.localNow(startedNs),
    );
    if (!written.ok) {
      this.#failed("setting host state in etcd", written.error, started);
    }
  }

  /** etcd's error banner ("" when unset or unreadable). */
  async errorBanner(): Promise<string> {
    if (!this.#usable) return "";
    const banner = await this.#store.banner();
    return banner.ok ? banner.value.message : "";
  }

  /**
   * Spec §6.3: the connection key under a kept-alive lease and, with
   * `etcd_keyttl`, the history key. A failure is a WARNING; the session
   * goes on unregistered. The session need not wait for it (ssh can start
   * meanwhile): publishStats and close wait for it themselves.
   */
  register(destination: string, sshd: string): Promise<void> {
    this.#registering ??= this.#register(destination, sshd);
    return this.#registering;
  }

  async #register(destination: string, sshd: string): Promise<void> {
    if (!this.#usable) {
      this.#log(
        "WARNING",
        "setting destination in etcd: skipped, etcd did not answer earlier in this session",
      );
      return;
    }
    const log = this.#log;
    // Retries are logged while their delay grows, not every few 100 ms.
    let lastDelayMs = -1;
    const started = Date.now();
    const registered = await this.#store.register({
      user: this.#user,
      service: this.#config.service,
      dest: destination,
      sshd,
      keyTtl: this.#config.etcd.keyttl,
      historyTtl: this.#config.etcdKeyttl,
      onEvent(event) {
        if (event.kind === "lost") {
          log(
            "WARNING",
            `lost contact with etcd, the session goes on unregistered until it answers: ${event.reason}`,
          );
        } else if (event.kind === "restored") {
          lastDelayMs = -1;
          log(
            "INFO",
            `etcd answers again: connection registered again (lease ${event.lease})`,
          );
        } else if (event.nextMs !== lastDelayMs) {
          lastDelayMs = event.nextMs;
          log(
            "DEBUG",
            `etcd still unreachable (${event.reason}), next attempt in ${event.nextMs} ms`,
          );
        }
      },
    });
    if (!registered.ok) {
      this.#failed(
        "setting destination in etcd",
        registered.error,
        started,
        "WARNING",
      );
      return;
    }
    this.#registration = registered.value;
    for (const warning of registered.value.warnings) {
      log("WARNING", `setting destination in etcd: ${warning}`);
    }
    log("DEBUG", `registered in etcd as ${registered.value.key}`);
  }

  /** Starts publishing the recorder's bandwidth every `etcd_stats_interval`. */
  publishStats(recorder: BandwidthSource): void {
    const start = () => {
      const registration = this.#registration;
      if (
        registration === undefined || this.#stopStats !== undefined ||
        this.#closing !== undefined
      ) {
        return;
      }
      this.#stopStats = publishStats(
        recorder,
        registration,
        this.#config.etcdStatsInterval,
        this.#log,
      );
    };
    if (this.#registering === undefined) start();
    else this.#registering.then(start);
  }

  /**
   * Session end: stops the statistics, deletes the connection key (the
   * history key stays for etcd_keyttl) and disconnects, within 2.5 s.
   */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      this.#stopStats?.();
      if (this.#registering !== undefined) {
        let timer: number | undefined;
        const closed = await Promise.race([
          this.#registering.then(() =>
            this.#registration?.close() ?? ok(undefined)
          ),
          new Promise<"timeout">((resolve) => {
            timer = setTimeout(
              () => resolve("timeout"),
              CLOSE_BUDGET_MS,
            ) as unknown as number;
          }),
        ]);
        clearTimeout(timer);
        if (closed === "timeout") {
          // A registration still under way stops renewing when it lands.
          this.#registering.then(() => this.#registration?.close());
          this.#log(
            "WARNING",
            `removing the connection from etcd: no answer within ${
              CLOSE_BUDGET_MS / 1000
            }s, it expires with its lease`,
          );
        } else if (!closed.ok) {
          this.#log(
            "WARNING",
            `removing the connection from etcd: ${closed.error}, it expires with its lease`,
          );
        }
      }
      this.#store.close();
    })();
    return this.#closing;
  }
}
