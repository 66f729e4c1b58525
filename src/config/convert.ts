// `sshproxyctl convert`: a v1 configuration file rewritten as v2 (spec §4).
// The reference decodes the v1 file into Go structs with go-yaml v2, moves
// the pieces into its v2 structs (§4.2 rules 1-5) and marshals those with
// go-yaml v2; the output format (key order, omitted zero values, quoting,
// flow/block styles) is that marshalling. convert_decode.ts and
// convert_emit.ts reproduce the two go-yaml halves; this file holds the v1
// and v2 struct layouts and the conversion rules.
//
// Deliberate difference: where the reference iterates Go maps (non-default
// routes, several keys in one `users`/`groups` element), whose order is
// random, we iterate the names in sorted order so the output is stable.
import { fail, ok, type Result } from "../result.ts";
import { formatGoDuration } from "../format/duration.ts";
import {
  type Desc,
  DStruct,
  type DValue,
  GoMap,
  GoYamlDecoder,
  parseGoYamlTree,
  type StructDesc,
  YamlFatal,
  zeroValue,
} from "./convert_decode.ts";
import {
  emitGoYaml,
  type ENode,
  goString,
  goValue,
  plainScalar,
  sortedEntries,
} from "./convert_emit.ts";

// ---------------------------------------------------------------------------
// v1 layout (the reference's configV1, routeConfigV1, subConfigV1), with Go
// type names as they appear in go-yaml's type errors.

const BOOL: Desc = { k: "bool" };
const STRING: Desc = { k: "string" };
const IFACE: Desc = { k: "iface" };
const INT: Desc = { k: "int", name: "int" };
const INT64: Desc = { k: "int", name: "int64" };
const DURATION: Desc = { k: "int", name: "time.Duration" };
const UINT64: Desc = { k: "uint", name: "uint64" };
const STRINGS: Desc = { k: "slice", name: "[]string", elem: STRING };
const STRING_MAP: Desc = { k: "map", name: "map[string]string", elem: STRING };

function struct(name: string, fields: Record<string, Desc>): StructDesc {
  return { k: "struct", name: `utils.${name}`, fields };
}

const ETCD = struct("EtcdConfig", {
  endpoints: STRINGS,
  tls: struct("etcdTLSConfig", {
    cafile: STRING,
    keyfile: STRING,
    certfile: STRING,
  }),
  username: STRING,
  password: STRING,
  keyttl: INT64,
  mandatory: IFACE,
});

const SSH = struct("sshConfig", { exe: STRING, args: STRINGS });

const TRANSLATE = struct("TranslateCommandConfig", {
  ssh_args: STRINGS,
  command: STRING,
  disable_dump: BOOL,
});

const TRANSLATE_MAP: Desc = {
  k: "map",
  name: "map[string]*utils.TranslateCommandConfig",
  elem: { k: "ptr", name: "*utils.TranslateCommandConfig", elem: TRANSLATE },
};

const ROUTE = struct("routeConfigV1", {
  source: STRINGS,
  dest: STRINGS,
  route_select: STRING,
  mode: STRING,
  force_command: STRING,
  command_must_match: BOOL,
  etcd_keyttl: INT64,
  environment: STRING_MAP,
});

const ROUTE_MAP: Desc = {
  k: "map",
  name: "map[string]*utils.routeConfigV1",
  elem: { k: "ptr", name: "*utils.routeConfigV1", elem: ROUTE },
};

const SUB_CONFIG = struct("subConfigV1", {
  debug: IFACE,
  log: IFACE,
  error_banner: IFACE,
  dump: IFACE,
  dump_limit_size: IFACE,
  dump_limit_window: IFACE,
  etcd_stats_interval: IFACE,
  log_stats_interval: IFACE,
  bg_command: IFACE,
  translate_commands: TRANSLATE_MAP,
  environment: STRING_MAP,
  routes: ROUTE_MAP,
  max_connections_per_user: IFACE,
  ssh: SSH,
});

