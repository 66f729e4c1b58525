// Least privilege per face. One executable (or launcher) is granted the
// union of what the four faces need; each face then revokes, for the rest
// of the process, every permission it does not use. Deno cannot narrow a
// global grant to a sub-path by revoking (revoking /x under a global
// --allow-write is a no-op), so what stays is whole permission kinds.

/** The permission kinds the program is granted (never ffi nor import). */
export type Capability = "read" | "write" | "net" | "env" | "run" | "sys";

const GRANTED: readonly Capability[] = [
  "read",
  "write",
  "net",
  "env",
  "run",
  "sys",
];

/** Revokes every granted kind not in `keep`. */
export async function keepOnly(keep: readonly Capability[]): Promise<void> {
  for (const name of GRANTED) {
    if (!keep.includes(name)) await Deno.permissions.revoke({ name });
  }
}

/** What `sshproxy-replay` keeps: reading dumps, and writing only when exporting to a file. */
export function replayNeeds(asciicastPath: string): Capability[] {
  return asciicastPath !== "" && asciicastPath !== "-"
    ? ["read", "write"]
    : ["read"];
}

/**
 * What `sshproxy-agent` keeps once started: reading (its configuration,
 * /proc, proof files), writing (its socket and proof directory), the
 * network (etcd, health checks, metrics). It never starts a program: the
 * helper shells it asks for identities and /proc are started before `run`
 * is revoked.
 */
export function agentNeeds(): Capability[] {
  return ["read", "write", "net"];
}

/** What `sshproxy-dumpd` keeps: listening, and writing dumps (no processes, no environment). */
export function dumpdNeeds(): Capability[] {
  return ["net", "write", "read"];
}

/**
 * What `sshproxyctl` keeps: reading its configuration and TLS files, etcd,
 * the environment (YAML parsing reads it), and running id(1) and groups(1)
 * only for the commands that show users' groups (NSS). It never writes
 * files.
 */
export function ctlNeeds(
  command: string,
  subcommand: string | undefined,
  user: string,
): Capability[] {
  const needsGroups = command === "show" &&
    (subcommand === "users" || subcommand === "groups" ||
      (subcommand === "config" && user !== ""));
  return needsGroups
    ? ["read", "net", "env", "sys", "run"]
    : ["read", "net", "env", "sys"];
}
