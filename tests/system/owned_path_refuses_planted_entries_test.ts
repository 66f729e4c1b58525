// Issue 12 item 2, the rule itself on real files (run as root, which can
// play every owner): a log or dump path is written only if no other user
// may control it. Planted files, links, FIFOs and directories in shared
// (1777) directories are refused and left untouched; the operator's own
// directories are used whoever owns them; a file swapped for a symbolic
// link between the check and the open is never written.
import assert from "node:assert/strict";
import {
  DENO_FILE_SYSTEM,
  type FileSystem,
  openOwnedFile,
  type OwnedFileOptions,
} from "../../src/system/owned_path.ts";

const SESSION_UID = 4243; // the user whose session writes
const OTHER_UID = 4244; // another user, the attacker

const APPEND: OwnedFileOptions = {
  directoryMode: 0o755,
  existing: "append",
  uid: SESSION_UID,
};
const TRUNCATE: OwnedFileOptions = {
  directoryMode: 0o700,
  existing: "truncate",
  uid: SESSION_UID,
};

/** A root-owned 1777 directory, like /var/log/sshproxy or the tests' log dirs. */
async function withSharedDir(fn: (dir: string) => Promise<void>) {
  const dir = await Deno.makeTempDir({ prefix: "owned-path-" });
  await Deno.chmod(dir, 0o1777);
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** Gives a symbolic link itself an owner (Deno has no lchown). */
async function lchown(path: string, uid: number) {
  const command = new Deno.Command("chown", {
    args: ["-h", `${uid}:${uid}`, path],
  });
  assert.equal((await command.output()).code, 0);
}

function write(opened: ReturnType<typeof openOwnedFile>, text: string) {
  assert.equal(opened.kind, "opened", JSON.stringify(opened));
  if (opened.kind !== "opened") return;
  opened.file.writeSync(new TextEncoder().encode(text));
  opened.file.close();
}

function assertUntrusted(
  opened: ReturnType<typeof openOwnedFile>,
  path: string,
  reason: RegExp,
) {
  if (opened.kind === "opened") opened.file.close();
  assert.equal(opened.kind, "untrusted", JSON.stringify(opened));
  if (opened.kind !== "untrusted") return;
  assert.equal(opened.path, path);
  assert.match(opened.reason, reason);
}

Deno.test("a new file is created 0600 with its missing directories", async () => {
  await withSharedDir(async (dir) => {
    const path = `${dir}/logs/alice/session.log`;
    write(openOwnedFile(path, APPEND), "one\n");
    write(openOwnedFile(path, APPEND), "two\n");
    assert.equal(await Deno.readTextFile(path), "one\ntwo\n");
    assert.equal((await Deno.stat(path)).mode! & 0o777, 0o600);
    assert.equal((await Deno.stat(`${dir}/logs/alice`)).mode! & 0o777, 0o755);
    // Dumps: truncated, directories 0700.
    const dump = `${dir}/dumps/alice/1.dump`;
    write(openOwnedFile(dump, TRUNCATE), "a long first content");
    write(openOwnedFile(dump, TRUNCATE), "short");
    assert.equal(await Deno.readTextFile(dump), "short");
    assert.equal((await Deno.stat(`${dir}/dumps`)).mode! & 0o777, 0o700);
  });
});

Deno.test("the user's own file in a shared directory is appended to", async () => {
  await withSharedDir(async (dir) => {
    const path = `${dir}/alice.log`;
    await Deno.writeTextFile(path, "before\n", { mode: 0o600 });
    await Deno.chown(path, SESSION_UID, SESSION_UID);
    write(openOwnedFile(path, APPEND), "after\n");
    assert.equal(await Deno.readTextFile(path), "before\nafter\n");
  });
});

Deno.test("another user's file, link, FIFO or directory at the path is refused untouched", async () => {
  await withSharedDir(async (dir) => {
    // A world-writable file planted before the victim's first login.
    const planted = `${dir}/planted.log`;
    await Deno.writeTextFile(planted, "mine\n");
    await Deno.chmod(planted, 0o666);
    await Deno.chown(planted, OTHER_UID, OTHER_UID);
    assertUntrusted(
      openOwnedFile(planted, APPEND),
      planted,
      /^it is owned by uid 4244, not by uid 4243, root or the directory's owner/,
    );
    assert.equal(await Deno.readTextFile(planted), "mine\n");

    // A symbolic link, even one the session's user or root made.
    const target = `${dir}/target`;
    await Deno.writeTextFile(target, "precious\n");
    for (const owner of [OTHER_UID, SESSION_UID, 0]) {
      const link = `${dir}/link-${owner}.log`;
      await Deno.symlink(target, link);
      await lchown(link, owner);
      assertUntrusted(
        openOwnedFile(link, TRUNCATE),
        link,
        /^it is a symbolic link$/,
      );
    }
    assert.equal(await Deno.readTextFile(target), "precious\n");

    // A FIFO would hang the login on open.
    const fifo = `${dir}/fifo.log`;
    const made = new Deno.Command("mkfifo", { args: ["-m", "666", fifo] });
    assert.equal((await made.output()).code, 0);
    await Deno.chown(fifo, OTHER_UID, OTHER_UID);
    assertUntrusted(openOwnedFile(fifo, APPEND), fifo, /owned by uid 4244/);

    // A directory on the way: the victim's dumps could be deleted in it.
    const userDir = `${dir}/dumps-alice`;
    await Deno.mkdir(userDir, { mode: 0o777 });
    await Deno.chmod(userDir, 0o777);
    await Deno.chown(userDir, OTHER_UID, OTHER_UID);
    assertUntrusted(
      openOwnedFile(`${userDir}/sub/1.dump`, TRUNCATE),
      userDir,
      /owned by uid 4244/,
    );
    assert.deepEqual([...Deno.readDirSync(userDir)], []);

    // A link to a directory of the attacker's, on the way.
    const elsewhere = `${dir}/elsewhere`;
    await Deno.mkdir(elsewhere);
    const linkDir = `${dir}/linked-alice`;
    await Deno.symlink(elsewhere, linkDir);
    await lchown(linkDir, OTHER_UID);
    assertUntrusted(
      openOwnedFile(`${linkDir}/x.log`, APPEND),
      linkDir,
      /owned by uid 4244/,
    );
    assert.deepEqual([...Deno.readDirSync(elsewhere)], []);
  });
});

Deno.test("a hard link in a shared directory is refused (it may be the victim's other file)", async () => {
  await withSharedDir(async (dir) => {
    const precious = `${dir}/bashrc`;
    await Deno.writeTextFile(precious, "alias ls='ls -F'\n");
    await Deno.chown(precious, SESSION_UID, SESSION_UID);
    const link = `${dir}/alice.dump`;
    await Deno.link(precious, link);
    assertUntrusted(
      openOwnedFile(link, TRUNCATE),
      link,
      /^it has 2 hard links/,
    );
    assert.equal(await Deno.readTextFile(precious), "alias ls='ls -F'\n");
  });
});

Deno.test("root's files and the operator's own directories are used whoever owns them", async () => {
  await withSharedDir(async (dir) => {
    // Root pre-created the user's log (e.g. append-only): trusted.
    const rootOwned = `${dir}/alice.log`;
    await Deno.writeTextFile(rootOwned, "");
    await Deno.chmod(rootOwned, 0o622);
    write(openOwnedFile(rootOwned, APPEND), "line\n");
    assert.equal(await Deno.readTextFile(rootOwned), "line\n");

    // A service account's tree under a directory only root writes: the
    // operator's choice, e.g. /var/lib/sshproxy-dumps owned by `sshproxy`.
    const operator = `${dir}/operator`;
    await Deno.mkdir(operator, { mode: 0o755 });
    await Deno.chmod(operator, 0o755);
    const service = `${operator}/service`;
    await Deno.mkdir(service);
    await Deno.chmod(service, 0o1733);
    await Deno.chown(service, OTHER_UID, OTHER_UID);
    write(openOwnedFile(`${service}/alice/1.dump`, TRUNCATE), "dump");
    assert.equal(await Deno.readTextFile(`${service}/alice/1.dump`), "dump");

    // A file another user left in a directory only its owner can write.
    const closed = `${operator}/closed.log`;
    await Deno.writeTextFile(closed, "");
    await Deno.chown(closed, OTHER_UID, OTHER_UID);
    write(openOwnedFile(closed, APPEND), "ok\n");
  });
});

Deno.test("something that is not a directory on the way fails like Go's MkdirAll", async () => {
  await withSharedDir(async (dir) => {
    await Deno.writeTextFile(`${dir}/plain`, "");
    const opened = openOwnedFile(`${dir}/plain/sub/x.log`, APPEND);
    assert.equal(opened.kind, "failed");
    if (opened.kind !== "failed") return;
    assert.equal(opened.op, "mkdir");
    assert.equal(opened.path, `${dir}/plain`);
    assert.ok(opened.error instanceof Deno.errors.NotADirectory);
  });
});

Deno.test("a file swapped for a symbolic link between the check and the open is never written", async () => {
  await withSharedDir(async (dir) => {
    const path = `${dir}/alice.log`;
    const target = `${dir}/target`;
    await Deno.writeTextFile(target, "precious\n");
    await Deno.writeTextFile(path, "");
    await Deno.chown(path, SESSION_UID, SESSION_UID);
    // The attacker wins the race: right before open, the checked file is
    // renamed away and a link put in its place.
    let swapped = false;
    const racing: FileSystem = {
      ...DENO_FILE_SYSTEM,
      open(file, options) {
        if (file === path && !swapped) {
          swapped = true;
          Deno.renameSync(path, `${dir}/moved`);
          Deno.symlinkSync(target, path);
        }
        return DENO_FILE_SYSTEM.open(file, options);
      },
    };
    assertUntrusted(
      openOwnedFile(path, { ...TRUNCATE, fs: racing }),
      path,
      /^it was replaced while being opened$/,
    );
    assert.ok(swapped);
    assert.equal(await Deno.readTextFile(target), "precious\n");
  });
});

Deno.test("a link planted between the check and the creation is never followed", async () => {
  await withSharedDir(async (dir) => {
    const path = `${dir}/alice.log`;
    const target = `${dir}/target`;
    await Deno.writeTextFile(target, "precious\n");
    let planted = false;
    const racing: FileSystem = {
      ...DENO_FILE_SYSTEM,
      open(file, options) {
        if (file === path && !planted) {
          planted = true;
          Deno.symlinkSync(target, path);
        }
        return DENO_FILE_SYSTEM.open(file, options);
      },
    };
    assertUntrusted(
      openOwnedFile(path, { ...APPEND, fs: racing }),
      path,
      /^it is a symbolic link$/,
    );
    assert.equal(await Deno.readTextFile(target), "precious\n");
  });
});
