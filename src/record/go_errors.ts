// Deno's system errors as Go's os/net packages word them ("mkdir /x:
// permission denied", "dial tcp 127.0.0.1:1: connect: connection refused"),
// so recording log lines read like the reference's.

const BY_CLASS: [new (...args: never[]) => Error, string][] = [
  [Deno.errors.NotFound, "no such file or directory"],
  [Deno.errors.PermissionDenied, "permission denied"],
  [Deno.errors.AlreadyExists, "file exists"],
  [Deno.errors.IsADirectory, "is a directory"],
  [Deno.errors.NotADirectory, "not a directory"],
  [Deno.errors.ConnectionRefused, "connection refused"],
  [Deno.errors.ConnectionReset, "connection reset by peer"],
  [Deno.errors.BrokenPipe, "broken pipe"],
  [Deno.errors.AddrInUse, "address already in use"],
  [Deno.errors.AddrNotAvailable, "cannot assign requested address"],
  [Deno.errors.TimedOut, "i/o timeout"],
];

/** The bare reason of a system error, Go style ("permission denied"). */
export function goReason(error: unknown): string {
  for (const [kind, text] of BY_CLASS) {
    if (error instanceof kind) return text;
  }
  const message = error instanceof Error ? error.message : String(error);
  // "No space left on device (os error 28): write" → "no space left on device"
  const match = /^(.*?) \(os error \d+\)/.exec(message);
  const reason = match ? match[1] : message;
  return reason.charAt(0).toLowerCase() + reason.slice(1);
}

/** `<op> <path>: <reason>`, like Go's *os.PathError. */
export function pathError(op: string, path: string, error: unknown): string {
  return `${op} ${path}: ${goReason(error)}`;
}

/** `dial tcp <address>: [connect: ]<reason>`, like Go's *net.OpError from Dial. */
export function dialError(address: string, error: unknown): string {
  const reason = goReason(error);
  const connectPhase = error instanceof Deno.errors.ConnectionRefused ||
    error instanceof Deno.errors.AddrNotAvailable;
  return `dial tcp ${address}: ${connectPhase ? "connect: " : ""}${reason}`;
}

/** Splits `host:port` like Go's net.SplitHostPort (brackets for IPv6, port required). */
export function splitHostPort(
  address: string,
): { host: string; port: string } | { error: string } {
  const missingPort = { error: `address ${address}: missing port in address` };
  if (address.startsWith("[")) {
    const end = address.indexOf("]");
    if (end < 0) return { error: `address ${address}: missing ']' in address` };
    if (address[end + 1] !== ":") return missingPort;
    const port = address.slice(end + 2);
    return { host: address.slice(1, end), port };
  }
  const colon = address.lastIndexOf(":");
  if (colon < 0) return missingPort;
  const host = address.slice(0, colon);
  if (host.includes(":")) {
    return { error: `address ${address}: too many colons in address` };
  }
  return { host, port: address.slice(colon + 1) };
}

class MkdirError extends Error {}

/**
 * Creates `dir` and its missing parents with `mode`, as Go's os.MkdirAll
 * does (same recursion, so the error names the same component, e.g.
 * "mkdir /a/file: not a directory").
 */
export async function mkdirAll(dir: string, mode: number): Promise<void> {
  const path = dir.length > 1 ? dir.replace(/\/+$/, "") : dir;
  try {
    const info = await Deno.stat(path);
    if (info.isDirectory) return;
    throw new MkdirError(`mkdir ${path}: not a directory`);
  } catch (error) {
    if (error instanceof MkdirError) throw error;
  }
  const slash = path.lastIndexOf("/");
  if (slash > 0) await mkdirAll(path.slice(0, slash), mode);
  try {
    await Deno.mkdir(path, { mode });
  } catch (error) {
    try {
      if ((await Deno.lstat(path)).isDirectory) return;
    } catch {
      // fall through to the mkdir error
    }
    throw new MkdirError(pathError("mkdir", path, error));
  }
}
