// The argv of the ssh client run towards the destination (spec §5.11), plus
// the DEBUG lines describing it. Everything the user controls (the original
// command, SSHPROXY_ARGS) arrives here, so this is where the ForceCommand
// confinement of the gateway is kept or lost.
import type { Config, TranslateCommand } from "../config/types.ts";
import { fail, ok, type Result } from "../result.ts";
import { splitFields } from "./command_line.ts";
import {
  formatGoQuotedList as goQuoteList,
  goQuote,
} from "../format/govalue.ts";

/** What the ssh command line is built from. */
export interface SshCommandInput {
  config: Pick<
    Config,
    | "ssh"
    | "sshConfig"
    | "forceCommand"
    | "commandMustMatch"
    | "translateCommands"
    | "dump"
  >;
  /** The user's command (§5.10); "" for an interactive shell. */
  originalCommand: string;
  /** The raw SSHPROXY_ARGS value; "" when unset. */
  sshproxyArgs: string;
  /** The chosen destination, host without brackets. */
  destination: { host: string; port: string | number };
  stdoutIsTerminal: boolean;
  /** The resolved path of `ssh.exe`, shown in the DEBUG line; defaults to `ssh.exe`. */
  exePath?: string;
}

/** The ssh command to run and what the rest of the session needs to know about it. */
export interface SshCommand {
  /** Complete argv, `ssh.exe` first. */
  argv: string[];
  /** The command run on the destination before translation ("" for a shell); the dump header's command. */
  command: string;
  /** The effective `dump` target: `etcd` when a translation has `disable_dump`. */
  dump: string;
  /** Whether `disable_dump` turned a non-empty `dump` into `etcd`. */
  dumpDisabled: boolean;
  /** The `translate_commands` entry applied, if any. */
  translation?: TranslateCommand;
  /** DEBUG lines, in the reference's order (`translateCmdConf = ...`, `command = ...`). */
  debugLines: string[];
  /**
   * Seconds ssh waits for the destination's TCP connection and SSH banner
   * (ConnectTimeout: ours, or the admin's); undefined when unbounded.
   */
  connectTimeoutSeconds?: number;
}

/**
 * ConnectTimeout given to the gateway's ssh unless the admin's arguments
 * set one: a destination that accepts TCP but never sends its SSH banner
 * would otherwise hold the login for ever.
 */
export const DEFAULT_CONNECT_TIMEOUT_SECONDS = 10;

// Options a user may pass through SSHPROXY_ARGS. None of them can run a
// command or open a channel or forwarding on the gateway itself.
const ALLOWED_USER_FLAGS = "46AaCKkqTtvXxY";

// ssh's short options that take an argument (from ssh.c's getopt string).
const FLAGS_WITH_ARGUMENT = "bcDeEFiIJlLmoOpPQRSwWB";

/** Builds the ssh argv; errors are the reason to refuse the session (log ERROR `error executing proxied ssh command: <error>`, exit 1). */
export function buildSshCommand(input: SshCommandInput): Result<SshCommand> {
  const { config, originalCommand, destination } = input;
  const userArgs = checkedSshproxyArgs(input.sshproxyArgs);
  if (!userArgs.ok) return userArgs;

  const argv = [config.ssh.exe, ...config.ssh.args];
  // Our addition: with a tty, ssh's escape character (`~C`) would let the
  // user add -L/-R/-D forwardings on the gateway; the admin may still choose
  // an escape character with -e or -o EscapeChar in ssh.args.
  if (!setsEscapeChar(config.ssh.args)) argv.push("-e", "none");
  argv.push(...userArgs.value);
  const port = String(destination.port);
  if (port !== "22") argv.push("-p", port);

  const command = config.forceCommand !== ""
    ? config.forceCommand
    : originalCommand;
  const debugLines: string[] = [];
  let dump = config.dump;
  let dumpDisabled = false;
  let translation: TranslateCommand | undefined;
  // What follows the options: the host, then `--` and the remote command.
  let remote: string[] = [];
  if (command !== "") {
    if (config.commandMustMatch && originalCommand !== command) {
      return fail(
        `originalCmd "${originalCommand}" does not match forceCommand "${config.forceCommand}"`,
      );
    }
    translation = config.translateCommands.get(command);
    if (translation !== undefined) {
      debugLines.push(`translateCmdConf = ${describe(translation)}`);
      argv.push(...translation.sshArgs);
      remote = ["--", translation.command];
      if (dump !== "" && translation.disableDump) {
        dump = "etcd";
        dumpDisabled = true;
      }
    } else {
      if (input.stdoutIsTerminal) argv.push("-t");
      remote = ["--", command];
    }
  }
  // Our additions come last among the options: ssh keeps the first value
  // of an -o option, so a ConnectTimeout of the admin's (ssh.args,
  // translate_commands) wins, and the last -F, so ssh.config wins over an
  // -F in those arguments.
  if (config.sshConfig !== "") argv.push("-F", config.sshConfig);
  const adminTimeout = connectTimeoutSetting([
    ...config.ssh.args,
    ...(translation?.sshArgs ?? []),
  ]);
  if (adminTimeout === undefined) {
    argv.push(`-oConnectTimeout=${DEFAULT_CONNECT_TIMEOUT_SECONDS}`);
  }
  const connectTimeoutSeconds = adminTimeout === undefined
    ? DEFAULT_CONNECT_TIMEOUT_SECONDS
    : parseSshTime(adminTimeout);
  argv.push(destination.host, ...remote);
  debugLines.push(
    `command = ${input.exePath ?? config.ssh.exe} ${goQuoteList(argv)}`,
  );
  return ok({
    argv,
    command,
    dump,
    dumpDisabled,
    translation,
    debugLines,
    connectTimeoutSeconds,
  });
}

