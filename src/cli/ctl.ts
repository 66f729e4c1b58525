// The `sshproxyctl` face (spec §2.2): Go-style global flags, the command
// tree and its usage errors, `show config`, `convert`, and the commands that
// read and write the shared state in etcd (through src/state, which loads
// the etcd client only for them).
//
// Departures from the reference (spec §12.4): a failed etcd write is
// reported and exits 1; an unknown `forget` subcommand is a usage error;
// the missing-subcommand message of `forget` mentions `persist`; keys that
// do not parse are reported once on stderr and skipped instead of failing
// the listing; `show error_banner` prints on stdout.
import { convertV1ToV2 } from "../config/convert.ts";
import {
  configAsJson,
  configListing,
  groupsListing,
} from "../config/listing.ts";
import {
  DEFAULT_CONFIG_PATH,
  readConfigFile,
  resolveForSession,
} from "../config/load.ts";
import { splitHostPort } from "../config/host_port.ts";
import { describeUnknownKeys } from "../config/unknown_keys.ts";
import {
  formatRfc3339Nano,
  localOffsetMinutes,
  nowNanoseconds,
} from "../format/time.ts";
import { lookupUserByName, unknownUserMessage } from "../system/identity.ts";
import { loadServices } from "../system/network_names.ts";
import { VERSION } from "../version.ts";
import { ctlNeeds, keepOnly } from "./permissions.ts";
import type { Config } from "../config/types.ts";
import { expandNodeset } from "../nodeset/expand.ts";
import { clusterShellGroups } from "../nodeset/clustershell.ts";
// The ESM build of `yaml` (see src/config/yaml_tree.ts), for group files.
// @ts-types="yaml"
import { parse as parseYaml } from "yaml/esm";
import { parseBannerExpire } from "../format/time.ts";
import {
  compareStrings,
  groupRows,
  hostRows,
  userRows,
} from "../state/aggregate.ts";
import {
  computeTargets,
  type Expand,
  selectPersisted,
} from "../state/targets.ts";
import type { OutputFormat } from "../state/show_output.ts";
import type { Problem, StateStore } from "../state/store.ts";
import {
  commandUsage,
  CTL_COMMANDS,
  ERROR_BANNER_FLAGS,
  FORGET_FLAGS,
  GLOBAL_FLAGS,
  hostFlags,
  mainUsage,
  SHOW_FLAGS,
} from "./ctl_usage.ts";
import {
  boolFlag,
  type FlagSpec,
  type ParsedFlags,
  parseGoFlags,
  stringFlag,
} from "./go_flags.ts";
import { printErr, printOut } from "./output.ts";
import { escapeText } from "../log/escape.ts";

const SHOW_SUBCOMMANDS = [
  "connections",
  "hosts",
  "users",
  "groups",
  "error_banner",
  "config",
  "metrics",
];

function shortName(program: string): string {
  return program.split("/").pop() ?? program;
}

function usageError(message: string, usage: string): number {
  printErr(`ERROR: ${message}\n\n${usage}`);
  return 2;
}

// The reference parses a command's flags before and again after its
// subcommand (`show -json hosts` and `show hosts -json` both work). A flag
// error or -h prints the usage and gives the exit status instead.
function parseAroundSubcommand(
  args: string[],
  specs: FlagSpec[],
  usage: string,
): { flags: ParsedFlags; subcommand?: string } | number {
  const before = parseCommandFlags(args, specs, usage);
  if (typeof before === "number") return before;
  const subcommand = before.rest[0];
  if (subcommand === undefined) return { flags: before };
  const after = parseCommandFlags(before.rest.slice(1), specs, usage);
  if (typeof after === "number") return after;
  const values = new Map([...before.values, ...after.values]);
  return { flags: { ...after, values }, subcommand };
}

