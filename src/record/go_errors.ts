// Deno's system errors as Go's os/net packages word them ("mkdir /x:
// permission denied", "dial tcp 127.0.0.1:1: connect: connection refused"),
// so recording log lines read like the reference's. The path errors live in
// src/system/os_errors.ts (the logger uses them too).

import { goReason, pathError } from "../system/os_errors.ts";

export { goReason, pathError };

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
