// Parsing of one settings mapping (the top level, or one override) into
// typed, validated values. The reference types the top level through
// go-yaml and overrides through unchecked type assertions (which crash);
// here both go through the same checks and give one-line errors with the
// line number (spec §3.1, §3.5, §3.9).
import { type Nanoseconds, parseGoDuration } from "../format/duration.ts";
import { ipLiteralFamily } from "../net/ip_address.ts";
import { fail, ok, type Result } from "../result.ts";
import {
  type AgentSettings,
  type HealthCheck,
  type Mode,
  MODES,
  ROUTE_SELECTS,
  type RouteSelect,
  type TranslateCommand,
} from "./types.ts";
import {
  clip,
  type MappingEntry,
  type MappingNode,
  type TreeNode,
} from "./yaml_document.ts";

/** The etcd keys an override may set; absent keys leave the running value alone. */
export interface EtcdPatch {
  endpoints?: string[];
  cafile?: string;
  keyfile?: string;
  certfile?: string;
  username?: string;
  password?: string;
  keyttl?: number;
  mandatory?: boolean;
}

/** The keys present (non-null) in one settings mapping, typed and validated. */
export interface SettingsPatch {
  debug?: boolean;
  log?: string;
  checkInterval?: Nanoseconds;
  errorBanner?: string;
  dump?: string;
  dumpLimitSize?: bigint;
  dumpLimitWindow?: Nanoseconds;
  etcd?: EtcdPatch;
  etcdStatsInterval?: Nanoseconds;
  logStatsInterval?: Nanoseconds;
  blockingCommand?: string;
  bgCommand?: string;
  sshExe?: string;
  sshArgs?: string[];
  sshConfig?: string;
  translateCommands?: Map<string, TranslateCommand>;
  environment?: Map<string, string>;
  service?: string;
  /** Only set by a non-empty list (the reference's `len(dest) > 0`). */
  dest?: string[];
  /** The line of the `dest` key that set `dest`, for errors. */
  destLine?: number;
  routeSelect?: RouteSelect;
  mode?: Mode;
  forceCommand?: string;
  commandMustMatch?: boolean;
  etcdKeyttl?: number;
  maxConnectionsPerUser?: number;
  healthCheck?: HealthCheck;
  clusterShellDir?: string;
  agent?: Partial<AgentSettings>;
  handoff?: boolean;
}

/**
 * Something about a key worth a warning (never an error, like the
 * reference): an unknown key, a duplicate key replaced by a later one
 * (`shadowedBy`) or merged with it (`mergedInto`), or with `note` another
 * construct (an override that never applies, an ignored second document).
 */
export interface UnknownKey {
  key: string;
  line: number;
  /** For a duplicate key: the line of the next occurrence, which replaces it. */
  shadowedBy?: number;
  /** For a duplicate mapping key: the line of the next occurrence, merged into it. */
  mergedInto?: number;
  /** Replaces the "unknown key" wording. */
  note?: string;
}

/** A parsed settings mapping plus the unknown keys met on the way. */
export interface ParsedSettings {
  patch: SettingsPatch;
  unknownKeys: UnknownKey[];
}

/** Formats an error as `line N: key: problem (expected ...)`. */
export function problem(
  line: number,
  key: string,
  text: string,
  expected?: string,
): string {
  return `line ${line}: ${key}: ${text}${
    expected ? ` (expected ${expected})` : ""
  }`;
}

/** How a value is named in errors: `a list`, `the string "x"`, `10`... */
export function describe(node: TreeNode): string {
  if (node.kind === "sequence") return "a list";
  if (node.kind === "mapping") return "a mapping";
  if (node.tag === "str") return `the string ${quoted(node.text)}`;
  return node.text === "" ? "an empty value" : clip(node.text);
}

/** `text` as a JSON string, shortened if long (values can be huge). */
export function quoted(text: string): string {
  return JSON.stringify(clip(text));
}

