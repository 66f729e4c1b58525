// Which processes a gateway's sessions run, told apart by what they are
// rather than by how the launcher is written today: "ours" is any process
// under the gateway sshd whose executable lies in the installed prefix
// (the private Deno, a compiled binary) or whose arguments name a file
// there (a launcher script while it runs); "ssh" is the gateway's OpenSSH
// client. So the bench keeps finding the proxy whether the launcher runs
// main.ts, a bundle or a binary, and finds nothing of ours after a hand-off.
import { type Memory, smapsRollup } from "./system.ts";

/** The processes of a gateway's sessions at one instant. */
export interface SessionProcesses {
  /** Our processes (the proxy and anything of the product's). */
  ours: number[];
  /** The gateway's ssh clients (to the destinations). */
  ssh: number[];
}

interface ProcessEntry {
  pid: number;
  parent: number;
}

async function processTable(): Promise<ProcessEntry[]> {
  const entries: ProcessEntry[] = [];
  for await (const entry of Deno.readDir("/proc")) {
    if (!/^\d+$/.test(entry.name)) continue;
    try {
      const stat = await Deno.readTextFile(`/proc/${entry.name}/stat`);
      // The command name may hold spaces and parentheses: fields start
      // after the last ")".
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      entries.push({ pid: Number(entry.name), parent: Number(fields[1]) });
    } catch {
      // The process ended while we scanned.
    }
  }
  return entries;
}

/** The descendants of `root` (not including it), from one scan of /proc. */
export async function descendantsOf(root: number): Promise<number[]> {
  const children = new Map<number, number[]>();
  for (const { pid, parent } of await processTable()) {
    children.set(parent, [...children.get(parent) ?? [], pid]);
  }
  const found: number[] = [];
  const queue = [root];
  while (queue.length > 0 && found.length < 100_000) {
    for (const child of children.get(queue.pop()!) ?? []) {
      found.push(child);
      queue.push(child);
    }
  }
  return found;
}

/** Whether process `pid` belongs to the product installed under `prefix`. */
export async function isOurs(pid: number, prefix: string): Promise<boolean> {
  const exe = await Deno.readLink(`/proc/${pid}/exe`).catch(() => "");
  if (exe.startsWith(`${prefix}/`)) return true;
  const cmdline = await Deno.readTextFile(`/proc/${pid}/cmdline`).catch(() =>
    ""
  );
  return cmdline.split("\0").some((arg) => arg.startsWith(`${prefix}/`));
}

/** The sshd's pid from its pid file (0 when it is not running). */
export async function sshdPid(sshdDir: string): Promise<number> {
  const text = await Deno.readTextFile(`${sshdDir}/sshd.pid`).catch(() => "");
  return Number(text.trim()) || 0;
}

/** Our processes and the ssh clients under the sshd whose pid file is in `sshdDir`. */
export async function sessionProcesses(
  sshdDir: string,
  prefix: string,
): Promise<SessionProcesses> {
  const root = await sshdPid(sshdDir);
  const found: SessionProcesses = { ours: [], ssh: [] };
  if (root === 0) return found;
  for (const pid of await descendantsOf(root)) {
    const exe = await Deno.readLink(`/proc/${pid}/exe`).catch(() => "");
    if (exe === "/usr/bin/ssh") found.ssh.push(pid);
    else if (await isOurs(pid, prefix)) found.ours.push(pid);
  }
  return found;
}

/** Threads of a process (0 when gone). */
export async function threadsOf(pid: number): Promise<number> {
  const status = await Deno.readTextFile(`/proc/${pid}/status`).catch(() => "");
  return Number(status.match(/^Threads:\s+(\d+)/m)?.[1] ?? 0);
}

/** The summed smaps_rollup of `pids` (processes already gone count 0). */
export async function summedMemory(pids: number[]): Promise<Memory> {
  const total: Memory = { rss: 0, pss: 0, privateDirty: 0, privateClean: 0 };
  for (const memory of await Promise.all(pids.map(smapsRollup))) {
    if (!memory) continue;
    total.rss += memory.rss;
    total.pss += memory.pss;
    total.privateDirty += memory.privateDirty;
    total.privateClean += memory.privateClean;
  }
  return total;
}
