// The configuration engine proper (spec §3.3-3.5): parse a v2 document
// once, then compute the effective configuration of one session by
// applying matching overrides in file order, defaults and substitutions.
// Pure: file reading, DNS and /etc/services are passed in.
import type { GroupResolver } from "../nodeset/clustershell.ts";
import { DEFAULT_CLUSTERSHELL_CONFDIR } from "../nodeset/clustershell_dir.ts";
import { expandNodeset } from "../nodeset/expand.ts";
import { fail, ok, type Result } from "../result.ts";
import { joinHostPort, type PortLookup, splitHostPort } from "./host_port.ts";
import {
  type HostResolver,
  type Identity,
  itemMatches,
  type MatchItem,
  type NameBudget,
  overBudget,
  parseMatchList,
  tooLarge,
} from "./match.ts";
import {
  AGENT_DEFAULTS,
  describe,
  parseSettings,
  problem,
  type SettingsPatch,
  type UnknownKey,
} from "./settings.ts";
import type { Config } from "./types.ts";
import {
  clip,
  lastEntry,
  type MappingNode,
  type TreeNode,
  type YamlTree,
} from "./yaml_document.ts";

/** One `overrides` element: its conditions (absent = never applies) and its settings. */
export interface Override {
  line: number;
  match?: MatchItem[];
  patch: SettingsPatch;
}

/** A parsed and validated v2 file, ready to be resolved for any session. */
export interface ParsedConfig {
  top: SettingsPatch;
  overrides: Override[];
  unknownKeys: UnknownKey[];
}

/** What parsing needs from the system. */
export interface ParseDependencies {
  lookupPort: PortLookup;
  groupResolver?: GroupResolver;
  /** Without `groupResolver`: the groups of the file's `clustershell_dir`. */
  groupsIn?: (clusterShellDir: string) => GroupResolver;
}

/**
 * Validates a whole v2 file read into `tree` (config/yaml_read.ts, or
 * yaml_tree.ts's parseYamlTree); every override is checked, matching or
 * not.
 */
export function parseConfigTree(
  tree: YamlTree,
  dependencies: ParseDependencies,
): Result<ParsedConfig> {
  let root: TreeNode = tree.root;
  if (root.kind === "scalar" && root.tag === "null") {
    root = { kind: "mapping", entries: [], line: 1 };
  }
  if (root.kind !== "mapping") {
    return fail(
      problem(
        root.line,
        "(top level)",
        "the document is not a mapping",
        "`key: value` lines",
      ),
    );
  }
  const top = parseSettings(root, ["overrides"]);
  if (!top.ok) return top;
  // The groups are known once the top level has named their directory.
  const expansion: Expansion = {
    ...dependencies,
    groupResolver: dependencies.groupResolver ??
      dependencies.groupsIn?.(
        top.value.patch.clusterShellDir || DEFAULT_CLUSTERSHELL_CONFDIR,
      ),
    namesLeft: MAX_NAMES,
    total: MAX_NAMES,
  };
  const dest = expandDest(top.value.patch, root, expansion);
  if (!dest.ok) return dest;
  const unknownKeys: UnknownKey[] = [
    ...tree.notes.map(({ line, note }) => ({ key: "", line, note })),
    ...top.value.unknownKeys,
  ];
  const overrides: Override[] = [];
  const overridesEntry = lastEntry(root, "overrides");
  if (
    overridesEntry &&
    !(overridesEntry.value.kind === "scalar" &&
      overridesEntry.value.tag === "null")
  ) {
    const list = overridesEntry.value;
    if (list.kind !== "sequence") {
      return fail(
        problem(
          list.line,
          "overrides",
          `${describe(list)} is not a list`,
          "a list of `- match: ...` items",
        ),
      );
    }
    for (const element of list.items) {
      const parsed = parseOverride(element, expansion, unknownKeys);
      if (!parsed.ok) return parsed;
      overrides.push(parsed.value);
    }
  }
  return ok({ top: top.value.patch, overrides, unknownKeys });
}

// Every nodeset of the file (`dest` and `sources`) is expanded when the
// file is read, on every login, at about 2 µs a name: the file as a whole
// may name 100,000 hosts (the reference: any number, and a million names
// in one nodeset), which keeps the worst case near a quarter of a second;
// a larger nodeset is refused before its names are enumerated.
const MAX_NAMES = 100_000;

interface Expansion extends ParseDependencies, NameBudget {}

