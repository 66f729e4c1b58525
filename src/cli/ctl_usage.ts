// The usage texts of `sshproxyctl` (spec §2.2.1-2.2.7), byte for byte:
// admins' scripts and muscle memory depend on them. Pure strings.
import { DEFAULT_CONFIG_PATH } from "../config/load.ts";
import { type FlagSpec, formatFlagDefaults } from "./go_flags.ts";

/** The commands of sshproxyctl, in usage order. */
export const CTL_COMMANDS: readonly [string, string][] = [
  ["help", "display help on a command"],
  ["version", "show version number and exit"],
  ["show", "show states present in etcd"],
  ["enable", "enable a host in etcd"],
  ["forget", "forget a host/error_banner/persist in etcd"],
  ["disable", "disable a host in etcd"],
  ["error_banner", "set the error banner in etcd"],
  ["convert", "displays the config, converted from v1 to v2"],
];

/** The global flags. */
export const GLOBAL_FLAGS: FlagSpec[] = [
  {
    name: "c",
    kind: "string",
    help: "path to configuration file",
    defaultValue: DEFAULT_CONFIG_PATH,
  },
];

/** Flags of `show`. */
export const SHOW_FLAGS: FlagSpec[] = [
  { name: "csv", kind: "bool", help: "show results in CSV format" },
  { name: "json", kind: "bool", help: "show results in JSON format" },
  { name: "all", kind: "bool", help: "show all connections / users / groups" },
  {
    name: "user",
    kind: "string",
    help:
      "show the config for this specific user and this user's groups (if any)",
  },
  {
    name: "groups",
    kind: "string",
    help: "show the config for these specific groups (comma separated)",
  },
  {
    name: "source",
    kind: "string",
    help: "show the config for this specific source (host[:port])",
  },
];

/** Flags of `enable` or `disable`. */
export function hostFlags(verb: "enable" | "disable"): FlagSpec[] {
  // The reference's help says "present in config"; -all works on the hosts known to etcd.
  return [
    { name: "all", kind: "bool", help: `${verb} all hosts present in etcd` },
    {
      name: "host",
      kind: "string",
      help: `hostname to ${verb} (can be a nodeset)`,
    },
    {
      name: "port",
      kind: "string",
      help: `port to ${verb} (can be a nodeset)`,
    },
  ];
}

/** Flags of `forget`. */
export const FORGET_FLAGS: FlagSpec[] = [
  { name: "all", kind: "bool", help: "forget all hosts present in etcd" },
  {
    name: "host",
    kind: "string",
    help: "hostname to forget (can be a nodeset)",
  },
  { name: "port", kind: "string", help: "port to forget (can be a nodeset)" },
  {
    name: "user",
    kind: "string",
    help: "forget all persistent connections of this user",
  },
  {
    name: "service",
    kind: "string",
    help: "forget all persistent connections of this service",
  },
];

/** Flags of `error_banner`. */
export const ERROR_BANNER_FLAGS: FlagSpec[] = [
  {
    name: "expire",
    kind: "string",
    help:
      "set the expiration date of this error banner. Format: YYYY-MM-DD[ HH:MM[:SS]]",
  },
];

const SHOW_SUBCOMMANDS: [string, string][] = [
  ["connections [-all] [-csv|-json]", "show connections stored in etcd"],
  ["hosts [-csv|-json]", "show hosts stored in etcd"],
  ["users [-all] [-csv|-json]", "show users stored in etcd"],
  ["groups [-all] [-csv|-json]", "show groups stored in etcd"],
  ["error_banner", "show error banners stored in etcd and in configuration"],
  [
    "config [-user USER] [-groups GROUPS] [-source SOURCE]",
    "show the calculated configuration",
  ],
  ["metrics", "show a summary of the gateway agent's metrics"],
];

/** The main usage text. */
export function mainUsage(program: string): string {
  const commands = CTL_COMMANDS.map(([name, text]) =>
    `  ${name.padEnd(12)}  ${text}\n`
  ).join("");
  return `Usage: ${program} [OPTIONS] COMMAND\n\nThe commands are:\n${commands}\n` +
    `The common options are:\n${formatFlagDefaults(GLOBAL_FLAGS)}`;
}

/** The usage text of one command (undefined for an unknown one). */
export function commandUsage(
  command: string,
  program: string,
): string | undefined {
  switch (command) {
    case "help":
      return `Usage: ${program} help COMMAND\n\nShow help of a command.\n`;
    case "version":
      return `Usage: ${program} version\n\nShow version and exit.\n`;
    case "show": {
      const lines = SHOW_SUBCOMMANDS.map(([synopsis, text]) =>
        `  ${synopsis.padEnd(53)}  ${text}\n`
      ).join("");
      return `Usage: ${program} show COMMAND [OPTIONS]\n\nThe commands are:\n${lines}\n` +
        `The options are:\n${formatFlagDefaults(SHOW_FLAGS)}`;
    }
    case "enable":
      return `Usage: ${program} enable -all|-host HOST [-port PORT]\n\n` +
        `Enable a previously disabled host in etcd.\n${
          formatFlagDefaults(hostFlags("enable"))
        }`;
    case "disable":
      return `Usage: ${program} disable -all|-host HOST [-port PORT]\n\n` +
        `Disable a host in etcd.\n${formatFlagDefaults(hostFlags("disable"))}`;
    case "forget": {
      const indent = " ".repeat(71);
      const lines =
        `  ${
          "host -all|-host HOST [-port PORT]".padEnd(65)
        }  forget a host in etcd\n` +
        `  ${"error_banner".padEnd(65)}  forget the error_banner in etcd\n` +
        `  ${
          "persist [-user USER] [-service SERVICE] [-host HOST] [-port PORT]"
            .padEnd(65)
        }  ` +
        `forget a persistent connection in etcd\n` +
        `${indent}(needs at least one option)\n${indent}(only connections matching all the options are forgotten)\n`;
      return `Usage: ${program} forget COMMAND [OPTIONS]\n\nThe commands are:\n${lines}\n` +
        `The options are:\n${formatFlagDefaults(FORGET_FLAGS)}`;
    }
    case "error_banner":
      return `Usage: ${program} error_banner [-expire DATE] MESSAGE\n\nSet the error banner in etcd.\n\n` +
        `The options are:\n${formatFlagDefaults(ERROR_BANNER_FLAGS)}`;
    case "convert":
      return `Usage: ${program} convert\n\nShow configuration converted from v1 to v2 and exit.\n` +
        `Should be used like this:\n` +
        `  ${program} -c /etc/sshproxy/sshproxy.yaml.old convert > /etc/sshproxy/sshproxy.yaml.new\n`;
    default:
      return undefined;
  }
}