const SUB_CONFIG_LIST: Desc = {
  k: "slice",
  name: "[]map[string]utils.subConfigV1",
  elem: { k: "map", name: "map[string]utils.subConfigV1", elem: SUB_CONFIG },
};

const CONFIG_V1 = struct("configV1", {
  debug: BOOL,
  log: STRING,
  check_interval: DURATION,
  error_banner: STRING,
  dump: STRING,
  dump_limit_size: UINT64,
  dump_limit_window: DURATION,
  etcd: ETCD,
  etcd_stats_interval: DURATION,
  log_stats_interval: DURATION,
  bg_command: STRING,
  ssh: SSH,
  translate_commands: TRANSLATE_MAP,
  environment: STRING_MAP,
  routes: ROUTE_MAP,
  max_connections_per_user: INT,
  users: SUB_CONFIG_LIST,
  groups: SUB_CONFIG_LIST,
});

// ---------------------------------------------------------------------------
// Typed access to decoded structs (the descriptors guarantee the shapes).

function get(s: DStruct, key: string): DValue {
  return s.fields.get(key) ?? null;
}
function getString(s: DStruct, key: string): string {
  const v = get(s, key);
  return typeof v === "string" ? v : "";
}
function getBool(s: DStruct, key: string): boolean {
  return get(s, key) === true;
}
function getInt(s: DStruct, key: string): bigint {
  const v = get(s, key);
  return typeof v === "bigint" ? v : 0n;
}
function getStrings(s: DStruct, key: string): string[] | null {
  const v = get(s, key);
  return Array.isArray(v) ? v.map((e) => typeof e === "string" ? e : "") : null;
}
function getMap(s: DStruct, key: string): GoMap | null {
  const v = get(s, key);
  return v instanceof GoMap ? v : null;
}
function getStruct(s: DStruct, key: string, desc: StructDesc): DStruct {
  const v = get(s, key);
  return v instanceof DStruct ? v : zeroValue(desc) as DStruct;
}

/** A `map[string]T`'s entries by key, in sorted key order (see header). */
function byName(map: GoMap | null): [string, DValue][] {
  if (map === null) return [];
  const entries: [string, DValue][] = [];
  for (const [key, value] of map.entries.values()) {
    entries.push([typeof key === "string" ? key : "", value]);
  }
  return entries.sort(([a], [b]) => a < b ? -1 : a > b ? 1 : 0);
}

// ---------------------------------------------------------------------------
// v2 layout being built (the reference's Config and subConfig).

/** Top-level keys of the v2 document being built. */
interface TopV2 {
  debug: boolean;
  log: string;
  checkInterval: bigint;
  errorBanner: string;
  dump: string;
  dumpLimitSize: bigint;
  dumpLimitWindow: bigint;
  etcd: DStruct;
  etcdStatsInterval: bigint;
  logStatsInterval: bigint;
  bgCommand: string;
  ssh: DStruct;
  translateCommands: GoMap | null;
  environment: GoMap;
  dest: string[] | null;
  routeSelect: string;
  mode: string;
  forceCommand: string;
  commandMustMatch: boolean;
  etcdKeyttl: bigint;
  maxConnectionsPerUser: bigint;
  overrides: OverrideV2[];
}

/** One override; `null` means an unset interface{} field (omitted). */
interface OverrideV2 {
  match: [string, string[] | null][];
  debug: DValue;
  log: DValue;
  errorBanner: DValue;
  dump: DValue;
  dumpLimitSize: DValue;
  dumpLimitWindow: DValue;
  etcdStatsInterval: DValue;
  logStatsInterval: DValue;
  bgCommand: DValue;
  ssh: DStruct | null;
  translateCommands: GoMap | null;
  environment: GoMap | null;
  service: DValue;
  dest: string[] | null;
  routeSelect: DValue;
  mode: DValue;
  forceCommand: DValue;
  commandMustMatch: DValue;
  etcdKeyttl: DValue;
  maxConnectionsPerUser: DValue;
}