/** Runs the ctl face; returns the exit status. */
export async function run(args: string[], program: string): Promise<number> {
  // Every face answers -version; the reference's sshproxyctl only has the
  // `version` command, so the flag is accepted without joining the usage.
  if (args[0] === "-version" || args[0] === "--version") {
    printErr(`${program} version ${VERSION}\n`);
    return 0;
  }
  const global = parseGoFlags(args, GLOBAL_FLAGS);
  if (!global.ok) {
    printErr(`${global.error}\n${mainUsage(program)}`);
    return 2;
  }
  if (global.value.helpRequested) {
    printErr(mainUsage(program));
    return 0;
  }
  const configPath = stringFlag(global.value, "c", DEFAULT_CONFIG_PATH);
  const [command, ...rest] = global.value.rest;
  if (command === undefined) {
    return usageError("missing command", mainUsage(program));
  }
  if (!CTL_COMMANDS.some(([name]) => name === command)) {
    return usageError(`unknown command: ${command}`, mainUsage(program));
  }
  if (command !== "show") await keepOnly(ctlNeeds(command, undefined, ""));
  switch (command) {
    case "help": {
      const topic = rest[0];
      if (topic === undefined) {
        printErr(mainUsage(program));
      } else {
        const usage = CTL_COMMANDS.some(([name]) => name === topic)
          ? commandUsage(topic, program)
          : undefined;
        printErr(usage ?? `unknown command: ${topic}\n\n${mainUsage(program)}`);
      }
      return 2;
    }
    case "version":
      printErr(`${program} version ${VERSION}\n`);
      return 0;
    case "convert":
      return await convert(configPath, program);
    case "show":
      return await show(rest, configPath, program);
    case "enable":
    case "disable":
      return await enableDisable(command, rest, configPath, program);
    case "forget":
      return await forget(rest, configPath, program);
    case "error_banner":
      return await errorBanner(rest, configPath, program);
    default:
      return usageError(`unknown command: ${command}`, mainUsage(program));
  }
}

async function convert(configPath: string, program: string): Promise<number> {
  let text: string;
  try {
    text = await Deno.readTextFile(configPath);
  } catch (error) {
    const reason = error instanceof Deno.errors.NotFound
      ? "no such file or directory"
      : String(error);
    return usageError(`open ${configPath}: ${reason}`, mainUsage(program));
  }
  const converted = convertV1ToV2(text);
  if (!converted.ok) return usageError(converted.error, mainUsage(program));
  printOut(converted.value);
  return 0;
}

async function show(
  args: string[],
  configPath: string,
  program: string,
): Promise<number> {
  const usage = commandUsage("show", program)!;
  const parsed = parseAroundSubcommand(args, SHOW_FLAGS, usage);
  if (typeof parsed === "number") return parsed;
  const subcommand = parsed.subcommand;
  if (subcommand === undefined) {
    return usageError(
      "missing 'hosts', 'connections', 'users', 'groups', 'error_banner' or 'config'",
      usage,
    );
  }
  if (!SHOW_SUBCOMMANDS.includes(subcommand)) {
    return usageError(`unknown subcommand: ${subcommand}`, usage);
  }
  await keepOnly(
    ctlNeeds("show", subcommand, stringFlag(parsed.flags, "user")),
  );
  if (subcommand === "config") {
    return await showConfig(parsed.flags, configPath, program);
  }
  if (subcommand === "metrics") return await showMetrics(configPath, program);
  return await showState(subcommand, parsed.flags, configPath, program);
}

// `show metrics` (our addition): the gateway agent's metrics endpoint
// (agent.metrics), read and told in a few lines (src/agent/metrics_summary.ts).
async function showMetrics(
  configPath: string,
  program: string,
): Promise<number> {
  const name = shortName(program);
  const parsed = await readConfigFile(configPath);
  if (!parsed.ok) {
    printErr(`${name}: ${parsed.error}\n`);
    return 1;
  }
  const { topLevelConfig } = await import("../config/resolve.ts");
  const address = topLevelConfig(parsed.value).agent.metrics;
  if (address === "") {
    printErr(
      `${name}: agent.metrics is not set in ${configPath}: the gateway agent serves no metrics\n`,
    );
    return 1;
  }
  const { createDirectHttpClient } = await import(
    "../net/direct_http_client.ts"
  );
  const { transportReason } = await import("../state/etcd_wire.ts");
  const client = createDirectHttpClient({});
  let text: string;
  try {
    const response = await fetch(`http://${address}/metrics`, {
      client,
      signal: AbortSignal.timeout(2000),
    });
    text = await response.text();
    if (response.status !== 200) {
      printErr(
        `${name}: the gateway agent's metrics at ${address} (agent.metrics) answered HTTP status ${response.status}\n`,
      );
      return 1;
    }
  } catch (error) {
    const reason = transportReason(error, 2000);
    printErr(
      reason === "connection refused"
        ? `${name}: the gateway agent is not running: nothing listens on ${address} (agent.metrics in ${configPath})\n`
        : `${name}: cannot read the gateway agent's metrics at ${address} (agent.metrics): ${reason}\n`,
    );
    return 1;
  } finally {
    client.close();
  }
  const { parseExposition, summarizeMetrics } = await import(
    "../agent/metrics_summary.ts"
  );
  const lines = summarizeMetrics(parseExposition(text), Date.now() / 1000);
  printOut(`${lines.join("\n")}\n`);
  return 0;
}

