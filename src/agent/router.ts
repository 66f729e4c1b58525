// One routing decision for a session that asked the agent: the session's
// own configuration (the same file, resolved for the user, the groups NSS
// gives the agent for the proven uid when the file matches on groups, and
// sshd's address), then the same
// code a session runs without agent (src/session/shared_state.ts's
// routeSession: connection limit, sticky and route_select choice, host
// checks, error banner), fed with the agent's etcd connection. What that
// code logs and writes for the user travels back in the reply, so the
// session's log and the user's screen are what they would have been.
//
// Anything that keeps the agent from deciding exactly as the session would
// (another configuration file, other etcd settings, an identity that does
// not match, a process that is not the session's) is a `fallback`: the
// session then routes itself, as without agent.
import { type PortLookup, splitHostPort } from "../config/host_port.ts";
import { matchesGroups, resolveForSession } from "../config/load.ts";
import type { Config, EtcdSettings } from "../config/types.ts";
import { formatRfc3339Nano, localOffsetMinutes } from "../format/time.ts";
import type { Level } from "../log/format.ts";
import { fail, type Result } from "../result.ts";
import { routeSession, type SharedState } from "../session/shared_state.ts";
import type { StateStore } from "../state/store.ts";
import type { UserIdentity } from "../system/identity.ts";
import type { ConfigSource } from "./config_source.ts";
import {
  type ProcSource,
  sessionProcess,
  type WatchedProcess,
} from "./processes.ts";
import type { LogLine, Outcome, RouteReply, RouteRequest } from "./protocol.ts";

/** What a decision needs from the agent. */
export interface RouterDependencies {
  config: ConfigSource;
  /** A uid's name, as NSS gives it. */
  userName(uid: number): Promise<Result<string>>;
  /** A uid's name and groups, for a configuration that matches on groups. */
  identity(uid: number): Promise<Result<UserIdentity>>;
  proc: ProcSource;
  services: PortLookup;
  /** The agent's etcd settings (undefined: the agent has no etcd). */
  etcd(): EtcdSettings | undefined;
  /**
   * The agent's etcd connection as this decision's store, or why it is not
   * usable now; its registration writes nothing before `gate` resolves,
   * and nothing at all if it resolves false.
   */
  store(gate: Promise<boolean>): Promise<Result<StateStore>>;
  /** Whether a process already has a route from the agent. */
  routed(process: WatchedProcess): boolean;
  now(): bigint;
}

/** A decision, and what the agent must keep of a routed session. */
export interface Decision {
  reply: RouteReply;
  routed?: {
    config: Config;
    user: string;
    process: WatchedProcess;
    destination: string;
    shared?: SharedState;
    /** Where the session's shared state logs from now on. */
    logTo(log: (level: Level, message: string) => void): void;
  };
}

/** The refusal reason of routeSession's CRITICAL line (its texts are the reference's). */
export function refusalOutcome(log: readonly LogLine[]): Outcome {
  const critical = log.filter(([level]) => level === "CRITICAL").map((
    [, text],
  ) => text);
  const last = critical[critical.length - 1] ?? "";
  if (last.startsWith("Max connections per user reached")) {
    return "connection_limit";
  }
  if (last === "Cannot find a valid destination") return "banner";
  if (last.startsWith("Finding destination:")) return "no_destination";
  if (last === "Etcd is mandatory but unavailable") return "etcd_unavailable";
  return "error";
}

function sameList(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((item, index) => item === b[index]);
}

/** Whether a session's etcd settings are the ones the agent's connection uses. */
export function sameEtcd(session: EtcdSettings, agent: EtcdSettings): boolean {
  return sameList(session.endpoints, agent.endpoints) &&
    session.tls.cafile === agent.tls.cafile &&
    session.tls.certfile === agent.tls.certfile &&
    session.tls.keyfile === agent.tls.keyfile &&
    session.username === agent.username &&
    session.password === agent.password &&
    session.keyttl === agent.keyttl;
}

async function sameFile(requested: string, realPath: string): Promise<boolean> {
  if (requested === realPath) return true;
  try {
    return await Deno.realPath(requested) === realPath;
  } catch {
    return false;
  }
}

function fallback(reason: string): Decision {
  return { reply: { kind: "fallback", reason } };
}

