// Who is on the other end of the agent's socket. Deno cannot read a Unix
// socket's peer credentials (SO_PEERCRED) without FFI, so the client proves
// its uid with a file only that uid can own: the agent sends a random,
// single-use nonce; the client creates PROOF_DIR/<nonce> (create-new, mode
// 0600) in a sticky directory (mode 1733, owned by the agent) that others
// can write to but not list; the agent lstat()s it, then deletes it.
//
// Why each check (sshproxy-agent(8), IDENTITY):
// - owner uid == claimed uid: only that uid (or root) can create a file it
//   owns; nobody can give away a file (no chown for users).
// - not a symlink, a regular file, empty: a planted link or device proves
//   nothing about its creator.
// - one link only, and no group or other permission bits: a hard link to
//   another user's file needs read and write access to it when
//   fs.protected_hardlinks is 1 (the default), which those bits would show;
//   and a file linked while its other name still exists has two links.
// - born after the nonce was sent (when the file system records birth
//   times): a file linked in and then unlinked elsewhere is older.
// - the nonce is random (128 bits), secret (the directory cannot be listed
//   by others), forgotten after one use and valid for a bounded time.
import { fail, ok, type Result } from "../result.ts";

/** A fresh nonce: 128 random bits in hexadecimal. */
export function newNonce(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

/** What the agent learns from lstat() of a proof file. */
export interface ProofFacts {
  isFile: boolean;
  isSymlink: boolean;
  uid: number;
  nlink: number;
  mode: number;
  size: number;
  /** Birth time in ms since the epoch, when the file system keeps one. */
  birthtimeMs?: number;
}

// The kernel stamps files with a coarse clock (one tick, up to 10 ms)
// while the nonce's time is precise: a fresh file may look a tick older.
const BIRTH_SLACK_MS = 50;

/** Whether a proof file proves `claimedUid` for a nonce sent at `issuedAtMs` (pure). */
export function judgeProof(
  facts: ProofFacts,
  claimedUid: number,
  issuedAtMs: number,
): Result<void> {
  if (facts.isSymlink) return fail("the proof is a symbolic link");
  if (!facts.isFile) return fail("the proof is not a regular file");
  if (facts.uid !== claimedUid) {
    return fail(`the proof belongs to uid ${facts.uid}, not ${claimedUid}`);
  }
  if (facts.nlink !== 1) {
    return fail(`the proof has ${facts.nlink} links (a hard link)`);
  }
  if ((facts.mode & 0o077) !== 0) {
    return fail(
      `the proof's mode ${
        (facts.mode & 0o7777).toString(8)
      } lets others in (a linked file)`,
    );
  }
  if (facts.size !== 0) return fail("the proof is not empty");
  if (
    facts.birthtimeMs !== undefined &&
    facts.birthtimeMs < issuedAtMs - BIRTH_SLACK_MS
  ) {
    return fail("the proof is older than its nonce");
  }
  return ok(undefined);
}

/**
 * Checks PROOF_DIR/<nonce> for `claimedUid` and deletes it, whatever the
 * verdict (the agent owns the sticky directory, so it may).
 */
export function checkProof(
  proofDir: string,
  nonce: string,
  claimedUid: number,
  issuedAtMs: number,
): Result<void> {
  const path = `${proofDir}/${nonce}`;
  // Synchronous, as its creation: a login waits for this check.
  let info: Deno.FileInfo;
  try {
    info = Deno.lstatSync(path);
  } catch (error) {
    return fail(
      error instanceof Deno.errors.NotFound
        ? "no proof file"
        : `cannot inspect the proof: ${describe(error)}`,
    );
  }
  const verdict = judgeProof(
    {
      isFile: info.isFile,
      isSymlink: info.isSymlink,
      uid: info.uid ?? -1,
      nlink: info.nlink ?? 0,
      mode: info.mode ?? 0o777,
      size: info.size,
      birthtimeMs: info.birthtime?.getTime(),
    },
    claimedUid,
    issuedAtMs,
  );
  try {
    Deno.removeSync(path);
  } catch {
    // gone already: single use either way
  }
  return verdict;
}

/** Creates the proof file (client side); its path, to delete it on failure. */
export function createProof(
  proofDir: string,
  nonce: string,
): Result<string> {
  const path = `${proofDir}/${nonce}`;
  // Synchronous: creating an empty file is a few microseconds, a trip
  // through the runtime's thread pool ~0.3 ms of the login.
  try {
    Deno.openSync(path, { createNew: true, write: true, mode: 0o600 })
      .close();
    return ok(path);
  } catch (error) {
    return fail(`cannot create ${path}: ${describe(error)}`);
  }
}

/**
 * Prepares the proof directory: created if missing, else it must be a real
 * directory owned by `ownerUid`; mode 1733 either way, and emptied of what
 * an earlier run left. Its parent must not be writable by others (they
 * could replace the directory).
 */
export async function prepareProofDir(
  path: string,
  ownerUid: number,
): Promise<Result<void>> {
  const parent = path.slice(0, path.lastIndexOf("/")) || "/";
  try {
    const info = await Deno.lstat(parent);
    if (!info.isDirectory) return fail(`${parent} is not a directory`);
    if (((info.mode ?? 0) & 0o022) !== 0 && ((info.mode ?? 0) & 0o1000) === 0) {
      return fail(
        `${parent} is writable by others: give it mode 755 (the unit's RuntimeDirectory does)`,
      );
    }
  } catch (error) {
    return fail(`cannot use ${parent}: ${describe(error)}`);
  }
  try {
    await Deno.mkdir(path, { mode: 0o700 });
  } catch (error) {
    if (!(error instanceof Deno.errors.AlreadyExists)) {
      return fail(`cannot create ${path}: ${describe(error)}`);
    }
  }
  try {
    const info = await Deno.lstat(path);
    if (!info.isDirectory || info.isSymlink) {
      return fail(`${path} is not a directory`);
    }
    if (info.uid !== ownerUid) {
      return fail(
        `${path} belongs to uid ${info.uid}, not to the agent's ${ownerUid}: remove it`,
      );
    }
    await Deno.chmod(path, 0o1733);
    for await (const entry of Deno.readDir(path)) {
      await Deno.remove(`${path}/${entry.name}`).catch(() => {});
    }
  } catch (error) {
    return fail(`cannot prepare ${path}: ${describe(error)}`);
  }
  return ok(undefined);
}

/** Deletes proof files older than `maxAgeMs` (clients that never asked). */
export async function sweepProofDir(
  path: string,
  maxAgeMs: number,
  nowMs = Date.now(),
): Promise<number> {
  let removed = 0;
  try {
    for await (const entry of Deno.readDir(path)) {
      const file = `${path}/${entry.name}`;
      const info = await Deno.lstat(file).catch(() => undefined);
      const born = info?.birthtime ?? info?.mtime;
      if (born && nowMs - born.getTime() > maxAgeMs) {
        await Deno.remove(file).then(() => removed++, () => {});
      }
    }
  } catch {
    // The directory is gone: nothing to sweep.
  }
  return removed;
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
