// The `sshproxy-dumpd` face: command line of spec §2.3; the daemon itself
// is src/record/dumpd.ts.
import { runDumpd } from "../record/dumpd.ts";
import { VERSION } from "../version.ts";
import { dumpdNeeds, keepOnly } from "./permissions.ts";
import {
  boolFlag,
  type FlagSpec,
  formatFlagDefaults,
  parseGoFlags,
  stringFlag,
} from "./go_flags.ts";
import { goLogPrefix } from "../log/format.ts";
import { printErr } from "./output.ts";

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

const STOP_SIGNALS: Deno.Signal[] = ["SIGTERM", "SIGINT"];

/** Runs the dumpd face until SIGTERM/SIGINT; returns the exit status. */
export async function run(
  args: string[],
  programName: string,
): Promise<number> {
  const usage = `Usage of ${programName}:\n${formatFlagDefaults(FLAGS)}`;
  const flags = parseGoFlags(args, FLAGS);
  if (!flags.ok) {
    printErr(`${flags.error}\n${usage}`);
    return 2;
  }
  if (flags.value.helpRequested) {
    printErr(usage);
    return 0;
  }
  if (boolFlag(flags.value, "version")) {
    printErr(`sshproxy-dumpd version ${VERSION}\n`);
    return 0;
  }
  const log = (message: string) => printErr(`${goLogPrefix()}${message}\n`);
  const output = stringFlag(flags.value, "output");
  if (output === "") {
    log("error: no output directory specified");
    return 1;
  }
  await keepOnly(dumpdNeeds());
  const stop = new AbortController();
  const onSignal = () => stop.abort();
  for (const signal of STOP_SIGNALS) Deno.addSignalListener(signal, onSignal);
  try {
    return await runDumpd({
      listen: stringFlag(flags.value, "listen", ":5555"),
      output,
      log,
      signal: stop.signal,
    });
  } finally {
    for (const signal of STOP_SIGNALS) {
      Deno.removeSignalListener(signal, onSignal);
    }
  }
}