/** Decides the route of one session whose uid is proven. */
export async function decideRoute(
  request: RouteRequest,
  dependencies: RouterDependencies,
): Promise<Decision> {
  // The session's processes (a question to the agent's helper) and the
  // user's name (and groups, when the file matches on them: `id` in the
  // helper) are asked while the configuration is checked; the route is
  // then chosen while the processes are read, but nothing is written
  // (the registration waits for them) or answered before all are known.
  const checkingProcess = sessionProcess(
    request.uid,
    request.pid,
    request.sessionPid,
    dependencies.proc,
  );
  // The process to watch, or why it bars a route.
  const processChecked = checkingProcess.then((checked) =>
    checked.ok && dependencies.routed(checked.value)
      ? fail(`process ${request.sessionPid} already has a route`)
      : checked
  );
  // A refusal found while the processes are read still names them first,
  // as when they were read before anything else.
  const fallbackAfter = async (reason: string) => {
    const checked = await processChecked;
    return fallback(checked.ok ? reason : checked.error);
  };
  const naming = dependencies.userName(request.uid);
  const lookingUp = matchesGroups(dependencies.config.current.parsed)
    ? dependencies.identity(request.uid)
    : undefined;
  await dependencies.config.refresh();
  const loaded = dependencies.config.current;
  if (!(await sameFile(request.config, loaded.realPath))) {
    return fallback(
      `the session reads ${request.config}, the agent ${loaded.realPath}`,
    );
  }
  let identity: { user: string; groups: string[] };
  if (matchesGroups(loaded.parsed)) {
    const found = await (lookingUp ?? dependencies.identity(request.uid));
    if (!found.ok) return await fallbackAfter(found.error);
    identity = found.value;
  } else {
    const named = await naming;
    if (!named.ok) return await fallbackAfter(named.error);
    identity = { user: named.value, groups: [] };
  }
  if (identity.user !== request.user) {
    return await fallbackAfter(
      `uid ${request.uid} is ${identity.user} for the agent, ${request.user} for the session`,
    );
  }
  const sshd = splitHostPort(request.sshd, dependencies.services);
  if (!sshd.ok) {
    return await fallbackAfter(`sshd address ${request.sshd}: ${sshd.error}`);
  }
  const startNs = dependencies.now();
  const resolved = await resolveForSession(loaded.parsed, {
    user: identity.user,
    groups: new Set(identity.groups),
    sshd: sshd.value,
    sessionId: request.sessionId,
    startTime: formatRfc3339Nano(startNs, localOffsetMinutes(startNs)),
  });
  if (!resolved.ok) return await fallbackAfter(resolved.error);
  const config = resolved.value.config;
  const agentEtcd = dependencies.etcd();
  if (config.etcd.endpoints.length > 0) {
    if (agentEtcd === undefined || !sameEtcd(config.etcd, agentEtcd)) {
      return await fallbackAfter(
        "the session's etcd settings are not the agent's (top level)",
      );
    }
  }
  const log: LogLine[] = [];
  let stdout = "";
  let stderr = "";
  // What the shared state logs during the decision goes to the session;
  // what it logs later (its registration's life), to the agent's log.
  let sink = (level: Level, message: string) => {
    log.push([level, message]);
  };
  const routed = await routeSession({
    config,
    user: identity.user,
    log: (level: Level, message: string) => sink(level, message),
    writeStdout: (text) => stdout += text,
    writeStderr: (text) => stderr += text,
    sshd: request.sshd,
    openStore: () =>
      dependencies.store(processChecked.then((checked) => checked.ok)),
  });
  const process = await processChecked;
  if (!process.ok) {
    // Its registration wrote nothing (its gate said no): closing it only
    // lets the shared state go.
    if (!("status" in routed)) await routed.shared?.close();
    return fallback(process.error);
  }
  if ("status" in routed) {
    return {
      reply: {
        kind: "refused",
        outcome: refusalOutcome(log),
        status: routed.status,
        stdout,
        stderr,
        log,
      },
    };
  }
  return {
    reply: {
      kind: "route",
      destination: routed.destination,
      service: config.service,
      log,
    },
    routed: {
      config,
      user: identity.user,
      process: process.value,
      destination: routed.destination,
      shared: routed.shared,
      logTo(next) {
        sink = next;
      },
    },
  };
}
