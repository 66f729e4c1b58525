// The gateway agent put together (sshproxy-agent(8)): the configuration and
// its reloading, the socket server with its identity proof, routing
// decisions, the watched sessions, and the metrics endpoint. One process
// per gateway, started by src/cli/agent.ts.
import { loadServices } from "../system/network_names.ts";
import { topLevelConfig } from "../config/resolve.ts";
import type { Config } from "../config/types.ts";
import { nowNanoseconds } from "../format/time.ts";
import type { Level } from "../log/format.ts";
import { fail, ok, type Result } from "../result.ts";
import { openSharedState } from "../session/shared_state.ts";
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
  /** Stops serving; sessions' etcd entries expire with the agent's lease. */
  stop(): Promise<void>;
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
  const configured = { socket: socketPath, metrics: top.agent.metrics };
  source.onChange((next) => {
    top = topLevelConfig(next.parsed);
    debug = top.debug;
    if (
      top.agent.socket !== configured.socket ||
      top.agent.metrics !== configured.metrics
    ) {
      log(
        "WARNING",
        "agent.socket and agent.metrics changed in the file: they apply when the agent restarts",
      );
    }
  });

  const proofDir = proofDirOf(socketPath);
  const prepared = await prepareProofDir(proofDir, options.uid);
  if (!prepared.ok) return prepared;

  const destinations = new Map<string, DestinationState>();
  let server: AgentServer | undefined;
  const startedSeconds = Date.now() / 1000;
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
  let memory: number | undefined;
  const metrics = agentMetrics({
    sessions: () => registry.all(),
    destinations: () => destinations,
    connections: () => server?.active ?? 0,
    configReloads: () => source.reloads,
    startedSeconds,
    memory: () => memory,
  });

  function ended(session: LiveSession): void {
    log(
      "INFO",
      `session of ${session.user} ended: process ${session.process.pid} is gone after ${
        durationText(Date.now() - session.startedMs)
      } on ${session.destination} (service: ${session.service})`,
      session.sessionId,
    );
  }

  const services = loadServices();
  const onUpdate = (session: LiveSession) => (update: SessionUpdate) => {
    if (update.kind === "started") {
      metrics.logins.inc({ outcome: "proxied" });
      metrics.loginSeconds.observe(update.seconds);
      return;
    }
    session.stats = { in: update.in, out: update.out };
  };

  try {
    server = await startServer({
      socketPath,
      proofDir,
      proofDeadlineMs: timing.proofDeadlineMs,
      handlers: {
        async route(request) {
          const decision = await decideRoute(request, {
            config: source,
            identity: (uid) => helper.identity(uid),
            proc,
            services,
            etcd: () => undefined,
            openShared: openSharedState,
            routed: (process) => registry.byProcess(process) !== undefined,
            now: nowNanoseconds,
          });
          const { reply, routed } = decision;
          if (reply.kind === "fallback") {
            metrics.fallbacks.inc();
            log(
              "INFO",
              `left uid ${request.uid} (${request.user}) to route itself: ${reply.reason}`,
              request.sessionId,
            );
            return { reply };
          }
          if (reply.kind === "refused" || routed === undefined) {
            const outcome = reply.kind === "refused" ? reply.outcome : "error";
            metrics.logins.inc({ outcome });
            log(
              "INFO",
              `refused ${request.user} (${outcome})`,
              request.sessionId,
            );
            return { reply };
          }
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
          };
          registry.add(session);
          log(
            "INFO",
            `routed ${session.user} from ${session.client} to ${session.destination} (service: ${session.service}, process ${session.process.pid})`,
            session.sessionId,
          );
          return { reply, onUpdate: onUpdate(session) };
        },
        report(request) {
          metrics.logins.inc({ outcome: request.outcome });
          log("INFO", `${request.user} was refused: ${request.outcome}`);
        },
        rejected(category, detail, claimedUid) {
          metrics.rejected.inc({ reason: category });
          log(
            category === "proof" ? "WARNING" : "DEBUG",
            `turned a client away${
              claimedUid === undefined ? "" : ` claiming uid ${claimedUid}`
            }: ${detail}`,
          );
        },
      },
    });
  } catch (error) {
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
      }, async (request) => {
        const path = new URL(request.url).pathname;
        if (path === "/metrics") {
          memory = await helper.agentMemory();
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
  const sweeper = setInterval(
    () => void sweepProofDir(proofDir, 60_000),
    60_000,
  );
  log(
    "INFO",
    `listening on ${socketPath}${
      metricsUrl ? `, metrics at ${metricsUrl}` : ""
    }`,
  );

  return ok({
    socketPath,
    metricsUrl,
    metrics,
    sessions: registry,
    reload: () => source.refresh(),
    async stop() {
      clearInterval(sweeper);
      await server?.close();
      await metricsServer?.shutdown();
      await registry.stop();
      await source.stop();
    },
  });
}