function scalarText(node: TreeNode, key: string): Result<string> {
  // A scalar of any type is taken as its source text, as go-yaml does for
  // string fields (`log: 123` is the string "123").
  if (node.kind !== "scalar") {
    return fail(
      problem(node.line, key, `${describe(node)} is not a string`, "a string"),
    );
  }
  return ok(node.text);
}

function boolean(node: TreeNode, key: string): Result<boolean> {
  if (node.kind === "scalar" && node.tag === "bool") {
    return ok(node.value as boolean);
  }
  return fail(
    problem(
      node.line,
      key,
      `${describe(node)} is not a boolean`,
      "true or false",
    ),
  );
}

function integer(node: TreeNode, key: string, minimum: bigint): Result<bigint> {
  if (node.kind === "scalar" && node.tag === "int") {
    const value = node.value as bigint;
    if (value < minimum || value > (1n << 63n) - 1n) {
      return fail(
        problem(
          node.line,
          key,
          `${node.text} is out of range`,
          `an integer >= ${minimum}`,
        ),
      );
    }
    return ok(value);
  }
  return fail(
    problem(
      node.line,
      key,
      `${describe(node)} is not an integer`,
      `an integer >= ${minimum}`,
    ),
  );
}

function smallInteger(node: TreeNode, key: string): Result<number> {
  const parsed = integer(node, key, -(1n << 53n));
  if (!parsed.ok) return parsed;
  if (parsed.value > BigInt(Number.MAX_SAFE_INTEGER)) {
    return fail(
      problem(
        node.line,
        key,
        `${describe(node)} is too large`,
        "a smaller integer",
      ),
    );
  }
  return ok(Number(parsed.value));
}

function duration(
  node: TreeNode,
  key: string,
  negative: "accept" | "refuse",
): Result<Nanoseconds> {
  // The reference reads a bare integer at top level as nanoseconds and
  // refuses it in overrides; 10 ns is never what an admin means, so a
  // non-zero integer is refused everywhere, with the reference's words.
  const expected = `a Go duration string such as "30s" or "2m30s"`;
  if (node.kind === "scalar" && node.tag === "int" && node.value === 0n) {
    return ok(0n);
  }
  if (node.kind !== "scalar" || node.tag !== "str") {
    return fail(
      problem(
        node.line,
        key,
        `${
          node.kind === "scalar" ? clip(node.text) : describe(node)
        } is not a string`,
        expected,
      ),
    );
  }
  const parsed = parseGoDuration(node.text);
  if (!parsed.ok) {
    return fail(problem(node.line, key, clip(parsed.error), expected));
  }
  // A negative `check_interval` means what it means to the reference
  // (every host state is old enough: always re-check). The reference's
  // recorder arms its timers with the other durations, and a negative one
  // fires at once, for ever: a session spinning a CPU core and flooding the
  // log or etcd. Refused (README, "Differences").
  if (parsed.value < 0n && negative === "refuse") {
    return fail(
      problem(
        node.line,
        key,
        `${node.text} is negative`,
        `0 (off) or a positive duration such as "30s"`,
      ),
    );
  }
  return parsed;
}

function stringList(node: TreeNode, key: string): Result<string[]> {
  if (node.kind !== "sequence") {
    return fail(
      problem(
        node.line,
        key,
        `${describe(node)} is not a list`,
        "a list of strings, e.g. [a, b]",
      ),
    );
  }
  const values: string[] = [];
  for (const item of node.items) {
    if (item.kind !== "scalar" || item.tag === "null") {
      return fail(
        problem(
          item.line,
          key,
          `list element ${describe(item)} is not a string`,
          "a list of strings",
        ),
      );
    }
    values.push(item.text);
  }
  return ok(values);
}

/** The node as a mapping, or a problem naming the key and what it holds. */
export function mapping(node: TreeNode, key: string): Result<MappingNode> {
  if (node.kind !== "mapping") {
    return fail(
      problem(
        node.line,
        key,
        `${describe(node)} is not a mapping`,
        "a mapping of keys to values",
      ),
    );
  }
  return ok(node);
}

