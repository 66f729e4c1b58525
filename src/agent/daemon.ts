// The gateway agent put together (sshproxy-agent(8)): the configuration and
// its reloading, the socket server with its identity proof, routing
// decisions, the watched sessions, and the metrics endpoint. One process
// per gateway, started by src/cli/agent.ts.
import { loadServices } from "../system/network_names.ts";
import { topLevelConfig } from "../config/resolve.ts";
import type { Config, EtcdSettings } from "../config/types.ts";
import { localOffsetMinutes, nowNanoseconds } from "../format/time.ts";
import type { Level } from "../log/format.ts";
import { fail, ok, type Result } from "../result.ts";
import type { SharedState } from "../session/shared_state.ts";
import { openEtcd } from "../state/etcd_client.ts";
import { AgentKeys, type HistoryWish } from "./agent_keys.ts";
import {
  AgentBackend,
  AgentStateStore,
  DecisionBackend,
} from "./agent_store.ts";
import { ConnectionReadings } from "./connection_readings.ts";
import { HealthMonitor, healthTargets } from "./health.ts";
import { IdentityCache } from "./identity_cache.ts";
import { filesUserNames } from "./user_names.ts";
import { type MirrorEvent, MirrorKeeper } from "./mirror_keeper.ts";
import type { MirrorView } from "./state_mirror.ts";
import {
  type AgentMetrics,
  agentMetrics,
  type DestinationState,
} from "./agent_metrics.ts";
import { ConfigSource } from "./config_source.ts";
import { EXPOSITION_CONTENT_TYPE } from "./metrics.ts";
import type { SystemHelper } from "./helper.ts";
import { prepareProofDir, sweepProofDir } from "./proof.ts";
import type { SessionUpdate } from "./protocol.ts";
import { decideRoute } from "./router.ts";
import { type AgentServer, startServer } from "./server.ts";
import { type LiveSession, SessionRegistry } from "./sessions.ts";
import {
  readState,
  type SavedSession,
  saveSession,
  writeState,
} from "./session_file.ts";
import { stillRunning } from "./processes.ts";
import { encodeConnectionValue } from "../state/values.ts";

/** The agent's log: level, message, and the session it is about if any. */
export type AgentLog = (
  level: Level,
  message: string,
  sessionId?: string,
) => void;

/** How to start the agent. */
export interface AgentOptions {
  configPath: string;
  /** NSS and /proc (started before the agent gave up running programs). */
  helper: SystemHelper;
  /** The agent's own uid (owner of the proof directory). */
  uid: number;
  log: AgentLog;
  /** Intervals and deadlines, for tests. */
  timing?: {
    processPollMs?: number;
    configPollMs?: number;
    proofDeadlineMs?: number;
  };
}

/** A running agent. */
export interface RunningAgent {
  socketPath: string;
  /** `http://host:port/metrics`, when served. */
  metricsUrl?: string;
  metrics: AgentMetrics;
  sessions: SessionRegistry;
  /** Looks at the configuration file now. */
  reload(): Promise<void>;
  /** Resolves with the reason when the agent cannot go on (its helper died). */
  failed: Promise<string>;
  /** Stops serving; sessions' etcd entries expire with the agent's lease. */
  stop(): Promise<void>;
}

/** Where the list of watched sessions of a socket's agent is kept: beside it. */
export function stateFileOf(socketPath: string): string {
  return `${
    socketPath.slice(0, socketPath.lastIndexOf("/")) || ""
  }/sessions.json`;
}

/** Where the proof directory of a socket is: beside it. */
export function proofDirOf(socketPath: string): string {
  return `${socketPath.slice(0, socketPath.lastIndexOf("/")) || ""}/proof`;
}

/** `host:port` (IPv6 in brackets) as Deno.serve wants it. */
export function listenAddress(
  text: string,
): { hostname: string; port: number } {
  const match = /^(?:\[([^\]]*)\]|([^:]*)):(\d+)$/.exec(text)!;
  return { hostname: match[1] ?? match[2], port: Number(match[3]) };
}

