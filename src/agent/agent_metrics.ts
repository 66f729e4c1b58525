// The agent's metric families (sshproxy-agent(8), METRICS): names, help
// texts, labels and buckets in one place, fed by the rest of the agent.
// Conventions: `sshproxy_` prefix, counters end in `_total`, times in
// seconds, sizes in bytes.
import { VERSION } from "../version.ts";
import { type Counter, type Histogram, Registry } from "./metrics.ts";
import { OUTCOMES } from "./protocol.ts";
import type { LiveSession } from "./sessions.ts";

/** A destination's state as the agent last saw it (etcd or its own check). */
export interface DestinationState {
  state: "up" | "down" | "disabled" | "unknown";
  /** When it was checked, seconds since the epoch. */
  checkedSeconds: number;
}

/** Where the gauges read their values when scraped. */
export interface MetricSources {
  sessions(): Iterable<LiveSession>;
  destinations(): Iterable<[string, DestinationState]>;
  connections(): number;
  /** The watched copy of /sshproxy/ (undefined without etcd). */
  mirror(): { live: boolean; keys: number } | undefined;
  configReloads(): { ok: number; failed: number };
  startedSeconds: number;
  memory(): { rss: number; heapUsed: number };
}

/** The counters and histograms the agent updates. */
export interface AgentMetrics {
  registry: Registry;
  logins: Counter;
  loginSeconds: Histogram;
  rejected: Counter;
  abandoned: Counter;
  fallbacks: Counter;
  withdrawn: Counter;
  decisionSeconds: Histogram;
  routingReads: Counter;
  mirrorSyncs: Counter;
  etcdRequests: Counter;
  etcdErrors: Counter;
  etcdSeconds: Histogram;
  healthChecks: Counter;
  sessionBytes: Counter;
}

/** Why a client was turned away, as a bounded label value. */
export type RejectionReason = "proof" | "request" | "deadline" | "busy";

const STATES = ["up", "down", "disabled", "unknown"] as const;

