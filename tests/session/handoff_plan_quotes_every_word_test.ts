// The hand-off plan (src/session/handoff.ts) as the launcher runs it: a
// real dash (Debian's /bin/sh) and bash in POSIX mode source the plan and
// exec the argv it names. Whatever the words hold (quotes, newlines,
// command substitutions, globs, options), the program gets exactly them
// and nothing runs but it.
import assert from "node:assert/strict";
import {
  exportableName,
  handoffBlockers,
  PLAN_HEADER,
  planText,
  shellQuote,
} from "../../src/session/handoff.ts";

const HOSTILE = [
  "it's",
  "'",
  "''",
  "'\\''",
  "a\nb",
  "\n",
  "$(touch MARK)",
  "`touch MARK`",
  "${HOME}",
  "$HOME",
  "*",
  "~",
  "-e",
  "--",
  " lead and trail ",
  "\t",
  "\\",
  "\\'",
  '"',
  "; touch MARK",
  "| touch MARK",
  "&& touch MARK",
  "#comment",
  "}",
  "exec touch MARK",
  "é中文🙂",
  "",
];

// A program that prints its arguments and FOO, NUL-terminated.
const PRINTER = ["/bin/sh", "-c", 'printf "%s\\0" "$@" "FOO=$FOO"', "printer"];

async function runPlan(
  shell: string[],
  plan: string,
  dir: string,
): Promise<{ code: number; stdout: string; stderr: string }> {
  const path = `${dir}/plan`;
  await Deno.writeTextFile(path, plan);
  const output = await new Deno.Command(shell[0], {
    args: [...shell.slice(1), "-c", `. '${path}'`],
    cwd: dir,
    env: { PATH: "/usr/bin:/bin", HOME: "/nonexistent" },
    clearEnv: true,
    stdin: "null",
  }).output();
  return {
    code: output.code,
    stdout: new TextDecoder().decode(output.stdout),
    stderr: new TextDecoder().decode(output.stderr),
  };
}

for (const shell of [["/bin/dash"], ["/bin/bash", "--posix"]]) {
  Deno.test(`${shell.join(" ")} runs the plan's argv and environment exactly, hostile words included`, async () => {
    const dir = await Deno.makeTempDir({ prefix: "sshproxy-plan-" });
    try {
      for (const word of HOSTILE) {
        const plan = planText(
          [...PRINTER, word, `x${word}y`],
          [["FOO", word], ["BAR", "$(touch MARK)"]],
        );
        assert.ok(plan.ok, plan.ok ? "" : plan.error);
        const result = await runPlan(shell, plan.value, dir);
        assert.equal(
          result.code,
          0,
          `${JSON.stringify(word)}: ${result.stderr}`,
        );
        assert.equal(result.stderr, "");
        assert.deepEqual(
          result.stdout.split("\0"),
          [word, `x${word}y`, `FOO=${word}`, ""],
          JSON.stringify(word),
        );
        const entries = [];
        for await (const entry of Deno.readDir(dir)) entries.push(entry.name);
        assert.deepEqual(
          entries,
          ["plan"],
          `${JSON.stringify(word)} ran something`,
        );
      }
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  });

  Deno.test(`${shell.join(" ")} runs nothing of a plan cut short`, async () => {
    const dir = await Deno.makeTempDir({ prefix: "sshproxy-plan-" });
    try {
      const plan = planText(["/usr/bin/touch", `${dir}/MARK`], [["A", "1"]]);
      assert.ok(plan.ok);
      const full = plan.value;
      // Every cut that keeps the header: the block's `}` is missing or the
      // last quote is open, so sh refuses the whole block (a cut before the
      // block is only a comment).
      for (
        let length = PLAN_HEADER.length + 1;
        length < full.length - 1;
        length++
      ) {
        await runPlan(shell, full.slice(0, length), dir);
        const marked = await Deno.stat(`${dir}/MARK`).then(
          () => true,
          () => false,
        );
        assert.equal(marked, false, `cut at ${length} ran touch`);
      }
      const result = await runPlan(shell, full, dir);
      assert.equal(result.code, 0, result.stderr);
      assert.ok(await Deno.stat(`${dir}/MARK`));
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  });
}

Deno.test("a plan starts with its header, exports, then execs with the plan's fd closed", () => {
  const plan = planText(["ssh", "-q", "host", "--", "it's"], [["LANG", "C"]]);
  assert.ok(plan.ok);
  assert.equal(
    plan.value,
    `${PLAN_HEADER}\n{\nexport LANG='C'\nexec 'ssh' '-q' 'host' '--' 'it'\\''s' 3>&-\n}\n`,
  );
  assert.equal(shellQuote(""), "''");
});

Deno.test("what sh cannot carry is refused, not mangled", () => {
  for (
    const [argv, environment] of [
      [["ssh", "a\0b"], []],
      [["ssh"], [["X", "a\0b"]]],
      [["ssh"], [["1X", "v"]]],
      [["ssh"], [["A-B", "v"]]],
      [["ssh"], [["UID", "0"]]],
      [["ssh"], [["PPID", "1"]]],
      [[], []],
    ] as [string[], [string, string][]][]
  ) {
    const plan = planText(argv, environment);
    assert.equal(plan.ok, false, JSON.stringify([argv, environment]));
  }
  assert.ok(exportableName("_X1"));
  assert.ok(!exportableName(""));
  assert.ok(!exportableName("SHELLOPTS"));
});

Deno.test("sessions that need sshproxy while they run are not handed off", () => {
  const base = {
    dump: "",
    bgCommand: "",
    etcd: false,
    agent: false,
    environment: [] as [string, string][],
  };
  assert.deepEqual(handoffBlockers(base), []);
  assert.deepEqual(handoffBlockers({ ...base, etcd: true, agent: true }), []);
  assert.equal(handoffBlockers({ ...base, dump: "etcd" }).length, 1);
  assert.equal(handoffBlockers({ ...base, bgCommand: "/bin/true" }).length, 1);
  assert.equal(handoffBlockers({ ...base, etcd: true }).length, 1);
  assert.equal(
    handoffBlockers({ ...base, environment: [["A-B", "x"]] }).length,
    1,
  );
});
