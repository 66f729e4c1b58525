// Deno's system errors as Go's os package words them ("permission
// denied", "open /x: no such file or directory"), so log lines about files
// read like the reference's.

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
