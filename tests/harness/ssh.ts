/** OpenSSH client side of the harness: options and running ssh as a user. */

import { type CommandResult, requireTool, type RunOptions } from "./process.ts";
import { runAs, type TestUser } from "./users.ts";

/**
 * Non-interactive client options, for the tester's ssh and for the proxy's
 * `ssh.args` (gateway → destination hop): every sshd here has a fresh host
 * key, and nothing may prompt. One token each so they survive any splitting.
 */
export const SSH_OPTIONS: readonly string[] = Object.freeze([
  "-oStrictHostKeyChecking=no",
  "-oUserKnownHostsFile=/dev/null",
  "-oLogLevel=ERROR",
  "-oBatchMode=yes",
]);

/** How to reach a gateway (or any sshd) with the OpenSSH client. */
export interface SshTarget {
  /** Port to connect to. */
  port: number;
  /** Address (default 127.0.0.1). */
  host?: string;
  /** Remote command; an array is passed as separate words after "--". */
  command?: string | string[];
  /** Extra client arguments placed before the destination. */
  extraArgs?: string[];
  /** Force a remote TTY (-tt) instead of none (-T). */
  tty?: boolean;
}

/** argv of the OpenSSH client logging in as `user` to `target`. */
export function sshArgv(user: TestUser, target: SshTarget): string[] {
  const command = target.command === undefined ? [] : [
    "--",
    ...(typeof target.command === "string" ? [target.command] : target.command),
  ];
  return [
    "/usr/bin/ssh",
    ...SSH_OPTIONS,
    target.tty ? "-tt" : "-T",
    "-p",
    String(target.port),
    ...(target.extraArgs ?? []),
    `${user}@${target.host ?? "127.0.0.1"}`,
    ...command,
  ];
}

/** Run the OpenSSH client as `user` against `target` and collect the result. */
export async function sshAs(
  user: TestUser,
  target: SshTarget,
  options: RunOptions = {},
): Promise<CommandResult> {
  await requireTool("/usr/bin/ssh");
  return await runAs(user, sshArgv(user, target), options);
}
