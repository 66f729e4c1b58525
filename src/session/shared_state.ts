// The proxy's use of shared state (spec §5.4 steps 6-8 and 12, §5.6-5.9,
// §8.5): the etcd connection when one is configured, the
// `max_connections_per_user` limit, the destination choice (sticky lookup,
// `connections`/`bandwidth`, host checks shared through etcd), the error
// banner, the session's registration and its bandwidth statistics.
//
// The state layer (and its etcd client) is loaded only when
// `etcd.endpoints` is set; without it nothing is logged (the reference logs
// an ERROR on every session, spec §12.2 item 15). When etcd does not answer
// the session goes on stateless, unless `etcd.mandatory`. A routing read
// that fails is logged and the choice goes on without its answer (as the
// reference); one that failed by timing out makes the session skip the
// other routing reads, so an etcd that stops answering costs one timeout,
// not one per request. The registration is never skipped: it is retried
// in the background until it lands (src/state/registration.ts).
//
// `max_connections_per_user` is checked twice: the reference's count
// before the choice refuses a login that already sees the limit reached;
// then, registered, the session ranks its own key among the user's by
// etcd's create revision and withdraws if `limit` keys came first
// (src/state/admission.ts), so a burst of logins can never exceed it.
import { escapeLines } from "../log/escape.ts";
import type { Config } from "../config/types.ts";
import { loadServices } from "../system/network_names.ts";
import { splitHostPort } from "../config/host_port.ts";
import { nowNanoseconds } from "../format/time.ts";
import type { Level } from "../log/format.ts";
import { fail, type Result } from "../result.ts";
import { liveCheck } from "../route/live_check.ts";
import { after, deadline, every, sleep } from "../system/timers.ts";
import type { RandomSource } from "../route/order.ts";
import {
  chooseWithState,
  hostChecker,
  type StoredHost,
} from "../route/stateful_choice.ts";
import type { DestinationLoad } from "../state/aggregate.ts";
import type {
  Listing,
  Problem,
  Registration,
  StateStore,
} from "../state/store.ts";
import type { Connection } from "../state/aggregate.ts";
import type { Backoff } from "../state/registration.ts";
import type { ConnectionStats } from "../state/values.ts";
import { preloadProcessApi } from "../system/process_api.ts";

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
  /** The sshd listening address, `host:port` (part of the connection key). */
  sshd: string;
  /** Opens etcd (default: StateStore.open with `config.etcd`), for tests. */
  openStore?: () => Promise<Result<StateStore>>;
  /** Longest a login waits to be ranked (default ADMISSION_BUDGET_MS), for tests. */
  admissionBudgetMs?: number;
  /**
   * What starting ssh needs, done while etcd answers (default: load Deno's
   * process API); nothing when the session expects to hand off to the
   * launcher.
   */
  prepareToRun?: () => void;
  /**
   * Leaves the registration to the caller (`shared.register`, once its ssh
   * started) unless `max_connections_per_user` needs it to rank the login,
   * and holds the host states the choice records until then: these
   * writes go out beside ssh's start, not before it (~1.4 ms of a login).
   */
  registerLater?: boolean;
}

/** A refused session (its exit status), or the chosen destination. */
export type Routed =
  | { status: number }
  | { destination: string; shared?: SharedState };

/**
 * Steps 6-8 and 12 of spec §5.4: etcd (if configured), the connection
 * limit, the destination, the error banner when none is usable, and the
 * session's registration (awaited only when a limit must be checked).
 * Every refusal is already logged and told to the user; a refused session
 * has withdrawn its registration.
 */
