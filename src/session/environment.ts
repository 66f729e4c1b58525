// The session's environment (spec §5.12): the configured variables are set
// in sshproxy's own environment so that the blocking command, the background
// command and ssh inherit them. The caller applies `toSet`; this module only
// decides what to set and what the DEBUG listing shows.
//
// PATH, which decides which `ssh`, blocking and background command run, is
// the configuration's when it sets one, else `systemPath`: never the one the
// session came with, which a user can set (~/.ssh/environment, pam_env user
// files in a shared home) to run programs of their own instead of the hop.
// The reference keeps the session's PATH.

/** The variables to set and the DEBUG `env = NAME=value` lines. */
export interface SessionEnvironment {
  toSet: [name: string, value: string][];
  debugLines: string[];
}

/**
 * Merges `configured` into `current` (in order) and lists the result,
 * leaving out `hidden` names; PATH becomes `systemPath` unless configured.
 */
export function sessionEnvironment(
  current: Iterable<readonly [string, string]>,
  configured: ReadonlyMap<string, string>,
  hidden: Iterable<string> = [],
  systemPath?: string,
): SessionEnvironment {
  // The reference ignores os.Setenv's error for such names; Deno.env.set
  // would throw instead, so they are dropped here.
  const toSet = [...configured].filter(([name, value]) =>
    name !== "" && !/[=\0]/.test(name) && !value.includes("\0")
  );
  if (systemPath !== undefined && !toSet.some(([name]) => name === "PATH")) {
    toSet.unshift(["PATH", systemPath]);
  }
  // Like Go's environ: a set variable keeps its place, a new one is appended.
  const merged = new Map(current);
  for (const [name, value] of toSet) merged.set(name, value);
  // Our addition: the reference logs every variable, secrets included (spec
  // §12.2 item 16); names the caller hides are not listed at all.
  const hiddenNames = new Set(hidden);
  const debugLines = [...merged]
    .filter(([name]) => !hiddenNames.has(name))
    .map(([name, value]) => `env = ${name}=${value}`);
  return { toSet, debugLines };
}