// An empty string is "unset" for the keys with a default (`service`,
// `route_select`, `mode`): the reference fills in the default after the
// overrides, so `mode: ""` is `sticky` there, not an error.
function oneOf<T extends string>(
  node: TreeNode,
  key: string,
  allowed: readonly T[],
  fallback: T,
): Result<T> {
  const text = scalarText(node, key);
  if (!text.ok) return text;
  if (text.value === "") return ok(fallback);
  if (!(allowed as readonly string[]).includes(text.value)) {
    return fail(
      problem(
        node.line,
        key,
        `invalid value ${quoted(text.value)}`,
        `one of ${allowed.join(", ")}`,
      ),
    );
  }
  return ok(text.value as T);
}

// A file the proxy or its ssh reads on the admin's behalf: a relative path
// would be taken from the session's working directory, the user's home.
// "" means unset.
function absolutePath(node: TreeNode, key: string): Result<string> {
  const text = scalarText(node, key);
  if (!text.ok || text.value === "" || text.value.startsWith("/")) return text;
  return fail(
    problem(
      node.line,
      key,
      `${JSON.stringify(text.value)} is not an absolute path`,
      "a path starting with /",
    ),
  );
}

function isNull(node: TreeNode): boolean {
  return node.kind === "scalar" && node.tag === "null";
}

const NO_SECTIONS: ReadonlySet<string> = new Set();

/**
 * The entries of a mapping in document order, to be applied one after the
 * other as go-yaml v2 (gopkg.in/yaml.v2, v2 branch at 7649d45) decodes them
 * into the reference's structs. decode.go: `mappingStruct` decodes every
 * occurrence of a key into the same struct field, and `mapping` reuses a
 * non-nil map, so a struct or map given twice merges, the keys of the later
 * occurrence winning (a map of pointers, `translate_commands`, gets a new
 * struct per command, so a command given again is replaced whole);
 * `sequence` makes a new slice and `scalar` sets the value, so a list or a
 * scalar given twice is replaced; a null value sets the field's zero value
 * (`scalar`, `resolved == nil`), i.e. "not set". `sections` names the keys
 * whose value is such a struct or map; `known` the keys worth a duplicate
 * warning (unknown keys get their own). Each written (not `<<` merged)
 * repeated key is reported; `prefix` names the mapping in the report
 * (`etcd.`...).
 */
export function inDocumentOrder(
  mapping: MappingNode,
  prefix: string,
  unknown: UnknownKey[],
  sections: ReadonlySet<string> = NO_SECTIONS,
  known?: readonly string[],
): MappingEntry[] {
  const written = mapping.entries.filter((entry) =>
    !entry.merged && (known === undefined || known.includes(entry.key))
  );
  const last = new Map<string, MappingEntry>();
  for (const entry of written) last.set(entry.key, entry);
  const previous = new Map<string, MappingEntry>();
  for (const entry of written) {
    const earlier = previous.get(entry.key);
    previous.set(entry.key, entry);
    if (earlier === undefined) continue;
    const merges = sections.has(entry.key) &&
      earlier.value.kind === "mapping" && entry.value.kind === "mapping";
    unknown.push({
      key: `${prefix}${entry.key}`,
      line: earlier.line,
      ...(merges
        ? { mergedInto: entry.line }
        : { shadowedBy: last.get(entry.key)!.line }),
    });
  }
  return mapping.entries;
}

/** The keys accepted in a settings mapping (top level and overrides). */
export const SETTINGS_KEYS: readonly string[] = [
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
  "blocking_command",
  "bg_command",
  "ssh",
  "translate_commands",
  "environment",
  "service",
  "dest",
  "route_select",
  "mode",
  "force_command",
  "command_must_match",
  "etcd_keyttl",
  "max_connections_per_user",
  "health_check",
  "clustershell_dir",
  "agent",
  "handoff",
];