export async function routeSession(context: RouteContext): Promise<Routed> {
  const { config, log, user } = context;
  // The session's ssh starts right after routing: what it needs (Deno's
  // process API, src/system/process_api.ts) is prepared while etcd answers
  // the first request (the choice's reads are too late: a new connection
  // makes no progress meanwhile).
  const shared = await openSharedState(
    config,
    user,
    log,
    context.openStore,
    context.prepareToRun ?? preloadProcessApi,
  );
  const refuse = async (status: number) => {
    await shared?.close();
    return { status };
  };
  const etcdMandatory = () => {
    context.writeStderr("sshproxy: Etcd is mandatory but unavailable\n");
    log("CRITICAL", "Etcd is mandatory but unavailable");
    return refuse(1);
  };
  const tooMany = () => {
    context.writeStderr("Too many simultaneous connections\n");
    log("CRITICAL", `Max connections per user reached for ${user}`);
    return refuse(1);
  };
  if (config.etcd.mandatory && !shared?.connected) {
    return await etcdMandatory();
  }
  const limit = config.maxConnectionsPerUser;
  if (shared?.connected && limit > 0) {
    // The reference's count: every key seen now is older than the one this
    // session would write, so reaching the limit here means a refusal
    // anyway, and the session need not register to learn it.
    const count = await shared.countUserConnections();
    if (count !== undefined) {
      log("DEBUG", `Number of connections of ${user}: ${count}`);
      if (count >= limit) return await tooMany();
    }
  }
  // Nothing to rank: the host states this choice records wait for the
  // session's register() too.
  if (context.registerLater && limit <= 0) shared?.holdWrites();
  const destination = await chooseSessionDestination(
    config,
    user,
    shared,
    log,
    {
      whileWaiting: context.prepareToRun,
    },
  );
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
  if (shared === undefined) return { destination: destination.value };
  // Spec §6.3 (step 12): written while the session starts; close() waits
  // for an attempt under way.
  if (limit > 0 || !context.registerLater) {
    shared.register(destination.value, context.sshd);
  }
  if (limit > 0) {
    const admission = await shared.admit(limit, context.admissionBudgetMs);
    if ("error" in admission) {
      if (config.etcd.mandatory) {
        log(
          "ERROR",
          `Getting user connections count: ${admission.error}`,
        );
        return await etcdMandatory();
      }
      log(
        "ERROR",
        `Getting user connections count: ${admission.error}; the session goes on without max_connections_per_user`,
      );
    } else {
      log(
        "DEBUG",
        `Connections of ${user} registered before this one: ${admission.before}`,
      );
      if (!admission.admitted) return await tooMany();
    }
  }
  return { destination: destination.value, shared };
}

/**
 * Connects to etcd when `etcd.endpoints` is set; undefined when it is not
 * (silently). When etcd cannot be used (logged as the reference does) the
 * shared state is not `connected`: routing goes on stateless and the
 * registration connects later. `whileConnecting` runs while etcd answers
 * the first request.
 */
export async function openSharedState(
  config: Config,
  user: string,
  log: Log,
  openStore?: () => Promise<Result<StateStore>>,
  whileConnecting?: () => void,
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
  const { StateStore, effectiveKeyTtl, firstRoutingLists } = await import(
    "../state/session_layer.ts"
  );
  const connect = (firstLists?: string[]) =>
    StateStore.open(config.etcd, {
      whileWaiting: whileConnecting,
      fewConnections: true,
      firstLists,
    });
  const open = openStore ?? (() => connect());
  const started = Date.now();
  // At login, the check that etcd answers is the choice's reads.
  const opened = await (openStore?.() ??
    connect(firstRoutingLists(config, user)));
  if (!opened.ok) {
    log(
      "ERROR",
      `Cannot contact etcd cluster to update state: ${opened.error}`,
    );
  }
  const keyTtlMs = effectiveKeyTtl(config.etcd.keyttl) * 1000;
  return new SharedState(
    opened.ok ? opened.value : undefined,
    config,
    user,
    log,
    await loadStateHelpers(),
    {
      open,
      // As the registration's: never a tight loop, and within 2 x keyttl of
      // etcd answering again.
      backoff: { initialMs: 250, maxMs: Math.min(keyTtlMs / 3, 2000) },
      ...(opened.ok ? {} : {
        loginError: opened.error,
        slowFailure: Date.now() - started >= SLOW_FAILURE_MS,
      }),
      // Only a transport failure goes away by itself; a refusal of the
      // settings (credentials, permissions, TLS files) needs the admin.
      retryable: (error) => error.startsWith("cannot reach etcd at "),
    },
  );
}