function emptyOverride(match: [string, string[] | null][]): OverrideV2 {
  return {
    match,
    debug: null,
    log: null,
    errorBanner: null,
    dump: null,
    dumpLimitSize: null,
    dumpLimitWindow: null,
    etcdStatsInterval: null,
    logStatsInterval: null,
    bgCommand: null,
    ssh: null,
    translateCommands: null,
    environment: null,
    service: null,
    dest: null,
    routeSelect: null,
    mode: null,
    forceCommand: null,
    commandMustMatch: null,
    etcdKeyttl: null,
    maxConnectionsPerUser: null,
  };
}

/** The route keys copied only when set (convertRouteToOverride). */
interface RouteKeys {
  dest: string[] | null;
  routeSelect: string;
  mode: string;
  forceCommand: string;
  commandMustMatch: boolean;
  etcdKeyttl: bigint;
}

function routeKeys(route: DStruct): RouteKeys {
  return {
    dest: getStrings(route, "dest"),
    routeSelect: getString(route, "route_select"),
    mode: getString(route, "mode"),
    forceCommand: getString(route, "force_command"),
    commandMustMatch: getBool(route, "command_must_match"),
    etcdKeyttl: getInt(route, "etcd_keyttl"),
  };
}

function applyRouteToOverride(target: OverrideV2, keys: RouteKeys): void {
  target.dest = keys.dest;
  if (keys.routeSelect !== "") target.routeSelect = keys.routeSelect;
  if (keys.mode !== "") target.mode = keys.mode;
  if (keys.forceCommand !== "") target.forceCommand = keys.forceCommand;
  if (keys.commandMustMatch) target.commandMustMatch = true;
  if (keys.etcdKeyttl !== 0n) target.etcdKeyttl = keys.etcdKeyttl;
}

/** Merges a route's environment into `target` (route values win). */
function mergeEnvironment(target: GoMap, route: DStruct): void {
  const extra = getMap(route, "environment");
  if (extra === null) return;
  for (const [key, value] of extra.entries.values()) target.set(key, value);
}

class NullRoute extends Error {}

function asRoute(name: string, value: DValue): DStruct {
  // A route written as `name: ~` is a nil pointer: the reference dereferences
  // it and crashes. We report it instead.
  if (!(value instanceof DStruct)) {
    throw new NullRoute(`route '${name}' has no value`);
  }
  return value;
}

function namedRouteOverride(
  name: string,
  route: DStruct,
  match: [string, string[] | null][],
): OverrideV2 {
  const override = emptyOverride(match);
  override.service = name;
  applyRouteToOverride(override, routeKeys(route));
  override.environment = getMap(route, "environment");
  return override;
}

/** §4.2 rules 4 and 5: one `users` or `groups` list. */
function convertSubConfigs(
  overrides: OverrideV2[],
  list: DValue,
  matchWith: "groups" | "users",
): void {
  if (!Array.isArray(list)) return;
  for (const element of list) {
    if (!(element instanceof GoMap)) continue;
    for (const [names, value] of byName(element)) {
      const sub = value instanceof DStruct
        ? value
        : zeroValue(SUB_CONFIG) as DStruct;
      const who = names.split(",");
      const override = emptyOverride([[matchWith, who]]);
      override.debug = get(sub, "debug");
      override.log = get(sub, "log");
      override.errorBanner = get(sub, "error_banner");
      override.dump = get(sub, "dump");
      override.dumpLimitSize = get(sub, "dump_limit_size");
      override.dumpLimitWindow = get(sub, "dump_limit_window");
      override.etcdStatsInterval = get(sub, "etcd_stats_interval");
      override.logStatsInterval = get(sub, "log_stats_interval");
      override.bgCommand = get(sub, "bg_command");
      override.translateCommands = getMap(sub, "translate_commands");
      const environment = getMap(sub, "environment") ?? new GoMap();
      override.environment = environment;
      override.maxConnectionsPerUser = get(sub, "max_connections_per_user");
      const ssh = getStruct(sub, "ssh", SSH);
      const args = getStrings(ssh, "args");
      if (getString(ssh, "exe") !== "" || (args !== null && args.length > 0)) {
        override.ssh = ssh;
      }
      const routes = byName(getMap(sub, "routes"));
      for (const [name, routeValue] of routes) {
        if (name !== "default") continue;
        const route = asRoute(name, routeValue);
        applyRouteToOverride(override, routeKeys(route));
        mergeEnvironment(environment, route);
      }
      overrides.push(override);
      for (const [name, routeValue] of routes) {
        if (name === "default") continue;
        const route = asRoute(name, routeValue);
        // Keys sorted as go-yaml writes map keys: groups < sources < users.
        const match: [string, string[] | null][] = matchWith === "groups"
          ? [["groups", who], ["sources", getStrings(route, "source")]]
          : [["sources", getStrings(route, "source")], ["users", who]];
        overrides.push(namedRouteOverride(name, route, match));
      }
    }
  }
}

