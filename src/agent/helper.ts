// The agent's helpers: shells started before the agent gives up the right
// to run programs, kept for the agent's life, that answer two kinds of
// questions the Deno runtime cannot, on their stdin and stdout (one shell
// for each kind, so that a slow name service never delays /proc):
//
// - who a uid is, with its groups: NSS through `id -- UID`, the same
//   lookup as a session's own `id` (src/system/identity.ts parses both);
//   Deno has no getpwuid and FFI is not used;
// - what /proc says about given pids: Deno refuses /proc to any program not
//   granted every permission, and the agent keeps only read, write and net.
//   That shell is bash when the gateway has one: a session's check (two
//   pids, their stat and status) is one question answered in ~0.35 ms,
//   against two questions and ~1.2 ms under dash (measured).
//
// Only digits from the agent ever reach `id` (after `--`) or a /proc path,
// and /proc is read with shell built-ins (no process per question). What
// the helper prints back cannot be steered by the processes it looks at:
// from /proc/PID/stat only what follows the command name's last `)` (the
// kernel's numbers), from /proc/PID/status only the `Uid:` line (the kernel
// escapes newlines in names there). So a user naming a process with
// newlines and fake answers gains nothing.
import { fail, ok, type Result } from "../result.ts";
import { parseIdOutput, type UserIdentity } from "../system/identity.ts";
import type { ProcSource } from "./processes.ts";

/** What the helper answers. */
export interface SystemHelper {
  /** The user with this uid (the first name NSS gives it) and its groups. */
  identity(uid: number): Promise<Result<UserIdentity>>;
  /** /proc, read for the agent. */
  proc: ProcSource;
  /** Whether fs.protected_hardlinks is on (undefined: unreadable). */
  protectedHardlinks(): Promise<boolean | undefined>;
  /** Why the helper cannot answer any more, once it cannot. */
  readonly broken: string | undefined;
  /** Stops the helper. */
  close(): Promise<void>;
}

// The stat line is kept from the command name's last ")" on; the status
// file only for its `Uid:` line. Under bash, a file is read whole in one
// `read -d ''` (buffered: a few system calls); dash's `read` takes a byte
// per system call, so there the status file is read only up to that line.
const HELPER_SCRIPT = `
id_tool=$1
# Sets $content to the file's text ("" when unreadable).
read_whole() {
  content=
  if [ -n "\${BASH_VERSION-}" ]; then
    { IFS= read -r -d '' content < "$1"; } 2>/dev/null
  else
    { while IFS= read -r line || [ -n "$line" ]; do content="$content$line
"; done < "$1"; } 2>/dev/null
  fi
}
# Sets $stat to /proc/PID/stat after the command name's last ")" ("-": none).
read_stat() {
  read_whole "/proc/$1/stat"
  case $content in
    *")"*) stat=\${content##*)}; stat=\${stat%%"
"} ;;
    *) stat=- ;;
  esac
}
# Sets $uids to the Uid: line of /proc/PID/status ("-": none).
read_uids() {
  uids=-
  if [ -n "\${BASH_VERSION-}" ]; then
    read_whole "/proc/$1/status"
    case $content in
      *"
Uid:"*) uids=\${content#*"
Uid:"}; uids="Uid:\${uids%%"
"*}" ;;
    esac
  else
    { while IFS= read -r line; do
        case $line in Uid:*) uids=$line; break ;; esac
      done < "/proc/$1/status"; } 2>/dev/null
  fi
}
while IFS= read -r request; do
  set -f
  set -- $request
  set +f
  command=$1
  shift
  case $command in
    id)
      case $1 in ''|*[!0-9]*) echo "--end 2"; continue ;; esac
      LC_ALL=C "$id_tool" -- "$1" 2>&1
      echo "--end $?" ;;
    stat)
      for pid in "$@"; do
        case $pid in ''|*[!0-9]*) continue ;; esac
        read_stat "$pid"
        printf '%s %s\\n' "$pid" "$stat"
      done
      echo "--end 0" ;;
    proc)
      for pid in "$@"; do
        case $pid in ''|*[!0-9]*) continue ;; esac
        read_stat "$pid"
        read_uids "$pid"
        printf '%s %s|%s\\n' "$pid" "$stat" "$uids"
      done
      echo "--end 0" ;;
    hardlinks)
      line=
      { IFS= read -r line < /proc/sys/fs/protected_hardlinks; } 2>/dev/null
      printf '%s\\n' "$line"
      echo "--end 0" ;;
    *) echo "--end 2" ;;
  esac
done
`;

