/**
 * Files in a test account's home (a hostile user's ~/.ssh/config), written
 * for the duration of one test and then removed or restored. The accounts
 * are shared by every test process on the machine, so each such file is
 * held under a lock and its content should only affect the test's own
 * hosts (e.g. a `Match exec` on the test's own port).
 */
import { ensureTestAccounts, type TestUser } from "./users.ts";

/**
 * Writes `text` to `relativePath` under `user`'s home (owned by the user,
 * mode `mode`), runs `use` with its path, then puts back what was there.
 */
export async function withUserFile<T>(
  user: TestUser,
  relativePath: string,
  text: string,
  use: (path: string) => Promise<T>,
  mode = 0o600,
): Promise<T> {
  const account = (await ensureTestAccounts())[user];
  const path = `${account.home}/${relativePath}`;
  const lockName = `${user}-${relativePath}`.replace(/[^A-Za-z0-9.-]/g, "_");
  const lock = await Deno.open(`/tmp/sshproxy-e2e-userfile-${lockName}.lock`, {
    create: true,
    write: true,
  });
  try {
    await lock.lock(true);
    const before = await Deno.readFile(path).catch(() => undefined);
    await Deno.writeTextFile(path, text, { mode });
    await Deno.chmod(path, mode);
    await Deno.chown(path, account.uid, account.gid);
    try {
      return await use(path);
    } finally {
      if (before === undefined) {
        await Deno.remove(path).catch(() => {});
      } else {
        await Deno.writeFile(path, before);
      }
    }
  } finally {
    lock.close();
  }
}
