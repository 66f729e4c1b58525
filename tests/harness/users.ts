/**
 * Test accounts mirroring the reference suite's (spec §10.1), prefixed so
 * they never collide with real accounts, plus running commands as them.
 */

import {
  type CommandResult,
  requireTool,
  run,
  runChecked,
  type RunningCommand,
  type RunOptions,
  spawn,
} from "./process.ts";

/** Account names, keyed by the reference suite's names. */
export const USERS = {
  fedora: "sshproxy-fedora",
  user1: "sshproxy-user1",
  user2: "sshproxy-user2",
  tmpuser: "sshproxy-tmpuser",
} as const;

/** Group names, keyed by the reference suite's names. */
export const GROUPS = {
  fedora: "sshproxy-fedora",
  user1: "sshproxy-user1",
} as const;

/** Name of one of the harness's test accounts. */
export type TestUser = typeof USERS[keyof typeof USERS];

/** Primary group of each account; user2 and tmpuser share user1's (§10.1). */
const PRIMARY_GROUP: Record<TestUser, string> = {
  [USERS.fedora]: GROUPS.fedora,
  [USERS.user1]: GROUPS.user1,
  [USERS.user2]: GROUPS.user1,
  [USERS.tmpuser]: GROUPS.user1,
};

/** A provisioned test account. */
export interface TestAccount {
  /** Login name. */
  name: TestUser;
  /** Numeric user id. */
  uid: number;
  /** Numeric primary group id. */
  gid: number;
  /** Primary group name. */
  group: string;
  /** Home directory. */
  home: string;
  /** Private key path (~/.ssh/id_ed25519), mode 0600, owned by the user. */
  privateKey: string;
  /** Public key line, also present in ~/.ssh/authorized_keys. */
  publicKey: string;
}

const SHELL = "/bin/bash";
// Serialises account changes between test processes running in parallel:
// useradd/usermod fail when another one holds /etc/passwd's lock, and two
// processes generating the same key would leave mismatched halves.
const LOCK_PATH = "/tmp/sshproxy-e2e-accounts.lock";

interface PasswdEntry {
  uid: number;
  gid: number;
  home: string;
  shell: string;
}

async function getent(db: string, key: string): Promise<string[] | undefined> {
  const res = await run(["getent", db, key], { timeoutMs: 10_000 });
  return res.ok ? res.stdout.trim().split(":") : undefined;
}

async function passwd(name: string): Promise<PasswdEntry | undefined> {
  const f = await getent("passwd", name);
  return f && { uid: Number(f[2]), gid: Number(f[3]), home: f[5], shell: f[6] };
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.lstat(path);
    return true;
  } catch {
    return false;
  }
}

async function ensureGroup(name: string): Promise<number> {
  let f = await getent("group", name);
  if (!f) {
    await runChecked([await requireTool("/usr/sbin/groupadd"), name]);
    f = await getent("group", name);
  }
  if (!f) throw new Error(`e2e harness: group ${name} missing after groupadd`);
  return Number(f[2]);
}

