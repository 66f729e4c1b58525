// The `sshproxyctl` face (spec §2.2): Go-style global flags, the command
// tree and its usage errors, `show config` and `convert`. Commands that
// read or write etcd arrive with the state layer (its own issue).
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
import { lookupIdentity } from "../system/identity.ts";
import { loadServices } from "../system/network_names.ts";
import { VERSION } from "../version.ts";
import {
  commandUsage,
  CTL_COMMANDS,
  GLOBAL_FLAGS,
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

const SHOW_SUBCOMMANDS = [
  "connections",
  "hosts",
  "users",
  "groups",
  "error_banner",
  "config",
];

function shortName(program: string): string {
  return program.split("/").pop() ?? program;
}

function usageError(message: string, usage: string): number {
  printErr(`ERROR: ${message}\n\n${usage}`);
  return 2;
}

// The reference parses a command's flags before and again after its
// subcommand (`show -json hosts` and `show hosts -json` both work).
function parseAroundSubcommand(
  args: string[],
  specs: FlagSpec[],
): { flags: ParsedFlags; subcommand?: string } | { error: string } {
  const before = parseGoFlags(args, specs);
  if (!before.ok) return { error: before.error };
  const subcommand = before.value.rest[0];
  if (subcommand === undefined) return { flags: before.value };
  const after = parseGoFlags(before.value.rest.slice(1), specs);
  if (!after.ok) return { error: after.error };
  const values = new Map([...before.value.values, ...after.value.values]);
  return {
    flags: {
      values,
      rest: after.value.rest,
      helpRequested: after.value.helpRequested,
    },
    subcommand,
  };
}

/** Runs the ctl face; returns the exit status. */
export async function run(args: string[], program: string): Promise<number> {
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
    default:
      return notYetAvailable(program, command);
  }
}

function notYetAvailable(program: string, command: string): number {
  printErr(
    `${
      shortName(program)
    }: ${command} needs the etcd state layer, which this version does not include yet\n`,
  );
  return 1;
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
  const parsed = parseAroundSubcommand(args, SHOW_FLAGS);
  if ("error" in parsed) {
    printErr(`${parsed.error}\n${usage}`);
    return 2;
  }
  if (parsed.flags.helpRequested) {
    printErr(usage);
    return 2;
  }
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
  if (subcommand !== "config") {
    return notYetAvailable(program, `show ${subcommand}`);
  }
  return await showConfig(parsed.flags, configPath, program);
}

async function showConfig(
  flags: ParsedFlags,
  configPath: string,
  program: string,
): Promise<number> {
  const name = shortName(program);
  const parsed = await readConfigFile(
    configPath,
    (variable) => Deno.env.get(variable),
  );
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
    const identity = await lookupIdentity(user);
    if (identity.ok) {
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
