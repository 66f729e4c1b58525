// The name of a proven uid, for a decision whose configuration does not
// match on groups: read from /etc/passwd when NSS consults it first (what
// a session reads for its own name, src/system/identity.ts), instead of a
// fork of `id` in the agent's helper on the login's path. Logins of one
// user are minutes apart on a real gateway, longer than the identity
// cache keeps an answer (src/agent/identity_cache.ts), so nearly every
// login paid that fork. The two files are re-read only when one of them
// changes (a large /etc/passwd is parsed once per change, not per login);
// a uid they do not name, or NSS consulting another source first, leaves
// the answer to `id`.
import {
  filesComeFirst,
  type NameFiles,
  passwdNames,
  SYSTEM_NAME_FILES,
} from "../system/identity.ts";

/** What the reader needs of the file system (Deno's, or a test's). */
export interface NameFileSystem {
  /** A signature that changes whenever the file's content may have. */
  signature(path: string): string;
  read(path: string): string;
}

const DENO_FILES: NameFileSystem = {
  signature(path) {
    const info = Deno.statSync(path);
    return `${info.dev}:${info.ino}:${info.size}:${info.mtime?.getTime()}:${info.ctime?.getTime()}`;
  },
  read: (path) => Deno.readTextFileSync(path),
};

/**
 * A reader of uids' names from the files source: undefined for a uid the
 * files do not answer for (NSS would ask another source, or the file is
 * unreadable).
 */
export function filesUserNames(
  paths: NameFiles = SYSTEM_NAME_FILES,
  files: NameFileSystem = DENO_FILES,
): (uid: number) => string | undefined {
  let seen: string | undefined;
  let names: Map<string, string> | undefined;
  return (uid) => {
    try {
      const signature = `${files.signature(paths.nsswitch)} ${
        files.signature(paths.passwd)
      }`;
      if (signature !== seen) {
        names = filesComeFirst(files.read(paths.nsswitch))
          ? passwdNames(files.read(paths.passwd))
          : new Map();
        seen = signature;
      }
    } catch {
      seen = undefined;
      names = undefined;
      return undefined;
    }
    return names?.get(String(uid));
  };
}
