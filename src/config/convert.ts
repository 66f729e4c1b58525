// `sshproxyctl convert`: a v1 configuration file rewritten as v2 (spec §4).
//
// The contract is meaning, not bytes: the file written resolves, for every
// user, group and source, to what the reference's own conversion resolves
// to, it is a valid v2 file, and it reads like one written by hand. So the
// v1 file is read by the v2 engine's own reader (go-yaml v2 semantics for
// duplicate keys and merges, one-line errors with the line), each v1
// section is typed by the v2 settings parser (v1 keys are v2 keys), the
// reference's rules (§4.2) move them into top-level keys and overrides, and
// the `yaml` package writes the result.
//
// Where the reference's Go maps give a random order (non-default routes,
// several names in one `users`/`groups` element), names are taken in
// sorted order so the output is stable.
// @ts-types="yaml"
import { Document, isScalar, visit } from "yaml/esm";
import { formatGoDuration } from "../format/duration.ts";
import { fail, ok, type Result } from "../result.ts";
import {
  describe,
  mapping,
  parseSettings,
  problem,
  quoted,
  readStringList,
  type SettingsPatch,
} from "./settings.ts";
import type { TranslateCommand } from "./types.ts";
import {
  goYamlTags,
  lastEntry,
  type MappingNode,
  parseYamlTree,
  type TreeNode,
} from "./yaml_tree.ts";

// The keys each v1 section has (the reference's configV1, subConfigV1 and
// routeConfigV1); any other key is ignored, as go-yaml ignores unknown
// struct fields.
const TOP_KEYS = [
  "debug",
  "log",
  "check_interval",
  "error_banner",
  "dump",
  "dump_limit_size",
  "dump_limit_window",
  "etcd",
  "etcd_stats_interval",
  "log_stats_interval",
  "bg_command",
  "ssh",
  "translate_commands",
  "environment",
  "max_connections_per_user",
];
const SUB_KEYS = [
  "debug",
  "log",
  "error_banner",
  "dump",
  "dump_limit_size",
  "dump_limit_window",
  "etcd_stats_interval",
  "log_stats_interval",
  "bg_command",
  "translate_commands",
  "environment",
  "max_connections_per_user",
  "ssh",
];
const ROUTE_KEYS = [
  "dest",
  "route_select",
  "mode",
  "force_command",
  "command_must_match",
  "etcd_keyttl",
  "environment",
];

/** A v1 route, typed. */
interface Route {
  name: string;
  source?: string[];
  settings: SettingsPatch;
}

/** One v2 mapping being built, keys in the order they are set. */
type Fields = Map<string, unknown>;

function only(node: MappingNode, keys: readonly string[]): MappingNode {
  return {
    ...node,
    entries: node.entries.filter((entry) => keys.includes(entry.key)),
  };
}

function asMapping(node: TreeNode, key: string): Result<MappingNode | null> {
  if (node.kind === "scalar" && node.tag === "null") return ok(null);
  return mapping(node, key);
}

function settingsOf(
  node: MappingNode | null,
  keys: readonly string[],
): Result<SettingsPatch> {
  if (node === null) return ok({});
  const parsed = parseSettings(only(node, keys), []);
  return parsed.ok ? ok(parsed.value.patch) : parsed;
}

// `route_select: ""` and `mode: ""` are "not set" to the reference (it
// copies a route's value only when non-empty); the settings parser reads
// them as the default, which in an override would be a change.
function unsetWhenEmpty(node: MappingNode, patch: SettingsPatch): void {
  for (
    const [key, field] of [
      ["route_select", "routeSelect"],
      ["mode", "mode"],
    ] as const
  ) {
    const value = lastEntry(node, key)?.value;
    if (value?.kind === "scalar" && value.text === "") delete patch[field];
  }
}

/**
 * A `routes:` mapping given any number of times, as go-yaml fills one Go
 * map of pointers: a route named again replaces the earlier one, a null
 * `routes:` empties the map. Returned sorted by name (see the header).
 */
