// Recording a terminal session (spec §5.14, stdout is a terminal and a
// recorder exists). The reference starts ssh on a new pseudo-terminal,
// puts the user's terminal in raw mode, copies both directions through the
// pty (recording them) and forwards SIGWINCH sizes to it. Deno has no PTY
// API (no openpty, no setsid/TIOCSCTTY for a child, no termios), and this
// project does not use FFI, so the pty is left to util-linux script(1),
// which does exactly that job in C:
//
//   script -q -f -e -E always -m advanced -B IO -T TIMING -c 'eval "$SSHPROXY_SSH_COMMAND"'
//
// * script allocates the pty, makes it the controlling terminal of a new
//   session for the child, sets the user's terminal raw (restored at exit),
//   copies stdin → pty and pty → stdout itself, copies the window size at
//   start and on every SIGWINCH (ssh then tells the destination);
// * `-E always` keeps ECHO on the new pty like a fresh pty in the
//   reference (ssh turns it off when it goes raw); `-e` returns the
//   child's status (128 + n for signal n); `-q` prints no banner to the
//   user; `-f` flushes the logs after every write, so records are not
//   delayed;
// * the logs go to two FIFOs in a private directory (0700, owned by the
//   user the proxy runs as) that we read as script writes them
//   (script_log.ts pairs the timing lines with the bytes): typed bytes
//   become fd 0 records, bytes written to the user fd 1 records (the pty
//   merges stderr, so no fd 2), the header's COLUMNS/LINES the initial size
//   and every SIGWINCH line a resize;
// * the command given to script is a fixed string and TERM a sanitised
//   value, so script's one-line banner at the start of the IO log cannot
//   be stretched by the user; ssh's argv travels in an environment variable
//   (shell-quoted), and the user's TERM, SHELL and LC_ALL are restored
//   before ssh is exec'd (script runs `$SHELL -c`, so SHELL is /bin/sh for
//   it: the user's login shell may be anything on a gateway).
//
// Ending the session early (cancellation) signals ssh itself, whose pid
// the wrapper writes to the private directory before exec'ing it: script
// blocks SIGHUP and answers SIGTERM by sleeping 2 s before killing its
// child, and Deno may not read /proc without --allow-all. script then
// exits on its own, restoring the user's terminal and closing its logs.
//
// The session's bytes never pass through Deno: script writes them to the
// user and a copy to us; a slow reader only slows script down, never loses
// bytes. When script exits, the FIFOs are read to their end (bounded)
// before the caller closes the recorder, so no output in flight is lost
// (the reference's §12.2 item 21). Without a usable script (missing, or
// older than util-linux 2.35, which introduced the advanced log format),
// the session runs unrecorded, with one log line saying why.
import { nowNanoseconds } from "../format/time.ts";
import type { Level } from "../log/format.ts";
import type { Recorder } from "../record/recorder.ts";
import {
  delay,
  type ExitStatus,
  SIGNAL_NUMBERS,
  type SshProcess,
  startSsh,
  statusOf,
} from "./processes.ts";
import { ScriptLogDemux } from "./script_log.ts";

/** Options of the script-based runner (tests change the defaults). */
export interface ScriptedSshOptions {
  /** The ssh argv. */
  argv: string[];
  recorder: Recorder;
  log: (level: Level, message: string) => void;
  /** The script executable (default `script`, found on PATH). */
  script?: string;
  /** scriptUnavailable() already said yes. */
  checked?: boolean;
  /** How long to wait for the logs' end after script exits (default 5000 ms). */
  drainTimeoutMs?: number;
}

/** Why script cannot be used, or undefined when it can. */
export async function scriptUnavailable(
  script = "script",
): Promise<string | undefined> {
  let output: Deno.CommandOutput;
  try {
    output = await new Deno.Command(script, {
      args: ["--version"],
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).output();
  } catch (error) {
    return error instanceof Deno.errors.NotFound
      ? `${script}: executable file not found in $PATH`
      : `${script}: ${error instanceof Error ? error.message : error}`;
  }
  const text = new TextDecoder().decode(output.stdout);
  const version = /util-linux\)? ([0-9]+)\.([0-9]+)/.exec(text);
  if (!output.success || version === null) {
    return `${script} --version: not util-linux's script (${
      text.trim() || `exit status ${output.code}`
    })`;
  }
  const [major, minor] = [Number(version[1]), Number(version[2])];
  if (major < 2 || (major === 2 && minor < 35)) {
    return `${script} is util-linux ${major}.${minor}, 2.35 or later is needed (advanced log format)`;
  }
  return undefined;
}