async function showConfig(
  flags: ParsedFlags,
  configPath: string,
  program: string,
): Promise<number> {
  const name = shortName(program);
  const parsed = await readConfigFile(configPath);
  if (!parsed.ok) {
    printErr(`${name}: ${parsed.error}\n`);
    return 1;
  }
  for (const warning of describeUnknownKeys(parsed.value.unknownKeys)) {
    printErr(`${name}: warning: ${configPath}: ${warning}\n`);
  }
  const user = stringFlag(flags, "user");
  const groups = new Set<string>();
  let known = false;
  if (user !== "") {
    const identity = await lookupUserByName(user);
    if (!identity.ok) {
      printErr(`${name}: warning: ${identity.error}\n`);
    } else if (identity.value !== undefined) {
      known = true;
      for (const group of identity.value.groups) groups.add(group);
    }
  }
  for (const group of stringFlag(flags, "groups").split(",")) {
    if (group !== "") groups.add(group);
  }
  const source = stringFlag(flags, "source");
  let sshd;
  if (source !== "") {
    const split = splitHostPort(source, loadServices());
    if (!split.ok) {
      printErr(
        `${name}: -source ${source}: ${split.error} (expected host[:port])\n`,
      );
      return 2;
    }
    sshd = split.value;
  }
  const now = nowNanoseconds();
  const resolved = await resolveForSession(parsed.value, {
    user,
    groups,
    sshd,
    sessionId: "",
    startTime: formatRfc3339Nano(now, localOffsetMinutes(now)),
  });
  if (!resolved.ok) {
    printErr(`${name}: ${configPath}: ${resolved.error}\n`);
    return 1;
  }
  for (const warning of resolved.value.warnings) {
    printErr(`${name}: warning: ${warning}\n`);
  }
  const config = resolved.value.config;
  if (boolFlag(flags, "json")) {
    printOut(
      JSON.stringify({
        user,
        user_known: known,
        groups: [...groups].sort(),
        config: configAsJson(config),
      }) + "\n",
    );
    return 0;
  }
  const lines = [
    `user = ${user}${known ? "" : " (unknown on this system)"}`,
    "nodeset: built-in expander, ClusterShell groups read natively (no libnodeset.so needed)",
    groupsListing(groups),
    ...configListing(config),
  ];
  printOut(lines.join("\n") + "\n");
  return 0;
}

// ---------------------------------------------------------------------------
// Commands that use etcd.

/** Loads the configuration as the reference does (no user, no groups, no source). */
async function loadTopLevelConfig(
  configPath: string,
  name: string,
): Promise<Config | undefined> {
  const parsed = await readConfigFile(configPath);
  if (!parsed.ok) {
    printErr(`${name}: ${parsed.error}\n`);
    return undefined;
  }
  const now = nowNanoseconds();
  const resolved = await resolveForSession(parsed.value, {
    user: "",
    groups: new Set(),
    sshd: undefined,
    sessionId: "",
    startTime: formatRfc3339Nano(now, localOffsetMinutes(now)),
  });
  if (!resolved.ok) {
    printErr(`${name}: ${configPath}: ${resolved.error}\n`);
    return undefined;
  }
  return resolved.value.config;
}

