// A session asks the gateway's agent (sshproxy-agent(8)) for its route,
// when `agent.socket` is set: one exchange on the agent's Unix socket.
// The agent's answer is applied as if the session had decided (its log
// lines go to the session's log, its banner and messages to the user).
// When the agent is absent, slow, or answers anything but a route or a
// refusal, the session routes itself as without agent, after one DEBUG
// line: the agent may make logins faster, never impossible.
//
// Two bounds: `agent.timeout` (200 ms) for the agent's greeting, which it
// writes as soon as it takes the connection, and, once greeted,
// `agent.decision_timeout` (2 s) for its decision. An agent that is
// stopped, hung or out of files never greets, and costs a login only the
// first. A live agent busy with a burst of logins is still the cheapest
// way through it: a session that gave up on it would route itself (its
// own etcd client, lease and registration, no hand-off), which is what the
// burst can least afford; measured, a 200 ms bound on the whole exchange
// sent half of 200 idle sessions opened 25 at a time down that path.
//
// The agent registers the session in etcd and removes it when the session's
// process ends; the session only tells it when ssh started (login latency)
// and, when it records with `etcd_stats_interval`, its bandwidth, over the
// same connection.
//
// One session, one registration: the agent's is provisional until the
// session accepts the route (src/agent/protocol.ts). A session whose
// bound passed closes the connection without accepting (the
// agent then withdraws its registration) and registers itself. Once it has
// sent its accept it is committed to the destination and goes on at once:
// the agent's confirmation (awaited up to `agent.timeout` again, while ssh
// starts) only tells whether the agent withdrew the route instead (it
// closed the connection: stopping, or the accept came after its
// deadline); then the session registers itself, as one whose etcd was
// away at login does, and does not hand off. Under
// max_connections_per_user the session waits for the confirmation first,
// and routes itself (admission included) if the route was withdrawn: a
// user who stalls their own session past the agent's deadline gains no
// connection over the limit. Without an answer it keeps the route, which
// the agent registers when it reads the accept.
import type { Config } from "../config/types.ts";
import { nowNanoseconds } from "../format/time.ts";
import type { Level } from "../log/format.ts";
import { createProof } from "../agent/proof.ts";
import {
  ACCEPT,
  decodeHello,
  decodeRouteReply,
  encodeLine,
  isConfirmed,
  LineReader,
  type Outcome,
  type ReportRequest,
  type RouteReply,
  type RouteRequest,
} from "../agent/protocol.ts";
import { fail, ok, type Result } from "../result.ts";
import { preloadProcessApi } from "../system/process_api.ts";
import { answerDeadline } from "../system/timers.ts";
import {
  type BandwidthSource,
  openSharedState,
  publishStats,
  type SharedState,
  type StatsSink,
} from "./shared_state.ts";

type Log = (level: Level, message: string) => void;

/** Who the session is and what it asks about. */
export interface AgentAsk {
  config: Config;
  configPath: string;
  user: string;
  uid: number;
  /** The session's sshd and client addresses, canonical ip:port. */
  sshd: string;
  client: string;
  sessionId: string;
  /** The process whose end ends the session (default: this one). */
  sessionPid?: number;
  /**
   * What starting ssh needs, done while the agent decides (default: load
   * Deno's process API); nothing when the session expects to hand off to
   * the launcher.
   */
  prepareToRun?: () => void;
  log: Log;
  writeStdout(text: string): void;
  writeStderr(text: string): void;
}

/** What the session keeps of a route the agent gave. */
export interface AgentSession {
  /** The agent registered the session already. */
  register(destination: string, sshd: string): Promise<void>;
  /**
   * Whether the agent keeps the session's registration: false when it
   * withdrew the route after the session took it (it was stopping); the
   * session then registers itself, in the background, and must not hand
   * off.
   */
  kept(): Promise<boolean>;
  /**
   * Tells the agent that ssh started (login latency) `startNs` after the
   * session began; resolves once said (a hand-off exits right after).
   */
  sshStarted(startNs: bigint): Promise<void>;
  /** Sends the recorder's bandwidth every `etcd_stats_interval`. */
  publishStats(recorder: BandwidthSource): void;
  /** Closes the connection (the agent watches the process, not this). */
  close(): Promise<void>;
}

