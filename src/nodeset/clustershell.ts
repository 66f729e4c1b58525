import { fail, ok, type Result } from "../result.ts";
import { DEFAULT_CLUSTERSHELL_CONFDIR } from "./clustershell_dir.ts";

/**
 * The `yaml` package's parse (the ESM build, see src/config/yaml_tree.ts),
 * passed in: a login loads the package only when its file names a group
 * (src/config/load.ts).
 */
export type YamlParse = (
  text: string,
  options: { mapAsMap: boolean; uniqueKeys: boolean; logLevel: "error" },
) => unknown;

/** Looks up a ClusterShell group: `source` undefined means the default source. */
export interface GroupResolver {
  /** Returns the group's nodeset text (which may reference other groups). */
  resolve(source: string | undefined, name: string): Result<string>;
}

/** Group sources from YAML files: source name → group name → nodeset text. */
export type GroupSources = Map<string, Map<string, string>>;

/** What we use of ClusterShell's groups.conf (or of a groups.conf.d/*.conf part). */
export interface GroupsConf {
  /** `[Main] default`, the source of unprefixed `@group` references. */
  defaultSource: string | undefined;
  /** `[Main] autodir` entries (YAML directories), `$CFGDIR` unsubstituted. */
  autodirs: string[] | undefined;
  /** `[Main] groupsdir` or `confdir` entries (*.conf directories). */
  confdirs: string[] | undefined;
  /** Sources defined by sections, in file order: they run external commands. */
  upcallSources: string[];
}

/** Options of {@link createGroupResolver}. */
export interface GroupResolverOptions {
  /** Source used by `@group`; without one, only `@source:group` resolves. */
  defaultSource?: string;
  /** Sources known to exist but defined by external commands we don't run. */
  upcallSources?: readonly string[];
}

/** The `yaml` package's parse, loaded now (a part of the program of its own). */
export async function loadYamlParse(): Promise<YamlParse> {
  const yaml = await import("yaml/esm") as unknown as { parse: YamlParse };
  return yaml.parse;
}

export { DEFAULT_CLUSTERSHELL_CONFDIR };

/**
 * The groups of the ClusterShell configuration in `confDir`, loaded at the
 * first group reference (a file without `@` reads nothing), their YAML
 * files read with `parseYaml`. A directory that cannot be loaded makes
 * every reference fail with the reason.
 */
export function clusterShellGroups(
  confDir: string,
  parseYaml: YamlParse | undefined,
): GroupResolver {
  let loaded: Result<GroupResolver> | undefined;
  return {
    resolve(source, name) {
      loaded ??= parseYaml === undefined
        ? fail("no YAML reader for the group files (a reference without @?)")
        : loadClusterShellGroups(confDir, parseYaml);
      if (!loaded.ok) {
        return fail(`ClusterShell groups unavailable: ${loaded.error}`);
      }
      return loaded.value.resolve(source, name);
    },
  };
}

/** Parses groups.conf (Python ConfigParser syntax) into what we use of it. */
export function parseGroupsConf(text: string): Result<GroupsConf> {
  const ini = parseIni(text);
  if (!ini.ok) return ini;
  const main = ini.value.get("Main");
  const upcallSources: string[] = [];
  for (const section of ini.value.keys()) {
    // ClusterShell allows one section to define several sources: `[a,b]`.
    for (const name of section.split(",")) {
      if (name !== "Main" && !upcallSources.includes(name)) {
        upcallSources.push(name);
      }
    }
  }
  const dirs = (key: string) => {
    const value = main?.get(key);
    return value === undefined ? undefined : splitDirList(value);
  };
  const defaultSource = main?.get("default")?.trim();
  return ok({
    defaultSource: defaultSource ? defaultSource : undefined,
    autodirs: dirs("autodir"),
    // `groupsdir` is the older name and wins, as in ClusterShell.
    confdirs: dirs("groupsdir") ?? dirs("confdir"),
    upcallSources,
  });
}

/** Parses one groups.d/*.yaml file: a mapping source → {group: nodeset}. */
export function parseGroupsYaml(
  text: string,
  parseYaml: YamlParse,
): Result<GroupSources> {
  let doc: unknown;
  try {
    // mapAsMap keeps the file's order (the first source can become the
    // default) and non-string keys detectable; duplicate keys are accepted,
    // the last one winning, as PyYAML does for ClusterShell.
    // logLevel "error": a library must not write warnings to stderr.
    doc = parseYaml(text, {
      mapAsMap: true,
      uniqueKeys: false,
      logLevel: "error",
    });
  } catch (e) {
    const message = e instanceof Error ? e.message : String(e);
    return fail(message.split("\n")[0]);
  }
  const sources: GroupSources = new Map();
  // ClusterShell rejects an empty file; nothing is lost by accepting it.
  if (doc === null || doc === undefined) return ok(sources);
  if (!(doc instanceof Map)) {
    return fail("invalid content (base is not a dict)");
  }
  for (const [source, groups] of doc) {
    if (typeof source !== "string") {
      return fail(`group source ${String(source)} not a string (add quotes?)`);
    }
    if (!(groups instanceof Map)) {
      return fail(`invalid content (group source '${source}' is not a dict)`);
    }
    const parsed = new Map<string, string>();
    for (const [group, nodes] of groups) {
      if (typeof group !== "string") {
        return fail(
          `${source}: group name ${String(group)} not a string (add quotes?)`,
        );
      }
      const value = nodesetText(nodes);
      if (value === undefined) {
        return fail(
          `${source}: group '${group}' must be a nodeset string or a list of them`,
        );
      }
      parsed.set(group, value);
    }
    sources.set(source, parsed);
  }
  return ok(sources);
}

