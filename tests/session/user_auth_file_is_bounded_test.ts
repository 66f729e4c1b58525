// SSH_USER_AUTH names a file the proxy reads; under `AcceptEnv` the user
// chooses the name. Only a regular file of at most USER_AUTH_MAX_BYTES is
// read: a device, a FIFO or a huge file is a WARNING, never a hang or a
// process that fills memory (issue 12 item 4).
import assert from "node:assert/strict";
import {
  originalCommand,
  readUserAuth,
  USER_AUTH_MAX_BYTES,
} from "../../src/session/original_command.ts";
import type { Result } from "../../src/result.ts";

/** readUserAuth, failing the test instead of hanging when it blocks. */
async function readBounded(
  path: string | undefined,
): Promise<Result<string> | undefined> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const hung = new Promise<"hung">((resolve) => {
    timer = setTimeout(() => resolve("hung"), 5000);
  });
  try {
    const outcome = await Promise.race([readUserAuth(path), hung]);
    assert.notEqual(outcome, "hung", `reading ${path} did not return in 5 s`);
    return outcome as Result<string> | undefined;
  } finally {
    clearTimeout(timer);
  }
}

async function inTempDir(use: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "sshproxy-user-auth-" });
  try {
    await use(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

const LINE =
  "publickey ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIB7ruTgAHEhlzhBHYxf" +
  "6GYwuTzLc5I3uf2xMY2mUkHUm\n";

Deno.test("unset or empty SSH_USER_AUTH reads nothing", async () => {
  assert.equal(await readBounded(undefined), undefined);
  assert.equal(await readBounded(""), undefined);
});

Deno.test("sshd's file (a small regular file) is read, also through a symlink", async () => {
  await inTempDir(async (dir) => {
    await Deno.writeTextFile(`${dir}/auth`, LINE);
    assert.deepEqual(await readBounded(`${dir}/auth`), {
      ok: true,
      value: LINE,
    });
    await Deno.symlink(`${dir}/auth`, `${dir}/link`);
    assert.deepEqual(await readBounded(`${dir}/link`), {
      ok: true,
      value: LINE,
    });
  });
});

Deno.test("a missing file keeps the reference's warning text", async () => {
  assert.deepEqual(await readBounded("/nonexistent/sshauth"), {
    ok: false,
    error: "open /nonexistent/sshauth: no such file or directory",
  });
});

Deno.test("devices, FIFOs and directories are refused without reading", async (t) => {
  await inTempDir(async (dir) => {
    const fifo = `${dir}/fifo`;
    const made = await new Deno.Command("mkfifo", { args: [fifo] }).output();
    assert.equal(made.code, 0);
    for (const path of ["/dev/zero", "/dev/urandom", fifo, dir]) {
      await t.step(path, async () => {
        const read = await readBounded(path);
        assert.ok(read !== undefined && !read.ok);
        assert.equal(
          read.error,
          `open ${path}: not a regular file (SSH_USER_AUTH must name the ` +
            `file of sshd's ExposeAuthInfo)`,
        );
      });
    }
    await t.step("a symlink to /dev/zero", async () => {
      await Deno.symlink("/dev/zero", `${dir}/zero`);
      const read = await readBounded(`${dir}/zero`);
      assert.ok(read !== undefined && !read.ok);
      assert.match(read.error, /not a regular file/);
    });
  });
});

Deno.test("a file over the bound is refused; one at the bound is read", async () => {
  await inTempDir(async (dir) => {
    const big = `${dir}/big`;
    const file = await Deno.create(big);
    // Sparse: the size is what counts, not the disk it would take.
    await file.truncate(USER_AUTH_MAX_BYTES + 1);
    file.close();
    const refused = await readBounded(big);
    assert.ok(refused !== undefined && !refused.ok);
    assert.equal(
      refused.error,
      `open ${big}: larger than ${USER_AUTH_MAX_BYTES} bytes (SSH_USER_AUTH ` +
        `must name the file of sshd's ExposeAuthInfo)`,
    );
    await Deno.truncate(big, USER_AUTH_MAX_BYTES);
    const read = await readBounded(big);
    assert.ok(read !== undefined && read.ok);
    assert.equal(read.value.length, USER_AUTH_MAX_BYTES);
  });
});

Deno.test("a refused file is a WARNING and the user's own command is kept", async () => {
  const read = await readBounded("/dev/zero");
  const command = originalCommand(read, "hostname");
  assert.equal(command.command, "hostname");
  assert.equal(command.forced, false);
  assert.equal(command.warnings.length, 1);
  assert.match(command.warnings[0], /^open \/dev\/zero: not a regular file/);
});
