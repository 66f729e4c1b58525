// Hand-off (issue 14, sshproxy(8) HAND-OFF): a session that needs no
// process of ours while it runs ends with the gateway's ssh in place of
// the launcher, so nothing of ours stays resident.
//
// Deno cannot exec, so the launcher (or the compiled binary's wrapper,
// scripts/install.sh) runs every login's proxy as its child (it cannot
// know the configuration's `handoff` without reading the file), having
// made a private plan file first:
// `/tmp/sshproxy-plan.<random UUID>`, created O_EXCL with mode 0600 in the
// sticky /tmp and open on the launcher's fd 3. The proxy gets its name in
// SSHPROXY_HANDOFF (Deno refuses any access to /proc/self/fd and /dev/fd
// without --allow-all, so the name is the only way in), claims it at once
// (checks it is that file and nobody else's, then unlinks it: the plan is
// never on disk under a name), and when the session can be handed off
// writes a shell plan into it and exits with HANDOFF_STATUS. The launcher
// runs the plan only on that status AND the plan's first line, from its
// own fd 3 (the unlinked file), at its top level: `exec` makes ssh the
// process sshd started, with its environment, signals and exit status.
//
// Everything in a plan is single-quoted here; nothing the user controls is
// ever outside quotes, and a plan cut short is a syntax error in its
// `{ ... }` block, which runs nothing.
import { fail, ok, type Result } from "../result.ts";

/** The exit status by which the proxy tells the launcher that its plan is written. */
export const HANDOFF_STATUS = 97;

/** A plan's first line: the launcher runs only a file that starts so. */
export const PLAN_HEADER = "# sshproxy hand-off plan";

/** The variables the launcher passes with a plan file (removed at start). */
export const HANDOFF_VARIABLES = ["SSHPROXY_HANDOFF", "SSHPROXY_SSHD"];

