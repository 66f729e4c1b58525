// The latency phase's stamps (scripts/bench/stamps.ts): the stamped
// ForceCommand, run by bash as sshd runs it, notes its start and end
// around the path's command (its `exec` dropped) and exits as the command
// did; the ssh wrapper notes its start only when asked; the figures come
// from the stamps in order, and a login that left one out is a reason,
// not a figure.
import assert from "node:assert/strict";
import {
  loginStamps,
  parseEpochRealtime,
  prepareStampDir,
  prepareStamps,
  readStamps,
  stampedForceCommand,
} from "../../scripts/bench/stamps.ts";

async function bash(
  command: string,
  env: Record<string, string> = {},
): Promise<number> {
  const { code } = await new Deno.Command("/bin/bash", {
    args: ["-c", command],
    env,
    stdout: "null",
    stderr: "null",
  }).output();
  return code;
}

Deno.test("a stamped ForceCommand notes its start and end around the command and keeps its status", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const files = await prepareStamps(dir);
    await prepareStampDir(files, "c");
    // A stand-in for the path: its ssh starts, the destination's command
    // runs (as ssh would have it run), and it fails with status 3.
    const path = `${dir}/path`;
    await Deno.writeTextFile(
      path,
      [
        "#!/bin/bash",
        'printf "%s\\n" "$EPOCHREALTIME" > "$BENCH_STAMP_DIR/ssh"',
        "sleep 0.05",
        'bash -c "$DESTINATION_COMMAND"',
        "exit 3",
        "",
      ].join("\n"),
    );
    await Deno.chmod(path, 0o755);
    const command = stampedForceCommand(files, "c", `exec ${path}`);
    assert.doesNotMatch(command, /; exec /, "the command's exec is dropped");
    assert.equal(
      await bash(command, { DESTINATION_COMMAND: files.destinationCommand }),
      3,
    );
    const stamps = await readStamps(files, "c");
    assert.ok(typeof stamps !== "string", String(stamps));
    assert.ok(stamps.toSshMs >= 0 && stamps.toSshMs < 1000);
    assert.ok(stamps.afterSshMs >= 0 && stamps.afterSshMs < 1000);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("the ssh wrapper notes its start only for the latency phase, then is ssh", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const files = await prepareStamps(dir);
    await prepareStampDir(files, "b");
    // `ssh -V` prints the version and exits 0: the wrapper exec'd ssh.
    assert.equal(await bash(`${files.sshWrapper} -V`), 0);
    assert.deepEqual([...Deno.readDirSync(`${dir}/b`)], []);
    assert.equal(
      await bash(`${files.sshWrapper} -V`, { BENCH_STAMP_DIR: `${dir}/b` }),
      0,
    );
    const text = await Deno.readTextFile(`${dir}/b/ssh`);
    assert.ok(parseEpochRealtime(text) !== undefined, text);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a login that left a stamp out, or stamps out of order, is a reason, not a figure", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const files = await prepareStamps(dir);
    await prepareStampDir(files, "d");
    const read = await readStamps(files, "d");
    assert.equal(typeof read, "string");
    assert.match(String(read), /path d's login left no time in .*\/d\/start/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
  assert.deepEqual(
    loginStamps({ start: 10, ssh: 14.5, destinationEnd: 300, end: 303.25 }),
    { toSshMs: 4.5, afterSshMs: 3.25 },
  );
  assert.equal(
    typeof loginStamps({ start: 10, ssh: 9, destinationEnd: 300, end: 303 }),
    "string",
  );
});

Deno.test("$EPOCHREALTIME reads with a dot or a locale's comma", () => {
  assert.equal(parseEpochRealtime("1796670081.659933\n"), 1796670081659.933);
  assert.equal(parseEpochRealtime("1796670081,659933"), 1796670081659.933);
  assert.equal(parseEpochRealtime(""), undefined);
  assert.equal(parseEpochRealtime("1796670081"), undefined);
});