/** Whether a metrics address stays on this host. */
export function isLoopback(hostname: string): boolean {
  return hostname === "localhost" || hostname === "::1" ||
    /^127\.\d+\.\d+\.\d+$/.test(hostname);
}

function durationText(ms: number): string {
  const seconds = Math.round(ms / 1000);
  const h = Math.floor(seconds / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  const s = seconds % 60;
  return h > 0 ? `${h}h${m}m${s}s` : m > 0 ? `${m}m${s}s` : `${s}s`;
}

/** At most `limit` lines per `windowMs`; the rest are counted and said later. */
export class RateLimitedLog {
  readonly #log: AgentLog;
  readonly #limit: number;
  readonly #windowMs: number;
  #windowStart = 0;
  #count = 0;
  #suppressed = 0;

  readonly #about: string;

  /** `about` names what the lines are about in the line that counts those left out. */
  constructor(log: AgentLog, limit: number, windowMs: number, about = "") {
    this.#log = log;
    this.#about = about === "" ? "" : ` ${about}`;
    this.#limit = limit;
    this.#windowMs = windowMs;
  }

  /** Logs the line unless the window's quota is spent. */
  log(
    level: Level,
    message: string,
    now = Date.now(),
    sessionId?: string,
  ): void {
    if (now - this.#windowStart >= this.#windowMs) {
      if (this.#suppressed > 0) {
        this.#log(
          "WARNING",
          `${this.#suppressed} more such line(s)${this.#about} left out in the last ${
            this.#windowMs / 1000
          }s`,
        );
      }
      this.#windowStart = now;
      this.#count = 0;
      this.#suppressed = 0;
    }
    if (this.#count < this.#limit) {
      this.#count++;
      this.#log(level, message, sessionId);
    } else this.#suppressed++;
  }
}

/** The agent's etcd: one connection and one lease for all its sessions. */
interface AgentEtcd {
  settings: EtcdSettings;
  backend?: AgentBackend;
  store?: AgentStateStore;
  keys?: AgentKeys;
  /** The watched copy of /sshproxy/ that decisions read when it is fresh. */
  mirror?: MirrorKeeper;
  /** Why it cannot be used now. */
  problem?: string;
}

/** Where one decision's routing reads were answered, and its etcd. */
interface DecisionReads {
  source?: "mirror" | "etcd";
  revision?: bigint;
  backend?: DecisionBackend;
}

// What the agent watches and decisions read from its copy.
const STATE_PREFIX = "/sshproxy/";

// While etcd fails, how often the agent asks it again.
const ETCD_RETRY_MS = 1000;

