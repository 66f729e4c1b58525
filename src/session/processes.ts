// The processes of a session: the blocking command, the background
// command and the ssh client (spec §5.13-5.15). Without a recorder, ssh
// inherits the session's stdio and stays in our process group, so the
// terminal's signals and window changes reach it directly and no byte
// passes through us; with one, recorded_ssh.ts starts it with pipes or
// under script(1) (terminal_recording.ts) and uses `superviseSsh` below.

import { sleep } from "../system/timers.ts";

/** How a child ended, as a shell would report it. */
export interface ExitStatus {
  /** Exit code, or 128 + signal number when killed by a signal. */
  code: number;
  signal?: string;
}

/** A child's status as an ExitStatus. */
export function statusOf(status: Deno.CommandStatus): ExitStatus {
  if (status.signal !== null) {
    const number = SIGNAL_NUMBERS[status.signal] ?? 0;
    return { code: 128 + number, signal: status.signal };
  }
  return { code: status.code };
}

/** Signal numbers of the signals a session sees (Linux). */
export const SIGNAL_NUMBERS: Record<string, number> = {
  SIGHUP: 1,
  SIGINT: 2,
  SIGQUIT: 3,
  SIGKILL: 9,
  SIGPIPE: 13,
  SIGTERM: 15,
};

/**
 * Runs the blocking command with stdin on /dev/null and the session's
 * stdout/stderr, in its own process group. When `cancel` fires (the user
 * left, or a signal), the group gets SIGTERM, then SIGKILL after `graceMs`:
 * the session must not wait for a command nobody is waiting for.
 */
export async function runBlockingCommand(
  argv: string[],
  cancel: AbortSignal,
  graceMs = 500,
): Promise<ExitStatus | { error: string }> {
  let child: Deno.ChildProcess;
  try {
    child = new Deno.Command(argv[0], {
      args: argv.slice(1),
      stdin: "null",
      stdout: "inherit",
      stderr: "inherit",
      detached: true,
    }).spawn();
  } catch (error) {
    return { error: `exec: "${argv[0]}": ${describe(error)}` };
  }
  const status = child.status.then(statusOf);
  const stop = () => void stopGroup(child.pid, status, graceMs);
  if (cancel.aborted) stop();
  else cancel.addEventListener("abort", stop, { once: true });
  try {
    return await status;
  } finally {
    cancel.removeEventListener("abort", stop);
  }
}

/** SIGTERM to a process group, SIGKILL if its leader has not exited after `graceMs`. */
async function stopGroup(
  pid: number,
  status: Promise<ExitStatus>,
  graceMs: number,
): Promise<void> {
  signalGroup(pid, "SIGTERM");
  const exited = await Promise.race([
    status.then(() => true),
    delay(graceMs).then(() => false),
  ]);
  // Also when the leader obeyed: a member that ignores SIGTERM must not
  // outlive the session.
  signalGroup(pid, "SIGKILL");
  if (!exited) await status;
}

/** A running background command. */
export interface BackgroundCommand {
  /** Kills the command and every process it started (its own process group). */
  stop(): Promise<void>;
  /** Resolves when it exits by itself. */
  status: Promise<ExitStatus>;
}

/** Starts the background command in its own process group (so its children can be stopped too). */
export function startBackgroundCommand(
  argv: string[],
  onOutput: ((stream: "stdout" | "stderr", line: string) => void) | undefined,
): BackgroundCommand | { error: string } {
  let child: Deno.ChildProcess;
  try {
    child = new Deno.Command(argv[0], {
      args: argv.slice(1),
      stdin: "null",
      stdout: onOutput ? "piped" : "null",
      stderr: onOutput ? "piped" : "null",
      detached: true,
    }).spawn();
  } catch (error) {
    return { error: `exec: "${argv[0]}": ${describe(error)}` };
  }
  if (onOutput) {
    void forwardLines(child.stdout, (line) => onOutput("stdout", line));
    void forwardLines(child.stderr, (line) => onOutput("stderr", line));
  }
  const status = child.status.then(statusOf);
  return {
    status,
    stop: () => stopGroup(child.pid, status, 300),
  };
}

async function forwardLines(
  stream: ReadableStream<Uint8Array>,
  emit: (line: string) => void,
): Promise<void> {
  const decoder = new TextDecoder();
  let buffered = "";
  try {
    for await (const chunk of stream) {
      buffered += decoder.decode(chunk, { stream: true });
      const lines = buffered.split("\n");
      buffered = lines.pop() ?? "";
      for (const line of lines) if (line.trim() !== "") emit(line.trim());
    }
  } catch {
    // the process was killed: nothing more to forward
  }
  if (buffered.trim() !== "") emit(buffered.trim());
}

function signalGroup(pid: number, signal: Deno.Signal): void {
  try {
    Deno.kill(-pid, signal);
  } catch {
    // already gone
  }
}

/** A running ssh client. */
export interface SshProcess {
  status: Promise<ExitStatus>;
  /** SIGTERM, then SIGKILL if it has not exited after `graceMs`. */
  terminate(graceMs: number): Promise<ExitStatus>;
}

/** Starts ssh with the session's stdin, stdout and stderr. */
export function startSsh(argv: string[]): SshProcess | { error: string } {
  let child: Deno.ChildProcess;
  try {
    child = new Deno.Command(argv[0], {
      args: argv.slice(1),
      stdin: "inherit",
      stdout: "inherit",
      stderr: "inherit",
    }).spawn();
  } catch (error) {
    return { error: spawnError(argv[0], error) };
  }
  return superviseSsh(child, child.status.then(statusOf));
}

/** Go's text for a failed exec of `program`. */
export function spawnError(program: string, error: unknown): string {
  return `exec: "${program}": ${describe(error)}`;
}

/**
 * An SshProcess for a spawned child: `status` is the given promise (which
 * may wait for more than the child, e.g. its output), `terminate` sends
 * SIGTERM, then SIGKILL after `graceMs`.
 */
export function superviseSsh(
  child: Deno.ChildProcess,
  status: Promise<ExitStatus>,
): SshProcess {
  let exited = false;
  child.status.then(() => exited = true, () => exited = true);
  const kill = (signal: Deno.Signal) => {
    if (exited) return;
    try {
      child.kill(signal);
    } catch {
      // already exited
    }
  };
  return {
    status,
    async terminate(graceMs) {
      kill("SIGTERM");
      const ended = await Promise.race([
        child.status.then(() => true),
        delay(graceMs).then(() => false),
      ]);
      if (!ended) kill("SIGKILL");
      return await status;
    },
  };
}

/** Resolves after `ms` milliseconds (without Deno's Node-compatible setTimeout). */
export function delay(ms: number): Promise<void> {
  return sleep(ms);
}

function describe(error: unknown): string {
  if (error instanceof Deno.errors.NotFound) {
    return "executable file not found in $PATH";
  }
  if (error instanceof Deno.errors.PermissionDenied) return "permission denied";
  return error instanceof Error ? error.message : String(error);
}
