// The `sshproxy-replay` face: command line of spec §2.4 plus the
// extensions of issue 5 (-speed, -max-wait, -asciicast, -asciicast-input).
import { parseGoDuration } from "../format/duration.ts";
import { replayFiles } from "../record/replay.ts";
import { VERSION } from "../version.ts";
import { keepOnly, replayNeeds } from "./permissions.ts";
import {
  boolFlag,
  type FlagSpec,
  formatFlagDefaults,
  parseGoFlags,
  stringFlag,
} from "./go_flags.ts";
import { printErr } from "./output.ts";

const FLAGS: FlagSpec[] = [
  {
    name: "replay",
    kind: "bool",
    help: "live replay a session (as the user did it)",
  },
  { name: "version", kind: "bool", help: "show version number and exit" },
  {
    name: "speed",
    kind: "string",
    help: "with -replay or -asciicast, play this many times faster",
    defaultValue: "1",
  },
  {
    name: "max-wait",
    kind: "string",
    help:
      "with -replay or -asciicast, never pause longer than this (e.g. 2s; default: as recorded)",
  },
  {
    name: "asciicast",
    kind: "string",
    help:
      "write the session as an asciicast v2 recording to this file (- for stdout) instead of listing it",
  },
  {
    name: "asciicast-input",
    kind: "bool",
    help: "with -asciicast, also export what the user typed",
  },
];

// Go shows typed flags by their type and numbers unquoted.
function usageText(programName: string): string {
  return `usage: ${programName} files ...\n` +
    formatFlagDefaults(FLAGS)
      .replace("  -max-wait string", "  -max-wait duration")
      .replace("  -speed string", "  -speed float")
      .replace('(default "1")', "(default 1)");
}

/** Runs the replay face; returns the exit status. */
export async function run(
  args: string[],
  programName: string,
): Promise<number> {
  const usage = usageText(programName);
  const flags = parseGoFlags(args, FLAGS);
  if (!flags.ok) {
    printErr(`${flags.error}\n${usage}`);
    return 2;
  }
  const parsed = flags.value;
  if (boolFlag(parsed, "version")) {
    printErr(`sshproxy-replay version ${VERSION}\n`);
    return 0;
  }
  if (parsed.helpRequested || parsed.rest.length === 0) {
    printErr(usage);
    return 2;
  }
  const speedText = stringFlag(parsed, "speed", "1");
  const speed = Number(speedText);
  if (!/^\s*[+]?[0-9.eE+-]+\s*$/.test(speedText) || !(speed > 0)) {
    printErr(
      `invalid value ${
        JSON.stringify(speedText)
      } for flag -speed: parse error (expected a number above 0)\n${usage}`,
    );
    return 2;
  }
  let maxWaitNs: bigint | undefined;
  const maxWaitText = stringFlag(parsed, "max-wait");
  if (parsed.values.has("max-wait")) {
    const duration = parseGoDuration(maxWaitText);
    if (!duration.ok || duration.value < 0n) {
      printErr(
        `invalid value ${
          JSON.stringify(maxWaitText)
        } for flag -max-wait: parse error (expected a duration such as 2s)\n${usage}`,
      );
      return 2;
    }
    maxWaitNs = duration.value;
  }
  const asciicast = parsed.values.has("asciicast")
    ? stringFlag(parsed, "asciicast")
    : undefined;
  await keepOnly(replayNeeds(asciicast ?? ""));
  if (asciicast !== undefined) {
    if (asciicast === "") {
      printErr(`-asciicast needs a file name (or - for stdout)\n${usage}`);
      return 2;
    }
    if (boolFlag(parsed, "replay")) {
      printErr(`-asciicast and -replay cannot be used together\n${usage}`);
      return 2;
    }
    if (parsed.rest.length !== 1) {
      printErr(`-asciicast exports exactly one dump file\n${usage}`);
      return 2;
    }
  }
  return await replayFiles(parsed.rest, {
    live: boolFlag(parsed, "replay"),
    speed,
    maxWaitNs,
    asciicast,
    asciicastInput: boolFlag(parsed, "asciicast-input"),
  });
}
