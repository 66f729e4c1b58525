// Where the programs the proxy starts come from: never from the PATH the
// session came with, which a user can set (~/.ssh/environment with
// PermitUserEnvironment, pam_env's user files in a shared home); a user who
// chooses which `ssh` or which blocking command runs is out of the
// ForceCommand. The session's commands get PATH = the configuration's
// `environment` PATH, else these directories (src/session/environment.ts);
// our own tools started before that (logger) are looked up here directly.
// The reference uses the session's PATH.

/** The directories searched, in order (sshd's and Debian's default PATH). */
export const TRUSTED_DIRECTORIES: readonly string[] = [
  "/usr/local/sbin",
  "/usr/local/bin",
  "/usr/sbin",
  "/usr/bin",
  "/sbin",
  "/bin",
];

/** Whether `path` is a file someone may execute (follows symbolic links). */
export type ExecutableProbe = (path: string) => boolean;

function isExecutableFile(path: string): boolean {
  try {
    const info = Deno.statSync(path);
    return info.isFile && ((info.mode ?? 0) & 0o111) !== 0;
  } catch {
    return false;
  }
}

/**
 * The program to run for `name`: `name` itself when it contains a slash,
 * else the first executable file of that name in TRUSTED_DIRECTORIES;
 * undefined when there is none.
 */
export function findProgram(
  name: string,
  probe: ExecutableProbe = isExecutableFile,
): string | undefined {
  if (name.includes("/")) return name;
  if (name === "") return undefined;
  for (const directory of TRUSTED_DIRECTORIES) {
    const candidate = `${directory}/${name}`;
    if (probe(candidate)) return candidate;
  }
  return undefined;
}

/**
 * findProgram, or throws Deno.errors.NotFound as starting a missing program
 * does, so a caller reports both the same way.
 */
export function programPath(name: string): string {
  const found = findProgram(name);
  if (found === undefined) {
    throw new Deno.errors.NotFound(
      `executable file not found in ${TRUSTED_DIRECTORIES.join(":")}`,
    );
  }
  return found;
}
