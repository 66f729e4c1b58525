// Opening a session's log or dump file so that no other user controls it
// (issue 12 item 2), for the logger and the recorder alike.
//
// sshproxy runs as the user who logs in and writes under paths such as
// /var/log/sshproxy/{user}.log or /var/lib/sshproxy/dumps/{user}/..., in
// directories every user can write (mode 1733). Another user could plant
// something there before the victim's first login: a file or directory of
// their own (they would read the victim's commands, or delete and rename
// the recordings), a symbolic link (the victim's session would write to a
// file of the attacker's choosing), a FIFO (the login would hang), a hard
// link to one of the victim's own files.
//
// The rule needs no knowledge of the configured template: an entry (the
// file, or a directory on its way) that sits in a directory other users may
// write (group or other write bit) is used only when root, the session's
// user or that directory's owner owns it; anyone else may have planted it.
// An entry in a directory that only its owner can write was put there by
// that owner: the operator's choice, whoever it is. The file itself is
// never reached through a symbolic link, and in a shared directory it must
// have a single link.
//
// Deno has neither O_NOFOLLOW nor openat, and node:fs would start the
// Node-compatibility layer on every login. So a new file is created with
// O_EXCL, which never follows a link; an existing one is opened after lstat
// and the descriptor's device and inode are compared with what lstat saw,
// so an entry swapped for a link in between is closed unwritten. In a
// sticky directory (1733) nobody else can swap the user's entry at all; in
// a shared directory without the sticky bit, where others may delete the
// user's files anyway, a FIFO swapped in during that window could still
// make the open wait. Missing
// directories are created one by one, each checked as it is reached.
// Directories reached through a trusted symbolic link are followed; the
// chain behind that link is the link owner's business.

/** The file-system calls used (Deno's, synchronous; tests wrap them to race). */
export interface FileSystem {
  lstat(path: string): Deno.FileInfo;
  stat(path: string): Deno.FileInfo;
  mkdir(path: string, mode: number): void;
  open(path: string, options: Deno.OpenOptions): Deno.FsFile;
  cwd(): string;
}

/** The real file system. */
export const DENO_FILE_SYSTEM: FileSystem = {
  lstat: (path) => Deno.lstatSync(path),
  stat: (path) => Deno.statSync(path),
  mkdir: (path, mode) => Deno.mkdirSync(path, { mode }),
  open: (path, options) => Deno.openSync(path, options),
  cwd: () => Deno.cwd(),
};

/** How to open the file. */
export interface OwnedFileOptions {
  /** Mode of the directories created on the way (before the umask). */
  directoryMode: number;
  /** An existing file is appended to (logs) or emptied (dumps). New files are 0600. */
  existing: "append" | "truncate";
  /** The session's user id. */
  uid: number;
  fs?: FileSystem;
}

/** What became of the attempt. */
export type OwnedFile =
  | { kind: "opened"; file: Deno.FsFile; path: string; created: boolean }
  /** Refused on purpose: another user may control `path`. */
  | { kind: "untrusted"; path: string; reason: string }
  /** The system said no (`op` is what failed, Go-style: mkdir or open). */
  | { kind: "failed"; op: "mkdir" | "open"; path: string; error: unknown };

const ATTEMPTS = 3;

/** Opens `path` for writing (creating it 0600 and its missing directories) if no other user controls it. */
export function openOwnedFile(
  path: string,
  options: OwnedFileOptions,
): OwnedFile {
  const fs = options.fs ?? DENO_FILE_SYSTEM;
  let absolute: string;
  try {
    absolute = normalize(path.startsWith("/") ? path : `${fs.cwd()}/${path}`);
  } catch (error) {
    return { kind: "failed", op: "open", path, error };
  }
  const names = absolute.split("/").filter((name) => name !== "");
  if (names.length === 0) {
    const error = new Deno.errors.IsADirectory("is a directory");
    return { kind: "failed", op: "open", path: absolute, error };
  }
  let directory: Deno.FileInfo;
  try {
    directory = fs.stat("/");
  } catch (error) {
    return { kind: "failed", op: "mkdir", path: "/", error };
  }
  let current = "";
  for (const name of names.slice(0, -1)) {
    current += `/${name}`;
    const reached = enterDirectory(fs, current, directory, options);
    if ("kind" in reached) return reached;
    directory = reached.info;
  }
  return openFile(fs, absolute, directory, options);
}

