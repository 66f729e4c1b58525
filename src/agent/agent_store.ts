// The agent's etcd, as the session code sees it: the same StateStore and
// SharedState (src/session/shared_state.ts) a session would open, so that
// routing reads, host checks, the banner and `max_connections_per_user`'s
// register-then-rank rule are the very same code; but over ONE connection
// kept for all sessions, whose registrations are keys under the agent's one
// lease (src/agent/agent_keys.ts) instead of a lease each.
import { fail, ok, type Result } from "../result.ts";
import type { EtcdBackend, KeyValue, TxnOp } from "../state/etcd_client.ts";
import { isWatchable } from "../state/etcd_watch.ts";
import { HOSTS_PREFIX } from "../state/keys.ts";
import {
  Registration,
  type RegistrationOptions,
} from "../state/registration.ts";
import { type Problem, StateStore } from "../state/store.ts";
import type { Connection } from "../state/aggregate.ts";
import type { ConnectionReadings } from "./connection_readings.ts";
import {
  type ConnectionStats,
  encodeConnectionValue,
} from "../state/values.ts";
import type { AgentKeys } from "./agent_keys.ts";
import type { MirrorSource } from "./mirror_keeper.ts";
import type { MirrorView } from "./state_mirror.ts";

/** What the backend reports of each request, for the metrics. */
export interface RequestObserver {
  (operation: string, seconds: number, ok: boolean): void;
}

/**
 * The agent's connection to etcd: every request observed (metrics), the
 * outcome of the latest one remembered (a decision does not wait for an
 * etcd that just failed), and close() left to the agent alone.
 */
export class AgentBackend implements EtcdBackend {
  readonly #inner: EtcdBackend;
  readonly #observe: RequestObserver;
  #lastFailure: string | undefined;
  #lastFailureMs = 0;

  constructor(inner: EtcdBackend, observe: RequestObserver) {
    this.#inner = inner;
    this.#observe = observe;
  }

  get endpoints(): string {
    return this.#inner.endpoints;
  }

  /** Why etcd is not answering, when the latest request failed. */
  get failure(): string | undefined {
    return this.#lastFailure;
  }

  async #call<T>(
    operation: string,
    request: () => Promise<Result<T>>,
  ): Promise<Result<T>> {
    const started = performance.now();
    const result = await request();
    this.#observe(operation, (performance.now() - started) / 1000, result.ok);
    if (result.ok) this.#lastFailure = undefined;
    else if (isUnreachable(result.error)) {
      this.#lastFailure = result.error;
      this.#lastFailureMs = Date.now();
    }
    return result;
  }

  get(key: string): Promise<Result<KeyValue | undefined>> {
    return this.#call("range", () => this.#inner.get(key));
  }
  list(
    prefix: string,
    options?: { keysOnly?: boolean },
  ): Promise<Result<KeyValue[]>> {
    return this.#call("range", () => this.#inner.list(prefix, options));
  }
  put(key: string, value: string, lease?: string): Promise<Result<void>> {
    return this.#call("put", () => this.#inner.put(key, value, lease));
  }
  remove(key: string, options?: { prefix?: boolean }): Promise<Result<number>> {
    return this.#call("deleterange", () => this.#inner.remove(key, options));
  }
  txn(ops: readonly TxnOp[]): Promise<Result<void>> {
    return this.#call("txn", () => this.#inner.txn(ops));
  }
  grant(ttl: number): Promise<Result<string>> {
    return this.#call("lease_grant", () => this.#inner.grant(ttl));
  }
  revoke(id: string): Promise<Result<void>> {
    return this.#call("lease_revoke", () => this.#inner.revoke(id));
  }
  timeToLive(id: string): Promise<Result<number>> {
    return this.#call("lease_timetolive", () => this.#inner.timeToLive(id));
  }
  keepAliveOnce(id: string): Promise<Result<number>> {
    return this.#call("lease_keepalive", () => this.#inner.keepAliveOnce(id));
  }

  /**
   * The snapshot, summary and watch of the same connection (for the
   * mirror), the two reads observed as range requests; undefined when the
   * client cannot watch.
   */
  mirrorSource(): MirrorSource | undefined {
    const inner = this.#inner;
    if (!isWatchable(inner)) return undefined;
    return {
      snapshot: (prefix) => this.#call("range", () => inner.snapshot(prefix)),
      summary: (prefix) => this.#call("range", () => inner.summary(prefix)),
      revision: (prefix) => this.#call("range", () => inner.revision(prefix)),
      watch: (prefix, start, onMessage) =>
        inner.watch(prefix, start, onMessage),
    };
  }

  /** Sessions share the connection: theirs is never closed. */
  close(): void {}

  /** Closes the real connection (the agent stops). */
  closeForGood(): void {
    this.#inner.close();
  }

  /** Asks etcd something small: the health probe while it is failing. */
  async probe(): Promise<void> {
    await this.get("/sshproxy/error_banner/value");
  }

  /** When the latest failure happened (ms since the epoch, 0 if none). */
  get lastFailureMs(): number {
    return this.#lastFailureMs;
  }
}

