/**
 * Process plumbing shared by the e2e harness: running commands with bounded
 * time, long-running services whose output goes to a log file, and tearing
 * down whole process trees.
 */

/** Outcome of a finished command; never thrown, so tests can assert on it. */
export interface CommandResult {
  /** Exit status (128 + n when killed by signal n, as a shell reports it). */
  code: number;
  /** Terminating signal, or null on a normal exit. */
  signal: Deno.Signal | null;
  /** True when the status is 0. */
  ok: boolean;
  /** True when the harness killed the command because it ran too long. */
  timedOut: boolean;
  /** Standard output decoded as UTF-8. */
  stdout: string;
  /** Standard error decoded as UTF-8. */
  stderr: string;
  /** Raw standard output, for binary-safety checks. */
  stdoutBytes: Uint8Array;
}

/** Options for `run` and `spawn`. */
export interface RunOptions {
  /** Extra environment variables. */
  env?: Record<string, string>;
  /** Start from an empty environment (then only `env` is set). */
  clearEnv?: boolean;
  /** Bytes or text written to stdin, which is then closed; none → /dev/null. */
  stdin?: string | Uint8Array;
  /** Kill the whole process group after this long (default 60 s). */
  timeoutMs?: number;
  /** Working directory. */
  cwd?: string;
}

/** A running command whose result can be awaited or which can be killed. */
export interface RunningCommand {
  /** Process id (also its process-group id: it runs in its own session). */
  readonly pid: number;
  /** Signal the command's whole process group (no-op once it has exited). */
  kill(signal?: Deno.Signal): void;
  /** Wait for the exit and collected output. */
  result(): Promise<CommandResult>;
  /** Kill (SIGKILL) if still running and wait, so `await using` cleans up. */
  [Symbol.asyncDispose](): Promise<void>;
}

const DEFAULT_TIMEOUT_MS = 60_000;

/** Debian package that provides each external tool, for error messages. */
const PACKAGE_OF: Record<string, string> = {
  "/usr/sbin/sshd": "openssh-server",
  "/usr/lib/openssh/sftp-server": "openssh-sftp-server",
  "/usr/bin/ssh": "openssh-client",
  "/usr/bin/ssh-keygen": "openssh-client",
  "/usr/bin/etcd": "etcd-server",
  "/usr/bin/etcdctl": "etcd-client",
  "/usr/bin/openssl": "openssl",
  "/usr/bin/setpriv": "util-linux",
  "/usr/sbin/useradd": "passwd",
  "/usr/sbin/usermod": "passwd",
  "/usr/sbin/userdel": "passwd",
  "/usr/sbin/groupadd": "passwd",
};

/** Resolve when `ms` has passed. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * Race `promise` against a timer that is always cleared, because a dangling
 * timer would trip Deno's test sanitizers.
 */