function parseRoutes(node: MappingNode, where: string): Result<Route[]> {
  const routes = new Map<string, Route>();
  for (const entry of node.entries) {
    if (entry.key !== "routes") continue;
    const section = asMapping(entry.value, `${where}routes`);
    if (!section.ok) return section;
    if (section.value === null) {
      routes.clear();
      continue;
    }
    for (const routeEntry of section.value.entries) {
      const name = routeEntry.key;
      const body = asMapping(routeEntry.value, `${where}routes.${name}`);
      if (!body.ok) return body;
      if (body.value === null) {
        // A nil pointer the reference dereferences and crashes on.
        return fail(
          problem(
            routeEntry.line,
            `${where}routes.${name}`,
            "the route has no value",
            "a mapping with source: and dest: lists",
          ),
        );
      }
      if (name !== "default" && /[/@:]/.test(name)) {
        return fail(
          problem(
            routeEntry.line,
            `${where}routes`,
            `route name ${quoted(name)} contains '/', '@' or ':'`,
            "a name without them: it becomes the override's service",
          ),
        );
      }
      const settings = settingsOf(body.value, ROUTE_KEYS);
      if (!settings.ok) return settings;
      unsetWhenEmpty(body.value, settings.value);
      let source: string[] | undefined;
      for (const field of body.value.entries) {
        if (field.key !== "source") continue;
        if (field.value.kind === "scalar" && field.value.tag === "null") {
          source = undefined;
          continue;
        }
        const list = readStringList(
          field.value,
          `${where}routes.${name}.source`,
        );
        if (!list.ok) return list;
        source = list.value;
      }
      routes.set(name, {
        name,
        source,
        settings: settings.value,
      });
    }
  }
  return ok(
    [...routes.values()].sort((a, b) =>
      a.name < b.name ? -1 : a.name > b.name ? 1 : 0
    ),
  );
}

// What a route brings to the mapping it is merged into (the reference's
// convertRouteToOverride): `dest` as given, the other keys only when set to
// something other than empty, false or 0.
function addRouteKeys(fields: Fields, route: SettingsPatch): void {
  if (route.dest) fields.set("dest", route.dest);
  if (route.routeSelect) fields.set("route_select", route.routeSelect);
  if (route.mode) fields.set("mode", route.mode);
  if (route.forceCommand) fields.set("force_command", route.forceCommand);
  if (route.commandMustMatch) fields.set("command_must_match", true);
  if (route.etcdKeyttl) fields.set("etcd_keyttl", route.etcdKeyttl);
}

// A Map, not an object: a command may be named `__proto__`.
function translateCommands(commands: Map<string, TranslateCommand>): Fields {
  const written: Fields = new Map();
  for (const [command, entry] of commands) {
    const fields: Fields = new Map();
    if (entry.sshArgs.length > 0) fields.set("ssh_args", entry.sshArgs);
    fields.set("command", entry.command);
    if (entry.disableDump) fields.set("disable_dump", true);
    written.set(command, fields);
  }
  return written;
}

// The etcd section as the reference writes it: every key that is set to
// something other than empty or 0 (`mandatory` whenever given).
function etcdSection(patch: SettingsPatch): Fields | undefined {
  const etcd = patch.etcd;
  if (!etcd) return undefined;
  const fields: Fields = new Map();
  if (etcd.endpoints?.length) fields.set("endpoints", etcd.endpoints);
  const tls: Fields = new Map();
  for (const key of ["cafile", "keyfile", "certfile"] as const) {
    if (etcd[key]) tls.set(key, etcd[key]);
  }
  if (tls.size > 0) fields.set("tls", tls);
  if (etcd.username) fields.set("username", etcd.username);
  if (etcd.password) fields.set("password", etcd.password);
  if (etcd.keyttl) fields.set("keyttl", etcd.keyttl);
  if (etcd.mandatory !== undefined) fields.set("mandatory", etcd.mandatory);
  return fields.size > 0 ? fields : undefined;
}

// `ssh` as the reference writes it: `exe` and `args` only when non-empty
// (an empty `args` list is dropped, so it keeps the default or earlier
// arguments, as the reference's output does).
function sshSection(patch: SettingsPatch): Fields | undefined {
  const fields: Fields = new Map();
  if (patch.sshExe) fields.set("exe", patch.sshExe);
  if (patch.sshArgs?.length) fields.set("args", patch.sshArgs);
  return fields.size > 0 ? fields : undefined;
}