/**
 * What one destination choice has read: its loads' listing of every
 * connection also answers its sticky look-up (one request to etcd, not two).
 */
export interface ChoiceReads {
  everyConnection?: Promise<Result<Listing<Connection>>>;
}

/** What chooseSessionDestination takes from the system (replaced by tests). */
export interface ChoiceSystem {
  /** The live probe of a destination (default: health_check within 1 s). */
  live?: (destination: string) => Promise<Result<void>>;
  random?: RandomSource;
  now?: () => bigint;
  /** What the session prepares while the choice waits (default: load Deno's process API). */
  whileWaiting?: () => void;
}

/** The destination choice of spec §5.8, with or without shared state. */
export function chooseSessionDestination(
  config: Config,
  user: string,
  shared: SharedState | undefined,
  log: Log,
  system: ChoiceSystem = {},
): Promise<Result<string | undefined>> {
  // The session's ssh starts right after the choice: what it needs
  // (Deno's process API, src/system/process_api.ts) is prepared here at the
  // latest, once a request is on its way: an etcd read (an etcd session
  // has usually prepared it while etcd answered its first request) or,
  // without etcd, the live check's connection, sent first. A LAN's round
  // trip is then spent preparing; on loopback the handshake is over when
  // the connect call returns, and the order changes nothing.
  const prepare = system.whileWaiting ?? preloadProcessApi;
  const reads: ChoiceReads = {};
  const whileWaiting = <T>(
    answer: Promise<T> | undefined,
  ): Promise<T | undefined> => {
    if (answer === undefined) return Promise.resolve(undefined);
    prepare();
    return answer;
  };
  const check = hostChecker({
    stored: (destination) => whileWaiting(shared?.storedHost(destination)),
    record: (destination, state, startedNs) =>
      shared?.recordHost(destination, state, startedNs) ?? Promise.resolve(),
    live: (destination) => {
      const probe = (system.live ?? probeDestination)(destination);
      prepare();
      return probe;
    },
    checkIntervalNs: config.checkInterval,
    now: system.now ?? nowNanoseconds,
    log,
  });
  function probeDestination(destination: string): Promise<Result<void>> {
    const split = splitHostPort(destination, loadServices());
    if (!split.ok) return Promise.resolve(fail(split.error));
    return liveCheck(config.healthCheck, split.value.host, split.value.port);
  }
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
      sticky: () => whileWaiting(shared?.sticky(reads)),
      loads: () => whileWaiting(shared?.loads(reads)),
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
  // The runtime's timers (src/system/timers.ts), not Node's; stopped
  // with the session, they never keep its process alive.
  let stopInterval = () => {};
  const forgetFirst = after(timing.firstDelayMs ?? 1000, () => {
    stopInterval = every(
      Math.max(1, Number(intervalNs / 1_000_000n)),
      () => void publish(),
    );
  });
  return () => {
    forgetFirst();
    stopInterval();
  };
}

/** How a session whose etcd did not answer at login connects later. */
export interface Reconnect {
  open(): Promise<Result<StateStore>>;
  /** Delays between attempts. */
  backoff: Backoff;
  /** Why the login's own attempt failed. */
  loginError?: string;
  /**
   * The failure at login took a timeout's worth of time (etcd busy, or
   * silent), rather than being refused at once (etcd down).
   */
  slowFailure?: boolean;
  /** Whether a failure to open may go away by itself (default: all may). */
  retryable?: (error: string) => boolean;
}

function retryable(reconnect: Reconnect, error: string): boolean {
  return reconnect.retryable?.(error) ?? true;
}

/** Pure helpers of the state layer, loaded with it. */
export interface StateHelpers {
  destinationLoads: typeof import("../state/aggregate.ts")["destinationLoads"];
  localNow: typeof import("../state/store.ts")["localNow"];
  rankConnection: typeof import("../state/admission.ts")["rankConnection"];
  nextDelay: typeof import("../state/registration.ts")["nextDelay"];
}

