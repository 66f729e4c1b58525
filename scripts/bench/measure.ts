// The measurements themselves: login latency, throughput, idle memory and
// concurrency, each against the real topology. A measurement that fails
// throws a MeasureError naming what failed; nothing returns a figure from a
// failed run.
import {
  sleep,
  sshArgv,
  sshAs,
  type TestUser,
} from "../../tests/harness/mod.ts";
import { median, round, summarize, type Summary } from "./stats.ts";
import {
  clearStamps,
  type LoginStamps,
  readStamps,
  type StampFiles,
} from "./stamps.ts";
import { type SessionProcesses, summedMemory, threadsOf } from "./processes.ts";
import {
  anonymousPrivateDirty,
  countBytes,
  countBytesTimed,
  cpuTimes,
  type Memory,
  readText,
  smapsRollup,
  spawnStreamingAs,
  syncPageCache,
} from "./system.ts";

/** A measurement that could not be completed; its message says why. */
export class MeasureError extends Error {}

/** Where a path's logins go and what must be in place first. */
export interface Target {
  /** Short id: a to h. */
  id: string;
  host: string;
  port: number;
  /** What the path's gateway sshd runs for a login (undefined: no gateway, a). */
  forceCommand?: string;
  /** Writes the gateway config this path needs (undefined: none). */
  prepare?: () => Promise<void>;
  /** Called after each transfer (e.g. to delete dump files). */
  afterEach?: () => Promise<void>;
  /**
   * Our processes and the gateway's ssh clients serving this path's
   * sessions (undefined for the paths without a proxy: a, b, f).
   */
  sessions?: () => Promise<SessionProcesses>;
}

/** CPU time (user + system) of a process so far, in seconds; undefined when gone. */
async function cpuSeconds(pid: number): Promise<number | undefined> {
  try {
    const stat = await Deno.readTextFile(`/proc/${pid}/stat`);
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    // utime and stime, fields 14 and 15 of stat, in clock ticks (100 Hz).
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return undefined;
  }
}

/** One transfer's figures. */
interface TransferRun {
  totalSeconds: number;
  dataSeconds: number;
  dataBytes: number;
  /** CPU the proxy process used during the transfer (s), when there is one. */
  proxyCpuSeconds?: number;
}

/** One login: `ssh -T -p PORT user@host true`, timed; throws on failure. */
export async function login(
  user: TestUser,
  target: Target,
  command = "true",
): Promise<number> {
  const start = performance.now();
  const result = await sshAs(user, {
    host: target.host,
    port: target.port,
    command,
  }, { timeoutMs: 30_000 });
  const ms = performance.now() - start;
  if (!result.ok) {
    throw new MeasureError(
      `login through (${target.id}) failed (status ${result.code}${
        result.timedOut ? ", timed out after 30 s" : ""
      }): ${result.stderr.trim().slice(0, 300) || "no message"}`,
    );
  }
  return ms;
}

/** One path's logins: whole, and (when stamped) inside the gateway. */
export interface LatencySamples {
  /** Each login's whole time at the client (ms). */
  totalMs: number[];
  /** Each login's stamps (scripts/bench/stamps.ts), when the path has them. */
  stamps: LoginStamps[];
}

/**
 * `logins` sequential logins per path, interleaved one login at a time
 * (each round logs in once through every path, the round's first path
 * rotating) so that a slow minute of the machine, or the work a path's
 * previous login leaves behind, falls on every path alike; two unrecorded
 * warm-up logins per path first. With `stamps`, each login through a
 * gateway runs the stamping destination command and its stamps are read
 * (a target whose ForceCommand stamps: startLatencyGateway).
 */
export async function latency(
  user: TestUser,
  targets: Target[],
  logins: number,
  say: (text: string) => void,
  stamps?: StampFiles,
): Promise<Map<string, LatencySamples>> {
  const samples = new Map<string, LatencySamples>(
    targets.map((t) => [t.id, { totalMs: [], stamps: [] }]),
  );
  const once = async (target: Target, record: boolean) => {
    const path = samples.get(target.id)!;
    if (stamps === undefined || target.forceCommand === undefined) {
      const ms = await login(user, target);
      if (record) path.totalMs.push(ms);
      return;
    }
    await clearStamps(stamps, target.id);
    const ms = await login(user, target, stamps.destinationCommand);
    const read = await readStamps(stamps, target.id);
    if (typeof read === "string") throw new MeasureError(`latency: ${read}`);
    if (record) {
      path.totalMs.push(ms);
      path.stamps.push(read);
    }
  };
  for (const target of targets) {
    await target.prepare?.();
    for (let i = 0; i < 2; i++) await once(target, false);
  }
  const deadline = Date.now() + 20 * 60_000;
  const reportEvery = Math.max(1, Math.ceil(logins / 5));
  for (let round = 0; round < logins; round++) {
    const first = round % targets.length;
    const order = [...targets.slice(first), ...targets.slice(0, first)];
    for (const target of order) {
      if (Date.now() > deadline) {
        throw new MeasureError("latency: over 20 minutes, stopped");
      }
      await target.prepare?.();
      await once(target, true);
    }
    if ((round + 1) % reportEvery === 0 || round + 1 === logins) {
      say(
        `latency: ${round + 1}/${logins} logins per path: ${
          targets.map((t) =>
            `${t.id} ${Math.round(median(samples.get(t.id)!.totalMs))} ms`
          )
            .join(", ")
        }`,
      );
    }
  }
  return samples;
}