// `health_check` (our key; the reference ignores it): how a destination is
// tested before it is chosen, always within one second.
//   tcp      (default) a TCP connection is opened and closed, as the
//            reference does;
//   ssh      the destination must also send its SSH identification line
//            (`SSH-2.0-...`), so a host that accepts connections but hangs
//            (frozen sshd, MaxStartups full, dead backend behind a
//            forwarder) is `down`;
//   ssh-kex  a complete SSH key exchange (npm ssh2, loaded only then); no
//            authentication, host key not verified.
// With etcd the result is shared through /sshproxy/hosts/ like the
// reference's TCP check, so gateways with different settings interoperate.
const HEALTH_CHECKS: readonly HealthCheck[] = ["tcp", "ssh", "ssh-kex"];

type Handler = (
  node: TreeNode,
  patch: SettingsPatch,
  unknown: UnknownKey[],
  line: number,
) => Result<void>;

// The patch fields each key sets, cleared when the key is given a null
// value (go-yaml sets the field to its zero value: "not set"). A key with a
// handler must be listed here (HANDLERS is typed by these keys).
const FIELDS = {
  debug: ["debug"],
  log: ["log"],
  check_interval: ["checkInterval"],
  error_banner: ["errorBanner"],
  dump: ["dump"],
  dump_limit_size: ["dumpLimitSize"],
  dump_limit_window: ["dumpLimitWindow"],
  etcd: ["etcd"],
  etcd_stats_interval: ["etcdStatsInterval"],
  log_stats_interval: ["logStatsInterval"],
  blocking_command: ["blockingCommand"],
  bg_command: ["bgCommand"],
  ssh: ["sshExe", "sshArgs", "sshConfig"],
  translate_commands: ["translateCommands"],
  environment: ["environment"],
  service: ["service"],
  dest: ["dest", "destLine"],
  route_select: ["routeSelect"],
  mode: ["mode"],
  force_command: ["forceCommand"],
  command_must_match: ["commandMustMatch"],
  etcd_keyttl: ["etcdKeyttl"],
  max_connections_per_user: ["maxConnectionsPerUser"],
  health_check: ["healthCheck"],
  clustershell_dir: ["clusterShellDir"],
  agent: ["agent"],
  handoff: ["handoff"],
} as const satisfies Record<string, readonly (keyof SettingsPatch)[]>;

// The keys whose value the reference decodes into a struct or a map, which
// a repeated key merges into (top level and overrides alike).
const SECTIONS: ReadonlySet<string> = new Set([
  "etcd",
  "ssh",
  "translate_commands",
  "environment",
  "agent",
]);

const done: Result<void> = ok(undefined);

function assign<T>(result: Result<T>, set: (value: T) => void): Result<void> {
  if (!result.ok) return result;
  set(result.value);
  return done;
}

const ETCD_KEYS = [
  "endpoints",
  "tls",
  "username",
  "password",
  "keyttl",
  "mandatory",
];
const TLS_KEYS = ["cafile", "keyfile", "certfile"] as const;

function parseEtcd(
  node: TreeNode,
  patch: SettingsPatch,
  unknown: UnknownKey[],
): Result<void> {
  const section = mapping(node, "etcd");
  if (!section.ok) return section;
  const etcd: EtcdPatch = patch.etcd ?? {};
  const entries = inDocumentOrder(
    section.value,
    "etcd.",
    unknown,
    new Set(["tls"]),
    ETCD_KEYS,
  );
  for (const entry of entries) {
    const key = `etcd.${entry.key}`;
    if (!ETCD_KEYS.includes(entry.key)) {
      unknown.push({ key, line: entry.line });
      continue;
    }
    if (isNull(entry.value)) {
      const fields = entry.key === "tls" ? TLS_KEYS : [entry.key];
      for (const field of fields) delete etcd[field as keyof EtcdPatch];
      continue;
    }
    let result: Result<void>;
    switch (entry.key) {
      case "endpoints":
        result = assign(
          stringList(entry.value, key),
          (v) => etcd.endpoints = v,
        );
        break;
      case "username":
        result = assign(scalarText(entry.value, key), (v) => etcd.username = v);
        break;
      case "password":
        result = assign(scalarText(entry.value, key), (v) => etcd.password = v);
        break;
      case "keyttl":
        result = assign(
          integer(entry.value, key, 0n),
          (v) => etcd.keyttl = Number(v),
        );
        break;
      case "mandatory":
        result = assign(boolean(entry.value, key), (v) => etcd.mandatory = v);
        break;
      default:
        result = parseTls(entry.value, etcd, unknown);
    }
    if (!result.ok) return result;
  }
  patch.etcd = etcd;
  return done;
}

