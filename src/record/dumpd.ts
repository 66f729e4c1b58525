// sshproxy-dumpd (spec §2.3, §8.6): receives dump streams over TCP, one
// connection per session, and writes each to
// `<output>/<user>/<start RFC3339Nano, local zone>-<SID>.dump`.
//
// Differences from the reference, on purpose (spec §12.6):
// * records that arrive in the same packets as the header are written
//   (the reference reads the header through a buffer, then copies from the
//   socket and loses them);
// * the user name from the header is a path element only if it is one:
//   empty, `.`, `..`, a `/`, control characters, invalid UTF-8 or more than
//   255 bytes → the connection is logged and dropped; names that reach the
//   log (in paths) are escaped like the proxy's log lines (escape.ts);
// * the stream is checked record by record: garbage, a header that does not
//   arrive within 30 s, a command over 1 MiB or a record announcing more
//   than 16 MiB is logged and dropped (the daemon stays up);
// * only complete records reach the file: a session cut off mid-record
//   keeps every complete record and the file stays readable by the
//   reference's replay (the partial tail would make it report an error);
// * directories 0700 and files 0600; an existing dump is never overwritten
//   (a replayed header could otherwise erase a recording);
// * an accept error is logged and retried instead of ending the daemon;
// * SIGTERM/SIGINT stop accepting, give sessions in progress a grace
//   period to end, then close them (keeping their complete records), and
//   exit 0;
// * with `-listen` port 0, the chosen address is logged.
import { formatRfc3339Nano, localOffsetMinutes } from "../format/time.ts";
import { loadServices } from "../system/network_names.ts";
import { formatIp, joinHostPort, parseIp } from "../net/ip_address.ts";
import { escapeText } from "../log/escape.ts";
import { sessionId } from "../log/session_id.ts";
import {
  clientAddress,
  type DecodeLimits,
  DumpDecoder,
  type DumpHeader,
  encodeHeader,
  MAX_RECORD_DATA,
  RECORD_FRAME_SIZE,
  writeRecordFrame,
} from "./dump_format.ts";
import { goReason, mkdirAll, pathError, splitHostPort } from "./go_errors.ts";

/** How the daemon runs. */
export interface DumpdOptions {
  /** `[host]:port`; an empty host listens on every address. */
  listen: string;
  /** Output directory. */
  output: string;
  /** Writes one log message (the caller adds Go's logger prefix). */
  log: (message: string) => void;
  /** Aborting stops the daemon cleanly (the CLI wires SIGTERM and SIGINT). */
  signal: AbortSignal;
  limits?: Partial<DecodeLimits>;
  headerTimeoutMs?: number;
  shutdownGraceMs?: number;
  /** Called once listening, with the bound address (tests use port 0). */
  onListening?: (address: Deno.NetAddr) => void;
}

/** Limits held against every client (see the header comment). */
export const DUMPD_LIMITS: DecodeLimits = {
  maxUserBytes: 255,
  maxCommandBytes: 1024 * 1024,
  maxRecordBytes: MAX_RECORD_DATA,
};

const READ_SIZE = 256 * 1024;

/** Why a header's user name cannot be a directory name, or undefined if it can. */
export function userNameProblem(user: Uint8Array): string | undefined {
  if (user.length === 0) return "empty";
  if (user.length > 255) return "longer than 255 bytes";
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(user);
  } catch {
    return "not valid UTF-8";
  }
  if (text === "." || text === "..") return "not a directory name";
  if (text.includes("/")) return 'contains "/"';
  // deno-lint-ignore no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(text)) return "contains control characters";
  return undefined;
}

/** The dump's path under `output` (the user name must have passed userNameProblem). */
export function dumpPath(
  output: string,
  header: DumpHeader,
): { dir: string; path: string } {
  const user = new TextDecoder().decode(header.user);
  const start = formatRfc3339Nano(
    header.startNs,
    localOffsetMinutes(header.startNs),
  );
  const sid = sessionId(user, clientAddress(header), header.startNs);
  const dir = `${output.replace(/\/+$/, "") || "/"}/${user}`.replace(
    /^\/\//,
    "/",
  );
  return { dir, path: `${dir}/${start}-${sid}.dump` };
}

function formatRemote(address: Deno.Addr): string {
  if (address.transport !== "tcp") return "?";
  const ip = parseIp(address.hostname);
  return joinHostPort(
    ip ? formatIp(ip) : address.hostname,
    String(address.port),
  );
}

