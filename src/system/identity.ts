// Users and their groups, from NSS. Deno has no getpwnam or getgrouplist
// and FFI is not allowed, so we ask coreutils' `id`, which goes through NSS
// (files, LDAP, SSSD) exactly as `id -Gn` does for an admin.
//
// A name is a name: `id 1001` answers for uid 1001 when no user is named
// "1001", where the reference (Go's user.Lookup, getpwnam) says "unknown
// user". So the name `id` reports back must be the one asked; when it is
// not, `groups NAME` (getpwnam only, never a uid) tells a user sharing
// another's uid from a name that is no user at all.
import { fail, ok, type Result } from "../result.ts";

/** A user and the names of all its groups (primary first). */
export interface UserIdentity {
  user: string;
  uid: number;
  groups: string[];
  /** Group IDs that have no name in the group database (kept out of `groups`). */
  unnamedGroupIds: number[];
}

/** Go's user.UnknownUserError text, which the reference prints as is. */
export function unknownUserMessage(name: string): string {
  return `user: unknown user ${name}`;
}

// One `gid` or `gid(name)` of id's `groups=` list; a name may hold spaces
// and commas (SSSD: "domain users@ad.example.org"), so it ends only at a
// ")" followed by the next entry or the end of the list.
const GROUP_ENTRY = /(\d+)(?:\((.*?)\))?(?=,\d|$)/y;

/** Parses `id` output such as `uid=1000(alice) gid=1000(alice) groups=1000(alice),27(sudo)`. */
export function parseIdOutput(text: string): Result<UserIdentity> {
  const line = text.split("\n")[0];
  const user = /^uid=(\d+)\(([^)]*)\)/.exec(line);
  if (!user) {
    return fail(`unexpected output of id: ${JSON.stringify(text.trim())}`);
  }
  const primary = /\bgid=(\d+)(?:\(([^)]*)\))?/.exec(line);
  const list = /\bgroups=(.*?)(?: context=.*)?$/.exec(line)?.[1] ?? "";
  const entries: { gid: string; name?: string }[] = [];
  GROUP_ENTRY.lastIndex = 0;
  while (GROUP_ENTRY.lastIndex < list.length) {
    const entry = GROUP_ENTRY.exec(list);
    if (entry === null) {
      return fail(`unexpected output of id: ${JSON.stringify(text.trim())}`);
    }
    entries.push({ gid: entry[1], name: entry[2] });
    if (list[GROUP_ENTRY.lastIndex] === ",") GROUP_ENTRY.lastIndex++;
  }
  if (primary && !entries.some((entry) => entry.gid === primary[1])) {
    entries.unshift({ gid: primary[1], name: primary[2] });
  }
  const groups: string[] = [];
  const unnamedGroupIds: number[] = [];
  for (const entry of entries) {
    if (entry.name === undefined) unnamedGroupIds.push(Number(entry.gid));
    else if (!groups.includes(entry.name)) groups.push(entry.name);
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
    const entry = passwdEntry(line);
    if (entry !== undefined && entry[1] === String(uid)) return entry[0];
  }
  return undefined;
}

/** Every uid's name in /etc/passwd text: its first entry's, as passwdName answers. */
export function passwdNames(passwd: string): Map<string, string> {
  const names = new Map<string, string>();
  for (const line of passwd.split("\n")) {
    const entry = passwdEntry(line);
    if (entry !== undefined && !names.has(entry[1])) {
      names.set(entry[1], entry[0]);
    }
  }
  return names;
}

// [name, uid] of a line the files source answers with; undefined for the
// rest. NIS compat entries (+name, -name) are not the files source's.
function passwdEntry(line: string): [string, string] | undefined {
  if (line.startsWith("+") || line.startsWith("-")) return undefined;
  const fields = line.split(":");
  return fields.length >= 7 && fields[0] !== ""
    ? [fields[0], fields[2]]
    : undefined;
}

/**
 * What passwdName answers for the text of the passwd file at `path`, read
 * a piece at a time: a site's /etc/passwd may list tens of thousands of
 * users, and read whole and split into lines (3.5 MB, 50,000 users) it
 * cost a login 43 ms and 22 MB of memory (measured). Each piece's complete
 * lines are searched for `:UID:` (the runtime's own search), and only the
 * lines holding it are split. Throws what reading the file throws.
 */
export function passwdNameInFile(
  path: string,
  uid: number,
): string | undefined {
  const wanted = String(uid);
  const needle = `:${wanted}:`;
  const file = Deno.openSync(path);
  try {
    const chunk = new Uint8Array(64 * 1024);
    // The start of a line the previous piece cut.
    let carried = new Uint8Array(0);
    for (;;) {
      const count = file.readSync(chunk);
      const last = count === null;
      const read = last ? chunk.subarray(0, 0) : chunk.subarray(0, count);
      let data = read;
      if (carried.length > 0) {
        data = new Uint8Array(carried.length + read.length);
        data.set(carried);
        data.set(read, carried.length);
      }
      // Whole lines only, but at the end of the file.
      const end = last ? data.length : data.lastIndexOf(10) + 1;
      const text = decoder.decode(data.subarray(0, end));
      for (let hit = text.indexOf(needle); hit >= 0;) {
        const start = text.lastIndexOf("\n", hit) + 1;
        const newline = text.indexOf("\n", hit);
        const lineEnd = newline < 0 ? text.length : newline;
        const entry = passwdEntry(text.slice(start, lineEnd));
        if (entry !== undefined && entry[1] === wanted) return entry[0];
        hit = newline < 0 ? -1 : text.indexOf(needle, newline);
      }
      if (last) return undefined;
      carried = data.slice(end);
    }
  } finally {
    file.close();
  }
}