function parseOverride(
  element: TreeNode,
  dependencies: Expansion,
  unknownKeys: UnknownKey[],
): Result<Override> {
  if (element.kind !== "mapping") {
    return fail(
      problem(
        element.line,
        "overrides",
        `element ${describe(element)} is not a mapping`,
        "`- match: [...]` followed by settings",
      ),
    );
  }
  const settings = parseSettings(element, ["match"]);
  if (!settings.ok) return settings;
  for (const key of settings.value.unknownKeys) {
    unknownKeys.push({ ...key, key: `overrides.${key.key}` });
  }
  const confDir = lastEntry(element, "clustershell_dir");
  if (confDir) {
    // Groups are read once, before any override is known to apply.
    return fail(
      problem(
        confDir.line,
        "clustershell_dir",
        "cannot be set in an override",
        "clustershell_dir only at top level",
      ),
    );
  }
  const nested = lastEntry(element, "overrides");
  if (nested) {
    return fail(
      problem(
        nested.line,
        "overrides",
        "overrides cannot be nested",
        "overrides only at top level",
      ),
    );
  }
  const dest = expandDest(settings.value.patch, element, dependencies);
  if (!dest.ok) return dest;
  const matchEntry = lastEntry(element, "match");
  // No `match`, or an empty one (`match:` / `match: ~`): like the
  // reference, the override never applies; unlike it, the admin is told.
  if (
    !matchEntry ||
    (matchEntry.value.kind === "scalar" && matchEntry.value.tag === "null")
  ) {
    unknownKeys.push({
      key: "overrides",
      line: matchEntry?.line ?? element.line,
      note: matchEntry
        ? "override with an empty `match` never applies"
        : "override without `match` never applies",
    });
    return ok({ line: element.line, patch: settings.value.patch });
  }
  const match = parseMatchList(
    matchEntry.value,
    dependencies.lookupPort,
    dependencies.groupResolver,
    dependencies,
  );
  if (!match.ok) return match;
  if (match.value.length === 0) {
    unknownKeys.push({
      key: "overrides",
      line: matchEntry.line,
      note: "override with an empty `match` never applies",
    });
  }
  return ok({
    line: element.line,
    match: match.value,
    patch: settings.value.patch,
  });
}

// Expanded and normalised at parse time so a bad `dest` anywhere in the
// file is reported at once, with its line, not at the first login it hits.
function expandDest(
  patch: SettingsPatch,
  node: MappingNode,
  dependencies: Expansion,
): Result<void> {
  if (!patch.dest) return ok(undefined);
  const line = patch.destLine ?? node.line;
  const expanded = expandNodeset(
    patch.dest.join(","),
    dependencies.groupResolver,
    dependencies.namesLeft,
  );
  if (tooLarge(expanded)) {
    return fail(
      problem(line, "dest", overBudget(dependencies), "smaller ranges"),
    );
  }
  if (!expanded.ok) {
    return fail(
      problem(
        line,
        "dest",
        `invalid nodeset: ${clip(expanded.error, 200)}`,
        "host[:port] entries or nodesets such as server[1-4]",
      ),
    );
  }
  dependencies.namesLeft -= expanded.value.length;
  const normalised = new Set<string>();
  for (const destination of expanded.value) {
    const split = splitHostPort(destination, dependencies.lookupPort);
    if (!split.ok) {
      return fail(
        problem(
          line,
          "dest",
          `invalid destination '${clip(destination)}': ${clip(split.error)}`,
          "host[:port] with a numeric port or a service name",
        ),
      );
    }
    normalised.add(joinHostPort(split.value.host, split.value.port));
  }
  patch.dest = [...normalised];
  return ok(undefined);
}

/** The session-specific inputs of resolution. */
export interface SessionContext extends Identity {
  sessionId: string;
  /** Session start as RFC3339Nano in the local zone, for `{time}`. */
  startTime: string;
}

/** The resolved configuration plus non-fatal warnings (e.g. unresolvable sources). */
export interface Resolved {
  config: Config;
  warnings: string[];
}

function defaults(): Config {
  return {
    debug: false,
    log: "",
    checkInterval: 0n,
    errorBanner: "",
    dump: "",
    dumpLimitSize: 0n,
    dumpLimitWindow: 0n,
    etcd: {
      endpoints: [],
      tls: { cafile: "", keyfile: "", certfile: "" },
      username: "",
      password: "",
      keyttl: 0,
      mandatory: false,
    },
    etcdStatsInterval: 0n,
    logStatsInterval: 0n,
    blockingCommand: "",
    bgCommand: "",
    ssh: { exe: "ssh", args: ["-q", "-Y"] },
    translateCommands: new Map(),
    environment: new Map(),
    service: "default",
    dest: [],
    routeSelect: "ordered",
    mode: "sticky",
    forceCommand: "",
    commandMustMatch: false,
    etcdKeyttl: 0,
    maxConnectionsPerUser: 0,
    healthCheck: "tcp",
    sshConfig: "",
    clusterShellDir: DEFAULT_CLUSTERSHELL_CONFDIR,
    agent: { ...AGENT_DEFAULTS },
    handoff: false,
  };
}