function convert(v1: DStruct): TopV2 {
  const top: TopV2 = {
    debug: getBool(v1, "debug"),
    log: getString(v1, "log"),
    checkInterval: getInt(v1, "check_interval"),
    errorBanner: getString(v1, "error_banner"),
    dump: getString(v1, "dump"),
    dumpLimitSize: getInt(v1, "dump_limit_size"),
    dumpLimitWindow: getInt(v1, "dump_limit_window"),
    etcd: getStruct(v1, "etcd", ETCD),
    etcdStatsInterval: getInt(v1, "etcd_stats_interval"),
    logStatsInterval: getInt(v1, "log_stats_interval"),
    bgCommand: getString(v1, "bg_command"),
    ssh: getStruct(v1, "ssh", SSH),
    translateCommands: getMap(v1, "translate_commands"),
    environment: getMap(v1, "environment") ?? new GoMap(),
    dest: null,
    routeSelect: "",
    mode: "",
    forceCommand: "",
    commandMustMatch: false,
    etcdKeyttl: 0n,
    maxConnectionsPerUser: getInt(v1, "max_connections_per_user"),
    overrides: [],
  };
  for (const [name, routeValue] of byName(getMap(v1, "routes"))) {
    const route = asRoute(name, routeValue);
    if (name === "default") {
      const keys = routeKeys(route);
      top.dest = keys.dest;
      if (keys.routeSelect !== "") top.routeSelect = keys.routeSelect;
      if (keys.mode !== "") top.mode = keys.mode;
      if (keys.forceCommand !== "") top.forceCommand = keys.forceCommand;
      if (keys.commandMustMatch) top.commandMustMatch = true;
      if (keys.etcdKeyttl !== 0n) top.etcdKeyttl = keys.etcdKeyttl;
      mergeEnvironment(top.environment, route);
    } else {
      top.overrides.push(
        namedRouteOverride(name, route, [[
          "sources",
          getStrings(route, "source"),
        ]]),
      );
    }
  }
  convertSubConfigs(top.overrides, get(v1, "groups"), "groups");
  convertSubConfigs(top.overrides, get(v1, "users"), "users");
  return top;
}

// ---------------------------------------------------------------------------
// Marshalling the v2 structs: fields in struct order, `omitempty` honoured.

class Fields {
  readonly pairs: [ENode, ENode][] = [];
  add(key: string, value: ENode): void {
    this.pairs.push([goString(key), value]);
  }
  node(): ENode {
    return { t: "map", flow: false, pairs: this.pairs };
  }
}

function stringList(items: string[] | null, flow: boolean): ENode {
  return { t: "seq", flow, items: (items ?? []).map(goString) };
}

function isEmptyList(items: string[] | null): boolean {
  return items === null || items.length === 0;
}

function stringMapNode(map: GoMap): ENode {
  return {
    t: "map",
    flow: false,
    pairs: sortedEntries(map).map(([k, v]) => [goValue(k), goValue(v)]),
  };
}