/** Starts the agent; errors are one line for the administrator. */
export async function startAgent(
  options: AgentOptions,
): Promise<Result<RunningAgent>> {
  const { helper } = options;
  const proc = helper.proc;
  const timing = options.timing ?? {};
  let debug = false;
  const log: AgentLog = (level, message, sessionId) => {
    if (level !== "DEBUG" || debug) options.log(level, message, sessionId);
  };
  const source = new ConfigSource(options.configPath, log);
  const loaded = await source.load();
  if (!loaded.ok) return loaded;
  let top: Config = topLevelConfig(loaded.value.parsed);
  debug = top.debug;
  const socketPath = top.agent.socket;
  if (socketPath === "") {
    return fail(
      `${options.configPath}: agent.socket is not set: the agent needs it, e.g. /run/sshproxy-agent/agent.sock`,
    );
  }
  const configured = {
    socket: socketPath,
    metrics: top.agent.metrics,
    etcd: JSON.stringify(top.etcd),
  };
  source.onChange((next) => {
    top = topLevelConfig(next.parsed);
    debug = top.debug;
    if (
      top.agent.socket !== configured.socket ||
      top.agent.metrics !== configured.metrics ||
      JSON.stringify(top.etcd) !== configured.etcd
    ) {
      log(
        "WARNING",
        "agent.socket, agent.metrics or etcd changed in the file: the agent uses them as they were until it restarts (sessions with other etcd settings route themselves)",
      );
    }
  });

  const proofDir = proofDirOf(socketPath);
  const prepared = await prepareProofDir(proofDir, options.uid);
  if (!prepared.ok) return prepared;

  const destinations = new Map<string, DestinationState>();
  let server: AgentServer | undefined;
  const startedSeconds = Date.now() / 1000;
  // The shared state of each routed session, closed when its process ends.
  const shared = new Map<number, SharedState>();
  // How long the decision of each provisional route took (for its log line).
  const decidedIn = new Map<number, number>();
  // The history key each session keeps (etcd_keyttl), for the saved list.
  const histories = new Map<number, HistoryWish>();
  const statePath = stateFileOf(socketPath);
  let saving: ReturnType<typeof setTimeout> | undefined;
  let lastSaveProblem: string | undefined;
  // One write at a time: two would share the file's temporary twin (one
  // renames it while the other still writes it), and a slow disk under a
  // burst of logins made them overlap.
  let writing: Promise<void> = Promise.resolve();
  const save = () => {
    saving = undefined;
    writing = writing.then(writeNow);
    return writing;
  };
  const writeNow = async () => {
    const written = await writeState(statePath, {
      ...(etcd?.keys?.lease === undefined ? {} : { lease: etcd.keys.lease }),
      sessions: registry.all().filter((s) => !s.provisional).map((s) =>
        saveSession(s, histories.get(s.id))
      ),
    });
    if (!written.ok && written.error !== lastSaveProblem) {
      log(
        "ERROR",
        `cannot keep the list of sessions in ${statePath}: ${written.error}`,
      );
    }
    lastSaveProblem = written.ok ? undefined : written.error;
  };
  const saveSoon = () => {
    saving ??= setTimeout(() => void save(), 100);
  };
  // Sessions of the agent that ran before, waiting for etcd to take their keys back.
  let adoption:
    | {
      lease?: string;
      keys: { key: string; value: string; history?: HistoryWish }[];
      gone: string[];
    }
    | undefined;
  let blind: string | undefined;
  const registry = new SessionRegistry({
    proc,
    onEnded: (session) => ended(session),
    onBlind(reason) {
      if (reason === blind) return;
      blind = reason;
      log("ERROR", `cannot watch the sessions' processes: ${reason}`);
    },
  });
  const metrics = agentMetrics({
    sessions: () => registry.all().filter((s) => !s.provisional),
    destinations: () => destinations,
    connections: () => server?.active ?? 0,
    mirror: () =>
      etcd?.mirror === undefined
        ? undefined
        : { live: etcd.mirror.live, keys: etcd.mirror.size },
    configReloads: () => source.reloads,
    startedSeconds,
    memory: () => Deno.memoryUsage(),
  });

  // etcd, when the top level configures it.
  const etcd: AgentEtcd | undefined = top.etcd.endpoints.length > 0
    ? { settings: structuredClone(top.etcd) }
    : undefined;
  let connecting: Promise<void> | undefined;
  const connectEtcd = (): Promise<void> => {
    connecting ??= (async () => {
      if (etcd === undefined || etcd.backend !== undefined) return;
      const opened = await openEtcd(etcd.settings);
      if (!opened.ok) {
        if (etcd.problem !== opened.error) {
          log("ERROR", `Cannot contact etcd cluster: ${opened.error}`);
        }
        etcd.problem = opened.error;
        return;
      }
      const backend = new AgentBackend(
        opened.value,
        (operation, seconds, ok) => {
          metrics.etcdRequests.inc({ operation });
          metrics.etcdSeconds.observe(seconds);
          if (!ok) metrics.etcdErrors.inc({ operation });
        },
      );
      etcd.backend = backend;
      etcd.store = new AgentStateStore(
        backend,
        etcd.keys ??= new AgentKeys(backend, {
          keyTtl: etcd.settings.keyttl,
          onEvent(event) {
            if (event.kind === "lost") {
              log(
                "WARNING",
                `lost contact with etcd, the sessions' keys are written again when it answers: ${event.reason}`,
              );
            } else if (event.kind === "restored") {
              log(
                "INFO",
                `etcd answers again: ${event.keys} session key(s) registered again (lease ${event.lease})`,
              );
            } else {log(
                "WARNING",
                `setting destination in etcd: ${event.message}`,
              );}
          },
        }),
      );
      const source = backend.mirrorSource();
      if (source !== undefined) {
        etcd.mirror = new MirrorKeeper(source, {
          prefix: STATE_PREFIX,
          onEvent: (event) => mirrorEvent(event),
        });
        etcd.mirror.start();
      }
      if (adoption !== undefined) {
        const taken = adoption;
        adoption = undefined;
        await etcd.keys!.adopt(taken.lease, taken.keys, taken.gone);
        saveSoon();
      }
      if (etcd.problem !== undefined) log("INFO", "etcd answers again");
      etcd.problem = undefined;
      log("INFO", `connected to etcd at ${backend.endpoints}`);
    })().finally(() => {
      connecting = undefined;
    });
    return connecting;
  };
  // Take back the sessions of the agent that ran before (a restart).
  const saved = await readState(statePath);
  if (!saved.ok) {
    log(
      "WARNING",
      `${statePath} does not read (${saved.error}): the sessions of the previous agent are not taken back`,
    );
  } else if (saved.value !== undefined) {
    const before = saved.value.sessions;
    let running: boolean[] = [];
    try {
      running = await stillRunning(
        before.map((s) => ({ pid: s.pid, startTime: BigInt(s.startTime) })),
        proc,
      );
    } catch (error) {
      log("ERROR", `cannot look at the previous agent's sessions: ${error}`);
    }
    const kept: SavedSession[] = before.filter((_, i) => running[i]);
    for (const s of kept) {
      const id = registry.nextId();
      registry.add({
        id,
        sessionId: s.sessionId,
        uid: s.uid,
        user: s.user,
        service: s.service,
        destination: s.destination,
        sshd: s.sshd,
        client: s.client,
        process: { pid: s.pid, startTime: BigInt(s.startTime) },
        startedMs: s.startedMs,
        stats: { in: 0, out: 0 },
        ...(s.key === undefined ? {} : { key: s.key }),
      });
      if (s.history !== undefined) histories.set(id, s.history);
    }
    if (before.length > 0) {
      log(
        "INFO",
        `took back ${kept.length} session(s) of the previous agent (${
          before.length - kept.length
        } ended meanwhile)`,
      );
    }
    adoption = {
      lease: saved.value.lease,
      keys: kept.flatMap((s) =>
        s.key === undefined ? [] : [{
          key: s.key,
          value: encodeConnectionValue({ bwIn: 0, bwOut: 0 }),
          history: s.history,
        }]
      ),
      gone: before.filter((_, i) => !running[i]).flatMap((s) =>
        s.key === undefined ? [] : [s.key]
      ),
    };
    if (etcd === undefined) adoption = undefined;
  }
  await connectEtcd();
  saveSoon();
  // While etcd fails: ask again every second (decisions meanwhile do not wait).
  const etcdWatch = etcd === undefined ? undefined : setInterval(() => {
    if (etcd.backend === undefined) void connectEtcd();
    else if (etcd.backend.failure !== undefined) void etcd.backend.probe();
  }, ETCD_RETRY_MS);
  const etcdStore = (): Result<AgentStateStore> => {
    if (etcd?.store === undefined || etcd.backend === undefined) {
      return fail(
        `cannot reach etcd at ${top.etcd.endpoints.join(",")}: ${
          etcd?.problem ?? "not connected yet"
        } (the gateway agent's connection)`,
      );
    }
    const failure = etcd.backend.failure;
    if (failure !== undefined) {
      return fail(
        `cannot reach etcd at ${etcd.backend.endpoints}: ${failure} (the gateway agent's connection)`,
      );
    }
    return ok(etcd.store);
  };

  // Host states written after decisions: one failing etcd is a few lines.
  const hostWriteErrors = new RateLimitedLog(log, 5, 60_000);
  // Connection keys as decisions read them, for the next decisions.
  const readings = new ConnectionReadings();
  // This decision's store: reads from the mirror when `view` (asked for
  // when the request arrived) says it is fresh, until the registration,
  // which writes only once `gate` says so.
  const decisionStore = async (
    view: Promise<MirrorView | undefined>,
    reads: DecisionReads,
    gate: Promise<boolean>,
  ): Promise<Result<AgentStateStore>> => {
    const base = etcdStore();
    if (!base.ok || etcd?.backend === undefined || etcd.keys === undefined) {
      return base;
    }
    const fresh = await view;
    reads.source = fresh === undefined ? "etcd" : "mirror";
    reads.revision = fresh?.revision;
    metrics.routingReads.inc({ source: reads.source });
    const backend = new DecisionBackend(
      etcd.backend,
      fresh,
      (error) =>
        hostWriteErrors.log("WARNING", `setting host state in etcd: ${error}`),
    );
    reads.backend = backend;
    readings.nextDecision();
    return ok(
      new AgentStateStore(backend, etcd.keys, { backend, gate, readings }),
    );
  };
  function mirrorEvent(event: MirrorEvent): void {
    switch (event.kind) {
      case "live":
        log(
          "INFO",
          `watching ${STATE_PREFIX} in etcd${
            event.resumed ? " again" : ""
          } from revision ${event.revision} (${event.keys} keys): decisions read this copy`,
        );
        break;
      case "synced":
        metrics.mirrorSyncs.inc({ reason: event.reason });
        if (event.reason !== "start") {
          log(
            "INFO",
            `read ${STATE_PREFIX} again at revision ${event.revision} (${event.keys} keys): ${
              event.reason === "compacted"
                ? "etcd compacted past the watch's revision"
                : "etcd's history changed"
            }`,
          );
        }
        break;
      case "lost":
        log(
          "WARNING",
          `the watch on ${STATE_PREFIX} ended (${event.reason}): decisions read etcd until it is back`,
        );
        break;
      case "stale":
        log(
          "WARNING",
          `the copy of ${STATE_PREFIX}: ${event.reason}; watching again`,
        );
    }
  }

  const health = new HealthMonitor({
    targets: () => healthTargets(source.current.parsed),
    checkIntervalNs: () => top.checkInterval,
    store: () => {
      const store = etcdStore();
      return store.ok ? store.value : undefined;
    },
    services: loadServices(),
    now: nowNanoseconds,
    localTime: (ns) => ({ ns, offsetMinutes: localOffsetMinutes(ns) }),
    log: (level, message) => log(level, message),
    seen(destination, state, checkedNs) {
      destinations.set(destination, {
        state,
        checkedSeconds: Number(checkedNs / 1_000_000n) / 1000,
      });
    },
    probed: (state) => metrics.healthChecks.inc({ result: state }),
  });

  async function ended(session: LiveSession): Promise<void> {
    if (session.provisional) {
      await withdraw(session, "its process ended before it took the route");
      return;
    }
    log(
      "INFO",
      `session of ${session.user} ended: process ${session.process.pid} is gone after ${
        durationText(Date.now() - session.startedMs)
      } on ${session.destination} (service: ${session.service})`,
      session.sessionId,
    );
    await release(session);
  }

  // A route the session did not take: its registration goes at once (the
  // session routed itself, or is gone).
  async function withdraw(session: LiveSession, reason: string): Promise<void> {
    if (!session.provisional) return;
    session.provisional = false;
    registry.remove(session.id);
    metrics.withdrawn.inc();
    log(
      "INFO",
      `withdrew the route of ${session.user} to ${session.destination}: ${reason} (decided in ${
        decidedIn.get(session.id) ?? "?"
      } ms, withdrawn ${Date.now() - session.startedMs} ms after the answer)`,
      session.sessionId,
    );
    decidedIn.delete(session.id);
    await release(session);
  }

  // Deletes what a session holds in etcd.
  async function release(session: LiveSession): Promise<void> {
    const state = shared.get(session.id);
    shared.delete(session.id);
    histories.delete(session.id);
    saveSoon();
    if (state !== undefined) await state.close();
    else if (session.key !== undefined) await etcd?.keys?.remove(session.key);
  }

  // Any local user can connect: a flood of bad clients must not flood the log.
  const rejections = new RateLimitedLog(log, 20, 60_000);
  // What a proven client can make the agent say as often as it connects
  // (its reports, its fallbacks): a quota per uid, so that one local user
  // looping on the socket neither floods the log nor silences the others.
  const linesOf = new Map<number, RateLimitedLog>();
  const clientLog = (
    uid: number,
    level: Level,
    message: string,
    sessionId?: string,
  ) => {
    let limited = linesOf.get(uid);
    if (limited === undefined) {
      limited = new RateLimitedLog(log, 30, 60_000, `about uid ${uid}`);
      linesOf.set(uid, limited);
    }
    limited.log(level, message, Date.now(), sessionId);
  };
  const services = loadServices();
  // One `id` per uid every few seconds, not one per login; and none for a
  // name /etc/passwd gives when NSS reads it first (src/agent/user_names.ts).
  const identities = new IdentityCache((uid) => helper.identity(uid));
  const namesFromFiles = filesUserNames();
  const userName = async (uid: number): Promise<Result<string>> => {
    const name = namesFromFiles(uid);
    if (name !== undefined) return ok(name);
    const identity = await identities.get(uid);
    return identity.ok ? ok(identity.value.user) : identity;
  };
  const onUpdate = (session: LiveSession) => (update: SessionUpdate) => {
    if (update.kind === "started") {
      metrics.logins.inc({ outcome: "proxied" });
      metrics.loginSeconds.observe(update.seconds);
      return;
    }
    session.stats = { in: update.in, out: update.out };
    if (update.bytesIn !== undefined && update.bytesOut !== undefined) {
      const before = session.bytes ?? { in: 0, out: 0 };
      metrics.sessionBytes.inc(
        { direction: "in" },
        Math.max(0, update.bytesIn - before.in),
      );
      metrics.sessionBytes.inc(
        { direction: "out" },
        Math.max(0, update.bytesOut - before.out),
      );
      session.bytes = { in: update.bytesIn, out: update.bytesOut };
    }
    const stats = { bwIn: update.in, bwOut: update.out };
    if (session.key !== undefined) {
      void etcd?.keys?.update(session.key, encodeConnectionValue(stats));
    } else void shared.get(session.id)?.registration?.updateStats(stats);
  };

  try {
    server = await startServer({
      socketPath,
      proofDir,
      proofDeadlineMs: timing.proofDeadlineMs,
      handlers: {
        // The summary read that tells whether the mirror is as fresh as
        // etcd starts as the session connects (its etcd round trip then
        // overlaps the greeting, the proof and the process check): the
        // mirror is then at least as fresh as etcd when the session asked
        // for its route, as a session reading etcd itself would see it.
        // Unproven connections share reads in flight (mirror_keeper.ts).
        arrived: () => etcd?.mirror?.fresh().catch(() => undefined),
        async route(request, arrival) {
          const started = performance.now();
          const view = arrival ?? Promise.resolve(undefined);
          const reads: DecisionReads = {};
          const decision = await decideRoute(request, {
            config: source,
            userName,
            identity: (uid) => identities.get(uid),
            proc,
            services,
            etcd: () => etcd?.settings,
            store: (gate) => decisionStore(view, reads, gate),
            routed: (process) => registry.byProcess(process) !== undefined,
            now: nowNanoseconds,
          });
          // Host states no registration took (a refusal, a fallback).
          reads.backend?.writeHostStates();
          const { reply, routed } = decision;
          const decidedMs = Math.round(performance.now() - started);
          const readFrom = reads.source === undefined
            ? ""
            : reads.source === "mirror"
            ? `, state from the watched copy at revision ${reads.revision}`
            : ", state read from etcd";
          if (reply.kind === "fallback") {
            metrics.fallbacks.inc();
            // The name is the client's word until decideRoute checked it.
            clientLog(
              request.uid,
              "INFO",
              `left uid ${request.uid} (claiming to be ${request.user}) to route itself: ${reply.reason}`,
              request.sessionId,
            );
            return { reply };
          }
          if (reply.kind === "refused" || routed === undefined) {
            const outcome = reply.kind === "refused" ? reply.outcome : "error";
            metrics.logins.inc({ outcome });
            metrics.decisionSeconds.observe(decidedMs / 1000);
            clientLog(
              request.uid,
              "INFO",
              `refused ${request.user} (${outcome}) (decided in ${decidedMs} ms${readFrom})`,
              request.sessionId,
            );
            return { reply };
          }
          metrics.decisionSeconds.observe(decidedMs / 1000);
          const session: LiveSession = {
            id: registry.nextId(),
            sessionId: request.sessionId,
            uid: request.uid,
            user: routed.user,
            service: routed.config.service,
            destination: routed.destination,
            sshd: request.sshd,
            client: request.client,
            process: routed.process,
            startedMs: Date.now(),
            stats: { in: 0, out: 0 },
            key: routed.shared?.registration?.key,
            // Counted, watched, but not the session's until it accepts.
            provisional: true,
          };
          // A registered session is its key from now on (deleted when it
          // ends); one whose etcd was away at login keeps its shared state,
          // which registers it when etcd answers and withdraws it at the end.
          if (routed.shared !== undefined && session.key === undefined) {
            routed.logTo((level, message) =>
              log(level, message, session.sessionId)
            );
            shared.set(session.id, routed.shared);
          }
          registry.add(session);
          decidedIn.set(session.id, decidedMs);
          return {
            reply,
            provisional: {
              accept() {
                // Its process ended meanwhile: withdrawn already.
                if (!session.provisional) return undefined;
                session.provisional = false;
                decidedIn.delete(session.id);
                saveSoon();
                log(
                  "INFO",
                  `routed ${session.user} from ${session.client} to ${session.destination} (service: ${session.service}, process ${session.process.pid}, decided in ${decidedMs} ms${readFrom})`,
                  session.sessionId,
                );
                return onUpdate(session);
              },
              withdraw: (reason) => withdraw(session, reason),
            },
          };
        },
        async report(request) {
          // The uid is proven, the name is the client's word: a report
          // names the user only once NSS agrees.
          const name = await userName(request.uid);
          if (!name.ok || name.value !== request.user) {
            metrics.rejected.inc({ reason: "request" });
            clientLog(
              request.uid,
              "WARNING",
              `turned a report away: uid ${request.uid} claims to be ${request.user}${
                name.ok ? `, NSS says ${name.value}` : ` (${name.error})`
              }`,
            );
            return;
          }
          metrics.logins.inc({ outcome: request.outcome });
          clientLog(
            request.uid,
            "INFO",
            `${request.user} (uid ${request.uid}) was refused: ${request.outcome}`,
          );
        },
        abandoned() {
          // Counted, not logged: under a burst that outran agent.timeout
          // there is one per session that routed itself.
          metrics.abandoned.inc();
        },
        rejected(category, detail, claimedUid) {
          metrics.rejected.inc({ reason: category });
          // A late client may just be slow; anything else is not a session.
          rejections.log(
            category === "deadline" ? "INFO" : "WARNING",
            `turned a client away${
              claimedUid === undefined ? "" : ` claiming uid ${claimedUid}`
            }: ${detail}`,
          );
        },
      },
    });
  } catch (error) {
    clearInterval(etcdWatch);
    return fail(
      `cannot listen on ${socketPath}: ${
        error instanceof Error ? error.message : error
      }`,
    );
  }

  let metricsServer: Deno.HttpServer | undefined;
  let metricsUrl: string | undefined;
  if (top.agent.metrics !== "") {
    const address = listenAddress(top.agent.metrics);
    try {
      metricsServer = Deno.serve({
        hostname: address.hostname,
        port: address.port,
        onListen: () => {},
      }, (request) => {
        const path = new URL(request.url).pathname;
        if (path === "/metrics") {
          return new Response(metrics.registry.render(), {
            headers: { "content-type": EXPOSITION_CONTENT_TYPE },
          });
        }
        if (path === "/") {
          return new Response(
            "sshproxy-agent: metrics at /metrics\n",
            { headers: { "content-type": "text/plain" } },
          );
        }
        return new Response("not found\n", { status: 404 });
      });
    } catch (error) {
      clearInterval(etcdWatch);
      await server.close();
      return fail(
        `cannot serve metrics on ${top.agent.metrics} (agent.metrics): ${
          error instanceof Error ? error.message : error
        }`,
      );
    }
    metricsUrl = `http://${top.agent.metrics}/metrics`;
    if (!isLoopback(address.hostname)) {
      log(
        "WARNING",
        `metrics served on ${top.agent.metrics}, beyond this host: whoever reaches it reads destinations and login counts`,
      );
    }
  }

  if ((await helper.protectedHardlinks()) === false) {
    log(
      "WARNING",
      "fs.protected_hardlinks is 0: set it to 1 (sysctl), the identity proof relies on it against hard links to other users' files",
    );
  }
  registry.watch(timing.processPollMs ?? 1000);
  source.watch(timing.configPollMs ?? 2000);
  health.start();
  const sweeper = setInterval(
    () => void sweepProofDir(proofDir, 60_000),
    60_000,
  );
  // Without its helper the agent can neither check identities nor see
  // processes end: better a restart (the next agent takes the sessions
  // back) than keys that outlive their sessions.
  const failure = Promise.withResolvers<string>();
  const helperWatch = setInterval(() => {
    if (helper.broken !== undefined) {
      clearInterval(helperWatch);
      failure.resolve(helper.broken);
    }
  }, 1000);
  log(
    "INFO",
    `listening on ${socketPath}${
      metricsUrl ? `, metrics at ${metricsUrl}` : ""
    }${etcd ? `, etcd at ${top.etcd.endpoints.join(",")}` : ""}`,
  );

  return ok({
    socketPath,
    metricsUrl,
    metrics,
    sessions: registry,
    reload: () => source.refresh(),
    failed: failure.promise,
    async stop() {
      clearInterval(helperWatch);
      clearTimeout(saving);
      await save();
      clearInterval(sweeper);
      clearInterval(etcdWatch);
      await server?.close();
      await metricsServer?.shutdown();
      await health.stop();
      await registry.stop();
      await source.stop();
      // The lease is not revoked: the sessions go on, and their keys stay
      // for etcd.keyttl (a restarted agent takes them back).
      await etcd?.mirror?.stop();
      await etcd?.keys?.stop();
      etcd?.backend?.closeForGood();
    },
  });
}
