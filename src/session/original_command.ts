// The user's original command (spec §5.10). sshd gives precedence to its own
// ForceCommand (sshproxy) over a certificate's `force-command`, so the
// reference recovers the latter from the SSH_USER_AUTH file (sshd's
// `ExposeAuthInfo yes`) and runs it on the destination instead.
import { fail, ok, type Result } from "../result.ts";
import { answerDeadline } from "../system/timers.ts";
import type { parseAuthorizedKey } from "./authorized_key.ts";

/** The parser of an authorized_keys line (authorized_key.ts), passed in. */
export type KeyParser = typeof parseAuthorizedKey;

/** The command to run for the user and how it was found. */
export interface OriginalCommand {
  command: string;
  /** Whether it came from the certificate's `force-command`. */
  forced: boolean;
  /** WARNING lines (unreadable SSH_USER_AUTH file, unparseable key). */
  warnings: string[];
  /** The DEBUG line: `original command = X` or `original command (forced) = X`. */
  debugLine: string;
}

const PREFIX = "publickey ";

/**
 * Whether the SSH_USER_AUTH content holds a key, whose parser (a module of
 * its own, loaded only then) originalCommand needs.
 */
export function needsKeyParser(userAuth: Result<string> | undefined): boolean {
  return userAuth !== undefined && userAuth.ok &&
    userAuth.value.startsWith(PREFIX);
}

/** Picks the certificate's force-command from the SSH_USER_AUTH content (if any), else SSH_ORIGINAL_COMMAND. */
export function originalCommand(
  /** The SSH_USER_AUTH file as the caller read it; undefined when the variable is unset or empty. */
  userAuth: Result<string> | undefined,
  sshOriginalCommand: string,
  /** The key parser; needed when needsKeyParser(userAuth). */
  parseKey?: KeyParser,
): OriginalCommand {
  const warnings: string[] = [];
  const forced = userAuth === undefined
    ? undefined
    : forceCommand(userAuth, warnings, parseKey);
  if (forced !== undefined) {
    return {
      command: forced,
      forced: true,
      warnings,
      debugLine: `original command (forced) = ${forced}`,
    };
  }
  return {
    command: sshOriginalCommand,
    forced: false,
    warnings,
    debugLine: `original command = ${sshOriginalCommand}`,
  };
}

function forceCommand(
  userAuth: Result<string>,
  warnings: string[],
  parseKey: KeyParser | undefined,
): string | undefined {
  if (!userAuth.ok) {
    warnings.push(userAuth.error);
    return undefined;
  }
  // Other methods (`password`, `keyboard-interactive`...) carry no key.
  if (!userAuth.value.startsWith(PREFIX)) return undefined;
  if (parseKey === undefined) {
    throw new Error("originalCommand: a key to read and no key parser");
  }
  const key = parseKey(userAuth.value.slice(PREFIX.length));
  if (!key.ok) {
    warnings.push(key.error);
    return undefined;
  }
  const command = key.value.criticalOptions?.get("force-command");
  return command === "" ? undefined : command;
}

/**
 * The most of SSH_USER_AUTH read: sshd writes one line per authentication
 * method (a few KB even for several large RSA certificates); a key blob
 * cannot exceed sshd's 256 KiB packet, so 1 MiB holds several of the
 * largest with room to spare.
 */
export const USER_AUTH_MAX_BYTES = 1024 * 1024;

/** How long opening the file may take (a FIFO swapped in after the check would block). */
const USER_AUTH_OPEN_TIMEOUT_MS = 1000;

/**
 * Reads the SSH_USER_AUTH file named by `path` (undefined when the variable
 * is unset or empty). Under `AcceptEnv` the user may choose the path, so
 * only a regular file of at most {@link USER_AUTH_MAX_BYTES} is read: a
 * device (/dev/zero), a FIFO or a huge file gives the WARNING text instead
 * of filling memory or hanging the login.
 */
export async function readUserAuth(
  path: string | undefined,
): Promise<Result<string> | undefined> {
  if (path === undefined || path === "") return undefined;
  const notSshd = "(SSH_USER_AUTH must name the file of sshd's ExposeAuthInfo)";
  try {
    // stat does not open: a FIFO or a device is refused without blocking.
    // Only the open may wait (a FIFO swapped in after the check): the
    // rest is synchronous, each thread-pool trip saved at every login.
    const info = Deno.statSync(path);
    if (!info.isFile) {
      return fail(`open ${path}: not a regular file ${notSshd}`);
    }
    if (info.size > USER_AUTH_MAX_BYTES) {
      return fail(
        `open ${path}: larger than ${USER_AUTH_MAX_BYTES} bytes ${notSshd}`,
      );
    }
    const file = await withTimeout(
      Deno.open(path, { read: true }),
      USER_AUTH_OPEN_TIMEOUT_MS,
    );
    if (file === undefined) {
      return fail(`open ${path}: no answer within 1s ${notSshd}`);
    }
    try {
      // Read by the handle, bounded, in case the file changed since stat.
      if (!file.statSync().isFile) {
        return fail(`open ${path}: not a regular file ${notSshd}`);
      }
      const content = readAtMost(file, USER_AUTH_MAX_BYTES + 1);
      if (content.length > USER_AUTH_MAX_BYTES) {
        return fail(
          `read ${path}: larger than ${USER_AUTH_MAX_BYTES} bytes ${notSshd}`,
        );
      }
      return ok(new TextDecoder().decode(content));
    } finally {
      file.close();
    }
  } catch (error) {
    return fail(`open ${path}: ${describeError(error)}`);
  }
}

// On the runtime's own timer (src/system/timers.ts): the global setTimeout
// would load Deno's Node timers, ~5 ms and ~1 MiB at every login of a
// gateway with `ExposeAuthInfo yes` (measured). An answer deadline: a
// session that waited for the CPU past the bound (200 logins at once on a
// small gateway) must not refuse its user for an open that had finished.
async function withTimeout<T extends { close(): void }>(
  pending: Promise<T>,
  timeoutMs: number,
): Promise<T | undefined> {
  const limit = answerDeadline(timeoutMs);
  try {
    const winner = await Promise.race([
      pending,
      limit.expired.then(() => undefined),
    ]);
    if (winner === undefined) {
      // Opened after we gave up: close it then.
      pending.then((late) => late.close(), () => {});
    }
    return winner;
  } finally {
    limit.cancel();
  }
}

function readAtMost(file: Deno.FsFile, limit: number): Uint8Array {
  const chunks: Uint8Array[] = [];
  let length = 0;
  while (length < limit) {
    const chunk = new Uint8Array(Math.min(64 * 1024, limit - length));
    const read = file.readSync(chunk);
    if (read === null) break;
    chunks.push(chunk.subarray(0, read));
    length += read;
  }
  const content = new Uint8Array(length);
  let offset = 0;
  for (const chunk of chunks) {
    content.set(chunk, offset);
    offset += chunk.length;
  }
  return content;
}

function describeError(error: unknown): string {
  if (error instanceof Deno.errors.NotFound) return "no such file or directory";
  if (error instanceof Deno.errors.PermissionDenied) {
    return "permission denied";
  }
  return error instanceof Error ? error.message : String(error);
}
