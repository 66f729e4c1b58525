// Each face revokes what it does not use: after the drop, an attempt to
// use a dropped permission fails with NotCapable, in a process granted
// exactly the launcher's (and compiled binary's) permission list.
import assert from "node:assert/strict";

const LAUNCHER_FLAGS = [
  "--allow-read",
  "--allow-write",
  "--allow-env",
  "--allow-run",
  "--allow-net",
  "--allow-sys",
];
const PROBE = new URL("./permission_probe.ts", import.meta.url).pathname;

async function probe(
  face: string,
  scratch: string,
  ...args: string[]
): Promise<Record<string, string>> {
  const output = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--no-prompt",
      ...LAUNCHER_FLAGS,
      PROBE,
      face,
      ...(args.length > 0 ? args : ["-"]),
      scratch,
    ],
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.equal(output.code, 0, new TextDecoder().decode(output.stderr));
  return JSON.parse(new TextDecoder().decode(output.stdout));
}

const ALLOWED = "allowed";
const DROPPED = "NotCapable";

Deno.test("sshproxy-replay keeps only reading its inputs (and writing when it exports to a file)", async () => {
  const scratch = await Deno.makeTempDir();
  try {
    assert.deepEqual(await probe("replay", scratch), {
      read: ALLOWED,
      write: DROPPED,
      net: DROPPED,
      env: DROPPED,
      run: DROPPED,
      sys: DROPPED,
    });
    assert.deepEqual(
      await probe("replay-export", scratch, `${scratch}/x.cast`),
      {
        read: ALLOWED,
        write: ALLOWED,
        net: DROPPED,
        env: DROPPED,
        run: DROPPED,
        sys: DROPPED,
      },
    );
  } finally {
    await Deno.remove(scratch, { recursive: true });
  }
});

Deno.test("sshproxy-dumpd never runs processes nor reads the environment", async () => {
  const scratch = await Deno.makeTempDir();
  try {
    assert.deepEqual(await probe("dumpd", scratch), {
      read: ALLOWED,
      write: ALLOWED,
      net: ALLOWED,
      env: DROPPED,
      run: DROPPED,
      sys: DROPPED,
    });
  } finally {
    await Deno.remove(scratch, { recursive: true });
  }
});

Deno.test("sshproxy-agent, once started, runs no program and reads no environment", async () => {
  const scratch = await Deno.makeTempDir();
  try {
    assert.deepEqual(await probe("agent", scratch), {
      read: ALLOWED,
      write: ALLOWED,
      net: ALLOWED,
      env: DROPPED,
      run: DROPPED,
      sys: DROPPED,
    });
  } finally {
    await Deno.remove(scratch, { recursive: true });
  }
});

Deno.test("sshproxyctl never writes files, and runs id(1) only to show users' groups", async () => {
  const scratch = await Deno.makeTempDir();
  try {
    for (const face of ["ctl-hosts", "ctl-enable"]) {
      assert.deepEqual(await probe(face, scratch), {
        read: ALLOWED,
        write: DROPPED,
        net: ALLOWED,
        env: ALLOWED,
        run: DROPPED,
        sys: ALLOWED,
      }, face);
    }
    const users = await probe("ctl-users", scratch);
    assert.equal(users.run, ALLOWED);
    assert.equal(users.write, DROPPED);
  } finally {
    await Deno.remove(scratch, { recursive: true });
  }
});