/** The settings of the top level or of a `users`/`groups` entry. */
function addSettings(
  fields: Fields,
  patch: SettingsPatch,
  environment: Map<string, string>,
  keep: (value: unknown) => boolean,
): void {
  const add = (key: string, value: unknown) => {
    if (value !== undefined && keep(value)) fields.set(key, value);
  };
  const duration = (value: bigint | undefined) =>
    value === undefined ? undefined : formatGoDuration(value);
  add("debug", patch.debug);
  add("log", patch.log);
  add("check_interval", duration(patch.checkInterval));
  add("error_banner", patch.errorBanner);
  add("dump", patch.dump);
  add("dump_limit_size", patch.dumpLimitSize);
  add("dump_limit_window", duration(patch.dumpLimitWindow));
  add("etcd", etcdSection(patch));
  add("etcd_stats_interval", duration(patch.etcdStatsInterval));
  add("log_stats_interval", duration(patch.logStatsInterval));
  add("bg_command", patch.bgCommand);
  add("ssh", sshSection(patch));
  if (patch.translateCommands?.size) {
    fields.set(
      "translate_commands",
      translateCommands(patch.translateCommands),
    );
  }
  if (environment.size > 0) fields.set("environment", environment);
}

// At top level the reference's typed fields omit zero values, which are
// the defaults anyway; users/groups values are kept whenever given.
const NOT_ZERO = (value: unknown) =>
  value !== false && value !== "" && value !== 0 && value !== 0n &&
  value !== "0s";
const ANY = () => true;

function withEnvironment(
  base: Map<string, string> | undefined,
  route: Route | undefined,
): Map<string, string> {
  const merged = new Map(base ?? []);
  for (const [name, value] of route?.settings.environment ?? []) {
    merged.set(name, value);
  }
  return merged;
}

function routeOverride(
  route: Route,
  match: Record<string, string[]>,
): Fields {
  const fields: Fields = new Map([["match", [match]]]);
  const environment = route.settings.environment ?? new Map();
  if (environment.size > 0) fields.set("environment", environment);
  fields.set("service", route.name);
  addRouteKeys(fields, route.settings);
  return fields;
}

/** §4.2 rules 4 and 5: one `users` or `groups` list. */
function convertSubConfigs(
  root: MappingNode,
  matchWith: "users" | "groups",
): Result<Fields[]> {
  const entry = lastEntry(root, matchWith);
  if (!entry || (entry.value.kind === "scalar" && entry.value.tag === "null")) {
    return ok([]);
  }
  if (entry.value.kind !== "sequence") {
    return fail(
      problem(
        entry.value.line,
        matchWith,
        `${describe(entry.value)} is not a list`,
        `a list of \`- name1,name2: {settings}\` items`,
      ),
    );
  }
  const overrides: Fields[] = [];
  for (const element of entry.value.items) {
    const names = asMapping(element, matchWith);
    if (!names.ok) return names;
    if (names.value === null) continue;
    // One Go map per element: a name given twice keeps the later value.
    const byName = new Map<string, TreeNode>();
    for (const named of names.value.entries) {
      byName.set(named.key, named.value);
    }
    for (const key of [...byName.keys()].sort()) {
      const body = asMapping(byName.get(key)!, `${matchWith}.${key}`);
      if (!body.ok) return body;
      const who = key.split(",");
      const settings = settingsOf(body.value, SUB_KEYS);
      if (!settings.ok) return settings;
      const routes = body.value === null
        ? ok<Route[]>([])
        : parseRoutes(body.value, `${matchWith}.${key}.`);
      if (!routes.ok) return routes;
      const fallback = routes.value.find((route) => route.name === "default");
      const fields: Fields = new Map([["match", [{ [matchWith]: who }]]]);
      addSettings(
        fields,
        settings.value,
        withEnvironment(settings.value.environment, fallback),
        ANY,
      );
      if (fallback) addRouteKeys(fields, fallback.settings);
      if (settings.value.maxConnectionsPerUser !== undefined) {
        fields.set(
          "max_connections_per_user",
          settings.value.maxConnectionsPerUser,
        );
      }
      overrides.push(fields);
      for (const route of routes.value) {
        if (route.name === "default") continue;
        overrides.push(
          routeOverride(route, {
            [matchWith]: who,
            sources: route.source ?? [],
          }),
        );
      }
    }
  }
  return ok(overrides);
}