export async function withTimeout<T>(
  promise: Promise<T>,
  ms: number,
): Promise<{ done: true; value: T } | { done: false }> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<{ done: false }>((resolve) => {
    timer = setTimeout(() => resolve({ done: false }), ms);
  });
  try {
    return await Promise.race([
      promise.then((value) => ({ done: true as const, value })),
      timeout,
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/** `promise`, or a failure naming `what` after `ms`: a hang fails the test. */
export async function within<T>(
  promise: Promise<T>,
  ms: number,
  what: string,
): Promise<T> {
  const result = await withTimeout(promise, ms);
  if (!result.done) throw new Error(`${what}: not within ${ms} ms`);
  return result.value;
}

/**
 * Throw a clear error naming the Debian package when an external tool is
 * missing; the harness must not silently assume what apt installed.
 */
export async function requireTool(path: string): Promise<string> {
  try {
    const info = await Deno.stat(path);
    if (info.isFile && ((info.mode ?? 0) & 0o111) !== 0) return path;
  } catch {
    // Fall through to the explanatory error.
  }
  const pkg = PACKAGE_OF[path] ?? "the package providing it";
  throw new Error(
    `e2e harness: ${path} is missing; install it with ` +
      `"apt-get install -y ${pkg}"`,
  );
}

/**
 * Spawn `argv` in its own session (detached), so a timeout or `kill()` can
 * reach every process it started through the process group.
 */
export function spawn(
  argv: string[],
  options: RunOptions = {},
): RunningCommand {
  const [cmd, ...args] = argv;
  const child = new Deno.Command(cmd, {
    args,
    env: options.env,
    clearEnv: options.clearEnv,
    cwd: options.cwd,
    stdin: options.stdin === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
    detached: true,
  }).spawn();
  let exited = false;
  let timedOut = false;
  const killGroup = (signal: Deno.Signal) => {
    if (exited) return;
    try {
      Deno.kill(-child.pid, signal);
    } catch {
      // The group is already gone.
    }
  };
  if (options.stdin !== undefined) {
    const data = typeof options.stdin === "string"
      ? new TextEncoder().encode(options.stdin)
      : options.stdin;
    const writer = child.stdin.getWriter();
    // A child that exits without reading stdin makes the write fail: ignore,
    // its exit status is what the test looks at.
    writer.write(data).then(() => writer.close()).catch(() => {});
  }
  const output = child.output();
  const timer = setTimeout(() => {
    timedOut = true;
    killGroup("SIGKILL");
  }, options.timeoutMs ?? DEFAULT_TIMEOUT_MS);
  const finished = output.then((out): CommandResult => {
    exited = true;
    return {
      code: out.code,
      signal: out.signal,
      ok: out.success,
      timedOut,
      stdout: new TextDecoder().decode(out.stdout),
      stderr: new TextDecoder().decode(out.stderr),
      stdoutBytes: out.stdout,
    };
  }).finally(() => clearTimeout(timer));
  return {
    pid: child.pid,
    kill: (signal: Deno.Signal = "SIGTERM") => killGroup(signal),
    result: () => finished,
    async [Symbol.asyncDispose]() {
      killGroup("SIGKILL");
      await finished;
    },
  };
}

/** Run `argv` to completion with a timeout; never throws on failure status. */
export function run(
  argv: string[],
  options: RunOptions = {},
): Promise<CommandResult> {
  return spawn(argv, options).result();
}

/** Run `argv` and throw with its output when it fails (for set-up steps). */
export async function runChecked(
  argv: string[],
  options: RunOptions = {},
): Promise<CommandResult> {
  const res = await run(argv, options);
  if (!res.ok) {
    throw new Error(
      `e2e harness: "${argv.join(" ")}" failed (status ${res.code}` +
        `${res.timedOut ? ", timed out" : ""}): ${res.stderr.trim()}` +
        `${res.stdout.trim() ? `\nstdout: ${res.stdout.trim()}` : ""}`,
    );
  }
  return res;
}

/** Parent pid of every process, read from /proc (Linux only). */
async function parentMap(): Promise<Map<number, number>> {
  const parents = new Map<number, number>();
  for await (const entry of Deno.readDir("/proc")) {
    if (!/^\d+$/.test(entry.name)) continue;
    try {
      const stat = await Deno.readTextFile(`/proc/${entry.name}/stat`);
      // The command name is in parentheses and may itself contain spaces or
      // parentheses, so parse from the last ")".
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      parents.set(Number(entry.name), Number(fields[1]));
    } catch {
      // The process exited while we were scanning.
    }
  }
  return parents;
}

/** All descendants of the given pids (not including them). */
export async function descendants(roots: Iterable<number>): Promise<number[]> {
  const parents = await parentMap();
  const found = new Set<number>();
  const queue = [...roots];
  while (queue.length > 0) {
    const pid = queue.pop()!;
    for (const [child, parent] of parents) {
      if (parent === pid && !found.has(child)) {
        found.add(child);
        queue.push(child);
      }
    }
  }
  return [...found];
}

/** A long-running service (sshd, etcd) whose output goes to a log file. */
export interface Service {
  /** Process id of the service itself. */
  readonly pid: number;
  /** File receiving the service's stdout and stderr. */
  readonly logPath: string;
  /** Resolves once the service has exited. */
  readonly exited: Promise<Deno.CommandStatus>;
  /** Whether the service process is still running. */
  alive(): boolean;
  /**
   * Stop the service and every process it started (sessions included):
   * `signal` first, SIGKILL after `graceMs`. Safe to call more than once.
   */
  stop(signal?: Deno.Signal, graceMs?: number): Promise<void>;
  /** The log file's current contents ("" if unreadable). */
  log(): Promise<string>;
}

/**
 * Start `argv` with stdout+stderr appended to `logPath`. A shell does the
 * redirection and then execs, so the pid is the service's own and no pipe
 * ties our test process to the service's children (sshd sessions inherit
 * sshd's stderr and would otherwise keep a pipe open after sshd stopped).
 */
export function startService(argv: string[], logPath: string): Service {
  const child = new Deno.Command("/bin/sh", {
    args: [
      "-c",
      'log="$1"; shift; exec "$@" >>"$log" 2>&1',
      "sh",
      logPath,
      ...argv,
    ],
    stdin: "null",
    stdout: "null",
    stderr: "null",
  }).spawn();
  let running = true;
  const exited = child.status.finally(() => {
    running = false;
  });
  let stopping: Promise<void> | undefined;
  const stop = (signal: Deno.Signal = "SIGTERM", graceMs = 5_000) => {
    stopping ??= (async () => {
      // Snapshot the tree first: once the parent dies its children are
      // re-parented and can no longer be found from its pid.
      const before = await descendants([child.pid]);
      if (running) {
        try {
          child.kill(signal);
        } catch {
          // Already exited.
        }
        const waited = await withTimeout(exited, graceMs);
        if (!waited.done) {
          try {
            child.kill("SIGKILL");
          } catch {
            // Exited in between.
          }
          await exited;
        }
      }
      const tree = new Set([...before, ...await descendants(before)]);
      for (const pid of tree) {
        try {
          Deno.kill(pid, "SIGKILL");
        } catch {
          // Already gone.
        }
      }
    })();
    return stopping;
  };
  return {
    pid: child.pid,
    logPath,
    exited,
    alive: () => running,
    stop,
    log: () => Deno.readTextFile(logPath).catch(() => ""),
  };
}

/**
 * Remove a harness temp dir, unless SSHPROXY_E2E_KEEP is set (then its logs
 * and configs stay for post-mortem debugging and the path is printed).
 */
export async function removeTempDir(dir: string): Promise<void> {
  if (Deno.env.get("SSHPROXY_E2E_KEEP")) {
    console.error(`e2e harness: keeping ${dir}`);
    return;
  }
  await Deno.remove(dir, { recursive: true }).catch(() => {});
}

/**
 * Create a temp dir that other users can traverse and read (mode 0755):
 * Deno.makeTempDir makes 0700 dirs, which would hide installed programs,
 * scripts and certificates from the test accounts.
 */
export async function makeSharedTempDir(
  prefix = "sshproxy-e2e-",
): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix });
  await Deno.chmod(dir, 0o755);
  return dir;
}
