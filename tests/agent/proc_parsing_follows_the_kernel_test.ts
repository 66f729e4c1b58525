// /proc as the agent reads it (src/agent/processes.ts): the stat line is
// read from its command name's last ")" on, so a process named with
// parentheses, spaces or newlines cannot shift the fields; a pid reused by
// another process (other start time) or a zombie has ended.
import assert from "node:assert/strict";
import {
  parseStat,
  parseStatusUids,
  type ProcSource,
  sessionProcess,
  stillRunning,
} from "../../src/agent/processes.ts";

function statLine(
  pid: number,
  name: string,
  state: string,
  ppid: number,
  start: number,
): string {
  const rest = [
    state,
    ppid,
    pid,
    pid,
    0,
    -1,
    4194560,
    1,
    0,
    0,
    0,
    0,
    0,
    0,
    0,
    20,
    0,
    1,
    0,
    start,
    100,
    200,
  ];
  return `${pid} (${name}) ${rest.join(" ")}`;
}

Deno.test("stat fields are found after the name's last parenthesis", () => {
  for (const name of ["sshproxy", "a) R 1 2 (b", "two\nlines ) Z 9", ""]) {
    const line = statLine(42, name, "S", 7, 123456);
    assert.deepEqual(parseStat(line), {
      state: "S",
      ppid: 7,
      startTime: 123456n,
    }, name);
    // The helper sends only what follows the name.
    assert.deepEqual(parseStat(line.slice(line.lastIndexOf(")") + 1)), {
      state: "S",
      ppid: 7,
      startTime: 123456n,
    });
  }
  assert.equal(parseStat("42 (x) S 1 2"), undefined);
});

Deno.test("the Uid line gives the real and effective uid", () => {
  assert.deepEqual(
    parseStatusUids("Name:\tx\nUid:\t1001\t1002\t1003\t1004\n"),
    {
      real: 1001,
      effective: 1002,
    },
  );
  assert.equal(parseStatusUids("Name:\tUid: 0 0\n"), undefined);
});

/** A fake /proc: pid → [stat line, uid]. */
function fakeProc(table: Record<number, [string, number]>): ProcSource {
  return {
    stat: (pids) =>
      Promise.resolve(new Map(pids.map((pid) => [pid, table[pid]?.[0]]))),
    statAndUids: (pids) =>
      Promise.resolve(
        new Map(
          pids.map((pid) => [pid, {
            stat: table[pid]?.[0],
            uids: table[pid] &&
              `Uid:\t${table[pid][1]}\t${table[pid][1]}\t0\t0`,
          }]),
        ),
      ),
  };
}

Deno.test("a process is still running only with the same start time and not a zombie", async () => {
  const proc = fakeProc({
    10: [statLine(10, "ssh", "S", 1, 500), 1001],
    11: [statLine(11, "ssh", "S", 1, 999), 1001],
    12: [statLine(12, "ssh", "Z", 1, 500), 1001],
  });
  assert.deepEqual(
    await stillRunning([
      { pid: 10, startTime: 500n },
      { pid: 11, startTime: 500n }, // reused pid
      { pid: 12, startTime: 500n }, // zombie
      { pid: 13, startTime: 500n }, // gone
    ], proc),
    [true, false, false, false],
  );
});

Deno.test("the session process is the client or its parent, both of the proven uid", async () => {
  const proc = fakeProc({
    100: [statLine(100, "sh", "S", 1, 40), 1001], // launcher
    101: [statLine(101, "deno", "S", 100, 41), 1001], // proxy
    200: [statLine(200, "deno", "S", 1, 50), 1002],
    300: [statLine(300, "sleep", "S", 1, 60), 1001],
  });
  assert.deepEqual(await sessionProcess(1001, 101, 101, proc), {
    ok: true,
    value: { pid: 101, startTime: 41n },
  });
  assert.deepEqual(await sessionProcess(1001, 101, 100, proc), {
    ok: true,
    value: { pid: 100, startTime: 40n },
  });
  assert.deepEqual(await sessionProcess(1001, 101, 300, proc), {
    ok: false,
    error: "process 300 is neither 101 nor its parent 100",
  });
  assert.deepEqual(await sessionProcess(1001, 200, 200, proc), {
    ok: false,
    error: "process 200 does not run as uid 1001",
  });
  assert.deepEqual(await sessionProcess(1001, 999, 999, proc), {
    ok: false,
    error: "no process 999",
  });
});

Deno.test("checking a session process asks the helper one question, launcher or not", async () => {
  const table: Record<number, [string, number]> = {
    100: [statLine(100, "sh", "S", 1, 40), 1001],
    101: [statLine(101, "deno", "S", 100, 41), 1001],
  };
  const asked: string[] = [];
  const base = fakeProc(table);
  const counting: ProcSource = {
    stat: (pids) => {
      asked.push(`stat ${pids.join(" ")}`);
      return base.stat(pids);
    },
    statAndUids: (pids) => {
      asked.push(`proc ${pids.join(" ")}`);
      return base.statAndUids(pids);
    },
  };
  assert.ok((await sessionProcess(1001, 101, 100, counting)).ok);
  assert.deepEqual(asked, ["proc 101 100"]);
  asked.length = 0;
  assert.ok((await sessionProcess(1001, 101, 101, counting)).ok);
  assert.deepEqual(asked, ["proc 101"]);
});
