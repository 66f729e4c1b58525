// The `sshproxy-dumpd` face: command line of spec §2.3. The receiver
// itself arrives with session recording (its own issue); until then the
// face refuses to start instead of pretending to listen.
import { VERSION } from "../version.ts";
import {
  type FlagSpec,
  formatFlagDefaults,
  parseGoFlags,
  stringFlag,
} from "./go_flags.ts";
import { goLogPrefix, printErr } from "./output.ts";

const FLAGS: FlagSpec[] = [
  {
    name: "listen",
    kind: "string",
    help: "listen on this address ([host]:port)",
    defaultValue: ":5555",
  },
  {
    name: "output",
    kind: "string",
    help: "output directory where dumps will be written",
  },
  { name: "version", kind: "bool", help: "show version number and exit" },
];

/** Runs the dumpd face; returns the exit status. */
export function run(args: string[], programName: string): Promise<number> {
  const usage = `Usage of ${programName}:\n${formatFlagDefaults(FLAGS)}`;
  const flags = parseGoFlags(args, FLAGS);
  if (!flags.ok) {
    printErr(`${flags.error}\n${usage}`);
    return Promise.resolve(2);
  }
  if (flags.value.helpRequested) {
    printErr(usage);
    return Promise.resolve(0);
  }
  if (flags.value.values.get("version") === true) {
    printErr(`sshproxy-dumpd version ${VERSION}\n`);
    return Promise.resolve(0);
  }
  if (stringFlag(flags.value, "output") === "") {
    printErr(
      `${goLogPrefix()}error: no output directory specified (give -output DIR)\n`,
    );
    return Promise.resolve(1);
  }
  printErr(
    `${goLogPrefix()}error: session recording is not available in this version of ${programName} yet\n`,
  );
  return Promise.resolve(1);
}