// Failures that say etcd is away (not a refusal of one request).
function isUnreachable(error: string): boolean {
  return /cannot reach|no answer within|connection refused|timed out|unreachable|reset|broken pipe|deadline/i
    .test(error);
}

/**
 * One decision's etcd: its reads come from the agent's mirror of
 * /sshproxy/ when the mirror was fresh at the start of the decision
 * (mirror_keeper.ts), until the session registers; from then on (the
 * ranking of max_connections_per_user, which must see etcd as it is) and
 * for every write, from etcd. Host states it probed go with the session's
 * registration, in its transaction: one request to etcd and one watch
 * event for every agent, where two cost etcd ~0.5 ms of CPU more per login
 * (its JSON gateway, measured by hand). A decision that registers nothing
 * writes them when it ends (writeHostStates).
 */
export class DecisionBackend implements EtcdBackend {
  readonly #inner: EtcdBackend;
  #view: MirrorView | undefined;
  readonly #onBackgroundError: (error: string) => void;
  #hostStates: TxnOp[] = [];

  constructor(
    inner: EtcdBackend,
    view: MirrorView | undefined,
    onBackgroundError: (error: string) => void = () => {},
  ) {
    this.#inner = inner;
    this.#view = view;
    this.#onBackgroundError = onBackgroundError;
  }

  get endpoints(): string {
    return this.#inner.endpoints;
  }

  /** Every read from now on goes to etcd. */
  readEtcd(): void {
    this.#view = undefined;
  }