// ClusterShell reads a group's value as whitespace-separated nodesets (a
// list is joined with commas first, null is the empty group); we return one
// comma-separated nodeset because our expander drops whitespace.
function nodesetText(nodes: unknown): string | undefined {
  if (nodes === null) return "";
  if (typeof nodes === "string") {
    return nodes.split(/\s+/).filter((part) => part !== "").join(",");
  }
  if (Array.isArray(nodes)) {
    const parts: string[] = [];
    for (const element of nodes) {
      if (typeof element !== "string") return undefined;
      const text = nodesetText(element);
      if (text) parts.push(text);
    }
    return parts.join(",");
  }
  return undefined;
}

/** Builds a resolver over in-memory group sources. */
export function createGroupResolver(
  sources: GroupSources,
  options: GroupResolverOptions = {},
): GroupResolver {
  const upcalls = new Set(options.upcallSources ?? []);
  return {
    resolve(source: string | undefined, name: string): Result<string> {
      const label = source === undefined ? `@${name}` : `@${source}:${name}`;
      const sourceName = source ?? options.defaultSource;
      if (sourceName === undefined) {
        return fail(`unknown group '${label}' (no default group source)`);
      }
      const groups = sources.get(sourceName);
      if (groups === undefined) {
        if (upcalls.has(sourceName)) {
          return fail(
            `cannot resolve '${label}': group source '${sourceName}' runs ` +
              `external commands, which are not supported (use a YAML file ` +
              `in groups.d)`,
          );
        }
        return fail(`unknown group source '${sourceName}' in '${label}'`);
      }
      // `@*` is every node of the source; file sources keep it in `all`.
      if (name === "*") {
        const all = groups.get("all");
        return all === undefined
          ? fail(`unknown group '${label}' (no 'all' group in '${sourceName}')`)
          : ok(all);
      }
      const value = groups.get(name);
      return value === undefined ? fail(`unknown group '${label}'`) : ok(value);
    },
  };
}

/**
 * Loads `<confDir>/groups.conf` (optional) and the YAML group files of its
 * autodirs (default `<confDir>/groups.d`).
 */
export function loadClusterShellGroups(
  confDir: string,
  parseYaml: YamlParse,
): Result<GroupResolver> {
  // Only this one directory is read, named by the configuration file
  // (`clustershell_dir`), unlike ClusterShell's search path
  // ($XDG_CONFIG_HOME, ~/.local/etc, $CLUSTERSHELL_CFGDIR) and never from
  // the environment: sshproxy runs as the connecting user, who must not be
  // able to redefine routing groups. Reads are synchronous because the
  // configuration parser that needs the groups is.
  const confPath = `${confDir}/groups.conf`;
  const confText = readOptional(confPath);
  if (!confText.ok) return confText;
  let conf: GroupsConf = {
    defaultSource: undefined,
    autodirs: undefined,
    confdirs: undefined,
    upcallSources: [],
  };
  if (confText.value !== undefined) {
    const parsed = parseGroupsConf(confText.value);
    if (!parsed.ok) return fail(`${confPath}: ${parsed.error}`);
    conf = parsed.value;
  }

  // Source name → directory that defined it; insertion order is
  // ClusterShell's load order, which picks the default source when none is
  // configured. A redefinition from another directory overrides, one from
  // the same directory is an error, as in ClusterShell.
  const origins = new Map<string, string>();
  const yamlSources: GroupSources = new Map();
  const add = (name: string, origin: string): Result<void> => {
    if (origins.get(name) === origin) {
      return fail(`GroupSource '${name}': name collision in ${origin}`);
    }
    origins.set(name, origin);
    yamlSources.delete(name);
    return ok(undefined);
  };

  // Sections of groups.conf and of confdir *.conf files define sources by
  // external commands (`map: sed ...`); running admin-supplied shell
  // commands on every login is out of scope, so we only record their names
  // to choose the default source as ClusterShell does and to explain why
  // such a group cannot be resolved.
  for (const name of conf.upcallSources) {
    const added = add(name, confDir);
    if (!added.ok) return added;
  }
  const expandDir = (dir: string) =>
    dir.replaceAll("${CFGDIR}", confDir).replaceAll("$CFGDIR", confDir);

  for (const dir of (conf.confdirs ?? []).map(expandDir)) {
    const files = listFiles(dir, ".conf", "confdir");
    if (!files.ok) return files;
    for (const file of files.value) {
      const text = readOptional(file);
      if (!text.ok) return text;
      if (text.value === undefined) continue;
      const part = parseGroupsConf(text.value);
      if (!part.ok) return fail(`${file}: ${part.error}`);
      for (const name of part.value.upcallSources) {
        const added = add(name, dir);
        if (!added.ok) return added;
      }
    }
  }

  const autodirs = conf.autodirs ?? [`${confDir}/groups.d`];
  for (const dir of autodirs.map(expandDir)) {
    const files = listFiles(dir, ".yaml", "autodir");
    if (!files.ok) return files;
    for (const file of files.value) {
      const text = readOptional(file);
      if (!text.ok) return text;
      if (text.value === undefined) continue;
      const parsed = parseGroupsYaml(text.value, parseYaml);
      if (!parsed.ok) return fail(`${file}: ${parsed.error}`);
      for (const [name, groups] of parsed.value) {
        const added = add(name, dir);
        if (!added.ok) return fail(`${file}: ${added.error}`);
        yamlSources.set(name, groups);
      }
    }
  }

  const defaultSource = conf.defaultSource ?? origins.keys().next().value;
  if (conf.defaultSource !== undefined && !origins.has(conf.defaultSource)) {
    return fail(
      `${confPath}: Default group source not found: "${conf.defaultSource}"`,
    );
  }
  const upcallSources = [...origins.keys()].filter((n) => !yamlSources.has(n));
  return ok(createGroupResolver(yamlSources, { defaultSource, upcallSources }));
}