function parseTls(
  node: TreeNode,
  etcd: EtcdPatch,
  unknown: UnknownKey[],
): Result<void> {
  const tls = mapping(node, "etcd.tls");
  if (!tls.ok) return tls;
  const files = inDocumentOrder(
    tls.value,
    "etcd.tls.",
    unknown,
    NO_SECTIONS,
    TLS_KEYS,
  );
  for (const file of files) {
    const fileKey = `etcd.tls.${file.key}`;
    const name = TLS_KEYS.find((known) => known === file.key);
    if (name === undefined) {
      unknown.push({ key: fileKey, line: file.line });
      continue;
    }
    if (isNull(file.value)) {
      delete etcd[name];
      continue;
    }
    const text = scalarText(file.value, fileKey);
    if (!text.ok) return text;
    etcd[name] = text.value;
  }
  return done;
}

function parseSsh(
  node: TreeNode,
  patch: SettingsPatch,
  unknown: UnknownKey[],
): Result<void> {
  const section = mapping(node, "ssh");
  if (!section.ok) return section;
  const known = ["exe", "args", "config"];
  const entries = inDocumentOrder(
    section.value,
    "ssh.",
    unknown,
    NO_SECTIONS,
    known,
  );
  for (const entry of entries) {
    if (!known.includes(entry.key)) {
      unknown.push({ key: `ssh.${entry.key}`, line: entry.line });
    } else if (isNull(entry.value)) {
      if (entry.key === "exe") delete patch.sshExe;
      else if (entry.key === "config") delete patch.sshConfig;
      else delete patch.sshArgs;
    } else if (entry.key === "exe") {
      const exe = scalarText(entry.value, "ssh.exe");
      if (!exe.ok) return exe;
      patch.sshExe = exe.value;
    } else if (entry.key === "config") {
      const file = absolutePath(entry.value, "ssh.config");
      if (!file.ok) return file;
      patch.sshConfig = file.value;
    } else {
      const args = stringList(entry.value, "ssh.args");
      if (!args.ok) return args;
      patch.sshArgs = args.value;
    }
  }
  return done;
}

const TRANSLATE_KEYS = ["ssh_args", "command", "disable_dump"];

function parseTranslateCommands(
  node: TreeNode,
  patch: SettingsPatch,
  unknown: UnknownKey[],
): Result<void> {
  const section = mapping(node, "translate_commands");
  if (!section.ok) return section;
  const commands = patch.translateCommands ??
    new Map<string, TranslateCommand>();
  // Each command's entry is a new struct (a map of pointers): given twice,
  // the later one replaces the earlier one whole.
  const entries = inDocumentOrder(
    section.value,
    "translate_commands.",
    unknown,
  );
  for (const entry of entries) {
    const key = `translate_commands.${entry.key}`;
    const body = isNull(entry.value)
      ? ok<MappingNode>({ kind: "mapping", entries: [], line: entry.line })
      : mapping(entry.value, key);
    if (!body.ok) return body;
    const translation: TranslateCommand = {
      sshArgs: [],
      command: "",
      disableDump: false,
    };
    const fields = inDocumentOrder(
      body.value,
      `${key}.`,
      unknown,
      NO_SECTIONS,
      TRANSLATE_KEYS,
    );
    for (const field of fields) {
      const fieldKey = `${key}.${field.key}`;
      let result: Result<void>;
      if (!TRANSLATE_KEYS.includes(field.key)) {
        unknown.push({ key: fieldKey, line: field.line });
        result = done;
      } else if (isNull(field.value)) {
        if (field.key === "ssh_args") translation.sshArgs = [];
        else if (field.key === "command") translation.command = "";
        else translation.disableDump = false;
        result = done;
      } else if (field.key === "ssh_args") {
        result = assign(
          stringList(field.value, fieldKey),
          (v) => translation.sshArgs = v,
        );
      } else if (field.key === "command") {
        result = assign(
          scalarText(field.value, fieldKey),
          (v) => translation.command = v,
        );
      } else {
        result = assign(
          boolean(field.value, fieldKey),
          (v) => translation.disableDump = v,
        );
      }
      if (!result.ok) return result;
    }
    commands.set(entry.key, translation);
  }
  patch.translateCommands = commands;
  return done;
}