// What the launcher names its plan files (a UUID from the kernel).
const PLAN_NAME =
  /^\/tmp\/sshproxy-plan\.[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** `word` as one sh word: single-quoted, its quotes written `'\''`. */
export function shellQuote(word: string): string {
  return `'${word.replaceAll("'", `'\\''`)}'`;
}

// Read-only in bash (which is /bin/sh on some systems): exporting one
// would end the launcher's shell instead of running ssh.
const READ_ONLY_NAMES = new Set([
  "BASHOPTS",
  "BASH_VERSINFO",
  "EUID",
  "PPID",
  "SHELLOPTS",
  "UID",
]);

/** Whether sh can `export` a variable of this name. */
export function exportableName(name: string): boolean {
  return /^[A-Za-z_][A-Za-z0-9_]*$/.test(name) && !READ_ONLY_NAMES.has(name);
}

/**
 * The plan: export the session's `environment` variables, then exec the
 * ssh argv with the launcher's fd 3 (the plan itself) closed. Fails on
 * what sh cannot carry (a NUL byte, a name it cannot export).
 */
export function planText(
  argv: readonly string[],
  environment: readonly (readonly [string, string])[],
): Result<string> {
  if (argv.length === 0) return fail("no command to run");
  for (const word of argv) {
    if (word.includes("\0")) return fail("a NUL byte in the ssh command line");
  }
  const lines = [PLAN_HEADER, "{"];
  for (const [name, value] of environment) {
    if (!exportableName(name)) {
      return fail(
        `environment variable ${JSON.stringify(name)} cannot be set by sh`,
      );
    }
    if (value.includes("\0")) {
      return fail(`a NUL byte in environment variable ${name}`);
    }
    lines.push(`export ${name}=${shellQuote(value)}`);
  }
  lines.push(`exec ${argv.map(shellQuote).join(" ")} 3>&-`, "}", "");
  return ok(lines.join("\n"));
}

/** What decides whether a session needs a process of ours while it runs. */
export interface HandoffInputs {
  /** The effective `dump` (after translate_commands' disable_dump). */
  dump: string;
  bgCommand: string;
  /** Whether `etcd.endpoints` is set. */
  etcd: boolean;
  /** Whether `agent.socket` is set. */
  agent: boolean;
  /** The `environment` variables the session sets. */
  environment: readonly (readonly [string, string])[];
}

/** Why this session cannot be handed off, before routing (none: it can). */
export function handoffBlockers(inputs: HandoffInputs): string[] {
  const blockers: string[] = [];
  if (inputs.dump !== "") blockers.push("the session is recorded (dump)");
  if (inputs.bgCommand !== "") blockers.push("bg_command runs beside it");
  if (inputs.etcd && !inputs.agent) {
    blockers.push("its etcd registration is its own (no agent configured)");
  }
  for (const [name] of inputs.environment) {
    if (!exportableName(name)) {
      blockers.push(
        `environment variable ${JSON.stringify(name)} cannot be set by sh`,
      );
    }
  }
  return blockers;
}

/**
 * Whether `program` names an executable file: as a path, or found in
 * `path` (PATH's directories) as sh's `exec` would find it.
 */
export function findsExecutable(
  program: string,
  path: string | undefined,
): boolean {
  const executable = (file: string) => {
    try {
      const info = Deno.statSync(file);
      return info.isFile && ((info.mode ?? 0) & 0o111) !== 0;
    } catch {
      return false;
    }
  };
  if (program.includes("/")) return executable(program);
  if (program === "") return false;
  return (path ?? "").split(":").some((dir) =>
    executable(`${dir === "" ? "." : dir}/${program}`)
  );
}

/** A plan file the launcher offered and this process claimed. */
export interface HandoffOffer {
  /** The launcher's pid: the process that becomes ssh. */
  launcherPid: number;
  /** The launcher's parent (sshd's session process), when it said. */
  sshdPid?: number;
  /** Writes the plan; on failure the file is left empty (no hand-off). */
  write(plan: string): Result<void>;
}

/** The outcome of looking for an offer: none, one, or one refused (why). */
export type OfferClaim =
  | { offer?: undefined; problem?: undefined }
  | { offer: HandoffOffer; problem?: undefined }
  | { offer?: undefined; problem: string };

/**
 * Claims the plan file named by the launcher: it must be a regular file
 * of /tmp (sticky, root's) named as the launcher names them, ours, mode
 * 0600, with one link, the very file we opened; it is then unlinked.
 * Anything else is refused and left alone.
 */
export function claimHandoffOffer(
  planPath: string | undefined,
  sshdPid: string | undefined,
): OfferClaim {
  if (planPath === undefined || planPath === "") return {};
  if (!PLAN_NAME.test(planPath)) {
    return {
      problem: `plan file ${
        JSON.stringify(planPath)
      } is not one of the launcher's`,
    };
  }
  let file: Deno.FsFile | undefined;
  try {
    const tmp = Deno.lstatSync("/tmp");
    if (!tmp.isDirectory || tmp.uid !== 0 || ((tmp.mode ?? 0) & 0o1000) === 0) {
      return { problem: "/tmp is not a sticky directory owned by root" };
    }
    const named = Deno.lstatSync(planPath);
    // Checked before opening: opening a FIFO for writing would block.
    if (!named.isFile) return { problem: `${planPath} is not a regular file` };
    // Opened without truncating: nothing is written until it is proven ours.
    file = Deno.openSync(planPath, { write: true });
    const opened = file.statSync();
    const again = Deno.lstatSync(planPath);
    const uid = Deno.uid();
    if (
      !opened.isFile || opened.uid !== uid || opened.nlink !== 1 ||
      ((opened.mode ?? 0) & 0o7777) !== 0o600 ||
      again.isSymlink || opened.dev !== again.dev || opened.ino !== again.ino
    ) {
      file.close();
      return { problem: `${planPath} is not a private file of this user` };
    }
    Deno.removeSync(planPath);
  } catch (error) {
    file?.close();
    return {
      problem: `cannot claim ${planPath}: ${
        error instanceof Error ? error.message : String(error)
      }`,
    };
  }
  const claimed = file;
  const sshd = Number(sshdPid);
  return {
    offer: {
      launcherPid: Deno.ppid,
      ...(Number.isSafeInteger(sshd) && sshd > 1 ? { sshdPid: sshd } : {}),
      write(plan) {
        const bytes = new TextEncoder().encode(plan);
        try {
          claimed.truncateSync(0);
          let written = 0;
          while (written < bytes.length) {
            written += claimed.writeSync(bytes.subarray(written));
          }
          claimed.close();
          return ok(undefined);
        } catch (error) {
          try {
            claimed.truncateSync(0);
          } catch {
            // the launcher finds no header and runs nothing
          }
          return fail(error instanceof Error ? error.message : String(error));
        }
      },
    },
  };
}

/**
 * Whether process `pid` still exists, asked with SIGURG, which sshd (and
 * any process that does not ask for it) ignores: Deno cannot read /proc.
 * A process we may not signal (another user's) exists.
 */
export function processExists(pid: number): boolean {
  try {
    Deno.kill(pid, "SIGURG");
    return true;
  } catch (error) {
    return !(error instanceof Deno.errors.NotFound);
  }
}
