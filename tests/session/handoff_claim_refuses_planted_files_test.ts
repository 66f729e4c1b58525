// The proxy's side of the plan file (src/session/handoff.ts): it claims
// only the private file the launcher made, and refuses, without writing
// to it or following it, whatever else sits at a plan file's name: a
// symbolic link, a FIFO (opening it would block), another user's file, a
// file others can read, a hard link, a name the launcher never makes.
// Real files in /tmp, as the launcher makes them.
import assert from "node:assert/strict";
import { claimHandoffOffer } from "../../src/session/handoff.ts";

function planName(): string {
  return `/tmp/sshproxy-plan.${crypto.randomUUID()}`;
}

async function privateFile(path: string): Promise<void> {
  await Deno.writeTextFile(path, "", { createNew: true, mode: 0o600 });
  await Deno.chmod(path, 0o600);
}

async function exists(path: string): Promise<boolean> {
  return await Deno.lstat(path).then(() => true, () => false);
}

Deno.test("the launcher's private file is claimed: unlinked at once, the plan written into it", async () => {
  const path = planName();
  await privateFile(path);
  // The launcher keeps it open, as on its fd 3.
  const launcher = await Deno.open(path, { read: true });
  try {
    const claim = claimHandoffOffer(path, "4242");
    assert.ok(claim.offer, claim.problem);
    assert.equal(await exists(path), false, "not unlinked");
    assert.equal(claim.offer.launcherPid, Deno.ppid);
    assert.equal(claim.offer.sshdPid, 4242);
    const written = claim.offer.write("# plan\n{\n}\n");
    assert.ok(written.ok);
    const buffer = new Uint8Array(64);
    const read = await launcher.read(buffer);
    assert.equal(
      new TextDecoder().decode(buffer.subarray(0, read ?? 0)),
      "# plan\n{\n}\n",
    );
  } finally {
    launcher.close();
  }
  assert.deepEqual(claimHandoffOffer(undefined, undefined), {});
  assert.deepEqual(claimHandoffOffer("", ""), {});
});

Deno.test("whatever else sits at a plan file's name is refused, untouched", async () => {
  const dir = await Deno.makeTempDir({ prefix: "sshproxy-claim-" });
  const target = `${dir}/precious`;
  await Deno.writeTextFile(target, "keep me\n");
  await Deno.chmod(target, 0o600);
  const planted: [string, (path: string) => Promise<void>][] = [
    ["a symbolic link to a private file", (path) => Deno.symlink(target, path)],
    [
      "a FIFO",
      async (path) => {
        const made = await new Deno.Command("mkfifo", {
          args: ["-m", "600", path],
        }).output();
        assert.ok(made.success);
      },
    ],
    [
      "another user's file",
      async (path) => {
        await privateFile(path);
        await Deno.chown(path, 65534, 65534);
      },
    ],
    [
      "a file others may read",
      async (path) => {
        await privateFile(path);
        await Deno.chmod(path, 0o644);
      },
    ],
    ["a hard link to a private file", (path) => Deno.link(target, path)],
    ["a directory", (path) => Deno.mkdir(path, { mode: 0o700 })],
  ];
  try {
    for (const [what, plant] of planted) {
      const path = planName();
      await plant(path);
      try {
        const claim = claimHandoffOffer(path, "1");
        assert.equal(claim.offer, undefined, what);
        assert.ok(claim.problem, what);
        assert.ok(await exists(path), `${what}: removed`);
        assert.equal(await Deno.readTextFile(target), "keep me\n", what);
      } finally {
        await Deno.remove(path);
      }
    }
    // Names the launcher never makes are not even looked at.
    for (
      const path of [
        target,
        "/tmp/sshproxy-plan.x",
        `/tmp/../tmp/sshproxy-plan.${crypto.randomUUID()}`,
        `${dir}/sshproxy-plan.${crypto.randomUUID()}`,
      ]
    ) {
      const claim = claimHandoffOffer(path, "1");
      assert.equal(claim.offer, undefined, path);
      assert.match(claim.problem ?? "", /is not one of the launcher's/);
    }
    assert.equal(await Deno.readTextFile(target), "keep me\n");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
