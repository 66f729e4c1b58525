// What the hand-off tests share (sshproxy(8), HAND-OFF): the processes a
// gateway's sshd runs for its sessions, which of them are ours (anything
// run from the install prefix), and the plan files a user left in /tmp.
import type { Installed } from "./installed.ts";
import type { ProxyGateway } from "./gateway.ts";

/** One process under a gateway's sshd. */
export interface SessionProcess {
  pid: number;
  ppid: number;
  exe: string;
  argv: string[];
  /** Where its open files point (`/proc/PID/fd`). */
  fds: string[];
}

async function processInfo(pid: number): Promise<SessionProcess | undefined> {
  try {
    const stat = await Deno.readTextFile(`/proc/${pid}/stat`);
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    const exe = await Deno.readLink(`/proc/${pid}/exe`).catch(() => "");
    const cmdline = await Deno.readTextFile(`/proc/${pid}/cmdline`);
    const fds: string[] = [];
    for await (const entry of Deno.readDir(`/proc/${pid}/fd`)) {
      fds.push(
        await Deno.readLink(`/proc/${pid}/fd/${entry.name}`).catch(() => ""),
      );
    }
    return {
      pid,
      ppid: Number(fields[1]),
      exe,
      argv: cmdline.split("\0").slice(0, -1),
      fds,
    };
  } catch {
    return undefined; // gone meanwhile
  }
}

/** Every process under the gateways' sshd listeners (sessions and what they run). */
export async function gatewayProcesses(
  gw: ProxyGateway,
): Promise<SessionProcess[]> {
  const roots = await Promise.all(
    gw.gateways.map(async (g) =>
      Number(
        (await Deno.readTextFile(`${g.sshd.dir}/sshd.pid`).catch(() => ""))
          .trim(),
      ) || 0
    ),
  );
  const all: SessionProcess[] = [];
  for await (const entry of Deno.readDir("/proc")) {
    if (!/^\d+$/.test(entry.name)) continue;
    const info = await processInfo(Number(entry.name));
    if (info) all.push(info);
  }
  const under = new Set(roots.filter((pid) => pid > 0));
  const found: SessionProcess[] = [];
  let grew = true;
  while (grew) {
    grew = false;
    for (const process of all) {
      if (under.has(process.ppid) && !under.has(process.pid)) {
        under.add(process.pid);
        found.push(process);
        grew = true;
      }
    }
  }
  return found;
}

/** Whether a process is ours: run from the install prefix, or running a file of it. */
export function isOurs(process: SessionProcess, product: Installed): boolean {
  const prefix = `${product.prefix}/`;
  return process.exe.startsWith(prefix) ||
    process.argv.some((word) => word.startsWith(prefix));
}

/** The gateway's ssh clients (the proxies' or handed-off ones). */
export function gatewaySsh(processes: SessionProcess[]): SessionProcess[] {
  return processes.filter((process) => process.exe === "/usr/bin/ssh");
}

/** Plan files in /tmp owned by `uid` (none should ever stay). */
export async function planFilesOf(uid: number): Promise<string[]> {
  const found: string[] = [];
  for await (const entry of Deno.readDir("/tmp")) {
    if (!entry.name.startsWith("sshproxy-plan.")) continue;
    const info = await Deno.lstat(`/tmp/${entry.name}`).catch(() => undefined);
    if (info?.uid === uid) found.push(entry.name);
  }
  return found;
}