function parseEnvironment(
  node: TreeNode,
  patch: SettingsPatch,
  unknown: UnknownKey[],
): Result<void> {
  const section = mapping(node, "environment");
  if (!section.ok) return section;
  const environment = patch.environment ?? new Map<string, string>();
  for (const entry of inDocumentOrder(section.value, "environment.", unknown)) {
    const key = `environment.${entry.key}`;
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(entry.key)) {
      return fail(
        problem(
          entry.line,
          clip(key),
          `${quoted(entry.key)} is not a valid variable name`,
          "letters, digits and _",
        ),
      );
    }
    const value = isNull(entry.value) ? ok("") : scalarText(entry.value, key);
    if (!value.ok) return value;
    environment.set(entry.key, value.value);
  }
  patch.environment = environment;
  return done;
}

/**
 * The `agent` section's defaults: no agent, metrics on loopback, 200 ms for
 * the agent's greeting, 2 s for its decision once greeted.
 */
export const AGENT_DEFAULTS: Readonly<AgentSettings> = {
  socket: "",
  metrics: "127.0.0.1:9649",
  timeout: 200_000_000n,
  decisionTimeout: 2_000_000_000n,
};

// A session must never wait long for an optional helper.
const MAX_AGENT_TIMEOUT: Nanoseconds = 10_000_000_000n;

// `agent.metrics`: an IP literal (or localhost) and a port, or "" for none.
// An address without host would listen on every interface: that must be
// written (0.0.0.0, [::]), never implied.
function metricsAddress(node: TreeNode, key: string): Result<string> {
  const text = scalarText(node, key);
  if (!text.ok || text.value === "") return text;
  const expected =
    'an address and port such as "127.0.0.1:9649", or "" for no endpoint';
  const match = /^(?:\[([^\]]*)\]|([^:[\]]*)):(\d{1,5})$/.exec(text.value);
  const host = match?.[1] ?? match?.[2];
  const port = Number(match?.[3]);
  if (host === undefined || !(port >= 1 && port <= 65535)) {
    return fail(
      problem(
        node.line,
        key,
        `${JSON.stringify(text.value)} is not host:port`,
        expected,
      ),
    );
  }
  if (host === "") {
    return fail(
      problem(
        node.line,
        key,
        `${JSON.stringify(text.value)} would listen on every interface`,
        `"0.0.0.0:${port}" or "[::]:${port}" to mean it, or "127.0.0.1:${port}"`,
      ),
    );
  }
  const family = ipLiteralFamily(host);
  if (
    host !== "localhost" &&
    (family === 0 || (family === 6) !== (match?.[1] !== undefined))
  ) {
    return fail(
      problem(
        node.line,
        key,
        `${JSON.stringify(host)} is not an IP address`,
        "an IPv4 address, an IPv6 address in brackets, or localhost",
      ),
    );
  }
  return text;
}

const AGENT_KEYS = [
  "socket",
  "metrics",
  "timeout",
  "decision_timeout",
] as const;