// A missing or unreadable file is skipped (undefined), as ClusterShell skips
// group files it may not read; any other failure is reported.
function readOptional(path: string): Result<string | undefined> {
  try {
    return ok(Deno.readTextFileSync(path));
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return ok(undefined);
    if (e instanceof Deno.errors.PermissionDenied) return ok(undefined);
    return fail(`${path}: ${e instanceof Error ? e.message : String(e)}`);
  }
}

// Files of `dir` ending in `suffix`, sorted like ClusterShell's glob; a
// missing directory is fine (the stock config lists optional ones).
function listFiles(
  dir: string,
  suffix: string,
  option: string,
): Result<string[]> {
  try {
    const info = Deno.statSync(dir);
    if (!info.isDirectory) {
      return fail(`Defined ${option} ${dir} is not a directory`);
    }
    const names: string[] = [];
    for (const entry of Deno.readDirSync(dir)) {
      // Like a shell glob, `*` skips dot files (editor leftovers).
      const hidden = entry.name.startsWith(".");
      if (!hidden && entry.name.endsWith(suffix) && !entry.isDirectory) {
        names.push(entry.name);
      }
    }
    names.sort();
    return ok(names.map((name) => `${dir}/${name}`));
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return ok([]);
    return fail(`${dir}: ${e instanceof Error ? e.message : String(e)}`);
  }
}

// The subset of Python's ConfigParser that groups.conf files use: sections,
// `key = value` / `key: value`, `#` and `;` comment lines, indented
// continuation lines, keys case-insensitive.
function parseIni(text: string): Result<Map<string, Map<string, string>>> {
  const sections = new Map<string, Map<string, string>>();
  let current: Map<string, string> | undefined;
  let lastKey: string | undefined;
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i];
    const trimmed = line.trim();
    if (trimmed === "") {
      lastKey = undefined;
      continue;
    }
    if (trimmed.startsWith("#") || trimmed.startsWith(";")) continue;
    if (/^\s/.test(line) && current && lastKey !== undefined) {
      current.set(lastKey, `${current.get(lastKey)}\n${trimmed}`);
      continue;
    }
    const header = /^\[(.+)\]/.exec(line);
    if (header) {
      // Python merges a repeated section (strict mode would refuse it).
      current = sections.get(header[1]) ?? new Map<string, string>();
      sections.set(header[1], current);
      lastKey = undefined;
      continue;
    }
    const option = /^([^=:]+?)\s*[=:]\s*(.*)$/.exec(trimmed);
    if (!option) return fail(`line ${i + 1}: cannot parse '${trimmed}'`);
    if (!current) return fail(`line ${i + 1}: option outside of a section`);
    lastKey = option[1].toLowerCase();
    current.set(lastKey, option[2]);
  }
  sections.delete("DEFAULT");
  return ok(sections);
}

// ClusterShell splits directory lists like a shell (shlex): whitespace
// separates, quotes group.
function splitDirList(value: string): string[] {
  const dirs: string[] = [];
  for (const match of value.matchAll(/"([^"]*)"|'([^']*)'|(\S+)/g)) {
    dirs.push(match[1] ?? match[2] ?? match[3]);
  }
  return dirs;
}