async function ensureAccount(name: TestUser): Promise<TestAccount> {
  const group = PRIMARY_GROUP[name];
  const gid = await ensureGroup(group);
  let entry = await passwd(name);
  if (!entry) {
    await runChecked([
      await requireTool("/usr/sbin/useradd"),
      ...["-m", "-d", `/home/${name}`, "-s", SHELL, "-g", group, name],
    ]);
    entry = await passwd(name);
  } else if (entry.gid !== gid || entry.shell !== SHELL) {
    await runChecked([
      await requireTool("/usr/sbin/usermod"),
      ...["-g", group, "-s", SHELL, name],
    ]);
    entry = await passwd(name);
  }
  if (!entry) {
    throw new Error(`e2e harness: user ${name} missing after useradd`);
  }
  // useradd leaves the account locked ("!"), and with UsePAM no sshd then
  // refuses even key logins; "*" means "no password, not locked".
  const shadow = await getent("shadow", name);
  if (!shadow || shadow[1] !== "*") {
    await runChecked([await requireTool("/usr/sbin/usermod"), "-p", "*", name]);
  }

  const { uid, home } = entry;
  const sshDir = `${home}/.ssh`;
  const privateKey = `${sshDir}/id_ed25519`;
  await Deno.mkdir(home, { recursive: true });
  await Deno.chown(home, uid, gid);
  await Deno.mkdir(sshDir, { recursive: true, mode: 0o700 });
  if (!(await exists(privateKey))) {
    await runChecked([
      await requireTool("/usr/bin/ssh-keygen"),
      ...["-q", "-t", "ed25519", "-N", "", "-C", name, "-f", privateKey],
    ]);
  }
  // Derive the public half from the private key rather than trusting a
  // possibly stale .pub file.
  const publicKey =
    (await runChecked(["/usr/bin/ssh-keygen", "-y", "-f", privateKey]))
      .stdout.trim();
  await Deno.writeTextFile(`${privateKey}.pub`, `${publicKey}\n`);
  const authorized = `${sshDir}/authorized_keys`;
  const current = await Deno.readTextFile(authorized).catch(() => "");
  if (!current.split("\n").some((line) => line.trim() === publicKey)) {
    await Deno.writeTextFile(authorized, `${current}${publicKey}\n`);
  }
  // Ownership is re-applied every time because a deleted and re-created
  // account may get a new uid while keeping its old home.
  await Deno.chmod(sshDir, 0o700);
  await Deno.chmod(privateKey, 0o600);
  await Deno.chmod(`${privateKey}.pub`, 0o644);
  await Deno.chmod(authorized, 0o600);
  for (const path of [sshDir, privateKey, `${privateKey}.pub`, authorized]) {
    await Deno.chown(path, uid, gid);
  }
  return { name, uid, gid, group, home, privateKey, publicKey };
}

/** Runs `fn` holding the lock that serialises account changes across test processes. */
export async function withAccountsLock<T>(fn: () => Promise<T>): Promise<T> {
  const file = await Deno.open(LOCK_PATH, { create: true, write: true });
  try {
    await file.lock(true);
    return await fn();
  } finally {
    file.close();
  }
}

let provisioned: Promise<Record<TestUser, TestAccount>> | undefined;

/**
 * Create (idempotently, as root) all test accounts with their key pairs;
 * cached per process until `removeTestAccount` is called.
 */
export function ensureTestAccounts(): Promise<Record<TestUser, TestAccount>> {
  provisioned ??= withAccountsLock(async () => {
    const accounts = {} as Record<TestUser, TestAccount>;
    for (const name of Object.values(USERS)) {
      accounts[name] = await ensureAccount(name);
    }
    return accounts;
  }).catch((err) => {
    provisioned = undefined;
    throw err;
  });
  return provisioned;
}

/**
 * Delete an account (home kept, running sessions not killed) to test a user
 * vanishing mid-session; the next `ensureTestAccounts` re-creates it.
 */
export async function removeTestAccount(name: TestUser): Promise<void> {
  provisioned = undefined;
  await withAccountsLock(async () => {
    if (await passwd(name)) {
      await runChecked([await requireTool("/usr/sbin/userdel"), "-f", name]);
    }
  });
}

async function userEnv(
  name: TestUser,
  extra: Record<string, string> | undefined,
): Promise<{ account: TestAccount; env: Record<string, string> }> {
  const account = (await ensureTestAccounts())[name];
  const env: Record<string, string> = {
    HOME: account.home,
    USER: name,
    LOGNAME: name,
    SHELL,
    PATH: "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin",
    ...extra,
  };
  return { account, env };
}

/**
 * Start `argv` as a test user (setpriv with the user's supplementary groups,
 * a clean login-like environment, cwd = home) without waiting for it.
 */
export async function spawnAs(
  user: TestUser,
  argv: string[],
  options: RunOptions = {},
): Promise<RunningCommand> {
  const setpriv = await requireTool("/usr/bin/setpriv");
  const { account, env } = await userEnv(user, options.env);
  return spawn(
    [
      setpriv,
      `--reuid=${account.uid}`,
      `--regid=${account.gid}`,
      "--init-groups",
      "--",
      ...argv,
    ],
    { ...options, env, clearEnv: true, cwd: options.cwd ?? account.home },
  );
}

/** Run `argv` as a test user and collect its output (timeout default 60 s). */
export async function runAs(
  user: TestUser,
  argv: string[],
  options: RunOptions = {},
): Promise<CommandResult> {
  return await (await spawnAs(user, argv, options)).result();
}
