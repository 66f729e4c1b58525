// What the bench reads from the machine: processes' memory (smaps_rollup),
// process trees, machine facts, and commands run as a test user with
// streamed output (the harness's runAs collects output in memory, which a
// 1 GiB transfer must not do).
import {
  ensureTestAccounts,
  runAs,
  type TestUser,
} from "../../tests/harness/mod.ts";
import { descendants } from "../../tests/harness/process.ts";

/** Memory figures of one process from /proc/PID/smaps_rollup, in KiB. */
export interface Memory {
  rss: number;
  pss: number;
  privateDirty: number;
  privateClean: number;
}

/** Reads /proc/PID/smaps_rollup; undefined when the process is gone. */
export async function smapsRollup(pid: number): Promise<Memory | undefined> {
  let text: string;
  try {
    text = await Deno.readTextFile(`/proc/${pid}/smaps_rollup`);
  } catch {
    return undefined;
  }
  const field = (name: string) => {
    const match = text.match(new RegExp(`^${name}:\\s+(\\d+) kB`, "m"));
    return match ? Number(match[1]) : 0;
  };
  return {
    rss: field("Rss"),
    pss: field("Pss"),
    privateDirty: field("Private_Dirty"),
    privateClean: field("Private_Clean"),
  };
}

/**
 * Private dirty memory of anonymous mappings only (heap, stacks, V8's
 * pages), from /proc/PID/smaps, in KiB: file-backed pages that are dirty
 * in the page cache (a binary copied moments ago) count as Private_Dirty in
 * smaps_rollup although the process never wrote them.
 */
export async function anonymousPrivateDirty(
  pid: number,
): Promise<number | undefined> {
  let text: string;
  try {
    text = await Deno.readTextFile(`/proc/${pid}/smaps`);
  } catch {
    return undefined;
  }
  let anonymous = false;
  let total = 0;
  for (const line of text.split("\n")) {
    const header = line.match(/^[0-9a-f]+-[0-9a-f]+ \S+ \S+ \S+ \S+\s*(.*)$/);
    if (header) {
      const path = header[1].trim();
      anonymous = path === "" || path.startsWith("[");
      continue;
    }
    if (anonymous && line.startsWith("Private_Dirty:")) {
      total += Number(line.match(/(\d+)/)?.[1] ?? 0);
    }
  }
  return total;
}

/** Writes dirty page-cache pages back (see anonymousPrivateDirty). */
export async function syncPageCache(): Promise<void> {
  await new Deno.Command("sync").output().catch(() => {});
}

/** Busy and total CPU jiffies of the machine so far (from /proc/stat). */
export async function cpuTimes(): Promise<{ busy: number; total: number }> {
  const text = await Deno.readTextFile("/proc/stat");
  const fields = text.split("\n")[0].trim().split(/\s+/).slice(1).map(Number);
  const total = fields.reduce((sum, v) => sum + v, 0);
  const idle = (fields[3] ?? 0) + (fields[4] ?? 0);
  return { busy: total - idle, total };
}

/** Executable of a process ("" when gone or unreadable). */
export async function exeOf(pid: number): Promise<string> {
  return await Deno.readLink(`/proc/${pid}/exe`).catch(() => "");
}

/** Descendants of `pid` whose executable is `exe`. */
export async function descendantsRunning(
  pid: number,
  exe: string,
): Promise<number[]> {
  const found: number[] = [];
  for (const child of await descendants([pid])) {
    if (await exeOf(child) === exe) found.push(child);
  }
  return found;
}

/** Facts about the machine a result was measured on. */
export interface MachineInfo {
  nproc: number;
  cpuModel: string;
  memTotalMiB: number;
  kernel: string;
  deno: string;
  v8: string;
  openssh: string;
  etcd: string;
  /** 1-minute load average when the bench started (other work skews figures). */
  loadAverage1m: number;
}

async function output(argv: string[]): Promise<string> {
  try {
    const out = await new Deno.Command(argv[0], {
      args: argv.slice(1),
      stdout: "piped",
      stderr: "piped",
    }).output();
    return (new TextDecoder().decode(out.stdout) +
      new TextDecoder().decode(out.stderr)).trim();
  } catch {
    return "";
  }
}

/** nproc, memory, kernel, tool versions and the current load. */
export async function machineInfo(): Promise<MachineInfo> {
  const cpuinfo = await Deno.readTextFile("/proc/cpuinfo").catch(() => "");
  const meminfo = await Deno.readTextFile("/proc/meminfo").catch(() => "");
  const memKiB = Number(meminfo.match(/^MemTotal:\s+(\d+)/m)?.[1] ?? 0);
  const etcdVersion = await output(["/usr/bin/etcd", "--version"]);
  return {
    nproc: navigator.hardwareConcurrency,
    cpuModel: cpuinfo.match(/^model name\s*:\s*(.*)$/m)?.[1]?.trim() ?? "",
    memTotalMiB: Math.round(memKiB / 1024),
    kernel: Deno.osRelease(),
    deno: Deno.version.deno,
    v8: Deno.version.v8,
    openssh: (await output(["/usr/bin/ssh", "-V"])).split("\n")[0],
    etcd: etcdVersion.match(/etcd Version: (\S+)/)?.[1] ?? etcdVersion,
    loadAverage1m: loadAverage(),
  };
}