const decoder = new TextDecoder();

/** Where the files source of NSS reads. */
export interface NameFiles {
  nsswitch: string;
  passwd: string;
}

/** The system's nsswitch.conf and passwd file. */
export const SYSTEM_NAME_FILES: NameFiles = {
  nsswitch: "/etc/nsswitch.conf",
  passwd: "/etc/passwd",
};

/**
 * The current user's name without running a process: read from /etc/passwd
 * when nsswitch.conf consults `files` first for passwd and the uid is
 * there (then getpwuid, `id` and the reference's user.Current() return that
 * very entry). Undefined whenever only NSS can tell (LDAP, SSSD, compat):
 * ask `lookupIdentity()` then.
 */
export function currentUserFromFiles(
  paths: NameFiles = SYSTEM_NAME_FILES,
): string | undefined {
  try {
    if (!filesComeFirst(Deno.readTextFileSync(paths.nsswitch))) {
      return undefined;
    }
    return passwdNameInFile(paths.passwd, Deno.uid() ?? -1);
  } catch {
    return undefined;
  }
}

/** Whether NSS asks its files first for `database` (users: passwd), given nsswitch.conf's text. */
export function filesComeFirst(nsswitch: string, database = "passwd"): boolean {
  return nssSources(nsswitch, database)?.[0] === "files";
}

/** The identity of this process's user (`id` without argument). */
export async function lookupIdentity(): Promise<Result<UserIdentity>> {
  const output = await runTool(toolPath("id"), []);
  if (!output.ok) return output;
  if (!output.value.success) {
    return fail(`id: ${stderrText(output.value).replace(/^id: /, "")}`);
  }
  return parseIdOutput(new TextDecoder().decode(output.value.stdout));
}

/**
 * The user NAMED `name` and its groups, as Go's user.Lookup and the
 * reference see it (a number is never taken for a uid); ok(undefined) when
 * no user has that name.
 */
export async function lookupUserByName(
  name: string,
): Promise<Result<UserIdentity | undefined>> {
  // id refuses an empty name without asking NSS; so does getpwnam.
  if (name === "") return ok(undefined);
  const output = await runTool(toolPath("id"), ["--", name]);
  if (!output.ok) return output;
  if (!output.value.success) return notFound(name, output.value);
  const identity = parseIdOutput(new TextDecoder().decode(output.value.stdout));
  if (!identity.ok || identity.value.user === name) return identity;
  // id printed another name: either `name` was taken for a uid (no user has
  // that name), or `name` shares its uid with an account listed first; only
  // then did id look the name up, and its groups are that name's.
  const named = await runTool(toolPath("groups"), ["--", name]);
  if (!named.ok) return named;
  if (!named.value.success) return notFound(name, named.value);
  return ok({ ...identity.value, user: name });
}

// coreutils says "'NAME': no such user", followed by ": REASON" when NSS
// failed (SSSD or LDAP unreachable): that is no answer, as in Go's
// "user: lookup username NAME: REASON".
function notFound(
  name: string,
  output: Deno.CommandOutput,
): Result<undefined> {
  const message = stderrText(output);
  const reason = /: no such user(?:: (.*))?$/.exec(message);
  if (reason === null) return fail(`user: lookup username ${name}: ${message}`);
  if (reason[1] !== undefined) {
    return fail(`user: lookup username ${name}: ${reason[1]}`);
  }
  return ok(undefined);
}

async function runTool(
  path: string,
  args: string[],
): Promise<Result<Deno.CommandOutput>> {
  try {
    return ok(
      await new Deno.Command(path, {
        args,
        env: { LC_ALL: "C" },
        stdin: "null",
        stdout: "piped",
        stderr: "piped",
      }).output(),
    );
  } catch (error) {
    return fail(
      `cannot run ${path}: ${
        error instanceof Error ? error.message : String(error)
      }`,
    );
  }
}

function stderrText(output: Deno.CommandOutput): string {
  return new TextDecoder().decode(output.stderr).trim();
}

function toolPath(name: "id" | "groups"): string {
  // sshd may give the ForceCommand a minimal PATH; coreutils live in /usr/bin.
  for (const candidate of [`/usr/bin/${name}`, `/bin/${name}`]) {
    try {
      if (Deno.statSync(candidate).isFile) return candidate;
    } catch {
      // try the next one
    }
  }
  return name;
}
