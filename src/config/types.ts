// The effective configuration of one session, after overrides, defaults,
// validation and substitution (spec §3.2-3.3). Durations are BigInt
// nanoseconds so Go's duration printing stays exact.
import type { Nanoseconds } from "../format/duration.ts";

/** How a destination is picked among `dest` (spec §5.8.2). */
export type RouteSelect = "ordered" | "random" | "connections" | "bandwidth";

/** Whether a user's sessions stick to one destination (spec §5.8.1). */
export type Mode = "sticky" | "balanced";

/** Every accepted `route_select` value. */
export const ROUTE_SELECTS: readonly RouteSelect[] = [
  "ordered",
  "random",
  "connections",
  "bandwidth",
];

/** Every accepted `mode` value. */
export const MODES: readonly Mode[] = ["sticky", "balanced"];

/**
 * How a destination's health is probed (our addition, `health_check`):
 * `tcp` connect (the reference's check), `ssh` identification line, or
 * `ssh-kex` complete key exchange; see src/route/live_check.ts.
 */
export type HealthCheck = "tcp" | "ssh" | "ssh-kex";

/** TLS files used to reach etcd. */
export interface EtcdTls {
  cafile: string;
  keyfile: string;
  certfile: string;
}

/** The `etcd` section. `keyttl` 0 means "use 5 s" (kept as written for show config). */
export interface EtcdSettings {
  endpoints: string[];
  tls: EtcdTls;
  username: string;
  password: string;
  keyttl: number;
  mandatory: boolean;
}

/** The `ssh` section: the client executed towards the destination. */
export interface SshSettings {
  exe: string;
  args: string[];
}

/** One `translate_commands` entry. */
export interface TranslateCommand {
  sshArgs: string[];
  command: string;
  disableDump: boolean;
}

/**
 * The `agent` section (our addition, see sshproxy-agent(8)): where sessions
 * ask the gateway's agent for their route, and where the agent serves its
 * metrics. The agent itself takes `socket` and `metrics` from the top level.
 */
export interface AgentSettings {
  /** The agent's Unix socket; "" = sessions never ask an agent. */
  socket: string;
  /** `host:port` of the metrics endpoint; "" = none. */
  metrics: string;
  /**
   * How long a session waits for the agent's greeting (an agent absent,
   * stopped, hung or out of files costs at most this).
   */
  timeout: Nanoseconds;
  /** Once greeted, how long a session waits for the agent's decision. */
  decisionTimeout: Nanoseconds;
}

/** The effective configuration for one (user, groups, sshd address). */
export interface Config {
  debug: boolean;
  log: string;
  checkInterval: Nanoseconds;
  errorBanner: string;
  dump: string;
  dumpLimitSize: bigint;
  dumpLimitWindow: Nanoseconds;
  etcd: EtcdSettings;
  etcdStatsInterval: Nanoseconds;
  logStatsInterval: Nanoseconds;
  blockingCommand: string;
  bgCommand: string;
  ssh: SshSettings;
  translateCommands: Map<string, TranslateCommand>;
  environment: Map<string, string>;
  service: string;
  dest: string[];
  routeSelect: RouteSelect;
  mode: Mode;
  forceCommand: string;
  commandMustMatch: boolean;
  etcdKeyttl: number;
  maxConnectionsPerUser: number;
  healthCheck: HealthCheck;
  /** `ssh.config` (our key): passed as `ssh -F`; "" = ssh's own files. */
  sshConfig: string;
  /** `clustershell_dir` (our key, top level only): where groups.conf is. */
  clusterShellDir: string;
  /** The `agent` section (our key). */
  agent: AgentSettings;
  /**
   * `handoff` (our key): a session that needs no process of ours while it
   * runs ends with its ssh in place of the launcher (src/session/handoff.ts).
   */
  handoff: boolean;
}
