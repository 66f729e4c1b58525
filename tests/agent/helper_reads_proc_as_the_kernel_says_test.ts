// The agent's helper reads /proc for it (src/agent/helper.ts), under bash
// (whole files at once) or a POSIX shell (byte by byte): both must answer
// what the kernel says of real processes, whatever a process calls itself.
// A process named with a parenthesis, a newline and a fake `Uid:` line is
// still read at its real uid, parent and start time.
import assert from "node:assert/strict";
import { startSystemHelper } from "../../src/agent/helper.ts";
import { parseStat, parseStatusUids } from "../../src/agent/processes.ts";

// 15 bytes at most (the kernel's TASK_COMM_LEN).
const HOSTILE_NAME = "x) Z 1\nUid:\t42";

async function hostileProcess(): Promise<Deno.ChildProcess> {
  // The name must reach the kernel in one write (a shell's printf writes
  // line by line): a Deno child names itself, says so, then waits on its
  // input.
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "eval",
      `Deno.writeTextFileSync("/proc/self/comm", ${
        JSON.stringify(HOSTILE_NAME)
      }); console.log("named"); await Deno.stdin.read(new Uint8Array(1));`,
    ],
    stdin: "piped",
    stdout: "piped",
  }).spawn();
  const reader = child.stdout.getReader();
  const first = await reader.read();
  reader.releaseLock();
  assert.equal(new TextDecoder().decode(first.value).trim(), "named");
  return child;
}

// A pid no process has: above the kernel's pid_max.
async function unusedPid(): Promise<number> {
  const max = Number(
    (await Deno.readTextFile("/proc/sys/kernel/pid_max")).trim(),
  );
  return max + 1;
}

for (const shell of ["/bin/bash", "/bin/sh"]) {
  Deno.test(`the helper under ${shell} reads a hostile process as the kernel says`, async () => {
    const helper = startSystemHelper({ procShell: shell });
    assert.ok(helper.ok, helper.ok ? "" : helper.error);
    const child = await hostileProcess();
    try {
      // The name is really there (the test would prove nothing otherwise).
      assert.equal(
        await Deno.readTextFile(`/proc/${child.pid}/comm`),
        `${HOSTILE_NAME}\n`,
      );
      const gone = await unusedPid();
      const both = await helper.value.proc.statAndUids([
        child.pid,
        Deno.pid,
        gone,
      ]);
      const stats = await helper.value.proc.stat([child.pid, gone]);

      const kernelStat = await Deno.readTextFile(`/proc/${child.pid}/stat`);
      const kernelFields = kernelStat.slice(kernelStat.lastIndexOf(")") + 2)
        .split(" ");
      const childStat = both.get(child.pid)?.stat;
      assert.ok(childStat !== undefined);
      const parsed = parseStat(childStat);
      // The state is of its moment: the child may still be running (R)
      // when the helper reads it and asleep on its input (S) when the
      // test does. Parent and start time never change.
      assert.match(parsed?.state ?? "", /^[RS]$/);
      assert.equal(parsed?.ppid, Deno.pid);
      assert.equal(parsed?.startTime, BigInt(kernelFields[19]));
      assert.equal(
        parseStat(stats.get(child.pid) ?? "")?.startTime,
        parsed?.startTime,
      );
      const childUids = both.get(child.pid)?.uids;
      assert.ok(childUids !== undefined);
      assert.deepEqual(parseStatusUids(childUids), {
        real: Deno.uid(),
        effective: Deno.uid(),
      });
      assert.ok(parseStat(both.get(Deno.pid)?.stat ?? "") !== undefined);

      assert.equal(both.get(gone)?.stat, undefined);
      assert.equal(both.get(gone)?.uids, undefined);
      assert.ok(both.has(gone));
      assert.equal(stats.get(gone), undefined);
    } finally {
      child.stdin.close();
      await child.status;
      await helper.value.close();
    }
  });
}