/** Runs the daemon until `signal` aborts; returns the exit status. */
export async function runDumpd(options: DumpdOptions): Promise<number> {
  const { log } = options;
  const listener = listen(options.listen);
  if (typeof listener === "string") {
    log(`error: listening: ${listener}`);
    return 1;
  }
  const bound = listener.addr as Deno.NetAddr;
  const announced = /:0$/.test(options.listen)
    ? joinHostPort(bound.hostname, String(bound.port))
    : options.listen;
  log(`listening on ${announced}`);
  options.onListening?.(bound);

  const active = new Map<Deno.TcpConn, Promise<void>>();
  let stopping = false;
  const stop = () => {
    if (stopping) return;
    stopping = true;
    log("shutting down: no new connections");
    try {
      listener.close();
    } catch {
      // already closed
    }
  };
  if (options.signal.aborted) stop();
  options.signal.addEventListener("abort", stop, { once: true });

  while (!stopping) {
    let conn: Deno.TcpConn;
    try {
      conn = await listener.accept();
    } catch (error) {
      if (stopping) break;
      log(`error: accepting connection: ${goReason(error)}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
      continue;
    }
    const handling = acquire(conn, options).finally(() => active.delete(conn));
    active.set(conn, handling);
  }

  if (active.size > 0) {
    const grace = options.shutdownGraceMs ?? 2000;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const expired = new Promise<"expired">((resolve) => {
      timer = setTimeout(() => resolve("expired"), grace);
    });
    const outcome = await Promise.race([
      Promise.all(active.values()).then(() => "done" as const),
      expired,
    ]);
    clearTimeout(timer);
    if (outcome === "expired") {
      for (const conn of active.keys()) {
        try {
          conn.close();
        } catch {
          // already closed
        }
      }
      await Promise.all(active.values());
    }
  }
  log("stopped");
  return 0;
}

function listen(address: string): Deno.TcpListener | string {
  const split = splitHostPort(address);
  if ("error" in split) return `listen tcp ${address}: ${split.error}`;
  let port = Number(split.port);
  if (!/^[0-9]+$/.test(split.port)) {
    const service = loadServices()(split.port);
    if (service === undefined) {
      return `listen tcp ${address}: lookup tcp/${split.port}: unknown port`;
    }
    port = service;
  }
  if (port > 65535) {
    return `listen tcp ${address}: address ${split.port}: invalid port`;
  }
  // Go's empty host: every address, IPv6 and IPv4 (dual stack when the
  // kernel has IPv6, plain IPv4 otherwise).
  const hosts = split.host === "" ? ["::", "0.0.0.0"] : [split.host];
  let failure: unknown;
  for (const hostname of hosts) {
    try {
      return Deno.listen({ hostname, port, transport: "tcp" });
    } catch (error) {
      failure = error;
      if (error instanceof Deno.errors.AddrInUse) break;
    }
  }
  return `listen tcp ${address}: bind: ${goReason(failure)}`;
}

/** One connection = one session. */
async function acquire(conn: Deno.TcpConn, options: DumpdOptions) {
  const remote = formatRemote(conn.remoteAddr);
  // Messages of a connection may carry the client's user name (in paths):
  // escaped, so a name cannot write a forged line into dumpd's log.
  const log = (message: string) =>
    options.log(`[${remote}] ${escapeText(message)}`);
  log("connected");
  try {
    await receive(conn, options, log);
  } catch (error) {
    // Never let one session's surprise end the daemon.
    log(`error: ${goReason(error)}`);
  } finally {
    try {
      conn.close();
    } catch {
      // closed at shutdown
    }
    log("disconnected");
  }
}

async function receive(
  conn: Deno.TcpConn,
  options: DumpdOptions,
  log: (message: string) => void,
): Promise<void> {
  const decoder = new DumpDecoder({ ...DUMPD_LIMITS, ...options.limits });
  let file: Deno.FsFile | undefined;
  let path = "";
  let headerTimedOut = false;
  const headerTimer = setTimeout(() => {
    headerTimedOut = true;
    try {
      conn.close();
    } catch {
      // already closed
    }
  }, options.headerTimeoutMs ?? 30_000);
  try {
    for (;;) {
      const buffer = new Uint8Array(READ_SIZE);
      let count: number | null;
      try {
        count = await conn.read(buffer);
      } catch (error) {
        if (headerTimedOut) {
          log(
            `error: reading reader: no complete header within ${
              (options.headerTimeoutMs ?? 30_000) / 1000
            }s`,
          );
          return;
        }
        const reason = error instanceof Deno.errors.BadResource ||
            error instanceof Deno.errors.Interrupted
          ? "connection closed at shutdown"
          : goReason(error);
        if (file === undefined) log(`error: reading reader: ${reason}`);
        else logCut(decoder, log, reason);
        return;
      }
      if (count === null) break;
      const parts: Uint8Array[] = [];
      for (const event of decoder.push(buffer.subarray(0, count))) {
        if (event.kind === "error") {
          if (event.stage === "header") {
            log(`error: reading reader: ${event.message}`);
          } else {
            await writeParts(file, parts, path, log);
            log(`error copying records: ${event.message}`);
          }
          return;
        }
        if (event.kind === "header") {
          clearTimeout(headerTimer);
          const opened = await openDump(event.header, options.output, log);
          if (opened === undefined) return;
          ({ file, path } = opened);
          try {
            await writeAll(opened.file, encodeHeader(event.header));
          } catch (error) {
            log(`error writing header: ${pathError("write", path, error)}`);
            return;
          }
          continue;
        }
        // Re-encoding a record gives back exactly the bytes received.
        const { record } = event;
        const bytes = new Uint8Array(RECORD_FRAME_SIZE + record.data.length);
        writeRecordFrame(
          bytes,
          0,
          record.timeNs,
          record.fd,
          record.data.length,
        );
        bytes.set(record.data, RECORD_FRAME_SIZE);
        parts.push(bytes);
      }
      if (!(await writeParts(file, parts, path, log))) return;
    }
    const end = decoder.finish();
    if (end.kind === "truncated-header") {
      log(`error: reading reader: ${end.message}`);
    } else if (end.kind === "truncated-record") {
      logCut(decoder, log, "unexpected EOF");
    }
  } finally {
    clearTimeout(headerTimer);
    file?.close();
  }
}

function logCut(
  decoder: DumpDecoder,
  log: (message: string) => void,
  reason: string,
): void {
  if (decoder.pending === 0) return;
  log(
    `error copying records: ${reason}: the record at offset ${decoder.offset} is incomplete (${decoder.pending} bytes dropped); the file ends with the last complete record`,
  );
}

async function openDump(
  header: DumpHeader,
  output: string,
  log: (message: string) => void,
): Promise<{ file: Deno.FsFile; path: string } | undefined> {
  const problem = userNameProblem(header.user);
  if (problem !== undefined) {
    const shown = JSON.stringify(
      new TextDecoder().decode(header.user.subarray(0, 64)),
    );
    log(`error: reading reader: refusing user name ${shown}: ${problem}`);
    return undefined;
  }
  const { dir, path } = dumpPath(output, header);
  try {
    await mkdirAll(dir, 0o700);
  } catch (error) {
    log(
      `error: mkdir '${dir}': ${
        error instanceof Error ? error.message : String(error)
      }`,
    );
    return undefined;
  }
  try {
    const file = await Deno.open(path, {
      write: true,
      createNew: true,
      mode: 0o600,
    });
    return { file, path };
  } catch (error) {
    log(`error: creating '${path}': ${pathError("open", path, error)}`);
    return undefined;
  }
}

async function writeAll(file: Deno.FsFile, data: Uint8Array): Promise<void> {
  let rest = data;
  while (rest.length > 0) rest = rest.subarray(await file.write(rest));
}

async function writeParts(
  file: Deno.FsFile | undefined,
  parts: Uint8Array[],
  path: string,
  log: (message: string) => void,
): Promise<boolean> {
  if (file === undefined || parts.length === 0) return true;
  let size = 0;
  for (const part of parts) size += part.length;
  const all = parts.length === 1 ? parts[0] : new Uint8Array(size);
  if (parts.length > 1) {
    let offset = 0;
    for (const part of parts) {
      all.set(part, offset);
      offset += part.length;
    }
  }
  parts.length = 0;
  try {
    await writeAll(file, all);
    return true;
  } catch (error) {
    log(`error copying records: ${pathError("write", path, error)}`);
    return false;
  }
}