/** A route from the agent, or undefined when the session must route itself. */
export type AgentRouted =
  | { status: number }
  | { destination: string; shared: AgentSession };

interface Connection {
  reader: LineReader;
  send(message: unknown): Promise<Result<void>>;
  close(): void;
  readonly closed: boolean;
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

async function connect(socket: string): Promise<Result<Connection>> {
  let conn: Deno.UnixConn;
  try {
    conn = await Deno.connect({ transport: "unix", path: socket });
  } catch (error) {
    return fail(describe(error));
  }
  let closed = false;
  let sending: Promise<unknown> = Promise.resolve();
  return ok({
    reader: new LineReader(conn),
    send(message) {
      const bytes = encodeLine(message);
      const sent = sending.then(async (): Promise<Result<void>> => {
        try {
          let written = 0;
          while (written < bytes.length) {
            written += await conn.write(bytes.subarray(written));
          }
          return ok(undefined);
        } catch (error) {
          return fail(describe(error));
        }
      });
      sending = sent;
      return sent;
    },
    close() {
      if (closed) return;
      closed = true;
      try {
        conn.close();
      } catch {
        // already closed
      }
    },
    get closed() {
      return closed;
    },
  });
}

interface Bounds {
  /** For the agent's greeting. */
  greetingMs: number;
  /** From the greeting to the end of the exchange. */
  exchangeMs: number;
}

// Runs `exchange` with the connection closed when a bound passes: first
// `greetingMs`, then, from the agent's greeting (`greeted`, called by
// `prove`), `exchangeMs`. A read or write still pending then fails, so the
// whole exchange is bounded.
async function bounded<T>(
  socket: string,
  bounds: Bounds,
  exchange: (
    connection: Connection,
    greeted: () => void,
  ) => Promise<Result<T>>,
): Promise<{ result: Result<T>; connection?: Connection }> {
  const connection = await connect(socket);
  if (!connection.ok) return { result: connection };
  let expired: string | undefined;
  // Answer deadlines (src/system/timers.ts): the runtime's own timers, not
  // the global setTimeout (Deno's Node layer), and a session that waited
  // for the CPU past a bound (a burst on a busy gateway) reads an answer
  // already in the socket instead of taking its own stall for the agent's.
  const arm = (ms: number, what: string) => {
    const bound = answerDeadline(ms);
    bound.expired.then(() => {
      expired = `${what} within ${ms} ms`;
      connection.value.close();
    });
    return bound;
  };
  let timer = arm(bounds.greetingMs, "no greeting");
  const greeted = () => {
    timer.cancel();
    if (expired === undefined) {
      timer = arm(bounds.exchangeMs, "no answer");
    }
  };
  try {
    const result = await exchange(connection.value, greeted);
    if (expired !== undefined) return { result: fail(expired) };
    return { result, connection: connection.value };
  } finally {
    timer.cancel();
  }
}

/** The proof of who we are, for the nonce of the agent's hello line. */
async function prove(
  connection: Connection,
  greeted: () => void,
): Promise<Result<string>> {
  const line = await connection.reader.next();
  if (!line.ok) return line;
  if (line.value === undefined) return fail("the agent closed the connection");
  const hello = decodeHello(line.value);
  if (!hello.ok) return fail(`unexpected greeting: ${hello.error}`);
  greeted();
  return createProof(hello.value.proofDir, hello.value.nonce);
}

function milliseconds(duration: bigint): number {
  return Math.max(1, Number(duration / 1_000_000n));
}

function timeoutMs(config: Config): number {
  return milliseconds(config.agent.timeout);
}

function bounds(config: Config): Bounds {
  return {
    greetingMs: timeoutMs(config),
    exchangeMs: milliseconds(config.agent.decisionTimeout),
  };
}

/**
 * Asks the agent for the route (undefined when the session must route
 * itself; the reason is logged at DEBUG).
 */
export async function routeThroughAgent(
  ask: AgentAsk,
): Promise<AgentRouted | undefined> {
  const { config, log } = ask;
  const socket = config.agent.socket;
  if (socket === "") return undefined;
  let proofPath: string | undefined;
  const { result, connection } = await bounded(
    socket,
    bounds(config),
    async (connection, greeted): Promise<Result<RouteReply>> => {
      const proof = await prove(connection, greeted);
      if (!proof.ok) return proof;
      proofPath = proof.value;
      const request: RouteRequest = {
        kind: "route",
        uid: ask.uid,
        user: ask.user,
        pid: Deno.pid,
        sessionPid: ask.sessionPid ?? Deno.pid,
        config: ask.configPath,
        sshd: ask.sshd,
        client: ask.client,
        sessionId: ask.sessionId,
        stats: config.dump !== "" && config.etcdStatsInterval > 0n,
      };
      const sent = await connection.send(request);
      if (!sent.ok) return sent;
      // The agent decides in a few ms: time to prepare what starts the
      // session's ssh right after (src/system/process_api.ts).
      (ask.prepareToRun ?? preloadProcessApi)();
      const line = await connection.reader.next();
      if (!line.ok) return line;
      if (line.value === undefined) {
        return fail("the agent closed the connection without answering");
      }
      return decodeRouteReply(line.value);
    },
  );
  if (!result.ok || result.value.kind === "fallback") {
    connection?.close();
    // The agent deletes the proof it looked at; one it never read is ours.
    if (proofPath !== undefined) await Deno.remove(proofPath).catch(() => {});
    log(
      "DEBUG",
      `agent at ${socket}: ${
        result.ok && result.value.kind === "fallback"
          ? result.value.reason
          : !result.ok
          ? result.error
          : ""
      }; routing without it`,
    );
    return undefined;
  }
  const reply = result.value;
  if (reply.kind === "refused") {
    for (const [level, message] of reply.log) log(level, message);
    connection?.close();
    if (reply.stdout !== "") ask.writeStdout(reply.stdout);
    if (reply.stderr !== "") ask.writeStderr(reply.stderr);
    return { status: reply.status };
  }
  // Taken at once, and the session goes on: the agent's confirmation is
  // read while ssh starts (a round trip less on every login). Not under
  // max_connections_per_user: a session must not run unless admitted, and
  // one whose route was withdrawn is routed (and admitted) again.
  const taking = accept(connection!, timeoutMs(config));
  if (config.maxConnectionsPerUser > 0 && await taking === "withdrawn") {
    connection!.close();
    log(
      "DEBUG",
      `agent at ${socket}: it withdrew the route it gave; routing without it`,
    );
    return undefined;
  }
  for (const [level, message] of reply.log) log(level, message);
  log("DEBUG", `route given by the agent at ${socket}`);
  return {
    destination: reply.destination,
    shared: agentSession(connection!, ask, reply.destination, taking),
  };
}

/** What became of a route the session took (see `accept`). */
type Taken = "confirmed" | "unconfirmed" | "withdrawn";

/**
 * Takes the route: sends the accept, then waits up to `timeoutMs` for the
 * agent's confirmation. "withdrawn" when the agent cannot have read the
 * accept (the write failed) or closed the connection instead of
 * confirming; "unconfirmed" when it did not answer in time (the route is
 * kept: the accept is in its socket).
 */
async function accept(
  connection: Connection,
  timeoutMs: number,
): Promise<Taken> {
  const sent = await connection.send(ACCEPT);
  if (!sent.ok) return "withdrawn";
  const timer = answerDeadline(timeoutMs);
  const answer = await Promise.race([
    connection.reader.next(),
    timer.expired.then(() => "timeout" as const),
  ]);
  timer.cancel();
  if (answer === "timeout") return "unconfirmed";
  if (answer.ok && answer.value !== undefined && isConfirmed(answer.value)) {
    return "confirmed";
  }
  return "withdrawn";
}

function agentSession(
  connection: Connection,
  ask: AgentAsk,
  destination: string,
  taking: Promise<Taken>,
): AgentSession {
  const { config, log } = ask;
  const socket = config.agent.socket;
  let closing = false;
  // The session's own registration, once the agent withdrew the route.
  let own: Promise<SharedState | undefined> | undefined;
  const kept = taking.then((taken) => {
    // Our own close() waits for this: a closed connection is not the
    // agent's withdrawal.
    if (taken === "unconfirmed") {
      log(
        "DEBUG",
        `agent at ${socket}: route accepted, not confirmed within ${
          timeoutMs(config)
        } ms (the agent registers it when it reads the accept)`,
      );
    }
    if (taken !== "withdrawn") return true;
    connection.close();
    log(
      "DEBUG",
      `agent at ${socket}: it withdrew the route it gave (it is stopping); the session registers itself`,
    );
    // One session, one key: the agent's is gone, the session's replaces it.
    own = openSharedState(config, ask.user, log).then((state) => {
      state?.register(destination, ask.sshd);
      return state;
    });
    return false;
  });
  let stopStats: (() => void) | undefined;
  let keep = false;
  let totals: (() => { bytesIn: number; bytesOut: number }) | undefined;
  const sink: StatsSink = {
    get active() {
      return !connection.closed;
    },
    async updateStats(stats) {
      return await connection.send({
        kind: "stats",
        in: Math.max(0, Math.trunc(stats.bwIn)),
        out: Math.max(0, Math.trunc(stats.bwOut)),
        ...totals?.(),
      });
    },
  };
  const publishToAgent = (recorder: BandwidthSource) => {
    if (hasTotals(recorder)) {
      totals = () => {
        const counts = recorder.totals();
        return {
          bytesIn: counts.stdin,
          bytesOut: counts.stdout + counts.stderr,
        };
      };
    }
    stopStats = publishStats(recorder, sink, config.etcdStatsInterval, log);
  };
  return {
    register: () => Promise.resolve(),
    kept: () => kept,
    async sshStarted(startNs) {
      const seconds = Number(nowNanoseconds() - startNs) / 1e9;
      await connection.send({ kind: "started", seconds });
      // Not before the confirmation was read (see `kept`).
      await kept;
      if (!keep) connection.close();
    },
    publishStats(recorder) {
      if (config.etcdStatsInterval <= 0n) return;
      keep = true;
      void kept.then(async (agentKeeps) => {
        if (closing) return;
        if (agentKeeps) publishToAgent(recorder);
        else (await own)?.publishStats(recorder);
      });
    },
    async close() {
      closing = true;
      stopStats?.();
      await kept;
      connection.close();
      await (await own)?.close();
    },
  };
}

// A Recorder also counts the bytes of each stream since the start.
function hasTotals(
  recorder: BandwidthSource,
): recorder is BandwidthSource & {
  totals(): { stdin: number; stdout: number; stderr: number };
} {
  return "totals" in recorder && typeof recorder.totals === "function";
}

/** The outcome of a session refused for its command line (ssh_command.ts's errors). */
export function commandRefusalOutcome(error: string): Outcome {
  return error.startsWith("SSHPROXY_ARGS:")
    ? "bad_sshproxy_args"
    : error.startsWith("originalCmd ")
    ? "command_not_allowed"
    : "error";
}

/**
 * Tells the agent (when one is configured) why this session was refused
 * before it asked for a route; bounded by `agent.timeout`, failures
 * ignored: this is for the metrics only.
 */
export async function reportToAgent(
  config: Config,
  who: { user: string; uid: number },
  outcome: ReportRequest["outcome"],
): Promise<void> {
  if (config.agent.socket === "") return;
  let proofPath: string | undefined;
  // For the metrics only: the greeting's bound for the whole exchange.
  const { result, connection } = await bounded(
    config.agent.socket,
    { greetingMs: timeoutMs(config), exchangeMs: timeoutMs(config) },
    async (connection, greeted) => {
      const proof = await prove(connection, greeted);
      if (!proof.ok) return proof;
      proofPath = proof.value;
      const report: ReportRequest = {
        kind: "report",
        uid: who.uid,
        user: who.user,
        pid: Deno.pid,
        outcome,
      };
      return await connection.send(report);
    },
  );
  connection?.close();
  if (!result.ok && proofPath !== undefined) {
    await Deno.remove(proofPath).catch(() => {});
  }
}