/** Shell single quotes: the word exactly as given. */
export function shellQuote(word: string): string {
  return `'${word.replaceAll("'", `'\\''`)}'`;
}

// Variables changed for script itself and restored for ssh.
const RESTORED = ["TERM", "SHELL", "LC_ALL"] as const;

/** The environment changes for script and the command it evals. */
export function scriptEnvironment(
  argv: readonly string[],
  env: (name: string) => string | undefined,
  pidFile?: string,
): { env: Record<string, string>; command: string } {
  const restore = RESTORED.map((name) => {
    const value = env(name);
    return value === undefined
      ? `unset ${name}`
      : `export ${name}=${shellQuote(value)}`;
  });
  const command = [
    "unset SSHPROXY_SSH_COMMAND",
    // ssh keeps the shell's pid through exec: terminate() signals it.
    ...(pidFile === undefined ? [] : [`echo $$ > ${shellQuote(pidFile)}`]),
    ...restore,
    `exec ${argv.map(shellQuote).join(" ")}`,
  ].join("\n");
  const term = env("TERM") ?? "";
  return {
    env: {
      TERM: /^[A-Za-z0-9._+-]{1,64}$/.test(term) ? term : "unknown",
      SHELL: "/bin/sh",
      LC_ALL: "C",
      SSHPROXY_SSH_COMMAND: command,
    },
    command,
  };
}

/** The fixed command line script runs (`$SHELL -c` with SHELL=/bin/sh). */
export const SCRIPT_COMMAND = 'eval "$SSHPROXY_SSH_COMMAND"';

/**
 * A private directory (0700) for the FIFOs: in the first of TMPDIR,
 * XDG_RUNTIME_DIR, /tmp, /var/tmp, /dev/shm and HOME that lets the user
 * create one (a hardened /tmp may not).
 */
async function privateDir(): Promise<string> {
  const sane = (path: string | undefined) =>
    path !== undefined && /^\/[A-Za-z0-9._/+-]*$/.test(path) ? [path] : [];
  const bases = [
    ...sane(Deno.env.get("TMPDIR")),
    ...sane(Deno.env.get("XDG_RUNTIME_DIR")),
    "/tmp",
    "/var/tmp",
    "/dev/shm",
    ...sane(Deno.env.get("HOME")),
  ];
  let failure: unknown;
  for (const base of bases) {
    try {
      const dir = await Deno.makeTempDir({
        dir: base,
        prefix: "sshproxy-tty-",
      });
      await Deno.chmod(dir, 0o700);
      return dir;
    } catch (error) {
      failure ??= new Error(`${base}: ${describe(error)}`);
    }
  }
  throw failure;
}

async function mkfifo(path: string): Promise<void> {
  const output = await new Deno.Command("mkfifo", {
    args: ["-m", "600", path],
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).output();
  if (!output.success) {
    throw new Error(
      new TextDecoder().decode(output.stderr).trim() ||
        `mkfifo: exit status ${output.code}`,
    );
  }
}

/** A FIFO being read to its end; `opened` tells whether script ever opened it. */
interface FifoReader {
  opened: boolean;
  done: Promise<void>;
  /** Opens the write side once, so a read-side open nobody will match returns. */
  unblock(): Promise<void>;
}

function readFifo(
  path: string,
  onOpen: () => void,
  onChunk: (chunk: Uint8Array) => void,
): FifoReader {
  const reader: FifoReader = {
    opened: false,
    done: Promise.resolve(),
    async unblock() {
      if (reader.opened) return;
      try {
        // A reader is waiting in open(2), so this open does not block.
        const writer = await Deno.open(path, { write: true });
        writer.close();
      } catch {
        // nothing to unblock
      }
    },
  };
  reader.done = (async () => {
    let file: Deno.FsFile;
    try {
      file = await Deno.open(path, { read: true });
    } catch {
      return;
    }
    reader.opened = true;
    onOpen();
    const buffer = new Uint8Array(256 * 1024);
    try {
      for (;;) {
        const count = await file.read(buffer);
        if (count === null) break;
        if (count > 0) onChunk(buffer.slice(0, count));
      }
    } catch {
      // the writer vanished: what was read is kept
    } finally {
      file.close();
    }
  })();
  return reader;
}

function signal(pid: number, name: Deno.Signal): void {
  try {
    Deno.kill(pid, name);
  } catch {
    // already gone
  }
}

/**
 * Starts ssh under script(1) and feeds the recorder from script's logs.
 * `status` resolves once script has exited and its logs are read to the
 * end (at most drainTimeoutMs after the exit). `{ unavailable }` means
 * nothing was started: run ssh without recording.
 */
export async function startScriptedSsh(
  options: ScriptedSshOptions,
): Promise<SshProcess | { unavailable: string }> {
  const { argv, recorder, log } = options;
  const script = options.script ?? "script";
  const why = options.checked ? undefined : await scriptUnavailable(script);
  if (why !== undefined) return { unavailable: why };
  let dir: string;
  try {
    dir = await privateDir();
  } catch (error) {
    return { unavailable: `creating a private directory: ${describe(error)}` };
  }
  const removeDir = () => Deno.remove(dir, { recursive: true }).catch(() => {});
  const ioPath = `${dir}/io`;
  const timingPath = `${dir}/timing`;
  try {
    await mkfifo(ioPath);
    await mkfifo(timingPath);
  } catch (error) {
    await removeDir();
    return { unavailable: `creating FIFOs: ${describe(error)}` };
  }

  let demux: ScriptLogDemux | undefined;
  let broken = false;
  const feed = (what: (d: ScriptLogDemux) => void) => {
    if (broken || demux === undefined) return;
    try {
      what(demux);
    } catch (error) {
      // Keep reading (script must never block on a full FIFO), stop feeding.
      broken = true;
      log(
        "ERROR",
        `session recording disabled due to error: reading script's log: ${
          describe(error)
        }`,
      );
    }
  };
  let openedCount = 0;
  const pendingTiming: Uint8Array[] = [];
  const pendingIo: Uint8Array[] = [];
  const onOpen = () => {
    // Script opens its logs right before its first timing delay starts.
    if (++openedCount < 2) return;
    demux = new ScriptLogDemux({
      data: (fd, bytes, timeNs) => recorder.record(fd, bytes, timeNs),
      resize: (cols, rows, timeNs) => recorder.resize(cols, rows, timeNs),
    }, nowNanoseconds());
    for (const chunk of pendingIo.splice(0)) feed((d) => d.pushIo(chunk));
    for (const chunk of pendingTiming.splice(0)) {
      feed((d) => d.pushTiming(chunk));
    }
  };
  const io = readFifo(ioPath, onOpen, (chunk) => {
    if (demux === undefined) pendingIo.push(chunk);
    else feed((d) => d.pushIo(chunk));
  });
  const timing = readFifo(timingPath, onOpen, (chunk) => {
    if (demux === undefined) pendingTiming.push(chunk);
    else feed((d) => d.pushTiming(chunk));
  });

  const pidFile = `${dir}/pid`;
  const environment = scriptEnvironment(
    argv,
    (name) => Deno.env.get(name),
    pidFile,
  );
  let child: Deno.ChildProcess;
  try {
    child = new Deno.Command(script, {
      args: [
        "-q",
        "-f",
        "-e",
        "-E",
        "always",
        "-m",
        "advanced",
        "-B",
        ioPath,
        "-T",
        timingPath,
        "-c",
        SCRIPT_COMMAND,
      ],
      env: environment.env,
      stdin: "inherit",
      stdout: "inherit",
      stderr: "inherit",
    }).spawn();
  } catch (error) {
    await Promise.all([io.unblock(), timing.unblock()]);
    await removeDir();
    return { unavailable: `${script}: ${describe(error)}` };
  }

  const drainMs = options.drainTimeoutMs ?? 5000;
  let sent: Deno.Signal | undefined;
  let fallback: SshProcess | undefined;
  const status = (async (): Promise<ExitStatus> => {
    const raw = await child.status;
    await Promise.all([io.unblock(), timing.unblock()]);
    const drained = await Promise.race([
      Promise.all([io.done, timing.done]).then(() => true),
      delay(drainMs).then(() => false),
    ]);
    if (drained) feed((d) => d.endTiming());
    else {
      log(
        "ERROR",
        `session recording incomplete: script's log was not read to its end within ${drainMs} ms`,
      );
    }
    void removeDir();
    if (!io.opened && !timing.opened) {
      // script failed before it forked (no pty...): ssh never ran.
      log(
        "ERROR",
        `session recording disabled due to error: ${script} did not start (${
          raw.signal ?? `exit status ${raw.code}`
        }); running ssh without recording`,
      );
      const direct = startSsh(argv);
      if ("error" in direct) {
        log("ERROR", `error executing proxied ssh command: ${direct.error}`);
        return { code: 255 };
      }
      fallback = direct;
      return await direct.status;
    }
    const exit = statusOf(raw);
    // script reports a child killed by signal n as status 128 + n; when
    // we sent that signal, say so as the direct ssh run would.
    if (
      exit.signal === undefined && sent !== undefined &&
      exit.code === 128 + (SIGNAL_NUMBERS[sent] ?? -200)
    ) {
      return { code: exit.code, signal: sent };
    }
    return exit;
  })();

  let exited = false;
  child.status.then(() => exited = true, () => exited = true);
  return {
    status,
    async terminate(graceMs) {
      if (fallback !== undefined) return await fallback.terminate(graceMs);
      // ssh itself (see the module comment); script only if the wrapper
      // has not written the pid yet.
      const inner = exited ? [] : await sshPid(pidFile);
      sent = "SIGTERM";
      if (inner.length === 0 && !exited) signal(child.pid, "SIGTERM");
      for (const pid of inner) signal(pid, "SIGTERM");
      const ended = await Promise.race([
        child.status.then(() => true),
        delay(graceMs).then(() => false),
      ]);
      if (!ended) {
        sent = "SIGKILL";
        for (const pid of inner) signal(pid, "SIGKILL");
        if (!exited) signal(child.pid, "SIGKILL");
      }
      return await status;
    },
  };
}

/** The pid the wrapper shell wrote before exec'ing ssh, if it got that far. */
async function sshPid(pidFile: string): Promise<number[]> {
  const text = await Deno.readTextFile(pidFile).catch(() => "");
  const pid = Number(text.trim());
  return Number.isSafeInteger(pid) && pid > 1 ? [pid] : [];
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