/** Throughput of one path. */
export interface ThroughputFigure {
  bytes: number;
  /** Whole transfer: login, data, logout (s). */
  totalSeconds: number[];
  /** From the first byte received to the end of the stream (s). */
  dataSeconds: number[];
  /** Rate of the data phase, per transfer (MB/s, 10^6 bytes). */
  mbPerSecond: number[];
  medianMbPerSecond: number;
  /** bytes / whole transfer time, median (MB/s): includes the login. */
  medianOverallMbPerSecond: number;
  /** CPU seconds our processes used during each transfer (c, e). */
  proxyCpuSeconds?: number[];
}

/** One transfer of `bytes` from the destination's /dev/zero. */
export async function transfer(
  user: TestUser,
  target: Target,
  bytes: number,
): Promise<TransferRun> {
  const argv = sshArgv(user, {
    host: target.host,
    port: target.port,
    command: `head -c ${bytes} /dev/zero`,
  });
  const start = performance.now();
  const proc = await spawnStreamingAs(user, argv);
  await proc.child.stdin.close();
  const timer = setTimeout(() => proc.kill(), 180_000);
  // Our processes' CPU: first and last readings of each one's
  // /proc/PID/stat while it runs (they are gone once the transfer ends, so
  // the last reading is at most 200 ms before their end). All of them:
  // the launcher waits as the proxy's parent (for a hand-off), and the
  // first process listed is often that idle shell.
  const ours = new Map<number, { first: number; last: number }>();
  let ended = false;
  const sampler = (async () => {
    while (!ended && target.sessions) {
      for (const pid of (await target.sessions()).ours) {
        const cpu = await cpuSeconds(pid);
        if (cpu === undefined) continue;
        const seen = ours.get(pid);
        if (seen) seen.last = cpu;
        else ours.set(pid, { first: cpu, last: cpu });
      }
      await sleep(200);
    }
  })();
  try {
    const [count, errors, status] = await Promise.all([
      countBytesTimed(proc.child.stdout),
      readText(proc.child.stderr),
      proc.child.status,
    ]);
    const totalSeconds = (performance.now() - start) / 1000;
    if (!status.success || count.bytes !== bytes) {
      throw new MeasureError(
        `transfer through (${target.id}): got ${count.bytes} of ${bytes} bytes, status ${status.code}${
          status.signal ? ` (${status.signal}, killed after 180 s?)` : ""
        }: ${errors.trim().slice(0, 300)}`,
      );
    }
    return {
      totalSeconds,
      // The first chunk's bytes arrived at firstAt: the rate counts the rest.
      dataSeconds: (count.lastAt - count.firstAt) / 1000,
      dataBytes: bytes - count.firstChunkBytes,
      proxyCpuSeconds: ours.size > 0
        ? round(
          [...ours.values()].reduce((t, p) => t + p.last - p.first, 0),
          2,
        )
        : undefined,
    };
  } finally {
    ended = true;
    clearTimeout(timer);
    await sampler;
  }
}

/** `repeats` transfers per path, interleaved. */
export async function throughput(
  user: TestUser,
  targets: Target[],
  bytes: number,
  repeats: number,
  say: (text: string) => void,
): Promise<Map<string, ThroughputFigure>> {
  const runs = new Map<string, TransferRun[]>(targets.map((t) => [t.id, []]));
  for (let r = 0; r < repeats; r++) {
    for (const target of targets) {
      await target.prepare?.();
      const one = await transfer(user, target, bytes);
      await target.afterEach?.();
      runs.get(target.id)!.push(one);
      say(
        `throughput: (${target.id}) ${
          round(one.dataBytes / one.dataSeconds / 1e6)
        } MB/s in the data phase (${round(one.totalSeconds, 2)} s in all${
          one.proxyCpuSeconds !== undefined
            ? `, proxy CPU ${one.proxyCpuSeconds} s`
            : ""
        })`,
      );
    }
  }
  const figures = new Map<string, ThroughputFigure>();
  for (const [id, values] of runs) {
    const rates = values.map((v) => round(v.dataBytes / v.dataSeconds / 1e6));
    figures.set(id, {
      bytes,
      totalSeconds: values.map((v) => round(v.totalSeconds, 3)),
      dataSeconds: values.map((v) => round(v.dataSeconds, 3)),
      mbPerSecond: rates,
      medianMbPerSecond: median(rates),
      medianOverallMbPerSecond: median(
        values.map((v) => round(bytes / v.totalSeconds / 1e6)),
      ),
      proxyCpuSeconds: values.every((v) => v.proxyCpuSeconds !== undefined)
        ? values.map((v) => v.proxyCpuSeconds!)
        : undefined,
    });
  }
  return figures;
}

