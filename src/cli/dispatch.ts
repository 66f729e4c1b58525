// Which face runs: the name the program was invoked as (a symlink), or
// else the first argument. Pure, so it is tested without processes.

/** The faces of the program. */
export type Face = "proxy" | "ctl" | "dumpd" | "replay" | "agent";

/** The reference program name of each face (used in usage texts). */
export const PROGRAM_NAMES: Record<Face, string> = {
  proxy: "sshproxy",
  ctl: "sshproxyctl",
  dumpd: "sshproxy-dumpd",
  replay: "sshproxy-replay",
  agent: "sshproxy-agent",
};

/** The chosen face, its arguments and the program name for messages. */
export type FaceChoice =
  | { face: Face; args: string[]; programName: string }
  | { usage: string };

const USAGE =
  "usage: sshproxy-deno {proxy|ctl|dumpd|replay|agent} [ARGS...]\n" +
  "  or invoke it as sshproxy, sshproxyctl, sshproxy-dumpd, sshproxy-replay or sshproxy-agent (symlinks)\n";

function basename(path: string): string {
  return path.replace(/\/+$/, "").split("/").pop() ?? path;
}

/** Picks the face from argv[0]'s basename, else from the first argument. */
export function chooseFace(
  invokedAs: string,
  args: readonly string[],
): FaceChoice {
  const name = basename(invokedAs);
  for (
    const [face, programName] of Object.entries(PROGRAM_NAMES) as [
      Face,
      string,
    ][]
  ) {
    if (name === programName) {
      return { face, args: [...args], programName: invokedAs };
    }
  }
  const first = args[0];
  if (
    first === "proxy" || first === "ctl" || first === "dumpd" ||
    first === "replay" || first === "agent"
  ) {
    return {
      face: first,
      args: args.slice(1),
      programName: PROGRAM_NAMES[first],
    };
  }
  return {
    usage: first === undefined ? USAGE : `unknown face: ${first}\n${USAGE}`,
  };
}
