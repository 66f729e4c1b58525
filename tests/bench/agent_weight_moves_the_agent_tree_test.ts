import assert from "node:assert/strict";
import { cpuCgroups, weighAgent } from "../../scripts/bench/agent_weight.ts";

/** The cpu cgroup path of `pid`: its v1 "cpu" line, or its v2 "0::" line. */
async function cpuGroupOf(
  pid: number,
  version: 1 | 2,
): Promise<string | undefined> {
  const lines = (await Deno.readTextFile(`/proc/${pid}/cgroup`)).split("\n");
  const line = lines.find((entry) =>
    version === 1
      ? /^\d+:(?:[^:]*,)?cpu(?:,[^:]*)?:/.test(entry)
      : entry.startsWith("0::")
  );
  return line?.slice(line.indexOf(":", line.indexOf(":") + 1) + 1);
}

Deno.test("the bench's agent and its children get ten times the default CPU weight, and back after", async () => {
  const cgroups = await cpuCgroups();
  if (cgroups === undefined) {
    // The probe said no: making a group must really fail here.
    for (const root of ["/sys/fs/cgroup/cpu", "/sys/fs/cgroup"]) {
      const probe = `${root}/sshproxy-bench-test-${Deno.pid}`;
      const made = await Deno.mkdir(probe).then(() => true, () => false);
      if (made) await Deno.remove(probe);
      const weighed = made &&
        await Deno.stat(`${root}/cpu.shares`).then(() => true, () => false);
      assert.equal(weighed, false, `${root} takes cpu groups`);
    }
    return;
  }
  // A parent with a child, as the agent and its helper.
  const tree = new Deno.Command("/bin/sh", {
    args: ["-c", "sleep 30 & wait"],
  }).spawn();
  let child: number | undefined;
  try {
    for (let tries = 0; tries < 100 && child === undefined; tries++) {
      const children = await Deno.readTextFile(
        `/proc/${tree.pid}/task/${tree.pid}/children`,
      ).catch(() => "");
      child = Number(children.trim().split(" ")[0]) || undefined;
      if (child === undefined) await new Promise((r) => setTimeout(r, 20));
    }
    assert.ok(child !== undefined, "the shell started no child");
    const before = await cpuGroupOf(tree.pid, cgroups.version);
    const weight = await weighAgent(cgroups, tree.pid);
    const group = `/sshproxy-bench-agent-${tree.pid}`;
    assert.equal(await cpuGroupOf(tree.pid, cgroups.version), group);
    assert.equal(await cpuGroupOf(child, cgroups.version), group);
    const [file, value] = cgroups.version === 2
      ? ["cpu.weight", "1000"]
      : ["cpu.shares", "10240"];
    assert.equal(
      (await Deno.readTextFile(`${cgroups.root}${group}/${file}`)).trim(),
      value,
    );
    assert.match(weight.how, new RegExp(`${file} ${value}`));
    await weight.release();
    assert.equal(await cpuGroupOf(tree.pid, cgroups.version), before);
    assert.equal(await cpuGroupOf(child, cgroups.version), before);
    assert.equal(
      await Deno.stat(`${cgroups.root}${group}`).then(() => true, () => false),
      false,
      "the group is removed",
    );
  } finally {
    if (child !== undefined) Deno.kill(child, "SIGKILL");
    tree.kill("SIGKILL");
    await tree.status;
  }
});
