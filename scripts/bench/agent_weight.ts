// The CPU weight of the bench's agents. The shipped unit
// (config/sshproxy-agent.service) gives the agent CPUWeight=1000, ten times
// a unit's default, and systemd puts it and the users' sessions in cgroups
// of their own, so that a burst of logins cannot starve the agent they all
// wait for. The bench's processes share one cgroup: the agent gets a cpu
// cgroup of its own with ten times the default weight (cgroup v2 cpu.weight
// 1000, v1 cpu.shares 10240) when root can make one here, else it runs at
// niceness -5 (about three times a default process's weight).
import { descendantsOf } from "./processes.ts";

/** Where the bench can make cpu cgroups, and in which version. */
export interface CpuCgroups {
  version: 1 | 2;
  /** The directory new groups go under. */
  root: string;
}

/** A process tree moved into a weighted cgroup. */
export interface AgentWeight {
  /** How, in words, for the bench's log. */
  how: string;
  /** Moves what is left of the tree back and removes the cgroup. */
  release(): Promise<void>;
}

const V2_ROOT = "/sys/fs/cgroup";
const V1_ROOT = "/sys/fs/cgroup/cpu";

async function writable(path: string, text: string): Promise<boolean> {
  return await Deno.writeTextFile(path, text).then(() => true, () => false);
}

/** The cpu cgroups this machine lets the bench make, if any (probed by making one). */
export async function cpuCgroups(): Promise<CpuCgroups | undefined> {
  const v2 = await Deno.readTextFile(`${V2_ROOT}/cgroup.controllers`)
    .catch(() => "");
  const candidates: CpuCgroups[] = [];
  if (v2.split(/\s+/).includes("cpu")) {
    // The root must hand the cpu controller down to its children.
    await writable(`${V2_ROOT}/cgroup.subtree_control`, "+cpu");
    candidates.push({ version: 2, root: V2_ROOT });
  }
  if (await Deno.stat(`${V1_ROOT}/cpu.shares`).then(() => true, () => false)) {
    candidates.push({ version: 1, root: V1_ROOT });
  }
  for (const candidate of candidates) {
    const probe = `${candidate.root}/sshproxy-bench-probe-${Deno.pid}`;
    try {
      await Deno.mkdir(probe);
    } catch {
      continue;
    }
    const weighed = await writable(
      `${probe}/${candidate.version === 2 ? "cpu.weight" : "cpu.shares"}`,
      candidate.version === 2 ? "1000" : "10240",
    );
    await Deno.remove(probe).catch(() => {});
    if (weighed) return candidate;
  }
  return undefined;
}

/** Moves `pid` and its descendants into a cgroup of ten times the default CPU weight. */
export async function weighAgent(
  cgroups: CpuCgroups,
  pid: number,
): Promise<AgentWeight> {
  const dir = `${cgroups.root}/sshproxy-bench-agent-${pid}`;
  await Deno.mkdir(dir);
  const [file, value] = cgroups.version === 2
    ? ["cpu.weight", "1000"]
    : ["cpu.shares", "10240"];
  await Deno.writeTextFile(`${dir}/${file}`, value);
  for (const member of [pid, ...await descendantsOf(pid)]) {
    // A process that ended meanwhile cannot move: nothing to weigh.
    await writable(`${dir}/cgroup.procs`, `${member}\n`);
  }
  return {
    how: `cgroup v${cgroups.version} ${file} ${value} (${dir})`,
    async release() {
      const left = await Deno.readTextFile(`${dir}/cgroup.procs`)
        .catch(() => "");
      for (const member of left.split("\n").filter((line) => line !== "")) {
        await writable(`${cgroups.root}/cgroup.procs`, `${member}\n`);
      }
      await Deno.remove(dir).catch(() => {});
    },
  };
}