/** The 1-minute load average. */
export function loadAverage(): number {
  return Deno.loadavg()[0];
}

/** A clean login-like environment for `user` (as the harness builds it). */
export async function userEnvironment(
  user: TestUser,
): Promise<
  { uid: number; gid: number; home: string; env: Record<string, string> }
> {
  const account = (await ensureTestAccounts())[user];
  return {
    uid: account.uid,
    gid: account.gid,
    home: account.home,
    env: {
      HOME: account.home,
      USER: user,
      LOGNAME: user,
      SHELL: "/bin/bash",
      PATH: "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin",
    },
  };
}

/** argv prefix running a command as `user` (setpriv, with its groups). */
export async function asUser(user: TestUser): Promise<string[]> {
  const { uid, gid } = await userEnvironment(user);
  return [
    "/usr/bin/setpriv",
    `--reuid=${uid}`,
    `--regid=${gid}`,
    "--init-groups",
    "--",
  ];
}

/** A command run as a test user whose stdin/stdout are pipes we hold. */
export interface Streaming {
  child: Deno.ChildProcess;
  /** Kills the whole process group (it runs detached). */
  kill(signal?: Deno.Signal): void;
}

/** Spawns `argv` as `user` in its own process group with piped stdio. */
export async function spawnStreamingAs(
  user: TestUser,
  argv: string[],
  extraEnv: Record<string, string> = {},
): Promise<Streaming> {
  const { home, env } = await userEnvironment(user);
  const [cmd, ...args] = [...await asUser(user), ...argv];
  const child = new Deno.Command(cmd, {
    args,
    env: { ...env, ...extraEnv },
    clearEnv: true,
    cwd: home,
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
    detached: true,
  }).spawn();
  return {
    child,
    kill(signal: Deno.Signal = "SIGKILL") {
      try {
        Deno.kill(-child.pid, signal);
      } catch {
        // already gone
      }
    },
  };
}

/** Reads a stream to its end, counting bytes; resolves with the count. */
export async function countBytes(
  stream: ReadableStream<Uint8Array>,
): Promise<number> {
  return (await countBytesTimed(stream)).bytes;
}

/** Bytes read, and when (performance.now()) the first and last chunks came. */
export interface TimedCount {
  bytes: number;
  firstChunkBytes: number;
  firstAt: number;
  lastAt: number;
}

/** Reads a stream to its end, counting bytes and timing the data phase. */
export async function countBytesTimed(
  stream: ReadableStream<Uint8Array>,
): Promise<TimedCount> {
  const count = { bytes: 0, firstChunkBytes: 0, firstAt: 0, lastAt: 0 };
  for await (const chunk of stream) {
    if (count.bytes === 0) {
      count.firstAt = performance.now();
      count.firstChunkBytes = chunk.byteLength;
    }
    count.bytes += chunk.byteLength;
  }
  count.lastAt = performance.now();
  return count;
}

/** Reads a stream to its end as text (bounded to the last 64 KiB). */
export async function readText(
  stream: ReadableStream<Uint8Array>,
): Promise<string> {
  const decoder = new TextDecoder();
  let text = "";
  for await (const chunk of stream) {
    text += decoder.decode(chunk, { stream: true });
    if (text.length > 65536) text = text.slice(-65536);
  }
  return text + decoder.decode();
}

/** Runs `argv` as `user` (with `env` added) and returns its wall time in ms; throws on failure. */
export async function timedAs(
  user: TestUser,
  argv: string[],
  env: Record<string, string> = {},
): Promise<number> {
  const start = performance.now();
  const result = await runAs(user, argv, { env, timeoutMs: 30_000 });
  const ms = performance.now() - start;
  if (!result.ok) {
    throw new Error(
      `"${argv.join(" ")}" failed (status ${result.code}): ${
        result.stderr.trim().slice(0, 300)
      }`,
    );
  }
  return ms;
}

/** As timedAs, with the command's stdout on /dev/null (for bulk output). */
export async function timedQuietAs(
  user: TestUser,
  argv: string[],
  env: Record<string, string> = {},
): Promise<number> {
  const { home, env: userEnv } = await userEnvironment(user);
  const [cmd, ...args] = [...await asUser(user), ...argv];
  const start = performance.now();
  const child = new Deno.Command(cmd, {
    args,
    env: { ...userEnv, ...env },
    clearEnv: true,
    cwd: home,
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  const timer = setTimeout(() => {
    try {
      child.kill("SIGKILL");
    } catch {
      // already gone
    }
  }, 120_000);
  const output = await child.output();
  clearTimeout(timer);
  const ms = performance.now() - start;
  if (!output.success) {
    throw new Error(
      `"${argv.join(" ")}" failed (status ${output.code}): ${
        new TextDecoder().decode(output.stderr).trim().slice(0, 300)
      }`,
    );
  }
  return ms;
}