/** Loads the state layer's pure helpers (only when etcd is configured). */
export async function loadStateHelpers(): Promise<StateHelpers> {
  const { destinationLoads, localNow, rankConnection, nextDelay } =
    await import("../state/session_layer.ts");
  return { destinationLoads, localNow, rankConnection, nextDelay };
}

// Waits for `promise`, but no longer than `ms`.
async function atMost(promise: Promise<unknown>, ms: number): Promise<void> {
  const timer = deadline(ms);
  await Promise.race([promise, timer.expired]);
  timer.cancel();
}

// A failure that took this long was a timeout: etcd is not answering.
const SLOW_FAILURE_MS = 1000;

// Longest a session's end waits for etcd (deleting the connection key).
const CLOSE_BUDGET_MS = 2500;

/**
 * Longest a login with `max_connections_per_user` waits for its
 * registration to land and be ranked: long enough for a burst of logins
 * on a busy gateway (each request has 2 s), bounded for a sick etcd.
 */
export const ADMISSION_BUDGET_MS = 10_000;

// Delays between two readings of the user's keys when one fails.
const RANK_RETRY_MS = [250, 500, 1000, 2000];

/** The outcome of ranking a registered session (see admission.ts), or why it could not be ranked. */
export type AdmissionOutcome =
  | { before: number; admitted: boolean }
  | { error: string };

/** etcd as one session uses it. */
export class SharedState {
  #store: StateStore | undefined;
  readonly #config: Config;
  readonly #user: string;
  readonly #log: Log;
  readonly #helpers: StateHelpers;
  readonly #reconnect: Reconnect | undefined;
  #usable: boolean;
  #reported = new Set<string>();
  #registration: Registration | undefined;
  // Host states being written (recordHost), kept until they land.
  readonly #writes = new Set<Promise<void>>();
  // Host states held back until register() or close() (holdWrites).
  #held: (() => void)[] | undefined;
  #registrationError = "";
  #registering = false;
  #announceRegistration: () => void = () => {};
  readonly #registrationAnnounced: Promise<void>;
  #wakeConnect: (() => void) | undefined;
  #stopStats: (() => void) | undefined;
  #closing: Promise<void> | undefined;