function convertDocument(root: MappingNode): Result<Fields> {
  const top = settingsOf(root, TOP_KEYS);
  if (!top.ok) return top;
  const routes = parseRoutes(root, "");
  if (!routes.ok) return routes;
  const fallback = routes.value.find((route) => route.name === "default");
  const fields: Fields = new Map();
  addSettings(
    fields,
    top.value,
    withEnvironment(top.value.environment, fallback),
    NOT_ZERO,
  );
  if (fallback) addRouteKeys(fields, fallback.settings);
  if (top.value.maxConnectionsPerUser) {
    fields.set("max_connections_per_user", top.value.maxConnectionsPerUser);
  }
  const overrides: Fields[] = [];
  for (const route of routes.value) {
    if (route.name === "default") continue;
    overrides.push(routeOverride(route, { sources: route.source ?? [] }));
  }
  for (const matchWith of ["groups", "users"] as const) {
    const converted = convertSubConfigs(root, matchWith);
    if (!converted.ok) return converted;
    overrides.push(...converted.value);
  }
  if (overrides.length > 0) fields.set("overrides", overrides);
  return ok(fields);
}

// Written by the `yaml` package with go-yaml's YAML 1.1 tags, so a string
// the reference (or we) would read as a boolean, number or null is quoted;
// lists of plain values in flow style (`dest: [a, b]`), as admins write
// them, unless a value holds a `?`, which go-yaml v2's scanner ends a plain
// scalar at inside brackets (the `yaml` package would leave it plain).
function emit(fields: Fields): string {
  const document = new Document(plain(fields), {
    version: "1.1",
    customTags: goYamlTags,
    // One list object used twice (a match item's names) is written twice,
    // not as an anchor and an alias.
    aliasDuplicateObjects: false,
  });
  visit(document, {
    Seq(_key, node) {
      node.flow = node.items.every((item) =>
        isScalar(item) && !String(item.value).includes("?")
      );
    },
    Scalar(_key, node) {
      if (typeof node.value === "string" && node.value.includes("\n")) {
        node.type = literalBlockFits(node.value)
          ? "BLOCK_LITERAL"
          : "QUOTE_DOUBLE";
      }
    },
  });
  if (fields.size === 0) return "---\n{}\n";
  return "---\n" +
    document.toString({
      lineWidth: 100,
      flowCollectionPadding: false,
      blockQuote: "literal",
    });
}

// A multi-line string is written as a `|` block when it reads back the
// same: the `yaml` package's block scalars lose a line's leading or
// trailing blanks (and its folded ones a more-indented line's break), so
// such text is double-quoted with escapes instead.
function literalBlockFits(text: string): boolean {
  const lines = text.replace(/\n+$/, "").split("\n");
  return !text.startsWith("\n") &&
    lines.every((line) =>
      !/^[ \t]|[ \t]$/.test(line) &&
      // deno-lint-ignore no-control-regex
      !/[\x00-\x08\x0b-\x1f\x7f-\x9f\ufeff\u2028\u2029]/.test(line)
    );
}

// Maps become plain mappings (a JS Map would be written as a YAML 1.1
// `!!omap`); their keys keep the order they were set in.
function plain(value: unknown): unknown {
  if (value instanceof Map) {
    return Object.fromEntries(
      [...value].map(([key, item]) => [key, plain(item)]),
    );
  }
  if (Array.isArray(value)) return value.map(plain);
  return value;
}

/**
 * Converts a v1 configuration text to v2: the whole output of
 * `sshproxyctl convert` (starting with a `---` line), or a one-line error
 * `line N: ...`.
 */
export function convertV1ToV2(yamlText: string): Result<string> {
  const tree = parseYamlTree(yamlText);
  if (!tree.ok) return tree;
  const root = tree.value.root;
  if (root.kind === "scalar" && root.tag === "null") return ok("---\n{}\n");
  if (root.kind !== "mapping") {
    return fail(
      problem(
        root.line,
        "(top level)",
        `${describe(root)} is not a mapping`,
        "`key: value` lines",
      ),
    );
  }
  const converted = convertDocument(root);
  return converted.ok ? ok(emit(converted.value)) : converted;
}