/** Applies one settings patch with the merge rules of spec §3.5. */
export function applyPatch(config: Config, patch: SettingsPatch): void {
  if (patch.debug !== undefined) config.debug = patch.debug;
  if (patch.log !== undefined) config.log = patch.log;
  if (patch.checkInterval !== undefined) {
    config.checkInterval = patch.checkInterval;
  }
  if (patch.errorBanner !== undefined) config.errorBanner = patch.errorBanner;
  if (patch.dump !== undefined) config.dump = patch.dump;
  if (patch.dumpLimitSize !== undefined) {
    config.dumpLimitSize = patch.dumpLimitSize;
  }
  if (patch.dumpLimitWindow !== undefined) {
    config.dumpLimitWindow = patch.dumpLimitWindow;
  }
  if (patch.etcdStatsInterval !== undefined) {
    config.etcdStatsInterval = patch.etcdStatsInterval;
  }
  if (patch.logStatsInterval !== undefined) {
    config.logStatsInterval = patch.logStatsInterval;
  }
  if (patch.blockingCommand !== undefined) {
    config.blockingCommand = patch.blockingCommand;
  }
  if (patch.bgCommand !== undefined) config.bgCommand = patch.bgCommand;
  if (patch.service !== undefined) config.service = patch.service;
  if (patch.routeSelect !== undefined) config.routeSelect = patch.routeSelect;
  if (patch.mode !== undefined) config.mode = patch.mode;
  if (patch.forceCommand !== undefined) {
    config.forceCommand = patch.forceCommand;
  }
  if (patch.commandMustMatch !== undefined) {
    config.commandMustMatch = patch.commandMustMatch;
  }
  if (patch.etcdKeyttl !== undefined) config.etcdKeyttl = patch.etcdKeyttl;
  if (patch.maxConnectionsPerUser !== undefined) {
    config.maxConnectionsPerUser = patch.maxConnectionsPerUser;
  }
  if (patch.healthCheck !== undefined) config.healthCheck = patch.healthCheck;
  if (patch.sshConfig !== undefined) config.sshConfig = patch.sshConfig;
  if (patch.clusterShellDir) config.clusterShellDir = patch.clusterShellDir;
  if (patch.agent !== undefined) {
    config.agent = { ...config.agent, ...patch.agent };
  }
  if (patch.handoff !== undefined) config.handoff = patch.handoff;
  // Kept from the reference so existing files mean the same: an empty
  // `dest` list (never in a patch, see settings.ts), an empty `ssh.exe` and
  // empty/zero etcd values do not clear; `dest: [""]` does.
  if (patch.dest !== undefined) config.dest = [...patch.dest];
  if (patch.sshExe !== undefined && patch.sshExe !== "") {
    config.ssh.exe = patch.sshExe;
  }
  if (patch.sshArgs !== undefined) config.ssh.args = [...patch.sshArgs];
  for (const [name, value] of patch.environment ?? []) {
    config.environment.set(name, value);
  }
  for (const [command, entry] of patch.translateCommands ?? []) {
    config.translateCommands.set(command, {
      ...entry,
      sshArgs: [...entry.sshArgs],
    });
  }
  const etcd = patch.etcd;
  if (etcd) {
    if (etcd.endpoints !== undefined) {
      config.etcd.endpoints = [...etcd.endpoints];
    }
    if (etcd.cafile) config.etcd.tls.cafile = etcd.cafile;
    if (etcd.keyfile) config.etcd.tls.keyfile = etcd.keyfile;
    if (etcd.certfile) config.etcd.tls.certfile = etcd.certfile;
    if (etcd.username) config.etcd.username = etcd.username;
    if (etcd.password) config.etcd.password = etcd.password;
    if (etcd.keyttl) config.etcd.keyttl = etcd.keyttl;
    if (etcd.mandatory !== undefined) config.etcd.mandatory = etcd.mandatory;
  }
}

/**
 * The top-level settings alone, without any override or substitution:
 * what a gateway-wide process (the agent) configures itself with.
 */
export function topLevelConfig(parsed: ParsedConfig): Config {
  const config = defaults();
  applyPatch(config, parsed.top);
  return config;
}

/** Computes the effective configuration of one session (spec §3.3). */
export async function resolveConfig(
  parsed: ParsedConfig,
  context: SessionContext,
  resolveHost: HostResolver,
): Promise<Result<Resolved>> {
  const config = defaults();
  const warnings: string[] = [];
  applyPatch(config, parsed.top);
  for (const override of parsed.overrides) {
    for (const item of override.match ?? []) {
      const outcome = await itemMatches(item, context, resolveHost);
      warnings.push(...outcome.warnings);
      if (outcome.matched) {
        applyPatch(config, override.patch);
        break;
      }
    }
  }
  // One pass with replacement functions: a `$&` or `$1` in a user name
  // (AD machine accounts end in `$`) is text, not a replacement pattern,
  // and a value that contains a pattern is not substituted again.
  const values: Record<string, string> = {
    user: context.user,
    sid: context.sessionId,
    time: context.startTime,
  };
  const userOnly = /\{(user)\}/g;
  const all = /\{(user|sid|time)\}/g;
  const substitute = (text: string, patterns: RegExp) =>
    text.replace(patterns, (_match, name: string) => values[name]);
  config.log = substitute(config.log, userOnly);
  for (const [name, value] of config.environment) {
    config.environment.set(name, substitute(value, userOnly));
  }
  config.dump = substitute(config.dump, all);
  return ok({ config, warnings });
}