function translateNode(map: GoMap): ENode {
  const pairs: [ENode, ENode][] = sortedEntries(map).map(([k, v]) => {
    if (!(v instanceof DStruct)) return [goValue(k), plainScalar("null")];
    const entry = new Fields();
    entry.add("ssh_args", stringList(getStrings(v, "ssh_args"), false));
    entry.add("command", goString(getString(v, "command")));
    if (getBool(v, "disable_dump")) {
      entry.add("disable_dump", plainScalar("true"));
    }
    return [goValue(k), entry.node()];
  });
  return { t: "map", flow: false, pairs };
}

function isZeroSsh(ssh: DStruct): boolean {
  return getString(ssh, "exe") === "" && isEmptyList(getStrings(ssh, "args"));
}

function sshNode(ssh: DStruct): ENode {
  const fields = new Fields();
  const exe = getString(ssh, "exe");
  if (exe !== "") fields.add("exe", goString(exe));
  const args = getStrings(ssh, "args");
  if (!isEmptyList(args)) fields.add("args", stringList(args, true));
  return fields.node();
}

function etcdNode(etcd: DStruct): ENode | undefined {
  const endpoints = getStrings(etcd, "endpoints");
  const tls = get(etcd, "tls");
  const tlsFiles = ["cafile", "keyfile", "certfile"].map((key) =>
    tls instanceof DStruct ? getString(tls, key) : ""
  );
  const username = getString(etcd, "username");
  const password = getString(etcd, "password");
  const keyttl = getInt(etcd, "keyttl");
  const mandatory = get(etcd, "mandatory");
  const tlsSet = tlsFiles.some((file) => file !== "");
  if (
    isEmptyList(endpoints) && !tlsSet && username === "" && password === "" &&
    keyttl === 0n && mandatory === null
  ) {
    return undefined;
  }
  const fields = new Fields();
  // No omitempty on endpoints: written even when empty.
  fields.add("endpoints", stringList(endpoints, true));
  if (tlsSet) {
    const tlsFields = new Fields();
    tlsFields.add("cafile", goString(tlsFiles[0]));
    tlsFields.add("keyfile", goString(tlsFiles[1]));
    tlsFields.add("certfile", goString(tlsFiles[2]));
    fields.add("tls", tlsFields.node());
  }
  if (username !== "") fields.add("username", goString(username));
  if (password !== "") fields.add("password", goString(password));
  if (keyttl !== 0n) fields.add("keyttl", plainScalar(keyttl.toString()));
  if (mandatory !== null) fields.add("mandatory", goValue(mandatory));
  return fields.node();
}

function addString(fields: Fields, key: string, value: string): void {
  if (value !== "") fields.add(key, goString(value));
}
function addInt(fields: Fields, key: string, value: bigint): void {
  if (value !== 0n) fields.add(key, plainScalar(value.toString()));
}
function addDuration(fields: Fields, key: string, value: bigint): void {
  if (value !== 0n) fields.add(key, goString(formatGoDuration(value)));
}
function addIface(fields: Fields, key: string, value: DValue): void {
  if (value !== null) fields.add(key, goValue(value));
}