function idPath(): string {
  for (const candidate of ["/usr/bin/id", "/bin/id"]) {
    try {
      if (Deno.statSync(candidate).isFile) return candidate;
    } catch {
      // try the next one
    }
  }
  return "id";
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

type Answer = Result<{ text: string; status: number }>;

/**
 * One helper shell: questions are written in order and their answers read
 * in the same order, so an answer that came too late for its caller is
 * still read (and dropped) before the next one: a slow answer costs a
 * timeout, never the order. Only the shell's end breaks the channel.
 */
class ShellChannel {
  readonly #child: Deno.ChildProcess;
  readonly #writer: WritableStreamDefaultWriter<Uint8Array>;
  readonly #reader: ReadableStreamDefaultReader<string>;
  #buffered = "";
  #broken: string | undefined;
  #writing: Promise<unknown> = Promise.resolve();
  #reading: Promise<unknown> = Promise.resolve();

  constructor(child: Deno.ChildProcess, name: string) {
    this.#child = child;
    this.#writer = child.stdin.getWriter();
    this.#reader = child.stdout.pipeThrough(new TextDecoderStream())
      .getReader();
    child.status.then((status) => {
      this.#broken ??= `the ${name} ended (exit status ${status.code})`;
    });
  }

  get broken(): string | undefined {
    return this.#broken;
  }

  async #readAnswer(): Promise<Answer> {
    for (;;) {
      const end = /(?:^|\n)--end (\d+)\n/.exec(this.#buffered);
      if (end) {
        const text = this.#buffered.slice(0, end.index);
        this.#buffered = this.#buffered.slice(end.index + end[0].length);
        return ok({ text, status: Number(end[1]) });
      }
      const chunk = await this.#reader.read().catch(() => ({
        done: true as const,
        value: undefined,
      }));
      if (chunk.done) {
        this.#broken ??= "the helper's output ended";
        return fail(this.#broken);
      }
      this.#buffered += chunk.value;
    }
  }

  ask(question: string, timeoutMs: number): Promise<Answer> {
    if (this.#broken !== undefined) {
      return Promise.resolve(fail(this.#broken));
    }
    const written = this.#writing.then(() =>
      this.#writer.write(new TextEncoder().encode(`${question}\n`))
    );
    this.#writing = written.catch(() => {});
    const answer = this.#reading.then(async (): Promise<Answer> => {
      try {
        await written;
      } catch (error) {
        this.#broken ??= `the helper failed: ${describe(error)}`;
        return fail(this.#broken);
      }
      return await this.#readAnswer();
    });
    this.#reading = answer;
    let timer: ReturnType<typeof setTimeout> | undefined;
    return Promise.race([
      answer,
      new Promise<Answer>((resolve) => {
        timer = setTimeout(
          () => resolve(fail(`no answer within ${timeoutMs} ms`)),
          timeoutMs,
        );
      }),
    ]).finally(() => clearTimeout(timer));
  }

  async close(): Promise<void> {
    this.#broken ??= "closed";
    await this.#writer.close().catch(() => {});
    await this.#reader.cancel().catch(() => {});
    try {
      this.#child.kill("SIGTERM");
    } catch {
      // already gone
    }
    await this.#child.status;
  }
}

function spawnShell(shell: string): Deno.ChildProcess {
  return new Deno.Command(shell, {
    args: ["-c", HELPER_SCRIPT, "sshproxy-agent-helper", idPath()],
    stdin: "piped",
    stdout: "piped",
    stderr: "null",
    clearEnv: true,
    env: { PATH: "/usr/bin:/bin" },
  }).spawn();
}