/** Memory of an idle interactive session's processes (KiB). */
export interface IdleMemory {
  /** Our processes during the idle session (none after a hand-off). */
  proxyPids: number[];
  /** Their summed memory (zero when none of ours stays). */
  proxy: Memory;
  /** The gateway's ssh client to the destination. */
  ssh: Memory;
  /** Private dirty of our processes' anonymous mappings only (KiB). */
  proxyAnonymousPrivateDirty: number;
  /** Threads of our processes, summed. */
  threads?: number;
  /** Seconds the session had been idle when sampled. */
  idleSeconds: number;
  /**
   * Our processes' summed private dirty later in the same idle session,
   * once V8's first memory-reducing collection (30 s after start) has
   * released what the start left: what a long session keeps.
   */
  settled?: { idleSeconds: number; privateDirty: number };
}

async function waitUntilGone(
  sessions: () => Promise<SessionProcesses>,
  timeoutMs: number,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const now = await sessions();
    if (now.ours.length === 0 && now.ssh.length === 0) return;
    await sleep(100);
  }
}

/**
 * Opens an interactive session (`ssh -tt`, no command: a login shell on the
 * destination, with our end of stdin held open and silent), waits until
 * the gateway's ssh to the destination runs and the session has been idle
 * `idleSeconds`, then reads the smaps_rollup of our processes (summed) and
 * of that ssh.
 */
export async function idleSessionMemory(
  user: TestUser,
  target: Target,
  idleSeconds: number,
  settledIdleSeconds = 0,
): Promise<IdleMemory> {
  const sessions = target.sessions;
  if (!sessions) {
    throw new MeasureError(`memory: (${target.id}) has no processes of ours`);
  }
  await target.prepare?.();
  await waitUntilGone(sessions, 10_000);
  const before = await sessions();
  if (before.ours.length > 0 || before.ssh.length > 0) {
    throw new MeasureError(
      "memory: processes of an earlier session still run before the idle session",
    );
  }
  const argv = sshArgv(user, {
    host: target.host,
    port: target.port,
    tty: true,
  });
  const proc = await spawnStreamingAs(user, argv, { TERM: "xterm" });
  const drained = Promise.all([
    countBytes(proc.child.stdout),
    readText(proc.child.stderr),
  ]);
  try {
    let up: SessionProcesses | undefined;
    const deadline = Date.now() + 20_000;
    while (Date.now() < deadline && !up) {
      const now = await sessions();
      if (now.ssh.length > 1) {
        throw new MeasureError(
          `memory: ${now.ssh.length} gateway ssh clients for one session`,
        );
      }
      if (now.ssh.length === 1) up = now;
      else await sleep(100);
    }
    if (!up) {
      const [, errors] = await Promise.race([
        drained,
        sleep(100).then(() => [0, "(still running)"] as const),
      ]);
      throw new MeasureError(
        `memory: no gateway ssh within 20 s for (${target.id}): ${errors}`,
      );
    }
    await sleep(idleSeconds * 1000);
    await syncPageCache();
    const now = await sessions();
    const ssh = now.ssh.length === 1
      ? await smapsRollup(now.ssh[0])
      : undefined;
    const anonymous: number[] = [];
    for (const pid of now.ours) {
      const kib = await anonymousPrivateDirty(pid);
      if (kib !== undefined) anonymous.push(kib);
    }
    if (!ssh || anonymous.length < now.ours.length) {
      throw new MeasureError(
        `memory: the session through (${target.id}) ended while idle`,
      );
    }
    const threads = await Promise.all(now.ours.map(threadsOf));
    const proxy = await summedMemory(now.ours);
    let settled: IdleMemory["settled"];
    if (settledIdleSeconds > idleSeconds && now.ours.length > 0) {
      await sleep((settledIdleSeconds - idleSeconds) * 1000);
      await syncPageCache();
      const later = await sessions();
      if (later.ours.join() !== now.ours.join()) {
        throw new MeasureError(
          `memory: the session through (${target.id}) changed processes while idle`,
        );
      }
      settled = {
        idleSeconds: settledIdleSeconds,
        privateDirty: (await summedMemory(later.ours)).privateDirty,
      };
    }
    return {
      proxyPids: now.ours,
      proxy,
      ssh,
      proxyAnonymousPrivateDirty: anonymous.reduce((t, a) => t + a, 0),
      threads: threads.reduce((t, n) => t + n, 0),
      idleSeconds,
      settled,
    };
  } finally {
    proc.kill("SIGKILL");
    await Promise.race([drained, sleep(5000)]);
    await proc.child.status;
    // The gateway's sshd hangs up on the session's processes; wait until
    // they are gone so that the next measurement starts clean.
    await waitUntilGone(sessions, 10_000);
  }
}