function parseAgent(
  node: TreeNode,
  patch: SettingsPatch,
  unknown: UnknownKey[],
): Result<void> {
  const section = mapping(node, "agent");
  if (!section.ok) return section;
  const agent: Partial<AgentSettings> = patch.agent ?? {};
  const entries = inDocumentOrder(
    section.value,
    "agent.",
    unknown,
    NO_SECTIONS,
    AGENT_KEYS,
  );
  for (const entry of entries) {
    const key = `agent.${entry.key}`;
    const name = AGENT_KEYS.find((known) => known === entry.key);
    if (name === undefined) {
      unknown.push({ key, line: entry.line });
      continue;
    }
    if (isNull(entry.value)) {
      delete agent[name === "decision_timeout" ? "decisionTimeout" : name];
      continue;
    }
    let result: Result<void>;
    if (name === "socket") {
      const text = scalarText(entry.value, key);
      result = text.ok && text.value !== "" && !text.value.startsWith("/")
        ? fail(
          problem(
            entry.value.line,
            key,
            `${JSON.stringify(text.value)} is not an absolute path`,
            'a path such as "/run/sshproxy-agent/agent.sock", or "" for no agent',
          ),
        )
        : assign(text, (v) => agent.socket = v);
    } else if (name === "metrics") {
      result = assign(
        metricsAddress(entry.value, key),
        (v) => agent.metrics = v,
      );
    } else {
      const parsed = duration(entry.value, key, "refuse");
      result = parsed.ok &&
          (parsed.value === 0n || parsed.value > MAX_AGENT_TIMEOUT)
        ? fail(
          problem(
            entry.value.line,
            key,
            `${entry.value.kind === "scalar" ? entry.value.text : ""} is ${
              parsed.value === 0n ? "zero" : "longer than 10s"
            }`,
            'a duration between 1ms and 10s, e.g. "200ms"',
          ),
        )
        : assign(parsed, (v) => {
          if (name === "timeout") agent.timeout = v;
          else agent.decisionTimeout = v;
        });
    }
    if (!result.ok) return result;
  }
  patch.agent = agent;
  return done;
}

