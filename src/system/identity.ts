// The user and groups of a session, from NSS. Deno has no getpwuid or
// getgrouplist and FFI is not allowed, so we ask `id`, which goes through
// NSS (files, LDAP, SSSD) exactly as `id -Gn` does for an admin.
import { fail, ok, type Result } from "../result.ts";

/** A user and the names of all its groups (primary first). */
export interface UserIdentity {
  user: string;
  uid: number;
  groups: string[];
  /** Group IDs that have no name in the group database (kept out of `groups`). */
  unnamedGroupIds: number[];
}

/** Parses `id` output such as `uid=1000(alice) gid=1000(alice) groups=1000(alice),27(sudo)`. */
export function parseIdOutput(text: string): Result<UserIdentity> {
  const user = /uid=(\d+)\(([^)]*)\)/.exec(text);
  if (!user) {
    return fail(`unexpected output of id: ${JSON.stringify(text.trim())}`);
  }
  const groups: string[] = [];
  const unnamedGroupIds: number[] = [];
  const groupList = /groups=(\S*)/.exec(text)?.[1] ?? "";
  const primary = /gid=(\d+)(?:\(([^)]*)\))?/.exec(text);
  const entries = groupList === "" ? [] : groupList.split(",");
  if (
    primary &&
    !entries.some((entry) =>
      entry.startsWith(`${primary[1]}(`) || entry === primary[1]
    )
  ) {
    entries.unshift(
      primary[2] === undefined ? primary[1] : `${primary[1]}(${primary[2]})`,
    );
  }
  for (const entry of entries) {
    const named = /^(\d+)\((.*)\)$/.exec(entry);
    if (named) {
      if (!groups.includes(named[2])) groups.push(named[2]);
    } else if (/^\d+$/.test(entry)) {
      unnamedGroupIds.push(Number(entry));
    }
  }
  return ok({ user: user[2], uid: Number(user[1]), groups, unnamedGroupIds });
}

/**
 * The sources NSS consults for `database` (e.g. "passwd") in nsswitch.conf
 * text, in order, without their `[STATUS=action]` items; undefined when the
 * file does not name the database.
 */
export function nssSources(
  nsswitch: string,
  database: string,
): string[] | undefined {
  for (const rawLine of nsswitch.split("\n")) {
    const line = rawLine.replace(/#.*/, "").trim();
    const colon = line.indexOf(":");
    if (colon < 0 || line.slice(0, colon).trim() !== database) continue;
    return line.slice(colon + 1).replace(/\[[^\]]*\]/g, " ").split(/\s+/)
      .filter((source) => source !== "");
  }
  return undefined;
}

/** The name of the first /etc/passwd entry with `uid` (what NSS's files source answers), if any. */
export function passwdName(passwd: string, uid: number): string | undefined {
  for (const line of passwd.split("\n")) {
    // NIS compat entries (+name, -name) are not the files source's.
    if (line.startsWith("+") || line.startsWith("-")) continue;
    const fields = line.split(":");
    if (fields.length >= 7 && fields[2] === String(uid) && fields[0] !== "") {
      return fields[0];
    }
  }
  return undefined;
}

/**
 * The current user's name without running a process: read from /etc/passwd
 * when nsswitch.conf consults `files` first for passwd and the uid is
 * there (then getpwuid, `id` and the reference's user.Current() return that
 * very entry). Undefined whenever only NSS can tell (LDAP, SSSD, compat):
 * ask `lookupIdentity()` then.
 */
export function currentUserFromFiles(
  paths = { nsswitch: "/etc/nsswitch.conf", passwd: "/etc/passwd" },
): string | undefined {
  try {
    const sources = nssSources(Deno.readTextFileSync(paths.nsswitch), "passwd");
    if (sources?.[0] !== "files") return undefined;
    return passwdName(Deno.readTextFileSync(paths.passwd), Deno.uid() ?? -1);
  } catch {
    return undefined;
  }
}

/** Runs `id [user]` and parses it; an unknown user is an error naming it. */
export async function lookupIdentity(
  user?: string,
): Promise<Result<UserIdentity>> {
  const args = user === undefined ? [] : ["--", user];
  let output: Deno.CommandOutput;
  try {
    output = await new Deno.Command(idPath(), {
      args,
      env: { LC_ALL: "C" },
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).output();
  } catch (error) {
    return fail(
      `cannot run id: ${
        error instanceof Error ? error.message : String(error)
      }`,
    );
  }
  if (!output.success) {
    const message = new TextDecoder().decode(output.stderr).trim().replace(
      /^id: /,
      "",
    );
    return fail(
      user === undefined
        ? `id: ${message}`
        : `user: unknown user ${user}${message ? ` (${message})` : ""}`,
    );
  }
  return parseIdOutput(new TextDecoder().decode(output.stdout));
}

function idPath(): string {
  // sshd may give the ForceCommand a minimal PATH; id lives in /usr/bin.
  for (const candidate of ["/usr/bin/id", "/bin/id"]) {
    try {
      if (Deno.statSync(candidate).isFile) return candidate;
    } catch {
      // try the next one
    }
  }
  return "id";
}
