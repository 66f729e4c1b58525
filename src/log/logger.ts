// Session logging (spec §5.5): to a file (`log: /path/{user}.log`), to
// syslog (`log: syslog`), or, by default, to stderr. The reference writes
// the default log to the session's stdout, which corrupts scp, sftp and
// rsync; stderr keeps those protocols intact. A log file is created 0600
// (the reference: 0666 minus umask, so anyone read anyone's commands) and is
// not used when another user may control it (src/system/owned_path.ts).
import { fail, ok, type Result } from "../result.ts";
import { pathError } from "../system/os_errors.ts";
import { programPath } from "../system/trusted_path.ts";
import { openOwnedFile } from "../system/owned_path.ts";
import { escapeText } from "./escape.ts";
import { formatLogLine, formatSyslogLine, type Level } from "./format.ts";

/** Where log lines go and at which level. */
export interface Logger {
  log(level: Level, message: string): void;
  debugEnabled: boolean;
  /** Flushes and releases the sink (waits for syslog's logger process). */
  close(): Promise<void>;
}

const encoder = new TextEncoder();

/**
 * Writes the whole line, or drops it when the sink is gone: stderr closes
 * when the client disconnects (EPIPE), a disk may fill up. A log line that
 * cannot be written must never end the session before its cleanup (the
 * background command and ssh would be left running).
 */
function writeWhole(
  file: { writeSync(data: Uint8Array): number },
  text: string,
): void {
  let data = encoder.encode(text);
  try {
    while (data.length > 0) data = data.subarray(file.writeSync(data));
  } catch {
    // Nowhere to report it: the sink itself is what failed.
  }
}

function dirname(path: string): string {
  const index = path.lastIndexOf("/");
  return index <= 0 ? (index === 0 ? "/" : ".") : path.slice(0, index);
}

/** Opens the logger for the final `log` value; errors are the reference's fatal texts. */
export function openLogger(
  target: string,
  debug: boolean,
  sessionId: string,
  now: () => Date = () => new Date(),
): Result<Logger> {
  const enabled = (level: Level) => debug || level !== "DEBUG";
  if (target === "") {
    return ok({
      debugEnabled: debug,
      log(level, message) {
        if (enabled(level)) {
          writeWhole(
            Deno.stderr,
            formatLogLine(now(), level, sessionId, message),
          );
        }
      },
      close: () => Promise.resolve(),
    });
  }
  if (target === "syslog") return openSyslog(debug, sessionId);
  const opened = openOwnedFile(target, {
    directoryMode: 0o755,
    existing: "append",
    uid: Deno.uid() ?? -1,
  });
  if (opened.kind === "failed") {
    // The reference's fatal texts (spec §5.5), with Go's error wording.
    return fail(
      opened.op === "mkdir"
        ? `creating directory ${dirname(target)}: ${
          pathError("mkdir", opened.path, opened.error)
        }`
        : `error opening log file ${target}: ${
          pathError("open", opened.path, opened.error)
        }`,
    );
  }
  if (opened.kind === "untrusted") {
    // Not fatal: another user must not be able to stop anyone's logins by
    // planting something at their log path.
    writeWhole(
      Deno.stderr,
      `sshproxy: not logging this session to ${
        escapeText(opened.path)
      }: ${opened.reason}; tell the gateway's administrators\n`,
    );
    return ok({
      debugEnabled: debug,
      log() {},
      close: () => Promise.resolve(),
    });
  }
  const file = opened.file;
  return ok({
    debugEnabled: debug,
    log(level, message) {
      // One write per line in append mode: lines of concurrent sessions
      // sharing a file never interleave.
      if (enabled(level)) {
        writeWhole(file, formatLogLine(now(), level, sessionId, message));
      }
    },
    close() {
      file.close();
      return Promise.resolve();
    },
  });
}

function openSyslog(debug: boolean, sessionId: string): Result<Logger> {
  // Deno has no syslog API and its Unix datagram sockets are unstable, so
  // one logger(1) per session relays our lines to /dev/log.
  let child: Deno.ChildProcess;
  try {
    child = new Deno.Command(programPath("logger"), {
      args: ["--prio-prefix", "-t", "sshproxy"],
      stdin: "piped",
      stdout: "null",
      stderr: "null",
    }).spawn();
  } catch (error) {
    return fail(`error opening syslog: ${describe(error)}`);
  }
  const writer = child.stdin.getWriter();
  let pending: Promise<void> = Promise.resolve();
  return ok({
    debugEnabled: debug,
    log(level, message) {
      if (!debug && level === "DEBUG") return;
      const line = encoder.encode(formatSyslogLine(level, sessionId, message));
      pending = pending.then(() => writer.write(line)).catch(() => {});
    },
    async close() {
      await pending;
      await writer.close().catch(() => {});
      await child.status;
    },
  });
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