// Our fix for spec §12.2 item 19: the reference appends SSHPROXY_ARGS
// unfiltered, so `-oProxyCommand=sh` ran anything on the gateway.
function checkedSshproxyArgs(text: string): Result<string[]> {
  const words = splitFields(text);
  for (const word of words) {
    if (isAllowedUserFlag(word)) continue;
    const what = word.startsWith("-") ? "option" : "argument";
    return fail(
      `SSHPROXY_ARGS: ${what} ${goQuote(word)} is not allowed ` +
        `(allowed: ${
          [...ALLOWED_USER_FLAGS].map((letter) => `-${letter}`).join(" ")
        })`,
    );
  }
  return ok(words);
}

function isAllowedUserFlag(word: string): boolean {
  if (!word.startsWith("-") || word.length < 2) return false;
  return [...word.slice(1)].every((letter) =>
    ALLOWED_USER_FLAGS.includes(letter)
  );
}

// The options in `args` as ssh's getopt reads them: [letter, value] pairs,
// value "" for a flag (a flag cluster such as `-qY` gives one pair per
// letter); an option's value is the rest of its word or the next word.
function sshOptions(args: readonly string[]): [string, string][] {
  const options: [string, string][] = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    if (!arg.startsWith("-") || arg === "-" || arg === "--") continue;
    for (let j = 1; j < arg.length; j++) {
      const letter = arg[j];
      if (!FLAGS_WITH_ARGUMENT.includes(letter)) {
        options.push([letter, ""]);
        continue;
      }
      options.push([
        letter,
        j + 1 < arg.length ? arg.slice(j + 1) : args[++i] ?? "",
      ]);
      break;
    }
  }
  return options;
}

// `-e` anywhere in a flag cluster, or an `-o EscapeChar` option.
function setsEscapeChar(args: readonly string[]): boolean {
  return sshOptions(args).some(([letter, value]) =>
    letter === "e" || (letter === "o" && /^\s*escapechar\b/i.test(value))
  );
}

// The value of the first `-o ConnectTimeout` (ssh keeps the first), in any
// spelling ssh accepts: `-oConnectTimeout=5`, `-o "connecttimeout 5"`.
function connectTimeoutSetting(args: readonly string[]): string | undefined {
  for (const [letter, value] of sshOptions(args)) {
    if (letter !== "o") continue;
    const match = /^\s*connecttimeout(?:\s*=\s*|\s+)(.*?)\s*$/i.exec(value);
    if (match) return match[1].replace(/^"(.*)"$/, "$1");
  }
  return undefined;
}

// ssh's time format (convtime): `10`, `90s`, `1m30s`, `1h`...; 0 and
// `none` mean no timeout (undefined), as does a value ssh would refuse.
function parseSshTime(text: string): number | undefined {
  if (!/^(\d+[sSmMhHdDwW]?)+$/.test(text)) return undefined;
  const unit: Record<string, number> = {
    s: 1,
    m: 60,
    h: 3600,
    d: 86400,
    w: 604800,
  };
  let seconds = 0;
  for (const [, amount, letter] of text.matchAll(/(\d+)([a-zA-Z]?)/g)) {
    seconds += Number(amount) *
      (letter === "" ? 1 : unit[letter.toLowerCase()]);
  }
  return seconds > 0 ? seconds : undefined;
}

// Go's %+v of a *TranslateCommandConfig (spec Appendix A.4).
function describe(entry: TranslateCommand): string {
  return `&{SSHArgs:[${entry.sshArgs.join(" ")}] Command:${entry.command} ` +
    `DisableDump:${entry.disableDump}}`;
}