/**
 * Runs `action` with a connected store; configuration and connection
 * failures are one line on stderr and exit 1.
 */
async function withStore(
  configPath: string,
  program: string,
  action: (store: StateStore, config: Config, report: Reporter) => Promise<
    number
  >,
): Promise<number> {
  const name = shortName(program);
  const config = await loadTopLevelConfig(configPath, name);
  if (config === undefined) return 1;
  if (config.etcd.endpoints.length === 0) {
    printErr(
      `${name}: no etcd endpoints configured in ${configPath} (etcd.endpoints)\n`,
    );
    return 1;
  }
  const { StateStore } = await import("../state/store.ts");
  const store = await StateStore.open(config.etcd);
  if (!store.ok) {
    printErr(`${name}: ${store.error}\n`);
    return 1;
  }
  try {
    return await action(store.value, config, new Reporter(name));
  } finally {
    store.value.close();
  }
}

/** Prints each unreadable key once, however many listings meet it. */
class Reporter {
  readonly #name: string;
  readonly #seen = new Set<string>();

  constructor(name: string) {
    this.#name = name;
  }

  problems(problems: readonly Problem[]): void {
    for (const problem of problems) {
      if (this.#seen.has(problem.key)) continue;
      this.#seen.add(problem.key);
      // Keys and values are anyone's with the etcd password.
      printErr(
        `${this.#name}: warning: etcd key ${
          escapeText(`${problem.key}: ${problem.reason}`)
        }${problem.skipped ? " (skipped)" : ""}\n`,
      );
    }
  }

  warning(text: string): void {
    printErr(`${this.#name}: warning: ${escapeText(text)}\n`);
  }
}

function readError(what: string, error: string): number {
  printErr(`ERROR: getting ${what} from etcd: ${escapeText(error)}\n`);
  return 1;
}

// CSV beats JSON for connections, JSON beats CSV elsewhere (spec §2.2.3).
function outputFormat(flags: ParsedFlags, csvFirst: boolean): OutputFormat {
  const csv = boolFlag(flags, "csv");
  const json = boolFlag(flags, "json");
  if (csv && json) return csvFirst ? "csv" : "json";
  return csv ? "csv" : json ? "json" : "table";
}

/**
 * The space-separated, sorted group names of each user, looked up by name
 * on this machine. A user unknown here (deleted since it connected) gets
 * no groups and, once, the reference's own stderr line.
 */
async function groupsOfUsers(
  users: readonly string[],
  report: Reporter,
): Promise<Map<string, string>> {
  const result = new Map<string, string>();
  const unique = [...new Set(users)];
  const problems = new Map<string, string>();
  let next = 0;
  const worker = async () => {
    while (next < unique.length) {
      const user = unique[next++];
      const identity = await lookupUserByName(user);
      if (identity.ok && identity.value !== undefined) {
        result.set(
          user,
          [...new Set(identity.value.groups)].sort(compareStrings).join(" "),
        );
      } else {
        problems.set(user, identity.ok ? "" : identity.error);
        result.set(user, "");
      }
    }
  };
  await Promise.all(
    Array.from({ length: Math.min(8, unique.length) }, worker),
  );
  // In the listing's user order, whichever lookup finished first.
  for (const user of [...problems.keys()].sort(compareStrings)) {
    const error = problems.get(user)!;
    if (error === "") printErr(`${escapeText(unknownUserMessage(user))}\n`);
    else report.warning(error);
  }
  return result;
}

async function showState(
  subcommand: string,
  flags: ParsedFlags,
  configPath: string,
  program: string,
): Promise<number> {
  const all = boolFlag(flags, "all");
  // The table renderer (npm `table`) is only loaded for the listings.
  const {
    renderConnections,
    renderErrorBanner,
    renderGroups,
    renderHosts,
    renderUsers,
  } = await import("../state/show_output.ts");
  return await withStore(configPath, program, async (store, config, report) => {
    switch (subcommand) {
      case "error_banner": {
        const banner = await store.banner();
        if (!banner.ok) return readError("error banner", banner.error);
        printOut(renderErrorBanner(config.errorBanner, banner.value));
        return 0;
      }
      case "connections": {
        const connections = await store.connections();
        if (!connections.ok) return readError("connections", connections.error);
        report.problems(connections.value.problems);
        printOut(renderConnections(connections.value.items, {
          all,
          format: outputFormat(flags, true),
        }));
        return 0;
      }
      case "hosts": {
        const [hosts, connections, history] = await Promise.all([
          store.hosts(),
          store.connections(),
          store.history(),
        ]);
        if (!hosts.ok) return readError("hosts", hosts.error);
        if (!connections.ok) return readError("connections", connections.error);
        if (!history.ok) return readError("history", history.error);
        report.problems(hosts.value.problems);
        report.problems(connections.value.problems);
        report.problems(history.value.problems);
        printOut(renderHosts(
          hostRows(
            hosts.value.items,
            connections.value.items,
            history.value.items,
          ),
          outputFormat(flags, false),
        ));
        return 0;
      }
      default: {
        // users and groups
        const [connections, history] = await Promise.all([
          store.connections(),
          all ? store.history({}, { ttl: true }) : undefined,
        ]);
        if (!connections.ok) return readError("connections", connections.error);
        report.problems(connections.value.problems);
        if (history !== undefined && !history.ok) {
          return readError("history", history.error);
        }
        if (history !== undefined) report.problems(history.value.problems);
        const historyItems = history?.ok ? history.value.items : [];
        const groups = await groupsOfUsers(
          [
            ...connections.value.items.map((c) => c.user),
            ...historyItems.map((h) => h.user),
          ],
          report,
        );
        const users = userRows(connections.value.items, {
          all,
          history: historyItems,
          groupsOf: (user) => groups.get(user) ?? "",
        });
        const format = outputFormat(flags, false);
        printOut(
          subcommand === "users"
            ? renderUsers(users, { all, format })
            : renderGroups(groupRows(users, { all }), { all, format }),
        );
        return 0;
      }
    }
  });
}

/** A nodeset expander; the configuration's ClusterShell groups are read at the first `@`. */
function nodesetExpander(config: Config): Expand {
  const groups = clusterShellGroups(config.clusterShellDir, parseYaml);
  return (text) => expandNodeset(text, groups);
}

function parseCommandFlags(
  args: string[],
  specs: FlagSpec[],
  usage: string,
): ParsedFlags | number {
  const parsed = parseGoFlags(args, specs);
  if (!parsed.ok) {
    printErr(`${parsed.error}\n${usage}`);
    return 2;
  }
  if (parsed.value.helpRequested) {
    printErr(usage);
    return 2;
  }
  return parsed.value;
}

/** `-host`/`-port` targets, or an exit status after reporting the error. */
async function hostTargets(
  store: StateStore,
  config: Config,
  flags: ParsedFlags,
  usage: string,
  report: Reporter,
): Promise<string[] | number> {
  const hosts = await store.hosts();
  if (!hosts.ok) return readError("hosts", hosts.error);
  report.problems(hosts.value.problems);
  const host = flags.values.has("host") ? stringFlag(flags, "host") : undefined;
  const port = flags.values.has("port") ? stringFlag(flags, "port") : undefined;
  const expand = nodesetExpander(config);
  const targets = computeTargets(
    hosts.value.items.map((entry) => entry.hostname),
    { all: boolFlag(flags, "all"), host, port },
    expand,
  );
  if (!targets.ok) return usageError(targets.error, usage);
  return targets.value;
}

function missingAllOrHost(flags: ParsedFlags): boolean {
  return !boolFlag(flags, "all") && stringFlag(flags, "host") === "";
}

async function enableDisable(
  command: "enable" | "disable",
  args: string[],
  configPath: string,
  program: string,
): Promise<number> {
  const usage = commandUsage(command, program)!;
  const flags = parseCommandFlags(args, hostFlags(command), usage);
  if (typeof flags === "number") return flags;
  if (missingAllOrHost(flags)) {
    return usageError("missing '-all' or '-host'", usage);
  }
  return await withStore(
    configPath,
    program,
    async (store, config, report) => {
      const targets = await hostTargets(store, config, flags, usage, report);
      if (typeof targets === "number") return targets;
      const state = command === "enable" ? "up" : "disabled";
      let status = 0;
      for (const target of targets) {
        const written = await store.setHostState(target, state);
        if (!written.ok) {
          printErr(
            `ERROR: ${
              command === "enable" ? "enabling" : "disabling"
            } ${target} in etcd: ${written.error}\n`,
          );
          status = 1;
        }
      }
      return status;
    },
  );
}

const FORGET_SUBCOMMANDS = ["host", "error_banner", "persist"];

async function forget(
  args: string[],
  configPath: string,
  program: string,
): Promise<number> {
  const usage = commandUsage("forget", program)!;
  const parsed = parseAroundSubcommand(args, FORGET_FLAGS, usage);
  if (typeof parsed === "number") return parsed;
  const { flags, subcommand } = parsed;
  if (subcommand === undefined) {
    return usageError("missing 'host', 'error_banner' or 'persist'", usage);
  }
  if (!FORGET_SUBCOMMANDS.includes(subcommand)) {
    return usageError(`unknown subcommand: ${subcommand}`, usage);
  }
  if (subcommand === "host" && missingAllOrHost(flags)) {
    return usageError("missing '-all' or '-host'", usage);
  }
  const filter = {
    user: stringFlag(flags, "user") || undefined,
    service: stringFlag(flags, "service") || undefined,
    host: stringFlag(flags, "host") || undefined,
    port: stringFlag(flags, "port") || undefined,
  };
  if (
    subcommand === "persist" && Object.values(filter).every((v) => !v)
  ) {
    return usageError(
      "missing '-user', '-service', '-host' or '-port'",
      usage,
    );
  }
  return await withStore(
    configPath,
    program,
    async (store, config, report) => {
      if (subcommand === "error_banner") {
        const removed = await store.forgetBanner();
        if (removed.ok) return 0;
        printErr(
          `ERROR: forgetting the error banner in etcd: ${removed.error}\n`,
        );
        return 1;
      }
      if (subcommand === "host") {
        const targets = await hostTargets(
          store,
          config,
          flags,
          usage,
          report,
        );
        if (typeof targets === "number") return targets;
        let status = 0;
        for (const target of targets) {
          const removed = await store.forgetHost(target);
          if (!removed.ok) {
            printErr(`ERROR: forgetting ${target} in etcd: ${removed.error}\n`);
            status = 1;
          }
        }
        return status;
      }
      const history = await store.history(
        filter.user === undefined ? {} : { user: filter.user },
      );
      if (!history.ok) return readError("history", history.error);
      report.problems(history.value.problems);
      const expand = nodesetExpander(config);
      const selected = selectPersisted(history.value.items, filter, expand);
      if (!selected.ok) return usageError(selected.error, usage);
      let status = 0;
      for (const { user, service } of selected.value) {
        const removed = await store.forgetPersisted(user, service);
        if (!removed.ok) {
          printErr(
            `ERROR: forgetting the persisted destination of ${user}@${service} in etcd: ${removed.error}\n`,
          );
          status = 1;
        }
      }
      return status;
    },
  );
}

async function errorBanner(
  args: string[],
  configPath: string,
  program: string,
): Promise<number> {
  const usage = commandUsage("error_banner", program)!;
  const flags = parseCommandFlags(args, ERROR_BANNER_FLAGS, usage);
  if (typeof flags === "number") return flags;
  if (flags.rest.length !== 1) {
    return usageError("wrong number of arguments", usage);
  }
  const message = flags.rest[0];
  const expireText = stringFlag(flags, "expire");
  let expire: bigint | undefined;
  if (expireText !== "") {
    const parsed = parseBannerExpire(expireText);
    if (!parsed.ok) return usageError(parsed.error, usage);
    if (parsed.value <= nowNanoseconds()) {
      return usageError(`${expireText} is in the past!`, usage);
    }
    expire = parsed.value;
  }
  return await withStore(configPath, program, async (store) => {
    const written = message === ""
      ? await store.forgetBanner()
      : await store.setBanner(message, expire);
    if (written.ok) return 0;
    printErr(`ERROR: setting the error banner in etcd: ${written.error}\n`);
    return 1;
  });
}