  get(key: string): Promise<Result<KeyValue | undefined>> {
    return this.#view
      ? Promise.resolve(ok(this.#view.get(key)))
      : this.#inner.get(key);
  }
  list(
    prefix: string,
    options?: { keysOnly?: boolean },
  ): Promise<Result<KeyValue[]>> {
    return this.#view
      ? Promise.resolve(ok(this.#view.list(prefix, options)))
      : this.#inner.list(prefix, options);
  }
  /**
   * A host's state, probed during the decision: kept for the
   * registration's transaction (see the class), so the login never waits
   * for etcd's disk for it (the only put a decision makes: registrations
   * are transactions).
   */
  put(key: string, value: string, lease?: string): Promise<Result<void>> {
    if (!key.startsWith(HOSTS_PREFIX) || lease !== undefined) {
      return this.#inner.put(key, value, lease);
    }
    this.#hostStates.push({ put: { key, value } });
    return Promise.resolve(ok(undefined));
  }

  /** The host states probed so far, taken to be written with a registration. */
  takeHostStates(): TxnOp[] {
    const taken = this.#hostStates;
    this.#hostStates = [];
    return taken;
  }

  /**
   * Writes, in the background, the host states no registration took; a
   * failure goes to the agent's log.
   */
  writeHostStates(): void {
    const ops = this.takeHostStates();
    if (ops.length === 0) return;
    void this.#inner.txn(ops).then((written) => {
      if (!written.ok) this.#onBackgroundError(written.error);
    });
  }
  remove(key: string, options?: { prefix?: boolean }): Promise<Result<number>> {
    return this.#inner.remove(key, options);
  }
  txn(ops: readonly TxnOp[]): Promise<Result<void>> {
    return this.#inner.txn(ops);
  }
  grant(ttl: number): Promise<Result<string>> {
    return this.#inner.grant(ttl);
  }
  revoke(id: string): Promise<Result<void>> {
    return this.#inner.revoke(id);
  }
  timeToLive(id: string): Promise<Result<number>> {
    return this.#inner.timeToLive(id);
  }
  keepAliveOnce(id: string): Promise<Result<number>> {
    return this.#inner.keepAliveOnce(id);
  }
  close(): void {}
}

/** A session's registration as a key under the agent's lease. */
class AgentRegistration extends Registration {
  readonly #keys: AgentKeys;
  readonly #options: RegistrationOptions & { key: string };
  readonly #alongside: readonly TxnOp[];
  readonly #gate: Promise<boolean>;
  #landed = false;
  #closed = false;
  // The gate said no: nothing was, or will be, written.
  #barred = false;
  #started: Promise<void> | undefined;

  constructor(
    backend: EtcdBackend,
    options: RegistrationOptions & { key: string },
    keys: AgentKeys,
    /** Host states written in the same transaction as the key. */
    alongside: readonly TxnOp[] = [],
    /** Whether the key may be written (see AgentStateStore). */
    gate: Promise<boolean> = Promise.resolve(true),
  ) {
    super(backend, options);
    this.#keys = keys;
    this.#options = options;
    this.#alongside = alongside;
    this.#gate = gate;
  }

  override get lease(): string | undefined {
    return this.#landed ? this.#keys.lease : undefined;
  }

  override get historyKey(): string | undefined {
    return undefined;
  }

  override get landed(): boolean {
    return this.#landed;
  }

  override get active(): boolean {
    return this.#landed && !this.#closed && this.#keys.healthy;
  }

  override get warnings(): readonly string[] {
    return [];
  }

  override start(): Promise<void> {
    this.#started ??= this.#start();
    return this.#started;
  }

  async #start(): Promise<void> {
    if (!(await this.#gate)) {
      // The host states it took go too: probes made for a request that
      // turned out not to be a session's.
      this.#barred = true;
      return;
    }
    const { user, service, dest, historyTtl } = this.#options;
    const added = await this.#keys.add(
      this.key,
      encodeConnectionValue({ bwIn: 0, bwOut: 0 }),
      historyTtl > 0 ? { user, service, dest, ttl: historyTtl } : undefined,
      this.#alongside,
    );
    if (added.ok) {
      this.#landed = true;
      this.#options.onEvent?.({
        kind: "landed",
        key: this.key,
        lease: this.#keys.lease ?? "",
        attempts: 1,
        warnings: [],
      });
      return;
    }
    // Kept by the agent and written as soon as etcd answers.
    this.#options.onEvent?.({
      kind: "deferred",
      reason: added.error,
      nextMs: 0,
    });
    this.#keys.whenWritten(this.key, 24 * 3600_000).then((written) => {
      if (written) this.#landed = true;
    });
  }

  override async whenLanded(timeoutMs: number): Promise<boolean> {
    if (this.#landed) return true;
    if (this.#closed) return false;
    await this.#started;
    if (this.#landed) return true;
    if (this.#barred) return false;
    const written = await this.#keys.whenWritten(this.key, timeoutMs);
    if (written) this.#landed = true;
    return written;
  }

  override async updateStats(stats: ConnectionStats): Promise<Result<void>> {
    if (this.#closed || this.#barred) return fail("registration closed");
    return await this.#keys.update(this.key, encodeConnectionValue(stats));
  }

  override async close(): Promise<Result<void>> {
    if (this.#closed) return ok(undefined);
    this.#closed = true;
    await this.#started;
    if (this.#barred) return ok(undefined);
    return await this.#keys.remove(this.key);
  }
}

/** What a decision's store adds to the agent's (see AgentStateStore). */
export interface DecisionParts {
  /** The decision's backend. */
  backend?: DecisionBackend;
  /**
   * What a registration waits for before it writes its key, and whether
   * it may (a decision routes while the session's process is being
   * checked, and writes nothing unless it passes).
   */
  gate?: Promise<boolean>;
  /** Connection keys read by earlier decisions. */
  readings?: ConnectionReadings;
}

/** The store the agent lends each decision: reads as a session's, registrations under the agent's lease. */
export class AgentStateStore extends StateStore {
  readonly #keys: AgentKeys;
  readonly #decision: DecisionBackend | undefined;
  readonly #gate: Promise<boolean> | undefined;
  readonly #readings: ConnectionReadings | undefined;

  constructor(
    backend: EtcdBackend,
    keys: AgentKeys,
    decision: DecisionParts = {},
  ) {
    super(backend);
    this.#keys = keys;
    this.#decision = decision.backend;
    this.#gate = decision.gate;
    this.#readings = decision.readings;
  }

  protected override readConnection(kv: KeyValue): Connection | Problem {
    return this.#readings === undefined
      ? super.readConnection(kv)
      : this.#readings.read(kv, () => super.readConnection(kv));
  }

  override newRegistration(
    options: RegistrationOptions,
  ): Result<Registration> {
    this.#decision?.readEtcd();
    const created = super.newRegistration(options);
    if (!created.ok) return created;
    return ok(
      new AgentRegistration(
        this.backend,
        { ...options, key: created.value.key },
        this.#keys,
        this.#decision?.takeHostStates() ?? [],
        this.#gate,
      ),
    );
  }

  /** The connection is the agent's: a session's close() leaves it open. */
  override close(): void {}
}