/** Lexical clean-up of an absolute path: no empty, `.` or `..` components. */
function normalize(path: string): string {
  const kept: string[] = [];
  for (const name of path.split("/")) {
    if (name === "" || name === ".") continue;
    if (name === "..") kept.pop();
    else kept.push(name);
  }
  return `/${kept.join("/")}`;
}

function lstatIfAny(fs: FileSystem, path: string): Deno.FileInfo | undefined {
  try {
    return fs.lstat(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return undefined;
    throw error;
  }
}

/** Whether users other than its owner may create entries in `directory`. */
function shared(directory: Deno.FileInfo): boolean {
  return ((directory.mode ?? 0) & 0o022) !== 0;
}

/** Why `entry`, found in `directory`, may be another user's plant; undefined if it cannot be. */
function distrust(
  entry: Deno.FileInfo,
  directory: Deno.FileInfo,
  uid: number,
): string | undefined {
  if (!shared(directory)) return undefined;
  const owner = entry.uid;
  if (owner === 0 || owner === uid || owner === directory.uid) {
    return undefined;
  }
  return `it is owned by uid ${owner}, not by uid ${uid}, root or the directory's owner, in a directory other users can write`;
}

function enterDirectory(
  fs: FileSystem,
  path: string,
  parent: Deno.FileInfo,
  options: OwnedFileOptions,
): { info: Deno.FileInfo } | OwnedFile {
  const failed = (error: unknown): OwnedFile => ({
    kind: "failed",
    op: "mkdir",
    path,
    error,
  });
  let entry: Deno.FileInfo | undefined;
  try {
    entry = lstatIfAny(fs, path);
    if (entry === undefined) {
      try {
        fs.mkdir(path, options.directoryMode);
      } catch (error) {
        // Created by someone else meanwhile: judged below like any entry.
        if (!(error instanceof Deno.errors.AlreadyExists)) throw error;
      }
      entry = fs.lstat(path);
    }
  } catch (error) {
    return failed(error);
  }
  const reason = distrust(entry, parent, options.uid);
  if (reason !== undefined) return { kind: "untrusted", path, reason };
  let info = entry;
  if (entry.isSymlink) {
    try {
      info = fs.stat(path);
    } catch (error) {
      return failed(error);
    }
  }
  if (!info.isDirectory) {
    return failed(new Deno.errors.NotADirectory("not a directory"));
  }
  return { info };
}

function openFile(
  fs: FileSystem,
  path: string,
  directory: Deno.FileInfo,
  options: OwnedFileOptions,
): OwnedFile {
  const append = options.existing === "append";
  const failed = (error: unknown): OwnedFile => ({
    kind: "failed",
    op: "open",
    path,
    error,
  });
  const untrusted = (reason: string): OwnedFile => ({
    kind: "untrusted",
    path,
    reason,
  });
  for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
    let entry: Deno.FileInfo | undefined;
    try {
      entry = lstatIfAny(fs, path);
    } catch (error) {
      return failed(error);
    }
    if (entry === undefined) {
      try {
        const file = fs.open(path, {
          write: true,
          append,
          createNew: true,
          mode: 0o600,
        });
        return { kind: "opened", file, path, created: true };
      } catch (error) {
        // Something appeared since lstat: look at it again.
        if (error instanceof Deno.errors.AlreadyExists) continue;
        return failed(error);
      }
    }
    if (entry.isSymlink) return untrusted("it is a symbolic link");
    const reason = distrust(entry, directory, options.uid);
    if (reason !== undefined) return untrusted(reason);
    if (shared(directory) && entry.isFile && (entry.nlink ?? 1) > 1) {
      return untrusted(
        `it has ${entry.nlink} hard links, in a directory other users can write`,
      );
    }
    let file: Deno.FsFile;
    try {
      file = fs.open(path, { write: true, append });
    } catch (error) {
      return failed(error);
    }
    try {
      const opened = file.statSync();
      if (opened.dev !== entry.dev || opened.ino !== entry.ino) {
        file.close();
        return untrusted("it was replaced while being opened");
      }
      if (!append && opened.isFile) file.truncateSync(0);
    } catch (error) {
      file.close();
      return failed(error);
    }
    return { kind: "opened", file, path, created: false };
  }
  return untrusted("it kept being replaced while being opened");
}
