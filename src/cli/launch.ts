// How the program learns the name it was invoked as, and how one face runs
// when its module is the main module: the installed launcher runs each
// face's prebuilt module directly (scripts/bundle.sh, scripts/install.sh).

/** What every face module exports. */
export interface FaceModule {
  /** Runs the face; resolves to the process's exit status. */
  run(args: string[], programName: string): Promise<number>;
}

// Set by the installed launcher to its own $0 (a symlink's name). A
// compiled binary has no launcher: there the variable would come from the
// user's environment and must not choose what runs.
const LAUNCHER_NAME = "SSHPROXY_ARGV0";

/**
 * The name the program was invoked as: the launcher's $0, else argv[0]
 * from /proc/self/cmdline (a compiled binary's symlink name; the deno
 * executable under `deno run`). Node's process.argv0 is the last resort:
 * loading it starts Deno's Node-compatibility layer (~15 ms).
 */
export async function invokedAs(): Promise<string> {
  const fromLauncher = launcherName();
  if (fromLauncher !== undefined) return fromLauncher;
  try {
    const cmdline = Deno.readTextFileSync("/proc/self/cmdline");
    const argv0 = cmdline.slice(0, cmdline.indexOf("\0"));
    if (argv0 !== "") return argv0;
  } catch {
    // no /proc: ask Node's process object below
  }
  const { argv0 } = await import("node:process");
  return argv0;
}

/** Runs `face` as the main module and exits with its status. */
export async function runAsMain(
  face: FaceModule,
  referenceName: string,
): Promise<never> {
  Deno.exit(await face.run(Deno.args, launcherName() ?? referenceName));
}

function launcherName(): string | undefined {
  if (Deno.build.standalone) return undefined;
  const name = Deno.env.get(LAUNCHER_NAME);
  return name === undefined || name === "" ? undefined : name;
}
