/**
 * Throwaway accounts for one test (a name made of digits, a second name on
 * an existing uid), created as root and removed when disposed; never one
 * of the shared `USERS`.
 */

import { requireTool, run, runChecked } from "./process.ts";
import { withAccountsLock } from "./users.ts";

/** An account that lives until disposed. */
export interface ScratchAccount extends AsyncDisposable {
  name: string;
  uid: number;
}

/** How to create a scratch account. */
export interface ScratchOptions {
  /** Primary group (must exist; no group of the account's name is made). */
  group: string;
  /** Supplementary groups (must exist). */
  groups?: string[];
  /** A fixed uid; with `shareUid`, the uid of an existing account. */
  uid?: number;
  shareUid?: boolean;
}

/** Numeric uid of `name` read from /etc/passwd (getent would read digits as a uid). */
async function uidOf(name: string): Promise<number | undefined> {
  const passwd = await Deno.readTextFile("/etc/passwd");
  for (const line of passwd.split("\n")) {
    const fields = line.split(":");
    if (fields[0] === name) return Number(fields[2]);
  }
  return undefined;
}

/** Is some account's uid `uid` (NSS)? */
export async function uidInUse(uid: number): Promise<boolean> {
  return (await run(["getent", "passwd", String(uid)], { timeoutMs: 10_000 }))
    .ok;
}

/**
 * Creates the account `name` (any name useradd accepts with --badname,
 * digits included; it must not exist), without a home and with no shell.
 */
export async function createScratchAccount(
  name: string,
  options: ScratchOptions,
): Promise<ScratchAccount> {
  if (name.startsWith("sshproxy-") && !name.startsWith("sshproxy-scratch-")) {
    throw new Error(
      `e2e harness: scratch accounts are named sshproxy-scratch-* or outside sshproxy-* (got ${name})`,
    );
  }
  const useradd = await requireTool("/usr/sbin/useradd");
  const userdel = await requireTool("/usr/sbin/userdel");
  const uid = await withAccountsLock(async () => {
    await runChecked([
      useradd,
      "--badname",
      "-M",
      "-s",
      "/usr/sbin/nologin",
      "-g",
      options.group,
      ...(options.groups?.length ? ["-G", options.groups.join(",")] : []),
      ...(options.uid === undefined ? [] : ["-u", String(options.uid)]),
      ...(options.shareUid ? ["-o"] : []),
      "--",
      name,
    ]);
    return await uidOf(name);
  });
  if (uid === undefined) {
    throw new Error(`e2e harness: ${name} missing after useradd`);
  }
  return {
    name,
    uid,
    async [Symbol.asyncDispose]() {
      await withAccountsLock(async () => {
        if (await uidOf(name) !== undefined) {
          await runChecked([userdel, "--", name]);
        }
      });
    },
  };
}