/** The concurrency figure. */
export interface ConcurrencyFigure {
  sessions: number;
  /** The remote command of each session. */
  command?: string;
  succeeded: number;
  wallSeconds: number;
  /** Failed sessions grouped by status and first line of stderr. */
  failures: { message: string; count: number }[];
  peak: {
    proxies: number;
    privateDirtyMiB: number;
    privateMiB: number;
    rssMiB: number;
  };
  /** Most processes of ours seen alive at once. */
  maxProxies: number;
  /** Share of the machine's CPU time that was busy during the run (0..1). */
  cpuBusy: number;
  sessionSeconds: Summary;
}

/**
 * `sessions` concurrent sessions running `command`, all started at once;
 * samples the summed memory of our processes every 250 ms and keeps the
 * peak.
 */
export async function concurrency(
  user: TestUser,
  target: Target,
  sessions: number,
  say: (text: string) => void,
  command = "sleep 5; echo ok",
): Promise<ConcurrencyFigure> {
  await target.prepare?.();
  await syncPageCache();
  const cpuBefore = await cpuTimes();
  const start = performance.now();
  let done = 0;
  const durations: number[] = [];
  const results = Array.from({ length: sessions }, async () => {
    const t0 = performance.now();
    const result = await sshAs(user, {
      host: target.host,
      port: target.port,
      command,
    }, { timeoutMs: 240_000 });
    durations.push((performance.now() - t0) / 1000);
    done++;
    return result;
  });
  const peak = { proxies: 0, privateDirtyMiB: 0, privateMiB: 0, rssMiB: 0 };
  let maxProxies = 0;
  let lastReport = 0;
  while (
    target.sessions && done < sessions && performance.now() - start < 250_000
  ) {
    const pids = (await target.sessions()).ours;
    const memories = (await Promise.all(pids.map(smapsRollup))).filter((
      m,
    ): m is Memory => m !== undefined);
    const sum = (f: (m: Memory) => number) =>
      round(memories.reduce((s, m) => s + f(m), 0) / 1024);
    const dirty = sum((m) => m.privateDirty);
    maxProxies = Math.max(maxProxies, memories.length);
    if (dirty > peak.privateDirtyMiB) {
      peak.proxies = memories.length;
      peak.privateDirtyMiB = dirty;
      peak.privateMiB = sum((m) => m.privateDirty + m.privateClean);
      peak.rssMiB = sum((m) => m.rss);
    }
    if (performance.now() - lastReport > 5000) {
      lastReport = performance.now();
      say(
        `concurrency (${target.id}): ${done}/${sessions} ended, ${memories.length} of our processes alive, ${dirty} MiB private dirty`,
      );
    }
    await sleep(250);
  }
  const outcomes = await Promise.all(results);
  const wallSeconds = round((performance.now() - start) / 1000, 2);
  const cpuAfter = await cpuTimes();
  const cpuBusy = round(
    (cpuAfter.busy - cpuBefore.busy) /
      Math.max(1, cpuAfter.total - cpuBefore.total),
    2,
  );
  const expected = command.endsWith("echo ok") ? "ok" : undefined;
  const good = (r: { ok: boolean; stdout: string }) =>
    r.ok && (expected === undefined || r.stdout.trim() === expected);
  const succeeded = outcomes.filter(good).length;
  const messages = new Map<string, number>();
  for (const r of outcomes) {
    if (good(r)) continue;
    const message = `status ${r.code}${r.timedOut ? " (timed out)" : ""}: ${
      r.stderr.trim().split("\n")[0]?.slice(0, 160) || "no message"
    }`;
    messages.set(message, (messages.get(message) ?? 0) + 1);
  }
  if (target.sessions) await waitUntilGone(target.sessions, 30_000);
  return {
    sessions,
    command,
    succeeded,
    wallSeconds,
    failures: [...messages].map(([message, count]) => ({ message, count })),
    peak,
    maxProxies,
    cpuBusy,
    sessionSeconds: summarize(durations),
  };
}
