// The runtime's own floor: how the installed launcher really runs Deno
// (read from a running proxy's /proc/PID/cmdline and environ, so the bench
// follows any change of launcher, flags or cache), and an empty module run
// exactly that way: timed by hand, idle for its memory, and as the
// ForceCommand of path (f) before an `exec ssh` like the floor (b).
import { sleep, type TestUser } from "../../tests/harness/mod.ts";
import { summarize, type Summary } from "./stats.ts";
import { descendantsOf, threadsOf } from "./processes.ts";
import {
  anonymousPrivateDirty,
  asUser,
  exeOf,
  type Memory,
  smapsRollup,
  syncPageCache,
  timedAs,
  userEnvironment,
} from "./system.ts";

/** How the launcher runs Deno for one command. */
export interface Invocation {
  /** The Deno process's argv, argv[0] being the executable's real path. */
  argv: string[];
  /** Index in argv of the module Deno runs (our program's entry). */
  moduleIndex: number;
  /** Arguments the launcher puts between the module and the caller's (e.g. a face). */
  programArgs: string[];
  /** Variables the launcher sets (the process's environment minus the caller's). */
  env: Record<string, string>;
}

/** The runtime's floor, measured. */
export interface RuntimeFloor {
  invocation: Invocation;
  /** The empty module run as the launcher runs ours, by hand, as the test user. */
  emptyStartMs: Summary;
  /** `deno run --no-config` of the same module: the runtime without our flags. */
  bareStartMs: Summary;
  /** An idle empty module run as the launcher runs ours, waiting on a timer. */
  idle: IdleProcess;
}

/** Memory of one idle process (KiB). */
export interface IdleProcess {
  memory: Memory;
  anonymousPrivateDirty: number;
  threads: number;
}

/** Why the launcher's way cannot be copied (e.g. a compiled binary). */
export class NoLauncherError extends Error {}

/**
 * Runs `command` (the installed sshproxy with `args`) as `user` with `env`
 * and, once the process tree has a Deno process with `args` at the end of
 * its argv, reads its argv and environment; then waits for the command's
 * end (`env` should make it short, e.g. a session running `true`).
 */