/** Registers every family. */
export function agentMetrics(sources: MetricSources): AgentMetrics {
  const registry = new Registry();
  const logins = registry.counter(
    "sshproxy_logins_total",
    "Logins that asked this agent, by outcome: proxied (ssh started), or the reason they were refused.",
    OUTCOMES.map((outcome) => ({ outcome })),
  );
  const loginSeconds = registry.histogram(
    "sshproxy_login_duration_seconds",
    "Time from a session's start to its ssh client's start, as the session measured it.",
    [0.01, 0.025, 0.05, 0.1, 0.2, 0.35, 0.5, 0.75, 1, 1.5, 2.5, 5],
  );
  registry.gauge(
    "sshproxy_sessions",
    "Live sessions routed by this agent, by service and destination.",
    () => {
      const counts = new Map<
        string,
        { labels: Record<string, string>; value: number }
      >();
      for (const session of sources.sessions()) {
        const key = `${session.service}\0${session.destination}`;
        const entry = counts.get(key);
        if (entry) entry.value++;
        else {
          counts.set(key, {
            labels: {
              service: session.service,
              destination: session.destination,
            },
            value: 1,
          });
        }
      }
      return counts.values();
    },
  );
  registry.gauge(
    "sshproxy_session_bandwidth_bytes_per_second",
    "Bandwidth the live sessions of this agent last published (their etcd connection keys' In and Out), by service.",
    () => {
      const sums = new Map<string, number>();
      for (const session of sources.sessions()) {
        for (
          const [direction, value] of [["in", session.stats.in], [
            "out",
            session.stats.out,
          ]] as const
        ) {
          const key = `${session.service}\0${direction}`;
          sums.set(key, (sums.get(key) ?? 0) + value * 1024);
        }
      }
      return [...sums].map(([key, value]) => {
        const [service, direction] = key.split("\0");
        return { labels: { service, direction }, value };
      });
    },
  );
  const sessionBytes = registry.counter(
    "sshproxy_session_bytes_total",
    "Bytes carried by this agent's sessions that count them (recorded sessions publishing statistics), by direction.",
    [{ direction: "in" }, { direction: "out" }],
  );
  registry.gauge(
    "sshproxy_destination_state",
    "State of each destination as last checked or set (1 for the current state).",
    () => {
      const samples = [];
      for (const [destination, { state }] of sources.destinations()) {
        for (const candidate of STATES) {
          samples.push({
            labels: { destination, state: candidate },
            value: candidate === state ? 1 : 0,
          });
        }
      }
      return samples;
    },
  );
  registry.gauge(
    "sshproxy_destination_checked_timestamp_seconds",
    "When each destination's state was last checked or set.",
    () =>
      [...sources.destinations()].map(([destination, { checkedSeconds }]) => ({
        labels: { destination },
        value: checkedSeconds,
      })),
  );
  const healthChecks = registry.counter(
    "sshproxy_health_checks_total",
    "Live checks of destinations made by this agent, by result.",
    [{ result: "up" }, { result: "down" }],
  );
  const etcdRequests = registry.counter(
    "sshproxy_etcd_requests_total",
    "Requests (round trips) this agent made to etcd, by operation.",
  );
  const etcdErrors = registry.counter(
    "sshproxy_etcd_request_errors_total",
    "Requests to etcd that failed, by operation.",
  );
  const etcdSeconds = registry.histogram(
    "sshproxy_etcd_request_duration_seconds",
    "Duration of this agent's requests to etcd.",
    [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2],
  );
  const rejected = registry.counter(
    "sshproxy_agent_rejected_clients_total",
    "Connections turned away before any request was acted upon, by reason (proof: the uid was not proven).",
    (["proof", "request", "deadline", "busy"] as const).map((reason) => ({
      reason,
    })),
  );
  const abandoned = registry.counter(
    "sshproxy_agent_abandoned_clients_total",
    "Connections the client closed after the agent's greeting without asking: mostly sessions that gave up waiting for the greeting (agent.timeout) and routed themselves.",
  );
  abandoned.inc({}, 0);
  const fallbacks = registry.counter(
    "sshproxy_agent_fallbacks_total",
    "Route requests the agent left to the session (another configuration file, other etcd settings...).",
  );
  fallbacks.inc({}, 0);
  const withdrawn = registry.counter(
    "sshproxy_agent_withdrawn_routes_total",
    "Routes the agent registered and then withdrew because the session did not take them (it had given up waiting and routed itself).",
  );
  withdrawn.inc({}, 0);
  const decisionSeconds = registry.histogram(
    "sshproxy_agent_decision_duration_seconds",
    "Time the agent took to decide a route (from the request to the answer), as its log's decided in N ms.",
    [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
  );
  const routingReads = registry.counter(
    "sshproxy_agent_routing_reads_total",
    "Decisions with etcd by where their routing reads were answered: mirror (the watched copy of /sshproxy/, as fresh as etcd) or etcd.",
    [{ source: "mirror" }, { source: "etcd" }],
  );
  const mirrorSyncs = registry.counter(
    "sshproxy_agent_mirror_syncs_total",
    "Full reads of /sshproxy/ into the agent's watched copy, by reason (start, compacted: etcd compacted past the watch, reset: etcd's history changed).",
    [{ reason: "start" }, { reason: "compacted" }, { reason: "reset" }],
  );
  registry.gauge(
    "sshproxy_agent_mirror_up",
    "1 while the watch on /sshproxy/ runs (decisions may read the copy), 0 otherwise.",
    () => {
      const mirror = sources.mirror();
      return mirror === undefined ? [] : [{ value: mirror.live ? 1 : 0 }];
    },
  );
  registry.gauge(
    "sshproxy_agent_mirror_keys",
    "Keys in the agent's watched copy of /sshproxy/.",
    () => {
      const mirror = sources.mirror();
      return mirror === undefined ? [] : [{ value: mirror.keys }];
    },
  );
  registry.counterFrom(
    "sshproxy_agent_config_reloads_total",
    "Changes of the configuration file, by result (failed: the previous one stays in force).",
    () => {
      const reloads = sources.configReloads();
      return [
        { labels: { result: "ok" }, value: reloads.ok },
        { labels: { result: "failed" }, value: reloads.failed },
      ];
    },
  );
  registry.gauge(
    "sshproxy_agent_connections",
    "Connections to the agent's socket being served.",
    () => [{ value: sources.connections() }],
  );
  registry.gauge(
    "sshproxy_agent_info",
    "The agent's version.",
    () => [{ labels: { version: VERSION }, value: 1 }],
  );
  registry.gauge(
    "process_start_time_seconds",
    "Start time of the process since the Unix epoch in seconds.",
    () => [{ value: sources.startedSeconds }],
  );
  registry.gauge(
    "process_resident_memory_bytes",
    "Resident memory size in bytes.",
    () => [{ value: sources.memory().rss }],
  );
  registry.gauge(
    "sshproxy_agent_heap_used_bytes",
    "JavaScript heap in use (what the agent's data and garbage take).",
    () => [{ value: sources.memory().heapUsed }],
  );
  return {
    registry,
    logins,
    loginSeconds,
    rejected,
    abandoned,
    fallbacks,
    withdrawn,
    decisionSeconds,
    routingReads,
    mirrorSyncs,
    etcdRequests,
    etcdErrors,
    etcdSeconds,
    healthChecks,
    sessionBytes,
  };
}
