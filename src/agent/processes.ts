// The processes the agent watches. A session's end is the end of its
// process, not a promise to call back: a pid and its start time (field 22
// of /proc/PID/stat, in clock ticks since boot) name one process for good,
// so a pid reused by a later process is never taken for it. Deno lets only
// a fully privileged program read /proc, so /proc is read by the agent's
// helper (src/agent/helper.ts) and parsed here (pure).
import { fail, ok, type Result } from "../result.ts";

/** What /proc says about one process. */
export interface ProcessFacts {
  pid: number;
  /** Parent pid. */
  ppid: number;
  /** One-letter state (R, S, D, Z...). */
  state: string;
  /** Start time, clock ticks since boot: with the pid, names the process. */
  startTime: bigint;
  /** Real and effective uid. */
  realUid: number;
  effectiveUid: number;
}

/**
 * Parses /proc/PID/stat, whole or from its command name's closing
 * parenthesis on (the name itself may hold anything, parentheses and
 * newlines included, so it is never looked at).
 */
export function parseStat(
  text: string,
): { state: string; ppid: number; startTime: bigint } | undefined {
  const close = text.lastIndexOf(")");
  // After ") ": state is field 3, ppid 4, starttime 22 (1-based).
  const fields = text.slice(close + 1).trim().split(/\s+/);
  if (fields.length < 20) return undefined;
  const ppid = Number(fields[1]);
  if (!/^\d+$/.test(fields[19]) || !/^\d+$/.test(fields[1])) return undefined;
  return { state: fields[0], ppid, startTime: BigInt(fields[19]) };
}

/** The real and effective uid from /proc/PID/status's `Uid:` line. */
export function parseStatusUids(
  text: string,
): { real: number; effective: number } | undefined {
  const line = /^Uid:\s+(\d+)\s+(\d+)/m.exec(text);
  return line
    ? { real: Number(line[1]), effective: Number(line[2]) }
    : undefined;
}

/** Where /proc is read (the agent's helper; tests give their own). */
export interface ProcSource {
  /** Each pid's /proc/PID/stat (from the name's `)` on), undefined when gone. */
  stat(pids: readonly number[]): Promise<Map<number, string | undefined>>;
  /** Each pid's stat (as `stat`) and `Uid:` line of /proc/PID/status, in one look; a part is undefined when gone. */
  statAndUids(
    pids: readonly number[],
  ): Promise<Map<number, { stat?: string; uids?: string }>>;
}

/**
 * Reads processes at once (one question to the helper, however many pids);
 * a pid missing from the map does not exist or cannot be read.
 */
export async function readProcesses(
  pids: readonly number[],
  proc: ProcSource,
): Promise<Map<number, ProcessFacts>> {
  const facts = new Map<number, ProcessFacts>();
  const unique = [...new Set(pids)];
  let read: Map<number, { stat?: string; uids?: string }>;
  try {
    read = await proc.statAndUids(unique);
  } catch {
    return facts;
  }
  for (const pid of unique) {
    const statText = read.get(pid)?.stat;
    const statusText = read.get(pid)?.uids;
    if (statText === undefined || statusText === undefined) continue;
    const parsed = parseStat(statText);
    const uids = parseStatusUids(statusText);
    if (parsed === undefined || uids === undefined) continue;
    facts.set(pid, {
      pid,
      ppid: parsed.ppid,
      state: parsed.state,
      startTime: parsed.startTime,
      realUid: uids.real,
      effectiveUid: uids.effective,
    });
  }
  return facts;
}

/** The process a session is watched through, once checked. */
export interface WatchedProcess {
  pid: number;
  startTime: bigint;
}

/** Which of `processes` still run (a zombie has ended; a reused pid is another process). */
export async function stillRunning(
  processes: readonly WatchedProcess[],
  proc: ProcSource,
): Promise<boolean[]> {
  if (processes.length === 0) return [];
  const stats = await proc.stat(processes.map((p) => p.pid));
  return processes.map((process) => {
    const text = stats.get(process.pid);
    if (text === undefined) return false;
    const parsed = parseStat(text);
    return parsed !== undefined && parsed.startTime === process.startTime &&
      parsed.state !== "Z" && parsed.state !== "X";
  });
}

/**
 * Checks the session process a client names: the client's own process, or
 * its parent (a launcher that becomes ssh when the proxy hands off), both
 * running as `uid`; the pid the client gives for itself must run as `uid`
 * too.
 */
export async function sessionProcess(
  uid: number,
  clientPid: number,
  sessionPid: number,
  proc: ProcSource,
): Promise<Result<WatchedProcess>> {
  // Both read in one pass: the parent is looked at only if it is the
  // client's, but reading it before knowing saves the agent a round trip
  // to its helper on every hand-off login.
  const facts = await readProcesses([clientPid, sessionPid], proc);
  const client = facts.get(clientPid);
  if (client === undefined) return fail(`no process ${clientPid}`);
  if (client.realUid !== uid || client.effectiveUid !== uid) {
    return fail(`process ${clientPid} does not run as uid ${uid}`);
  }
  if (sessionPid !== clientPid && sessionPid !== client.ppid) {
    return fail(
      `process ${sessionPid} is neither ${clientPid} nor its parent ${client.ppid}`,
    );
  }
  const session = facts.get(sessionPid);
  if (session === undefined) return fail(`no process ${sessionPid}`);
  if (session.realUid !== uid || session.effectiveUid !== uid) {
    return fail(`process ${sessionPid} does not run as uid ${uid}`);
  }
  if (session.state === "Z") return fail(`process ${sessionPid} has ended`);
  return ok({ pid: sessionPid, startTime: session.startTime });
}
