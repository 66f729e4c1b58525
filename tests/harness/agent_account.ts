/**
 * The unprivileged account the gateway agent runs as in tests
 * (`sshproxy-agent-test`, its own group, no home, no shell), created for a
 * test and removed when disposed: it is nobody the test users know.
 */

import { requireTool, run, runChecked } from "./process.ts";
import { withAccountsLock } from "./users.ts";

/** The agent's account name in tests. */
export const AGENT_ACCOUNT = "sshproxy-agent-test";

/** The agent's account, removed when disposed. */
export interface AgentAccount extends AsyncDisposable {
  name: string;
  uid: number;
  gid: number;
}

async function ids(
  name: string,
): Promise<{ uid: number; gid: number } | undefined> {
  const passwd = await Deno.readTextFile("/etc/passwd");
  for (const line of passwd.split("\n")) {
    const fields = line.split(":");
    if (fields[0] === name) {
      return { uid: Number(fields[2]), gid: Number(fields[3]) };
    }
  }
  return undefined;
}

let users = 0;

/** Creates the account (once per process while in use). */
export async function createAgentAccount(): Promise<AgentAccount> {
  const useradd = await requireTool("/usr/sbin/useradd");
  const userdel = await requireTool("/usr/sbin/userdel");
  const found = await withAccountsLock(async () => {
    let existing = await ids(AGENT_ACCOUNT);
    if (existing === undefined) {
      await runChecked([
        useradd,
        "--system",
        "--no-create-home",
        "--home-dir",
        "/nonexistent",
        "--shell",
        "/usr/sbin/nologin",
        "--user-group",
        AGENT_ACCOUNT,
      ]);
      existing = await ids(AGENT_ACCOUNT);
    }
    return existing;
  });
  if (found === undefined) {
    throw new Error(`e2e harness: ${AGENT_ACCOUNT} missing after useradd`);
  }
  users++;
  return {
    name: AGENT_ACCOUNT,
    ...found,
    async [Symbol.asyncDispose]() {
      if (--users > 0) return;
      await withAccountsLock(async () => {
        if (await ids(AGENT_ACCOUNT) !== undefined) {
          // The account's processes must be gone first (tests stop them).
          await run([userdel, "--", AGENT_ACCOUNT], { timeoutMs: 10_000 });
        }
      });
    },
  };
}