function overrideNode(o: OverrideV2): ENode {
  const fields = new Fields();
  fields.add("match", {
    t: "seq",
    flow: false,
    items: [{
      t: "map",
      flow: false,
      pairs: o.match.map((
        [key, list],
      ) => [goString(key), stringList(list, false)]),
    }],
  });
  addIface(fields, "debug", o.debug);
  addIface(fields, "log", o.log);
  addIface(fields, "error_banner", o.errorBanner);
  addIface(fields, "dump", o.dump);
  addIface(fields, "dump_limit_size", o.dumpLimitSize);
  addIface(fields, "dump_limit_window", o.dumpLimitWindow);
  addIface(fields, "etcd_stats_interval", o.etcdStatsInterval);
  addIface(fields, "log_stats_interval", o.logStatsInterval);
  addIface(fields, "bg_command", o.bgCommand);
  if (o.ssh !== null && !isZeroSsh(o.ssh)) fields.add("ssh", sshNode(o.ssh));
  if (o.translateCommands !== null && o.translateCommands.size > 0) {
    fields.add("translate_commands", translateNode(o.translateCommands));
  }
  if (o.environment !== null && o.environment.size > 0) {
    fields.add("environment", stringMapNode(o.environment));
  }
  addIface(fields, "service", o.service);
  if (!isEmptyList(o.dest)) fields.add("dest", stringList(o.dest, true));
  addIface(fields, "route_select", o.routeSelect);
  addIface(fields, "mode", o.mode);
  addIface(fields, "force_command", o.forceCommand);
  addIface(fields, "command_must_match", o.commandMustMatch);
  addIface(fields, "etcd_keyttl", o.etcdKeyttl);
  addIface(fields, "max_connections_per_user", o.maxConnectionsPerUser);
  return fields.node();
}

function topNode(c: TopV2): ENode {
  const fields = new Fields();
  if (c.debug) fields.add("debug", plainScalar("true"));
  addString(fields, "log", c.log);
  addDuration(fields, "check_interval", c.checkInterval);
  addString(fields, "error_banner", c.errorBanner);
  addString(fields, "dump", c.dump);
  addInt(fields, "dump_limit_size", c.dumpLimitSize);
  addDuration(fields, "dump_limit_window", c.dumpLimitWindow);
  const etcd = etcdNode(c.etcd);
  if (etcd !== undefined) fields.add("etcd", etcd);
  addDuration(fields, "etcd_stats_interval", c.etcdStatsInterval);
  addDuration(fields, "log_stats_interval", c.logStatsInterval);
  addString(fields, "bg_command", c.bgCommand);
  if (!isZeroSsh(c.ssh)) fields.add("ssh", sshNode(c.ssh));
  if (c.translateCommands !== null && c.translateCommands.size > 0) {
    fields.add("translate_commands", translateNode(c.translateCommands));
  }
  if (c.environment.size > 0) {
    fields.add("environment", stringMapNode(c.environment));
  }
  if (!isEmptyList(c.dest)) fields.add("dest", stringList(c.dest, true));
  addString(fields, "route_select", c.routeSelect);
  addString(fields, "mode", c.mode);
  addString(fields, "force_command", c.forceCommand);
  if (c.commandMustMatch) fields.add("command_must_match", plainScalar("true"));
  addInt(fields, "etcd_keyttl", c.etcdKeyttl);
  addInt(fields, "max_connections_per_user", c.maxConnectionsPerUser);
  if (c.overrides.length > 0) {
    fields.add("overrides", {
      t: "seq",
      flow: false,
      items: c.overrides.map(overrideNode),
    });
  }
  return fields.node();
}

/**
 * Converts a v1 configuration text to v2: the whole output of
 * `sshproxyctl convert` (starting with the `---` line), or go-yaml's error.
 */
export function convertV1ToV2(yamlText: string): Result<string> {
  let v1: DStruct;
  try {
    const tree = parseGoYamlTree(yamlText);
    const decoder = new GoYamlDecoder();
    const [, decoded] = tree === null
      ? [true, zeroValue(CONFIG_V1)]
      : decoder.unmarshal(tree, CONFIG_V1, zeroValue(CONFIG_V1));
    if (decoder.typeErrors.length > 0) {
      return fail(
        `yaml: unmarshal errors:\n  ${decoder.typeErrors.join("\n  ")}`,
      );
    }
    v1 = decoded instanceof DStruct ? decoded : zeroValue(CONFIG_V1) as DStruct;
  } catch (error) {
    if (error instanceof YamlFatal) return fail(error.message);
    throw error;
  }
  let v2: TopV2;
  try {
    v2 = convert(v1);
  } catch (error) {
    if (error instanceof NullRoute) return fail(error.message);
    throw error;
  }
  return ok("---\n" + emitGoYaml(topNode(v2)));
}
