// The configuration listing printed by `sshproxyctl show config` and
// logged at DEBUG by every session (spec §7.7), in Go's value syntax
// (spec A.4). The etcd password is masked: the reference prints it in
// clear text to screens and log files (spec §12.2 item 16).
import { formatGoDuration } from "../format/duration.ts";
import type { Config } from "./types.ts";

function list(values: readonly string[]): string {
  return `[${values.join(" ")}]`;
}

function sortedKeys<V>(map: ReadonlyMap<string, V>): string[] {
  return [...map.keys()].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}

/** The `config.*` lines of the listing, in the reference's order. */
export function configListing(config: Config): string[] {
  const etcd = config.etcd;
  const password = etcd.password === "" ? "" : "********";
  const lines = [
    `config.debug = ${config.debug}`,
    `config.log = ${config.log}`,
    `config.check_interval = ${formatGoDuration(config.checkInterval)}`,
    `config.error_banner = ${config.errorBanner}`,
    `config.dump = ${config.dump}`,
    `config.dump_limit_size = ${config.dumpLimitSize}`,
    `config.dump_limit_window = ${formatGoDuration(config.dumpLimitWindow)}`,
    `config.etcd = {Endpoints:${
      list(etcd.endpoints)
    } TLS:{CAFile:${etcd.tls.cafile} KeyFile:${etcd.tls.keyfile} ` +
    `CertFile:${etcd.tls.certfile}} Username:${etcd.username} Password:${password} KeyTTL:${etcd.keyttl} ` +
    `Mandatory:${etcd.mandatory}}`,
    `config.etcd_stats_interval = ${
      formatGoDuration(config.etcdStatsInterval)
    }`,
    `config.log_stats_interval = ${formatGoDuration(config.logStatsInterval)}`,
    `config.blocking_command = ${config.blockingCommand}`,
    `config.bg_command = ${config.bgCommand}`,
    `config.ssh = {Exe:${config.ssh.exe} Args:${list(config.ssh.args)}}`,
  ];
  for (const command of sortedKeys(config.translateCommands)) {
    const entry = config.translateCommands.get(command)!;
    lines.push(
      `config.TranslateCommands.${command} = &{SSHArgs:${
        list(entry.sshArgs)
      } Command:${entry.command} ` +
        `DisableDump:${entry.disableDump}}`,
    );
  }
  const environment = sortedKeys(config.environment).map((name) =>
    `${name}:${config.environment.get(name)}`
  );
  lines.push(
    `config.environment = map[${environment.join(" ")}]`,
    `config.service = ${config.service}`,
    `config.dest = ${list(config.dest)}`,
    `config.route_select = ${config.routeSelect}`,
    `config.mode = ${config.mode}`,
    `config.force_command = ${config.forceCommand}`,
    `config.command_must_match = ${config.commandMustMatch}`,
    `config.etcd_keyttl = ${config.etcdKeyttl}`,
    `config.max_connections_per_user = ${config.maxConnectionsPerUser}`,
    `config.health_check = ${config.healthCheck}`,
    `config.ssh.config = ${config.sshConfig}`,
    `config.clustershell_dir = ${config.clusterShellDir}`,
    `config.agent = {Socket:${config.agent.socket} Metrics:${config.agent.metrics} Timeout:${
      formatGoDuration(config.agent.timeout)
    } DecisionTimeout:${formatGoDuration(config.agent.decisionTimeout)}}`,
    `config.handoff = ${config.handoff}`,
  );
  return lines;
}

/** The `groups = map[a:true b:true]` line. */
export function groupsListing(groups: Iterable<string>): string {
  const names = [...new Set(groups)].sort((
    a,
    b,
  ) => (a < b ? -1 : a > b ? 1 : 0));
  return `groups = map[${names.map((name) => `${name}:true`).join(" ")}]`;
}

/** The same configuration as a JSON-ready object with the file's key names. */
export function configAsJson(config: Config): Record<string, unknown> {
  const translate: Record<string, unknown> = {};
  for (const command of sortedKeys(config.translateCommands)) {
    const entry = config.translateCommands.get(command)!;
    translate[command] = {
      ssh_args: entry.sshArgs,
      command: entry.command,
      disable_dump: entry.disableDump,
    };
  }
  return {
    debug: config.debug,
    log: config.log,
    check_interval: formatGoDuration(config.checkInterval),
    error_banner: config.errorBanner,
    dump: config.dump,
    dump_limit_size: Number(config.dumpLimitSize),
    dump_limit_window: formatGoDuration(config.dumpLimitWindow),
    etcd: {
      endpoints: config.etcd.endpoints,
      tls: { ...config.etcd.tls },
      username: config.etcd.username,
      password: config.etcd.password === "" ? "" : "********",
      keyttl: config.etcd.keyttl,
      mandatory: config.etcd.mandatory,
    },
    etcd_stats_interval: formatGoDuration(config.etcdStatsInterval),
    log_stats_interval: formatGoDuration(config.logStatsInterval),
    blocking_command: config.blockingCommand,
    bg_command: config.bgCommand,
    ssh: {
      exe: config.ssh.exe,
      args: config.ssh.args,
      config: config.sshConfig,
    },
    translate_commands: translate,
    environment: Object.fromEntries(
      sortedKeys(config.environment).map((
        name,
      ) => [name, config.environment.get(name)]),
    ),
    service: config.service,
    dest: config.dest,
    route_select: config.routeSelect,
    mode: config.mode,
    force_command: config.forceCommand,
    command_must_match: config.commandMustMatch,
    etcd_keyttl: config.etcdKeyttl,
    max_connections_per_user: config.maxConnectionsPerUser,
    health_check: config.healthCheck,
    clustershell_dir: config.clusterShellDir,
    agent: {
      socket: config.agent.socket,
      metrics: config.agent.metrics,
      timeout: formatGoDuration(config.agent.timeout),
      decision_timeout: formatGoDuration(config.agent.decisionTimeout),
    },
    handoff: config.handoff,
  };
}
