// The `sshproxy-replay` face: command line of spec §2.4. Reading dumps
// arrives with session recording (its own issue); until then the face
// says so instead of printing nothing.
import { VERSION } from "../version.ts";
import { type FlagSpec, formatFlagDefaults, parseGoFlags } from "./go_flags.ts";
import { goLogPrefix, printErr } from "./output.ts";

const FLAGS: FlagSpec[] = [
  {
    name: "replay",
    kind: "bool",
    help: "live replay a session (as the user did it)",
  },
  { name: "version", kind: "bool", help: "show version number and exit" },
];

/** Runs the replay face; returns the exit status. */
export function run(args: string[], programName: string): Promise<number> {
  const usage = `usage: ${programName} files ...\n${formatFlagDefaults(FLAGS)}`;
  const flags = parseGoFlags(args, FLAGS);
  if (!flags.ok) {
    printErr(`${flags.error}\n${usage}`);
    return Promise.resolve(2);
  }
  if (flags.value.values.get("version") === true) {
    printErr(`sshproxy-replay version ${VERSION}\n`);
    return Promise.resolve(0);
  }
  if (flags.value.helpRequested || flags.value.rest.length === 0) {
    printErr(usage);
    return Promise.resolve(2);
  }
  printErr(
    `${goLogPrefix()}error: reading recordings is not available in this version of ${programName} yet\n`,
  );
  return Promise.resolve(1);
}