const HANDLERS: Record<keyof typeof FIELDS, Handler> = {
  debug: (n, p) => assign(boolean(n, "debug"), (v) => p.debug = v),
  log: (n, p) => assign(scalarText(n, "log"), (v) => p.log = v),
  check_interval: (n, p) =>
    assign(
      duration(n, "check_interval", "accept"),
      (v) => p.checkInterval = v,
    ),
  error_banner: (n, p) =>
    assign(scalarText(n, "error_banner"), (v) => p.errorBanner = v),
  dump: (n, p) => assign(scalarText(n, "dump"), (v) => p.dump = v),
  dump_limit_size: (n, p) =>
    assign(integer(n, "dump_limit_size", 0n), (v) => p.dumpLimitSize = v),
  dump_limit_window: (n, p) =>
    assign(
      duration(n, "dump_limit_window", "refuse"),
      (v) => p.dumpLimitWindow = v,
    ),
  etcd: parseEtcd,
  etcd_stats_interval: (n, p) => {
    const parsed = duration(n, "etcd_stats_interval", "refuse");
    if (parsed.ok && parsed.value > 0n && parsed.value < 1_000_000_000n) {
      // The reference divides by whole seconds and crashes below 1 s.
      return fail(
        problem(
          n.line,
          "etcd_stats_interval",
          `${
            n.kind === "scalar" ? clip(n.text) : ""
          } is shorter than one second`,
          `0 (off) or at least "1s"`,
        ),
      );
    }
    return assign(parsed, (v) => p.etcdStatsInterval = v);
  },
  log_stats_interval: (n, p) =>
    assign(
      duration(n, "log_stats_interval", "refuse"),
      (v) => p.logStatsInterval = v,
    ),
  blocking_command: (n, p) =>
    assign(scalarText(n, "blocking_command"), (v) => p.blockingCommand = v),
  bg_command: (n, p) =>
    assign(scalarText(n, "bg_command"), (v) => p.bgCommand = v),
  ssh: parseSsh,
  translate_commands: parseTranslateCommands,
  environment: parseEnvironment,
  service: (n, p) => {
    const text = scalarText(n, "service");
    if (text.ok && /[/@:]/.test(text.value)) {
      // These characters would corrupt the etcd key layout (spec §6.1).
      return fail(
        problem(
          n.line,
          "service",
          `${quoted(text.value)} contains '/', '@' or ':'`,
          "a name without '/', '@' or ':'",
        ),
      );
    }
    return assign(text, (v) => p.service = v === "" ? "default" : v);
  },
  // An empty list is "not set" in the reference (`len(dest) > 0` in
  // overrides, an empty default at top level), so it clears an earlier
  // `dest` of the same mapping; `[""]` is a non-empty list that expands to
  // no destination at all, and is applied as such.
  dest: (n, p, _unknown, line) => {
    const list = stringList(n, "dest");
    if (!list.ok) return list;
    if (list.value.length === 0) {
      delete p.dest;
      delete p.destLine;
    } else {
      p.dest = list.value;
      p.destLine = line;
    }
    return done;
  },
  route_select: (n, p) =>
    assign(
      oneOf(n, "route_select", ROUTE_SELECTS, "ordered"),
      (v) => p.routeSelect = v,
    ),
  mode: (n, p) => assign(oneOf(n, "mode", MODES, "sticky"), (v) => p.mode = v),
  force_command: (n, p) =>
    assign(scalarText(n, "force_command"), (v) => p.forceCommand = v),
  command_must_match: (n, p) =>
    assign(boolean(n, "command_must_match"), (v) => p.commandMustMatch = v),
  etcd_keyttl: (n, p) =>
    assign(smallInteger(n, "etcd_keyttl"), (v) => p.etcdKeyttl = v),
  max_connections_per_user: (n, p) =>
    assign(
      smallInteger(n, "max_connections_per_user"),
      (v) => p.maxConnectionsPerUser = v,
    ),
  health_check: (n, p) =>
    assign(
      oneOf(n, "health_check", HEALTH_CHECKS, "tcp"),
      (v) => p.healthCheck = v,
    ),
  // Our key: where ClusterShell groups come from (never the environment,
  // which the user controls). Only at top level (resolve.ts checks).
  clustershell_dir: (n, p) =>
    assign(
      absolutePath(n, "clustershell_dir"),
      (v) => p.clusterShellDir = v,
    ),
  // Our section (sshproxy-agent(8)); the reference ignores it.
  agent: parseAgent,
  // Our key (sshproxy(8), HAND-OFF); the reference ignores it.
  handoff: (n, p) => assign(boolean(n, "handoff"), (v) => p.handoff = v),
};

/**
 * Parses the settings keys of a mapping. `skip` names keys handled by the
 * caller (`overrides`, `match`); `nodeset` is the reference's internal key.
 */
export function parseSettings(
  node: MappingNode,
  skip: readonly string[],
): Result<ParsedSettings> {
  const patch: SettingsPatch = {};
  const unknownKeys: UnknownKey[] = [];
  const entries = inDocumentOrder(node, "", unknownKeys, SECTIONS, [
    ...SETTINGS_KEYS,
    ...skip,
  ]);
  for (const entry of entries) {
    if (skip.includes(entry.key) || entry.key === "nodeset") continue;
    const handler = Object.hasOwn(HANDLERS, entry.key)
      ? HANDLERS[entry.key as keyof typeof FIELDS]
      : undefined;
    if (!handler) {
      unknownKeys.push({ key: entry.key, line: entry.line });
      continue;
    }
    if (isNull(entry.value)) {
      const fields = FIELDS[entry.key as keyof typeof FIELDS];
      for (const field of fields) delete patch[field];
      continue;
    }
    const result = handler(entry.value, patch, unknownKeys, entry.line);
    if (!result.ok) return result;
  }
  return ok({ patch, unknownKeys });
}

/** Reads a list of strings (also used for match conditions). */
export function readStringList(node: TreeNode, key: string): Result<string[]> {
  return stringList(node, key);
}