export async function captureInvocation(
  user: TestUser,
  command: string,
  args: string[],
  env: Record<string, string>,
): Promise<Invocation> {
  const { home, env: userEnv } = await userEnvironment(user);
  const callerEnv = { ...userEnv, ...env };
  const [cmd, ...prefixArgs] = [...await asUser(user), command, ...args];
  const child = new Deno.Command(cmd, {
    args: prefixArgs,
    env: callerEnv,
    clearEnv: true,
    cwd: home,
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  const stderr = new Response(child.stderr).text();
  let failure = "";
  // The command itself, when it is a binary rather than a launcher script.
  const commandFile = await Deno.realPath(command).catch(() => command);
  let found: { argv: string[]; environ: string } | undefined;
  let compiled = false;
  const deadline = Date.now() + 15_000;
  try {
    while (!found && Date.now() < deadline) {
      for (const pid of [child.pid, ...await descendantsOf(child.pid)]) {
        const exe = await exeOf(pid);
        const cmdline = await Deno.readTextFile(`/proc/${pid}/cmdline`)
          .catch(() => "");
        const argv = cmdline.split("\0").slice(0, -1);
        const tail = argv.slice(-args.length);
        if (tail.join("\0") !== args.join("\0")) continue;
        if (argv[1] === "run" && /\/deno$/.test(exe)) {
          const environ = await Deno.readTextFile(`/proc/${pid}/environ`)
            .catch(() => "");
          found = { argv: [exe, ...argv.slice(1)], environ };
          break;
        }
        if (exe === commandFile) compiled = true;
      }
      if (!found) await sleep(20);
    }
  } finally {
    const status = await child.status;
    const errors = await stderr;
    if (!found && !status.success) {
      failure = `${command} ${args.join(" ")} failed (status ${status.code}): ${
        errors.trim().slice(0, 300)
      }`;
    }
  }
  if (failure) throw new Error(failure);
  if (!found) {
    throw new NoLauncherError(
      compiled
        ? `the installed sshproxy does not run under \`deno run\` (${commandFile} is a binary of its own): there is no launcher invocation to copy`
        : "no `deno run` process of the installed sshproxy was seen within 15 s",
    );
  }
  const launcherEnv: Record<string, string> = {};
  for (const entry of found.environ.split("\0")) {
    const at = entry.indexOf("=");
    if (at <= 0) continue;
    const [name, value] = [entry.slice(0, at), entry.slice(at + 1)];
    // The shell's own bookkeeping is not the launcher's doing.
    if (["PWD", "OLDPWD", "SHLVL", "_"].includes(name)) continue;
    if (callerEnv[name] !== value) launcherEnv[name] = value;
  }
  // The module is the last argument before the caller's that names a
  // script; anything between them is the launcher's own (e.g. a face).
  let moduleIndex = found.argv.length - args.length - 1;
  while (moduleIndex > 2 && !looksLikeModule(found.argv[moduleIndex])) {
    moduleIndex--;
  }
  return {
    argv: found.argv,
    moduleIndex,
    programArgs: found.argv.slice(
      moduleIndex + 1,
      found.argv.length - args.length,
    ),
    env: launcherEnv,
  };
}

function looksLikeModule(arg: string): boolean {
  return /^(file|https?):/.test(arg) || /\.(m|c)?(j|t)sx?$/.test(arg);
}

/** The module the launcher runs, as a URL. */
export function moduleUrl(invocation: Invocation): string {
  const module = invocation.argv[invocation.moduleIndex];
  return module.startsWith("/") ? `file://${module}` : module;
}

/** The invocation running `module` with `args` instead of our program. */
export function withModule(
  invocation: Invocation,
  module: string,
  args: string[] = [],
): string[] {
  return [...invocation.argv.slice(0, invocation.moduleIndex), module, ...args];
}

/**
 * The invocation with `denoFlags` added after `run` and `v8Flags` merged
 * into its `--v8-flags` (Deno keeps only one such option).
 */
export function withFlags(
  invocation: Invocation,
  denoFlags: string[],
  v8Flags: string[] = [],
): Invocation {
  let argv = [...invocation.argv];
  if (v8Flags.length > 0) {
    const at = argv.findIndex((arg, i) =>
      i < invocation.moduleIndex && arg.startsWith("--v8-flags=")
    );
    if (at >= 0) argv[at] = `${argv[at]},${v8Flags.join(",")}`;
    else denoFlags = [...denoFlags, `--v8-flags=${v8Flags.join(",")}`];
  }
  argv = [argv[0], argv[1], ...denoFlags, ...argv.slice(2)];
  return {
    ...invocation,
    argv,
    moduleIndex: invocation.moduleIndex + denoFlags.length,
  };
}

/** POSIX shell quoting of one word. */
export function shellQuote(word: string): string {
  return `'${word.replaceAll("'", `'\\''`)}'`;
}

/**
 * A launcher script running `argv` with the launcher's variables: exec'd
 * with the caller's arguments appended, or, when `then` follows (a shell
 * line), run as a child whose variables do not reach `then`.
 */
export function launcherScript(
  invocation: Invocation,
  argv: string[],
  then?: string,
): string {
  const assignments = Object.entries(invocation.env).map(([name, value]) =>
    `${name}=${shellQuote(value)}`
  );
  const words = argv.map(shellQuote).join(" ");
  const body = then
    ? [`${[...assignments, words].join(" ")} || exit 125`, then]
    : [
      ...assignments.map((assignment) => `export ${assignment}`),
      `exec ${words} "$@"`,
    ];
  return [
    "#!/bin/sh",
    "# Written by scripts/bench/runtime_floor.ts: Deno run as the installed",
    "# launcher runs it (same binary, flags and variables).",
    ...body,
    "",
  ].join("\n");
}

/** How a copy of the launcher differs from it. */
export interface LauncherVariant {
  /** Deno options added after `run`. */
  denoFlags?: string[];
  /** V8 options merged into `--v8-flags`. */
  v8Flags?: string[];
  /** A module run instead of ours (our program's args still follow). */
  entry?: string;
  /** Variables added to the launcher's. */
  env?: Record<string, string>;
}

/**
 * Writes a copy of the launcher, changed by `variant`, as `sshproxy` in a
 * new directory under `parent` (readable by every user); returns its path.
 */
export async function writeLauncherVariant(
  parent: string,
  invocation: Invocation,
  variant: LauncherVariant,
): Promise<string> {
  const changed = withFlags(
    { ...invocation, env: { ...invocation.env, ...variant.env } },
    variant.denoFlags ?? [],
    variant.v8Flags ?? [],
  );
  const module = variant.entry ?? changed.argv[changed.moduleIndex];
  const dir = await Deno.makeTempDir({ dir: parent, prefix: "launcher-" });
  await Deno.chmod(dir, 0o755);
  const path = `${dir}/sshproxy`;
  await Deno.writeTextFile(
    path,
    launcherScript(changed, withModule(changed, module, changed.programArgs)),
  );
  await Deno.chmod(path, 0o755);
  return path;
}

/** Files every test user can read: the empty and the idle module. */
export interface FloorFiles {
  dir: string;
  empty: string;
  idle: string;
}

/** Writes the empty and the idle module into `dir` (made readable by all). */
export async function writeFloorFiles(dir: string): Promise<FloorFiles> {
  await Deno.chmod(dir, 0o755);
  const empty = `${dir}/empty.js`;
  const idle = `${dir}/idle.js`;
  await Deno.writeTextFile(empty, "export {};\n");
  await Deno.writeTextFile(
    idle,
    // On the runtime's own timer, as the idle proxy waits: the global
    // setTimeout is Node's in Deno 2.9, and loading Node's timers added
    // ~1.5 MiB to this baseline, which the proxy does not load.
    '// Waits on a timer, as an idle proxy waits on its child.\nawait new Promise((resolve) => AbortSignal.timeout(Number(Deno.args[0] ?? 8000)).addEventListener("abort", resolve));\n',
  );
  for (const file of [empty, idle]) await Deno.chmod(file, 0o644);
  return { dir, empty, idle };
}

/**
 * Writes the ForceCommand of path (f): the empty module run as the
 * launcher runs ours, then `exec` of `sshCommand` (the floor's line).
 */
export async function writeFloorLauncher(
  files: FloorFiles,
  invocation: Invocation,
  sshCommand: string,
): Promise<string> {
  const path = `${files.dir}/empty-module-then-ssh`;
  await Deno.writeTextFile(
    path,
    launcherScript(invocation, withModule(invocation, files.empty), sshCommand),
  );
  await Deno.chmod(path, 0o755);
  return path;
}

/**
 * Runs `argv` (with `env`) as `user`, waiting on a timer, and reads its
 * memory after `settleMs`.
 */
export async function idleProcessMemory(
  user: TestUser,
  argv: string[],
  env: Record<string, string>,
  settleMs: number,
): Promise<IdleProcess> {
  const { home, env: userEnv } = await userEnvironment(user);
  const [cmd, ...args] = [...await asUser(user), ...argv];
  const child = new Deno.Command(cmd, {
    args,
    env: { ...userEnv, ...env },
    clearEnv: true,
    cwd: home,
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  const stderr = new Response(child.stderr).text();
  let sample: IdleProcess | undefined;
  try {
    await sleep(settleMs);
    await syncPageCache();
    // setpriv execs the command: the child's pid is the idle process.
    const memory = await smapsRollup(child.pid);
    const anonymous = await anonymousPrivateDirty(child.pid);
    const threads = await threadsOf(child.pid);
    if (memory && anonymous !== undefined) {
      sample = { memory, anonymousPrivateDirty: anonymous, threads };
    }
  } finally {
    try {
      child.kill("SIGKILL");
    } catch {
      // already gone
    }
    await child.status;
  }
  if (!sample) {
    throw new Error(
      `an idle "${argv.join(" ")}" ended before it was sampled: ${
        (await stderr).trim().slice(0, 300)
      }`,
    );
  }
  return sample;
}

/** The empty module's start-up (both ways) and an idle empty Deno's memory. */
export async function measureRuntimeFloor(
  user: TestUser,
  invocation: Invocation,
  files: FloorFiles,
  repeats: number,
): Promise<RuntimeFloor> {
  const launcherWay = withModule(invocation, files.empty);
  const bare = [
    invocation.argv[0],
    "run",
    "--no-config",
    "--quiet",
    "--no-prompt",
    files.empty,
  ];
  // Once unrecorded each, then interleaved.
  await timedAs(user, launcherWay, invocation.env);
  await timedAs(user, bare, {});
  const empty: number[] = [];
  const bareMs: number[] = [];
  for (let i = 0; i < repeats; i++) {
    empty.push(await timedAs(user, launcherWay, invocation.env));
    bareMs.push(await timedAs(user, bare, {}));
  }
  const idle = await idleProcessMemory(
    user,
    withModule(invocation, files.idle, ["8000"]),
    invocation.env,
    3000,
  );
  return {
    invocation,
    emptyStartMs: summarize(empty),
    bareStartMs: summarize(bareMs),
    idle,
  };
}
