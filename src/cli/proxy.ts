// The `sshproxy` face (spec §2.1): `sshproxy [-version] [CONFIG]`, run by
// sshd as the ForceCommand.
import { DEFAULT_CONFIG_PATH } from "../config/load.ts";
import { runSession } from "../session/flow.ts";
import {
  claimHandoffOffer,
  HANDOFF_VARIABLES,
  processExists,
} from "../session/handoff.ts";
import { VERSION } from "../version.ts";
import { type FlagSpec, formatFlagDefaults, parseGoFlags } from "./go_flags.ts";
import { printErr, printOut } from "./output.ts";

const FLAGS: FlagSpec[] = [{
  name: "version",
  kind: "bool",
  help: "show version number and exit",
}];

/** Runs the proxy face; returns the exit status. */
export async function run(
  args: string[],
  programName: string,
): Promise<number> {
  // First of all: the launcher's plan file is unlinked whatever happens
  // next (src/session/handoff.ts), and its parent is who it was at start.
  const parent = Deno.ppid;
  const handoff = claimHandoffOffer(
    Deno.env.get("SSHPROXY_HANDOFF"),
    Deno.env.get("SSHPROXY_SSHD"),
  );
  for (const name of HANDOFF_VARIABLES) Deno.env.delete(name);
  const usage = `usage: ${programName.split("/").pop()} [config]\n${
    formatFlagDefaults(FLAGS)
  }`;
  const flags = parseGoFlags(args, FLAGS);
  if (!flags.ok) {
    printErr(`${flags.error}\n${usage}`);
    return 2;
  }
  if (flags.value.helpRequested) {
    printErr(usage);
    return 2;
  }
  if (flags.value.values.get("version") === true) {
    printErr(`sshproxy version ${VERSION}\n`);
    return 0;
  }
  forgetLauncherEnvironment();
  return await runSession({
    configPath: flags.value.rest[0] ?? DEFAULT_CONFIG_PATH,
    env: (name) => Deno.env.get(name),
    stdoutIsTerminal: Deno.stdout.isTerminal(),
    // The user may be gone (EPIPE): what they can no longer read must not
    // cut the session's cleanup short.
    writeStdout: (text) => unlessGone(() => printOut(text)),
    writeStderr: (text) => unlessGone(() => printErr(text)),
    handoff,
    // sshd is gone when our parent changes; under a launcher waiting to
    // hand off, when the launcher or its own parent (sshd) is gone.
    parentGone: () => {
      if (Deno.ppid !== parent) return true;
      const sshd = handoff.offer?.sshdPid;
      return sshd !== undefined && !processExists(sshd);
    },
  });
}

// Variables the installed launcher sets for Deno itself (scripts/install.sh).
// The session's commands (blocking, background, ssh) must inherit sshd's
// environment plus `environment`, as the reference's single binary gives
// them, so these are removed once the runtime has started.
const LAUNCHER_VARIABLES = [
  "SSHPROXY_ARGV0",
  "DENO_DIR",
  "DENO_NO_UPDATE_CHECK",
  "NO_COLOR",
];

function forgetLauncherEnvironment(): void {
  if (Deno.env.get("SSHPROXY_ARGV0") === undefined) return;
  for (const name of LAUNCHER_VARIABLES) Deno.env.delete(name);
}

function unlessGone(write: () => void): void {
  try {
    write();
  } catch {
    // The session's stream is closed: nobody is left to read it.
  }
}