/** The /proc shell: bash when there is one (it reads a file in one go). */
function procShellPath(): string {
  try {
    if (Deno.statSync("/bin/bash").isFile) return "/bin/bash";
  } catch {
    // no bash: the POSIX shell reads byte by byte, and answers the same
  }
  return "/bin/sh";
}

/**
 * Starts the helper (this needs the `run` permission, never again): two
 * shells of the same script, one for name service lookups (which may be
 * slow: a remote directory), one for /proc (which must stay quick: it
 * tells when sessions end). A question without answer within its time
 * fails alone; a shell that ends makes the helper `broken`.
 */
export function startSystemHelper(
  options: { identityMs?: number; procMs?: number; procShell?: string } = {},
): Result<SystemHelper> {
  let identityShell: ShellChannel;
  let procShell: ShellChannel;
  try {
    identityShell = new ShellChannel(spawnShell("/bin/sh"), "identity helper");
  } catch (error) {
    return fail(`cannot start the helper (/bin/sh): ${describe(error)}`);
  }
  const procShellName = options.procShell ?? procShellPath();
  try {
    procShell = new ShellChannel(spawnShell(procShellName), "/proc helper");
  } catch (error) {
    void identityShell.close();
    return fail(
      `cannot start the helper (${procShellName}): ${describe(error)}`,
    );
  }
  const identityMs = options.identityMs ?? 30_000;
  const procMs = options.procMs ?? 5_000;
  const ask = (question: string) => procShell.ask(question, procMs);

  // One question for all the pids: each answer line is "PID ANSWER".
  const perPid = async <T>(
    command: "stat" | "proc",
    pids: readonly number[],
    parse: (answer: string) => T,
  ): Promise<Map<number, T>> => {
    const result = new Map<number, T>();
    const valid = pids.filter((pid) => Number.isInteger(pid) && pid > 0);
    if (valid.length === 0) return result;
    const answer = await ask(`${command} ${valid.join(" ")}`);
    if (!answer.ok) {
      // Unknown is not "ended": callers must not end sessions on it.
      throw new Error(answer.error);
    }
    for (const line of answer.value.text.split("\n")) {
      const space = line.indexOf(" ");
      if (space < 0) continue;
      result.set(Number(line.slice(0, space)), parse(line.slice(space + 1)));
    }
    return result;
  };
  const part = (text: string) => text === "-" ? undefined : text;

  return ok({
    async identity(uid) {
      if (!Number.isInteger(uid) || uid < 0) return fail(`bad uid ${uid}`);
      const answer = await identityShell.ask(`id ${uid}`, identityMs);
      if (!answer.ok) return answer;
      if (answer.value.status !== 0) {
        return fail(
          `id ${uid}: ${answer.value.text.trim().replace(/^\S*id: /, "")}`,
        );
      }
      const identity = parseIdOutput(answer.value.text);
      if (!identity.ok) return identity;
      // `id 1234` looks a user NAMED 1234 up first.
      if (identity.value.uid !== uid) {
        return fail(
          `id ${uid} answered for uid ${identity.value.uid}: a user is named ${uid}`,
        );
      }
      return identity;
    },
    proc: {
      stat: (pids) => perPid("stat", pids, part),
      // Neither part holds a "|": the stat line is the kernel's numbers
      // after the name, the other the `Uid:` line.
      statAndUids: (pids) =>
        perPid("proc", pids, (answer) => {
          const bar = answer.lastIndexOf("|");
          if (bar < 0) return {};
          return {
            stat: part(answer.slice(0, bar)),
            uids: part(answer.slice(bar + 1)),
          };
        }),
    },
    async protectedHardlinks() {
      const answer = await ask("hardlinks");
      if (!answer.ok) return undefined;
      const value = answer.value.text.trim();
      return value === "" ? undefined : value !== "0";
    },
    get broken() {
      return identityShell.broken ?? procShell.broken;
    },
    async close() {
      await Promise.all([identityShell.close(), procShell.close()]);
    },
  });
}