  /**
   * Shared state over `store`; without a store (etcd did not answer at
   * login) routing goes on stateless and the registration first connects
   * through `reconnect.open`, retried like the registration itself.
   */
  constructor(
    store: StateStore | undefined,
    config: Config,
    user: string,
    log: Log,
    helpers: StateHelpers,
    reconnect?: Reconnect,
  ) {
    this.#store = store;
    this.#config = config;
    this.#user = user;
    this.#log = log;
    this.#helpers = helpers;
    this.#reconnect = reconnect;
    this.#usable = store !== undefined;
    this.#registrationAnnounced = new Promise((resolve) => {
      this.#announceRegistration = resolve;
    });
  }

  /** True once etcd has answered: at login, or since (routing was stateless then). */
  get connected(): boolean {
    return this.#store !== undefined;
  }

  /** False once a routing read timed out (the other reads are skipped then). */
  get usable(): boolean {
    return this.#usable;
  }

  // The store for a routing read, unless etcd did not answer earlier.
  #readable(): StateStore | undefined {
    return this.#usable ? this.#store : undefined;
  }

  /** The session's registration, once register() was called (landed or not). */
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

  /**
   * The user's live connections (all services and gateways), or undefined
   * (a WARNING: the ranking after registering decides then).
   */
  async countUserConnections(): Promise<number | undefined> {
    const store = this.#readable();
    if (store === undefined) return undefined;
    const started = Date.now();
    const counted = await store.countUserConnections(this.#user);
    if (!counted.ok) {
      return this.#failed(
        "Getting user connections count",
        counted.error,
        started,
        "WARNING",
      );
    }
    this.#report(counted.value.problems);
    return counted.value.items.length;
  }

  /**
   * Spec §5.8.1: the live connection's destination, else (etcd_keyttl > 0)
   * the persisted one. Asked after loads() with the same `reads`, it takes
   * the live connections from that listing instead of a read of its own.
   */
  async sticky(reads: ChoiceReads = {}): Promise<string | undefined> {
    const store = this.#readable();
    if (store === undefined) return undefined;
    const started = Date.now();
    const found = await store.stickyDestination(
      this.#user,
      this.#config.service,
      {
        useHistory: this.#config.etcdKeyttl > 0,
        everyConnection: reads.everyConnection,
      },
    );
    if (!found.ok) {
      return this.#failed("problem with etcd", found.error, started);
    }
    this.#report(found.value.problems);
    return found.value.dest;
  }

  /** Spec §5.8.2: the loads of the configured destinations. */
  async loads(
    reads: ChoiceReads = {},
  ): Promise<ReadonlyMap<string, DestinationLoad> | undefined> {
    const store = this.#readable();
    if (store === undefined) return undefined;
    const started = Date.now();
    reads.everyConnection ??= store.connections();
    const listed = await reads.everyConnection;
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
    const store = this.#readable();
    if (store === undefined) return undefined;
    const started = Date.now();
    const got = await store.host(destination);
    if (!got.ok) return this.#failed("problem with etcd", got.error, started);
    if (got.value.problem) this.#report([got.value.problem]);
    const entry = got.value.entry;
    return entry && { state: entry.state, tsNs: entry.ts.ns };
  }

  /**
   * Holds back the host states the choice records until register() or
   * close(): a session's writes then go out beside its ssh's start.
   */
  holdWrites(): void {
    this.#held ??= [];
  }

  #releaseWrites(): void {
    const held = this.#held;
    this.#held = undefined;
    for (const start of held ?? []) start();
  }

  /**
   * Records a live check (Ts = when it started), as every gateway reads it.
   * The choice does not wait for it; close() does (see settled()).
   */
  recordHost(
    destination: string,
    state: "up" | "down",
    startedNs: bigint,
  ): Promise<void> {
    const held = this.#held;
    if (held !== undefined) {
      return new Promise((resolve) => {
        held.push(() =>
          resolve(this.recordHost(destination, state, startedNs))
        );
      });
    }
    const write = this.#recordHost(destination, state, startedNs);
    this.#writes.add(write);
    write.finally(() => this.#writes.delete(write));
    return write;
  }

  /** Resolves once every host state recorded so far has landed or failed. */
  async settled(): Promise<void> {
    await Promise.all([...this.#writes]);
  }

  async #recordHost(
    destination: string,
    state: "up" | "down",
    startedNs: bigint,
  ): Promise<void> {
    const store = this.#readable();
    if (store === undefined) return;
    const started = Date.now();
    const written = await store.setHostState(
      destination,
      state,
      this.#helpers.localNow(startedNs),
    );
    if (!written.ok) {
      this.#failed("setting host state in etcd", written.error, started);
    }
  }

  /**
   * etcd's error banner ("" when unset or unreadable), its control
   * characters but newlines and tabs escaped: whoever holds the etcd
   * password can set it, and it goes to every refused user's terminal.
   */
  async errorBanner(): Promise<string> {
    const store = this.#readable();
    if (store === undefined) return "";
    const banner = await store.banner();
    return banner.ok ? escapeLines(banner.value.message) : "";
  }

  /**
   * Spec §6.3: the connection key under a kept-alive lease and, with
   * `etcd_keyttl`, the history key, whether or not an earlier read timed
   * out or etcd answered at login at all. Resolves after the first attempt;
   * one that fails is a WARNING and is retried in the background (DEBUG
   * while the delay grows) until it lands (INFO) or the session ends. The
   * session need not wait for it: admit, publishStats and close use the
   * registration as it stands.
   */
  register(destination: string, sshd: string): Promise<void> {
    this.#releaseWrites();
    if (this.#registering || this.#closing !== undefined) {
      return Promise.resolve();
    }
    this.#registering = true;
    const store = this.#store;
    if (store !== undefined) {
      return this.#startRegistration(store, destination, sshd);
    }
    const reconnect = this.#reconnect;
    const loginError = reconnect?.loginError ?? "etcd did not answer";
    this.#registrationError = loginError;
    if (reconnect === undefined || !retryable(reconnect, loginError)) {
      // Settings etcd refused (credentials, permissions, TLS files): retrying
      // cannot help, and would cost etcd a password check every few seconds.
      this.#announceRegistration();
      return Promise.resolve();
    }
    this.#log(
      "WARNING",
      "setting destination in etcd: etcd did not answer at login; the session goes on and registers as soon as etcd answers",
    );
    this.#connectThenRegister(reconnect, destination, sshd).catch((error) => {
      // Never a crash of the session for its registration.
      this.#log("WARNING", `setting destination in etcd: ${error}`);
      this.#announceRegistration();
    });
    return Promise.resolve();
  }

  // Connects (etcd did not answer at login) with growing delays, then registers.
  async #connectThenRegister(
    reconnect: Reconnect,
    destination: string,
    sshd: string,
  ): Promise<void> {
    let delayMs = 0;
    let lastLoggedMs = -1;
    // The login's own try was the first attempt.
    for (let attempt = 2; this.#closing === undefined; attempt++) {
      delayMs = this.#helpers.nextDelay(delayMs, reconnect.backoff);
      if (delayMs !== lastLoggedMs) {
        lastLoggedMs = delayMs;
        this.#log(
          "DEBUG",
          `etcd still unreachable (${this.#registrationError}), next attempt in ${delayMs} ms`,
        );
      }
      await new Promise<void>((resolve) => {
        const timer = deadline(
          Math.max(1, Math.round(delayMs * (0.5 + 0.5 * Math.random()))),
        );
        timer.expired.then(resolve);
        this.#wakeConnect = () => {
          timer.cancel();
          resolve();
        };
      });
      this.#wakeConnect = undefined;
      if (this.#closing !== undefined) break;
      const opened = await reconnect.open();
      if (this.#closing !== undefined) {
        if (opened.ok) opened.value.close();
        break;
      }
      if (opened.ok) {
        this.#store = opened.value;
        await this.#startRegistration(opened.value, destination, sshd, attempt);
        return;
      }
      this.#registrationError = opened.error;
      if (!retryable(reconnect, opened.error)) {
        this.#log(
          "WARNING",
          `setting destination in etcd: ${opened.error}; not retried`,
        );
        break;
      }
    }
    this.#announceRegistration();
  }

  #startRegistration(
    store: StateStore,
    destination: string,
    sshd: string,
    connectAttempts = 1,
  ): Promise<void> {
    const log = this.#log;
    // Retries are logged while their delay grows, not every few 100 ms.
    let lastDelayMs = -1;
    const created = store.newRegistration({
      user: this.#user,
      service: this.#config.service,
      dest: destination,
      sshd,
      keyTtl: this.#config.etcd.keyttl,
      historyTtl: this.#config.etcdKeyttl,
      onEvent: (event) => {
        switch (event.kind) {
          case "landed": {
            for (const warning of event.warnings) {
              log("WARNING", `setting destination in etcd: ${warning}`);
            }
            const attempts = event.attempts + connectAttempts - 1;
            if (attempts === 1) {
              log("DEBUG", `registered in etcd as ${event.key}`);
            } else {
              log(
                "INFO",
                `registered in etcd as ${event.key} (lease ${event.lease}) after ${attempts} attempts`,
              );
            }
            break;
          }
          case "deferred":
            this.#registrationError = event.reason;
            lastDelayMs = event.nextMs;
            // Said once: when etcd did not answer at login it was said then.
            if (connectAttempts === 1) {
              log(
                "WARNING",
                `setting destination in etcd: ${event.reason}; the session goes on and registers as soon as etcd answers`,
              );
            }
            break;
          case "lost":
            log(
              "WARNING",
              `lost contact with etcd, the session goes on unregistered until it answers: ${event.reason}`,
            );
            break;
          case "restored":
            lastDelayMs = -1;
            log(
              "INFO",
              `etcd answers again: connection registered again (lease ${event.lease})`,
            );
            break;
          case "retry-failed":
            this.#registrationError = event.reason;
            if (event.nextMs !== lastDelayMs) {
              lastDelayMs = event.nextMs;
              log(
                "DEBUG",
                `etcd still unreachable (${event.reason}), next attempt in ${event.nextMs} ms`,
              );
            }
        }
      },
    });
    if (!created.ok) {
      this.#registrationError = created.error;
      log("WARNING", `setting destination in etcd: ${created.error}`);
      this.#announceRegistration();
      return Promise.resolve();
    }
    this.#registration = created.value;
    this.#announceRegistration();
    return created.value.start();
  }

  /**
   * Ranks the registered session among the user's connection keys (spec
   * §5.7, see admission.ts), waiting up to `budgetMs` for the registration
   * to land and the keys to be read; an error when that did not happen.
   */
  async admit(
    limit: number,
    budgetMs: number = ADMISSION_BUDGET_MS,
  ): Promise<AdmissionOutcome> {
    const reconnect = this.#reconnect;
    if (
      this.#store === undefined &&
      (!reconnect?.slowFailure ||
        !retryable(reconnect, reconnect.loginError ?? ""))
    ) {
      // etcd refused the connection at login (it is down, not busy), or
      // refused the settings.
      return { error: `etcd did not answer at login` };
    }
    const giveUpAt = Date.now() + budgetMs;
    await atMost(this.#registrationAnnounced, budgetMs);
    const registration = this.#registration;
    const store = this.#store;
    if (registration === undefined || store === undefined) {
      return {
        error: `not registered in etcd within ${budgetMs / 1000}s${
          this.#registrationError ? ` (${this.#registrationError})` : ""
        }`,
      };
    }
    for (let attempt = 0;; attempt++) {
      const landed = await registration.whenLanded(
        Math.max(0, giveUpAt - Date.now()),
      );
      if (!landed) {
        return {
          error: `not registered in etcd within ${budgetMs / 1000}s${
            this.#registrationError ? ` (${this.#registrationError})` : ""
          }`,
        };
      }
      if (this.#closing !== undefined) return { error: "the session ended" };
      const counted = await store.countUserConnections(this.#user);
      if (counted.ok) {
        this.#report(counted.value.problems);
        return this.#helpers.rankConnection(
          counted.value.items,
          registration.key,
          limit,
        );
      }
      const pause = RANK_RETRY_MS[Math.min(attempt, RANK_RETRY_MS.length - 1)];
      if (Date.now() + pause >= giveUpAt) return { error: counted.error };
      await sleep(pause);
    }
  }

  /** Starts publishing the recorder's bandwidth every `etcd_stats_interval`. */
  publishStats(recorder: BandwidthSource): void {
    // The registration exists at once, or once etcd answers.
    this.#registrationAnnounced.then(() => {
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
    });
  }

  /**
   * Session end (or refusal): stops the statistics and the registration's
   * retries, deletes the connection key (also one that lands meanwhile;
   * the history key stays for etcd_keyttl) and disconnects, within 2.5 s.
   */
  close(): Promise<void> {
    this.#releaseWrites();
    this.#closing ??= (async () => {
      this.#stopStats?.();
      this.#wakeConnect?.();
      this.#announceRegistration();
      const registration = this.#registration;
      if (registration !== undefined) {
        const timer = deadline(CLOSE_BUDGET_MS);
        const closed = await Promise.race([
          registration.close(),
          timer.expired.then(() => "timeout" as const),
        ]);
        timer.cancel();
        if (closed === "timeout") {
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
      // Host states still being written (the choice did not wait for
      // them): within the same budget, as they matter to every gateway.
      await atMost(this.settled(), CLOSE_BUDGET_MS);
      this.#store?.close();
    })();
    return this.#closing;
  }
}
