// The agent's one helper process: a shell started before the agent gives up
// the right to run programs, kept for the agent's life, that answers two
// kinds of questions the Deno runtime cannot, on its stdin and stdout:
//
// - who a uid is, with its groups: NSS through `id -- UID`, the same
//   lookup as a session's own `id` (src/system/identity.ts parses both);
//   Deno has no getpwuid and FFI is not used;
// - what /proc says about given pids: Deno refuses /proc to any program not
//   granted every permission, and the agent keeps only read, write and net.
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

const HELPER_SCRIPT = `
id_tool=$1
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
        content=
        { while IFS= read -r line || [ -n "$line" ]; do content="$content$line "; done < "/proc/$pid/stat"; } 2>/dev/null
        case $content in
          *")"*) printf '%s %s\\n' "$pid" "\${content##*)}" ;;
          *) printf '%s -\\n' "$pid" ;;
        esac
      done
      echo "--end 0" ;;
    uid)
      for pid in "$@"; do
        case $pid in ''|*[!0-9]*) continue ;; esac
        found=-
        { while IFS= read -r line; do
            case $line in Uid:*) found=$line; break ;; esac
          done < "/proc/$pid/status"; } 2>/dev/null
        printf '%s %s\\n' "$pid" "$found"
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

/**
 * Starts the helper (this needs the `run` permission, never again). One
 * question at a time, each answered within `timeoutMs`; a helper that
 * stops answering is `broken` for good (the agent then leaves every
 * session to route itself).
 */
export function startSystemHelper(timeoutMs = 5000): Result<SystemHelper> {
  let child: Deno.ChildProcess;
  try {
    child = new Deno.Command("/bin/sh", {
      args: ["-c", HELPER_SCRIPT, "sshproxy-agent-helper", idPath()],
      stdin: "piped",
      stdout: "piped",
      stderr: "null",
      clearEnv: true,
      env: { PATH: "/usr/bin:/bin" },
    }).spawn();
  } catch (error) {
    return fail(`cannot start the helper (/bin/sh): ${describe(error)}`);
  }
  const writer = child.stdin.getWriter();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let buffered = "";
  let broken: string | undefined;
  child.status.then((status) => {
    broken ??= `the helper ended (exit status ${status.code})`;
  });

  const readAnswer = async (): Promise<
    Result<{ text: string; status: number }>
  > => {
    for (;;) {
      const end = /(?:^|\n)--end (\d+)\n/.exec(buffered);
      if (end) {
        const text = buffered.slice(0, end.index);
        buffered = buffered.slice(end.index + end[0].length);
        return ok({ text, status: Number(end[1]) });
      }
      const chunk = await reader.read();
      if (chunk.done) return fail(broken ?? "the helper ended");
      buffered += chunk.value;
    }
  };

  let queue: Promise<unknown> = Promise.resolve();
  const ask = (
    question: string,
  ): Promise<Result<{ text: string; status: number }>> => {
    const answer = queue.then(async () => {
      if (broken !== undefined) {
        return fail<{ text: string; status: number }>(broken);
      }
      let timer: ReturnType<typeof setTimeout> | undefined;
      try {
        await writer.write(new TextEncoder().encode(`${question}\n`));
        return await Promise.race([
          readAnswer(),
          new Promise<Result<never>>((resolve) => {
            timer = setTimeout(() => {
              // A late answer would be read as the next one's: stop here.
              broken = `the helper did not answer within ${timeoutMs} ms`;
              resolve(fail(broken));
            }, timeoutMs);
          }),
        ]);
      } catch (error) {
        broken ??= `the helper failed: ${describe(error)}`;
        return fail<{ text: string; status: number }>(broken);
      } finally {
        clearTimeout(timer);
      }
    });
    queue = answer;
    return answer;
  };

  const perPid = async (
    command: "stat" | "uid",
    pids: readonly number[],
  ): Promise<Map<number, string | undefined>> => {
    const result = new Map<number, string | undefined>();
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
      const pid = Number(line.slice(0, space));
      const rest = line.slice(space + 1);
      result.set(pid, rest === "-" ? undefined : rest);
    }
    return result;
  };

  return ok({
    async identity(uid) {
      if (!Number.isInteger(uid) || uid < 0) return fail(`bad uid ${uid}`);
      const answer = await ask(`id ${uid}`);
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
      stat: (pids) => perPid("stat", pids),
      uids: (pids) => perPid("uid", pids),
    },
    async protectedHardlinks() {
      const answer = await ask("hardlinks");
      if (!answer.ok) return undefined;
      const value = answer.value.text.trim();
      return value === "" ? undefined : value !== "0";
    },
    get broken() {
      return broken;
    },
    async close() {
      broken ??= "closed";
      await writer.close().catch(() => {});
      await reader.cancel().catch(() => {});
      try {
        child.kill("SIGTERM");
      } catch {
        // already gone
      }
      await child.status;
    },
  });
}
